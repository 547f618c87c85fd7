// mpc-bench: how fast SecretMesh's layers are. One sub-command per suite, one function per suite;
// every suite prints time, bytes per party and rounds next to a plaintext baseline measured in
// the same run.
//
//   mpc-bench net [--mib 256] [--parties 2,3] [--certs DIR]
//                 [--rounds 2000] [--round-sizes 16,1024,16384] [--round-parties 3]
//     One exchange_all of --mib MiB to every peer among N parties (threads of this process) on
//     loopback over TlsMesh, next to the same transfer over plain TCP sockets (--mib 0 skips it).
//     Then the fixed cost of a round: --rounds exchange_all rounds of each --round-sizes bytes to
//     every peer among --round-parties party processes (TlsMesh on loopback, as mpc-party runs):
//     microseconds per round (the slowest party's wall time) and CPU microseconds and context
//     switches per round and party (--rounds 0 skips it).
//
//   mpc-bench psi [--log-items 16,20] [--parties 2,3] [--modes intersection,sum] [--overlap 0.5]
//                 [--threads T] [--certs DIR]
//     Private set intersection (protocols/psi.hpp) of 2^k ids per party among N parties (threads
//     of this process, TlsMesh on loopback), and the sum of one party's payloads over it (on the
//     additive engine with a dealer thread for N = 2, on Shamir from N = 3): seconds, CPU
//     seconds, bytes, rounds, peak memory, next to the bound that the X25519 and hash-to-curve
//     rates, measured in the same run, set.
//
//   mpc-bench mul [--sizes 1000000,10000000] [--schemes additive,fp61,fp127] [--json FILE]
//   mpc-bench matmul [--shapes 1000x1000x1,256x256x256] [--schemes ...] [--json FILE]
//     Element-wise multiplication / one matrix product of secret-shared operands among 3
//     computing parties, each a separate process with its own TlsMesh on loopback (plus a dealer
//     process for the additive scheme); additive: preprocessing (the dealer's triples) and
//     online phase (mul_with / matmul_with) timed apart; Shamir: no preprocessing, online the
//     whole mul / matmul (degree reduction), and mul's dealer-free triple generation timed
//     apart for its rate; next to the plaintext operation on the same element type (and Eigen
//     on doubles for matmul).
//   mpc-bench aggregate [--values 1000000] [--parties 3,5,10] [--json FILE]
//     secure_sum (threshold and masked protocols) among N party processes on loopback, next to
//     an insecure baseline (raw vectors to party 0, the sum back), with the bytes' expansion.
//   mpc-bench lr [--datasets breast-cancer,synthetic] [--partitions vertical,horizontal]
//                [--schemes additive,fp127] [--epochs 10] [--synthetic-epochs 3] [--json FILE]
//     Joint logistic regression (protocols/logreg.hpp, apps/bench_lr.hpp) among 3 computing
//     party processes (plus the dealer for additive), next to plaintext training of the same
//     model in the same run: seconds (per epoch), bytes per party, rounds per iteration, test
//     accuracy and the weights' distance from the plaintext run.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sodium.h>
#include <nlohmann/json.hpp>

#include "apps/bench_lr.hpp"
#include "apps/bench_mpc.hpp"
#include "apps/bench_support.hpp"
#include "apps/memory_settings.hpp"

#include "mpc/additive_engine.hpp"
#include "mpc/dealer.hpp"
#include "mpc/dealer_free.hpp"
#include "mpc/session.hpp"
#include "mpc/shamir_engine.hpp"
#include "net/errors.hpp"
#include "net/log.hpp"
#include "net/sub_mesh.hpp"
#include "net/tls_mesh.hpp"
#include "protocols/psi.hpp"
#include "protocols/psi_group.hpp"

namespace {

using sm::net::Bytes;
using sm::net::PartyId;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// ---- net suite -------------------------------------------------------------------------------

struct NetOptions {
  std::size_t mib = 256;
  std::vector<std::size_t> parties = {2, 3};
  std::string certs;  // a gen-certs.sh folder; empty: generate a temporary one
  std::size_t rounds = 2000;
  std::vector<std::size_t> round_sizes = {16, 1024, 16384};
  std::size_t round_parties = 3;
};

struct Measure {
  double seconds = 0;            // the slowest party's time for the whole exchange
  double cpu_seconds = 0;        // CPU time of the whole process (all parties) during the exchange
  std::uint64_t bytes_sent = 0;  // per party
  std::uint64_t bytes_received = 0;  // per party
  std::uint64_t rounds = 0;
};

using sm::app::process_cpu_seconds;

Bytes message_for(PartyId from, PartyId to, std::size_t size) {
  Bytes message(size, static_cast<std::uint8_t>(from * 16 + to));
  if (size > 0) message.back() = static_cast<std::uint8_t>(to * 16 + from);
  return message;
}

bool arrived_intact(const Bytes& message, PartyId from, PartyId to, std::size_t size) {
  return message.size() == size &&
         (size == 0 || (message.front() == static_cast<std::uint8_t>(from * 16 + to) &&
                        message.back() == static_cast<std::uint8_t>(to * 16 + from)));
}

// Runs body(party) on n threads and rethrows the first failure.
template <class Body>
void on_threads(std::size_t n, Body body) {
  std::vector<std::exception_ptr> errors(n);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      try {
        body(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

Measure measure_tls(std::size_t n, std::size_t size, const fs::path& certs) {
  const auto ports = sm::app::free_loopback_ports(n);
  std::vector<Measure> results(n);
  std::barrier ready(static_cast<std::ptrdiff_t>(n));
  double cpu_start = 0;
  double cpu_end = 0;
  on_threads(n, [&](PartyId self) {
    const sm::net::TlsConfig config = sm::app::loopback_config(certs, self, ports);
    sm::Logger log("party" + std::to_string(self), sm::Logger::Level::kWarn);
    auto mesh = sm::net::TlsMesh::connect(config, log);
    std::vector<Bytes> out(n);
    for (PartyId to = 0; to < n; ++to) {
      if (to != self) out[to] = message_for(self, to, size);
    }
    mesh->broadcast(Bytes(1), "warm-up");
    const auto before = mesh->stats();
    ready.arrive_and_wait();
    if (self == 0) cpu_start = process_cpu_seconds();
    const auto start = Clock::now();
    const auto in = mesh->exchange_all(out, "bench exchange");
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ready.arrive_and_wait();
    if (self == 0) cpu_end = process_cpu_seconds();
    for (PartyId from = 0; from < n; ++from) {
      if (from != self && !arrived_intact(in[from], from, self, size)) {
        throw sm::NetError("corrupted message from party " + std::to_string(from));
      }
    }
    const auto stats = mesh->stats().since(before);
    results[self] = {seconds, 0, stats.bytes_sent(), stats.bytes_received(), stats.rounds};
    mesh->broadcast(Bytes(1), "done");  // nobody closes while another still measures
    mesh->close();
  });
  Measure slowest = results[0];
  for (const auto& result : results) slowest.seconds = std::max(slowest.seconds, result.seconds);
  slowest.cpu_seconds = cpu_end - cpu_start;
  return slowest;
}

// The plaintext baseline: a full mesh of blocking-connected, then non-blocking TCP sockets; one
// thread per party moves all its sends and receives with poll(), as the TLS mesh does.
Measure measure_tcp(std::size_t n, std::size_t size) {
  std::vector<int> listeners(n);
  std::vector<std::uint16_t> ports(n);
  for (std::size_t i = 0; i < n; ++i) {
    listeners[i] = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(listeners[i], reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(listeners[i], 64) != 0 ||
        getsockname(listeners[i], reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw sm::NetError("cannot listen on 127.0.0.1 for the TCP baseline");
    }
    ports[i] = ntohs(address.sin_port);
  }
  // fds[i][j]: party i's socket to party j. Party i dials every j < i, j accepts in order.
  std::vector<std::vector<int>> fds(n, std::vector<int>(n, -1));
  for (std::size_t i = 1; i < n; ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(ports[j]);
      if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        throw sm::NetError("TCP baseline: connect failed");
      }
      fds[i][j] = fd;
      fds[j][i] = accept(listeners[j], nullptr, nullptr);
    }
  }
  for (int fd : listeners) close(fd);
  for (auto& row : fds) {
    for (int fd : row) {
      if (fd < 0) continue;
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
  }

  std::vector<double> seconds(n);
  std::barrier ready(static_cast<std::ptrdiff_t>(n));
  double cpu_start = 0;
  double cpu_end = 0;
  on_threads(n, [&](PartyId self) {
    std::vector<Bytes> out(n);
    for (PartyId to = 0; to < n; ++to) {
      if (to != self) out[to] = message_for(self, to, size);
    }
    std::vector<std::size_t> sent(n, 0);
    std::vector<std::size_t> got(n, 0);
    ready.arrive_and_wait();
    if (self == 0) cpu_start = process_cpu_seconds();
    const auto start = Clock::now();
    std::vector<Bytes> in(n);
    for (PartyId from = 0; from < n; ++from) {
      if (from != self) in[from] = Bytes(size);
    }
    for (;;) {
      std::vector<pollfd> polls;
      std::vector<PartyId> peers;
      for (PartyId peer = 0; peer < n; ++peer) {
        if (peer == self) continue;
        short events = 0;
        if (sent[peer] < size) events |= POLLOUT;
        if (got[peer] < size) events |= POLLIN;
        if (events == 0) continue;
        polls.push_back({fds[self][peer], events, 0});
        peers.push_back(peer);
      }
      if (polls.empty()) break;
      if (poll(polls.data(), polls.size(), 10000) <= 0) throw sm::NetError("TCP baseline stalled");
      for (std::size_t k = 0; k < polls.size(); ++k) {
        const PartyId peer = peers[k];
        if (polls[k].revents & POLLOUT) {
          const ssize_t count =
              send(polls[k].fd, out[peer].data() + sent[peer], size - sent[peer], MSG_NOSIGNAL);
          if (count > 0) sent[peer] += static_cast<std::size_t>(count);
        }
        if (polls[k].revents & (POLLIN | POLLHUP | POLLERR)) {
          const ssize_t count = recv(polls[k].fd, in[peer].data() + got[peer], size - got[peer], 0);
          if (count == 0) throw sm::NetError("TCP baseline: peer closed");
          if (count > 0) got[peer] += static_cast<std::size_t>(count);
        }
      }
    }
    seconds[self] = std::chrono::duration<double>(Clock::now() - start).count();
    ready.arrive_and_wait();
    if (self == 0) cpu_end = process_cpu_seconds();
    for (PartyId from = 0; from < n; ++from) {
      if (from != self && !arrived_intact(in[from], from, self, size)) {
        throw sm::NetError("TCP baseline: corrupted message");
      }
    }
  });
  for (auto& row : fds) {
    for (int fd : row) {
      if (fd >= 0) close(fd);
    }
  }
  const std::uint64_t bytes = static_cast<std::uint64_t>(n - 1) * size;
  return {*std::max_element(seconds.begin(), seconds.end()), cpu_end - cpu_start, bytes, bytes, 1};
}

void print_row(std::size_t n, const char* transport, const Measure& m, const char* ratio) {
  const double mb_per_s = static_cast<double>(m.bytes_sent) / 1e6 / m.seconds;
  std::printf("%7zu  %-9s  %8.3f  %8.3f  %10.1f  %16llu  %16llu  %6llu  %s\n", n, transport,
              m.seconds, m.cpu_seconds, mb_per_s, static_cast<unsigned long long>(m.bytes_sent),
              static_cast<unsigned long long>(m.bytes_received),
              static_cast<unsigned long long>(m.rounds), ratio);
}

void run_throughput(const NetOptions& options, const fs::path& certs) {
  const std::size_t size = options.mib << 20;
  std::printf("net: one exchange_all of %zu MiB to every peer, loopback, parties as threads\n",
              options.mib);
  std::printf(
      "(MB/s: payload bytes each party sent, over the slowest party's seconds; cpu s: CPU time of\n"
      " all parties together; TLS/TCP: throughput ratio, and CPU ratio TCP/TLS in brackets)\n\n");
  std::printf("%7s  %-9s  %8s  %8s  %10s  %16s  %16s  %6s  %s\n", "parties", "transport", "seconds",
              "cpu s", "MB/s", "bytes sent/party", "bytes recv/party", "rounds", "TLS/TCP");
  for (std::size_t n : options.parties) {
    const Measure tcp = measure_tcp(n, size);
    const Measure tls = measure_tls(n, size, certs);
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f (cpu %.2f)", tcp.seconds / tls.seconds,
                  tcp.cpu_seconds / tls.cpu_seconds);
    print_row(n, "tcp", tcp, "");
    print_row(n, "tls 1.3", tls, ratio);
  }
}

// The fixed cost of a round of small messages: one party process's measure of `rounds`
// exchange_all rounds of `sizes[k]` bytes to every peer, for each k, after warm-up rounds.
nlohmann::json round_cost_party(const sm::net::TlsConfig& config, std::size_t rounds,
                                const std::vector<std::size_t>& sizes) {
  constexpr std::size_t kWarmUpRounds = 200;
  sm::Logger log(config.parties.at(config.self).name, sm::Logger::Level::kWarn);
  auto mesh = sm::net::TlsMesh::connect(config, log);
  const PartyId self = mesh->self();
  const std::size_t n = mesh->size();
  nlohmann::json sizes_report = nlohmann::json::array();
  for (std::size_t size : sizes) {
    std::vector<Bytes> out(n);
    for (PartyId to = 0; to < n; ++to) {
      if (to != self) out[to] = message_for(self, to, size);
    }
    const auto run_rounds = [&](std::size_t count) {
      for (std::size_t round = 0; round < count; ++round) {
        const auto in = mesh->exchange_all(out, "bench round");
        for (PartyId from = 0; from < n; ++from) {
          if (from != self && !arrived_intact(in[from], from, self, size)) {
            throw sm::NetError("corrupted message from party " + std::to_string(from));
          }
        }
      }
    };
    run_rounds(kWarmUpRounds);
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    const sm::app::PhaseMeasure measure =
        sm::app::measure_phase(*mesh, *mesh, [&] { run_rounds(rounds); });
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    const auto switches = [](const rusage& usage) { return usage.ru_nvcsw + usage.ru_nivcsw; };
    sizes_report.push_back({{"size", size},
                            {"measure", sm::app::to_json(measure)},
                            {"context_switches", switches(after) - switches(before)}});
  }
  mesh->broadcast(Bytes(1), "done");  // nobody closes while another still measures
  mesh->close();
  return {{"sizes", sizes_report}};
}

void run_round_cost(const NetOptions& options, const fs::path& certs) {
  const std::size_t n = options.round_parties;
  std::printf(
      "\nnet rounds: %zu exchange_all rounds of small messages among %zu party processes, TLS "
      "1.3\non loopback (us/round: the slowest party's wall time per round; cpu us and ctx sw: "
      "per round\nand party, mean over the parties (max in brackets))\n\n",
      options.rounds, n);
  std::printf("%10s  %9s  %20s  %16s  %16s  %7s\n", "bytes/peer", "us/round", "cpu us/party",
              "ctx sw/party", "bytes sent/party", "rounds");
  const auto ports = sm::app::free_loopback_ports(n);
  const auto reports = sm::app::run_in_processes(
      n,
      [&](PartyId self) {
        return round_cost_party(sm::app::loopback_config(certs, self, ports), options.rounds,
                                options.round_sizes);
      },
      std::chrono::seconds(3600));
  const double rounds = static_cast<double>(options.rounds);
  for (std::size_t k = 0; k < options.round_sizes.size(); ++k) {
    std::vector<sm::app::PhaseMeasure> parties;
    double cpu_sum = 0;
    double switches_sum = 0;
    double switches_max = 0;
    for (const auto& report : reports) {
      const auto& measured = report.at("sizes").at(k);
      parties.push_back(sm::app::phase_from_json(measured.at("measure")));
      cpu_sum += parties.back().cpu_seconds;
      const double switches = measured.at("context_switches").get<double>();
      switches_sum += switches;
      switches_max = std::max(switches_max, switches);
    }
    const sm::app::PhaseMeasure slowest = sm::app::slowest(parties);
    char cpu[32];
    std::snprintf(cpu, sizeof cpu, "%.1f (%.1f)", cpu_sum / n / rounds * 1e6,
                  slowest.cpu_seconds / rounds * 1e6);
    char switches[32];
    std::snprintf(switches, sizeof switches, "%.2f (%.2f)", switches_sum / n / rounds,
                  switches_max / rounds);
    std::printf("%10zu  %9.1f  %20s  %16s  %16llu  %7llu\n", options.round_sizes[k],
                slowest.seconds / rounds * 1e6, cpu, switches,
                static_cast<unsigned long long>(slowest.bytes_sent),
                static_cast<unsigned long long>(slowest.rounds));
    std::fflush(stdout);
  }
}

void run_net(const NetOptions& options) {
  const std::size_t most = std::max(
      options.rounds == 0 ? 0 : options.round_parties,
      options.mib == 0 ? 0 : *std::max_element(options.parties.begin(), options.parties.end()));
  std::optional<sm::app::BenchCertificates> generated;
  const fs::path certs =
      options.certs.empty() ? generated.emplace(most).folder() : fs::path(options.certs);
  if (options.mib > 0) run_throughput(options, certs);
  if (options.rounds > 0) run_round_cost(options, certs);
}

// ---- mul, matmul and aggregate suites: party processes over TLS (apps/bench_mpc.hpp) --------

using sm::app::AggregateMode;
using sm::app::BenchScheme;
using sm::app::PhaseMeasure;

// A party process that has not finished after this long is killed and the suite fails.
constexpr std::chrono::seconds kPartyDeadline{3600};
// Peak resident memory of one mul party per byte of one n-element operand (measured 21 to 25:
// operands, triples, masked and opened vectors, the mesh's message buffers; with a margin).
constexpr double kMulMemoryPerElementByte = 26;

struct MulOptions {
  std::vector<std::size_t> sizes = {1000000, 10000000};
  std::vector<std::string> schemes = {"additive", "fp61", "fp127"};
  std::size_t parties = 3;
  std::string json;  // empty: no JSON
};

struct MatmulOptions {
  std::vector<std::string> shapes = {"1000x1000x1", "256x256x256"};
  std::vector<std::string> schemes = {"additive", "fp61", "fp127"};
  std::size_t parties = 3;
  std::string json;
};

struct AggregateOptions {
  std::size_t values = 1000000;
  std::vector<std::size_t> parties = {3, 5, 10};
  std::string json;
};

// Elements the most loaded party sends per product: additive, Beaver's two openings to every
// peer, 2 (N-1); Shamir, the degree reduction, N-1-t (t = (N-1)/2 as in the suites).
std::size_t products_min_elements(BenchScheme scheme, std::size_t parties) {
  return scheme == BenchScheme::kAdditive ? 2 * (parties - 1) : parties - 1 - (parties - 1) / 2;
}

BenchScheme parse_scheme(const std::string& name) {
  if (name == "additive") return BenchScheme::kAdditive;
  if (name == "fp61") return BenchScheme::kShamir61;
  return BenchScheme::kShamir127;
}

// "RxIxC" -> {R, I, C}; ConfigError unless three positive numbers.
std::array<std::size_t, 3> parse_shape(const std::string& text) {
  std::array<std::size_t, 3> shape{};
  char tail = 0;
  if (std::sscanf(text.c_str(), "%zux%zux%zu%c", &shape[0], &shape[1], &shape[2], &tail) != 3 ||
      shape[0] == 0 || shape[1] == 0 || shape[2] == 0) {
    throw sm::ConfigError("--shapes: '" + text + "' is not ROWSxINNERxCOLS");
  }
  return shape;
}

nlohmann::json load_json(const std::array<double, 3>& load) { return {load[0], load[1], load[2]}; }

// The phase `name` of every computing party's report, and their slowest() summary.
struct PhaseOverParties {
  std::vector<PhaseMeasure> parties;
  PhaseMeasure summary;
};

PhaseOverParties collect_phase(const std::vector<nlohmann::json>& reports, const char* name) {
  PhaseOverParties out;
  for (const auto& report : reports) {
    if (report.at("role") == "compute") {
      out.parties.push_back(sm::app::phase_from_json(report.at("phases").at(name)));
    }
  }
  out.summary = sm::app::slowest(out.parties);
  return out;
}

PhaseMeasure add_phases(const PhaseMeasure& a, const PhaseMeasure& b) {
  return {a.seconds + b.seconds, a.cpu_seconds + b.cpu_seconds, a.bytes_sent + b.bytes_sent,
          a.bytes_received + b.bytes_received, a.rounds + b.rounds};
}

// One table row of the mul and matmul suites; `elements` scales bytes to bytes per element,
// `min_bytes` is the protocol's minimum bytes sent per party for the row (0: none stated).
nlohmann::json mpc_row(const std::string& label, const char* phase, const PhaseMeasure& m,
                       double plain_seconds, std::size_t elements, double min_bytes) {
  const double per_element = static_cast<double>(m.bytes_sent) / static_cast<double>(elements);
  std::printf("%-34s  %-13s  %9.4f  %8.3f  %13llu  %13llu  %9.2f  %6llu  %10.3g  %9.1f",
              label.c_str(), phase, m.seconds, m.cpu_seconds,
              static_cast<unsigned long long>(m.bytes_sent),
              static_cast<unsigned long long>(m.bytes_received), per_element,
              static_cast<unsigned long long>(m.rounds), plain_seconds, m.seconds / plain_seconds);
  nlohmann::json row = {{"case", label},
                        {"phase", phase},
                        {"seconds", m.seconds},
                        {"cpu_seconds", m.cpu_seconds},
                        {"bytes_sent_per_party", m.bytes_sent},
                        {"bytes_received_per_party", m.bytes_received},
                        {"bytes_sent_per_element", per_element},
                        {"rounds", m.rounds},
                        {"baseline_seconds", plain_seconds},
                        {"ratio", m.seconds / plain_seconds}};
  if (min_bytes > 0) {
    std::printf("  %8.0f (%.2fx)", min_bytes / static_cast<double>(elements),
                static_cast<double>(m.bytes_sent) / min_bytes);
    row["min_bytes_sent_per_party"] = min_bytes;
  }
  std::printf("\n");
  return row;
}

void print_mpc_header(const char* unit) {
  std::printf("%-34s  %-13s  %9s  %8s  %13s  %13s  %9s  %6s  %10s  %9s  %s\n", "case", "phase",
              "seconds", "cpu s", "sent/party", "recv/party", unit, "rounds", "plain s", "ratio",
              "min B/elem (measured/min)");
}

// Runs `party_body(scheme, config)` for `computing` parties (+ the dealer) as processes and
// returns their reports, with the dealer's report (if any) last.
template <class Body>
std::vector<nlohmann::json> run_scheme(BenchScheme scheme, std::size_t computing,
                                       const sm::app::BenchCertificates& certs, Body body) {
  const std::size_t count = sm::app::process_count(scheme, computing);
  const auto ports = sm::app::free_loopback_ports(count);
  return sm::app::run_in_processes(
      count,
      [&](PartyId self) { return body(scheme, sm::app::loopback_config(certs, self, ports)); },
      kPartyDeadline);
}

nlohmann::json dealer_report(const std::vector<nlohmann::json>& reports) {
  for (const auto& report : reports) {
    if (report.at("role") == "dealer") return report.at("dealer");
  }
  return nullptr;
}

std::uint64_t peak_rss(const std::vector<nlohmann::json>& reports) {
  std::uint64_t most = 0;
  for (const auto& report : reports) {
    if (report.at("role") == "compute") {
      most = std::max(most, report.at("peak_rss_bytes").get<std::uint64_t>());
    }
  }
  return most;
}

// Prints the case's peak memory per party and what the dealer (if any) did.
void print_case_notes(const std::vector<nlohmann::json>& reports) {
  std::printf("%-34s  peak memory per party %.0f MB", "", peak_rss(reports) / 1e6);
  const auto dealer = dealer_report(reports);
  if (!dealer.is_null()) {
    std::printf("; dealer process: sent %llu bytes in %llu batches, %.3f s computing",
                dealer.at("bytes_sent").get<unsigned long long>(),
                dealer.at("batches").get<unsigned long long>(),
                dealer.at("compute_seconds").get<double>());
  }
  std::printf("\n");
}

// Why a case that needs about `bytes` of memory in all its processes together is skipped, or
// an empty string if it fits: the machine is shared, so a case may take at most
// kMemoryShare of the memory available now (running out would get other users' processes
// killed).
constexpr double kMemoryShare = 0.6;

std::string memory_shortage(double bytes) {
  const double available = static_cast<double>(sm::app::available_memory_bytes());
  if (available == 0 || bytes <= kMemoryShare * available) return "";
  char text[160];
  std::snprintf(text, sizeof text,
                "skipped: needs about %.1f GB of memory in all, %.1f GB available now", bytes / 1e9,
                available / 1e9);
  return text;
}

nlohmann::json skipped_row(const std::string& label, const std::string& reason) {
  std::printf("%-34s  %s\n", label.c_str(), reason.c_str());
  return {{"case", label}, {"phase", "skipped"}, {"skipped", reason}};
}

void finish_document(nlohmann::json& document, const std::string& file) {
  document["load_average_after"] = load_json(sm::app::load_average());
  std::printf("\nload average after: %s\n", sm::app::load_average_text().c_str());
  if (!file.empty()) sm::app::write_json_file(file, document);
}

void run_mul(const MulOptions& options) {
  const std::size_t n_parties = options.parties;
  nlohmann::json document = {{"suite", "mul"},
                             {"parties", n_parties},
                             {"transport", "TLS 1.3 on loopback, one process per party"},
                             {"load_average_before", load_json(sm::app::load_average())},
                             {"rows", nlohmann::json::array()}};
  std::printf(
      "mul: element-wise products of two secret-shared vectors, %zu computing parties as\n"
      "separate processes over TLS 1.3 on loopback (additive: + 1 dealer process)\n"
      "load average before: %s\n"
      "(seconds, cpu s: slowest party; sent/recv: payload bytes of the most loaded party; B/mul:\n"
      " sent/party per product; plain s: median of 5 plaintext products of the same element type\n"
      " in this process; ratio: seconds / plain s; min: additive, Beaver with all-to-all\n"
      " opening sends 2 (N-1) elements per product and party; Shamir multiplies by degree\n"
      " reduction, N-1-t elements per product at the most loaded party, with nothing to prepare;\n"
      " its \"triples\" row is the dealer-free source's triple generation, measured apart for its\n"
      " rate: the multiplication does not use them)\n\n",
      n_parties, sm::app::load_average_text().c_str());
  print_mpc_header("B/mul");
  const sm::app::BenchCertificates certs(n_parties + 1);
  for (const auto& scheme_name : options.schemes) {
    const BenchScheme scheme = parse_scheme(scheme_name);
    for (std::size_t n : options.sizes) {
      const std::string label = sm::app::scheme_label(scheme) + ", n=" + std::to_string(n);
      const std::string shortage =
          memory_shortage(kMulMemoryPerElementByte * static_cast<double>(n) *
                          static_cast<double>(sm::app::element_bytes(scheme) * n_parties));
      if (!shortage.empty()) {
        document["rows"].push_back(skipped_row(label, shortage));
        continue;
      }
      const auto reports = run_scheme(
          scheme, n_parties, certs,
          [n](BenchScheme s, const sm::net::TlsConfig& c) { return sm::app::mul_party(s, c, n); });
      const double plain = sm::app::plain_mul_seconds(scheme, n);
      const auto pre = collect_phase(reports, "preprocessing");
      const auto online = collect_phase(reports, "online");
      const double min_online = static_cast<double>(products_min_elements(scheme, n_parties) * n *
                                                    sm::app::element_bytes(scheme));
      auto rows = nlohmann::json::array(
          {mpc_row(label, "preprocessing", pre.summary, plain, n, 0),
           mpc_row(label, "online", online.summary, plain, n, min_online),
           mpc_row(label, "total", add_phases(pre.summary, online.summary), plain, n, 0)});
      if (scheme != BenchScheme::kAdditive) {
        rows.push_back(
            mpc_row(label, "triples", collect_phase(reports, "triples").summary, plain, n, 0));
      }
      const auto dealer = dealer_report(reports);
      print_case_notes(reports);
      for (auto& row : rows) {
        row["scheme"] = sm::app::scheme_label(scheme);
        row["n"] = n;
        row["dealer"] = dealer;
        row["peak_rss_bytes_per_party"] = peak_rss(reports);
        document["rows"].push_back(row);
      }
      document["rows"].back()["parties_detail"] = reports;
    }
  }
  finish_document(document, options.json);
}

void run_matmul(const MatmulOptions& options) {
  const std::size_t n_parties = options.parties;
  nlohmann::json document = {{"suite", "matmul"},
                             {"parties", n_parties},
                             {"transport", "TLS 1.3 on loopback, one process per party"},
                             {"load_average_before", load_json(sm::app::load_average())},
                             {"rows", nlohmann::json::array()}};
  std::printf(
      "matmul: one product of two secret-shared matrices (rows x inner)(inner x cols), %zu\n"
      "computing parties as separate processes over TLS 1.3 on loopback (additive: + 1 dealer)\n"
      "load average before: %s\n"
      "(B/elem: sent/party per element of the two operands; plain s: median of 5 matmul_plain of\n"
      " the same element type in this process; eigen s: the same product of doubles with Eigen;\n"
      " min: additive, a matrix triple opens both masked operands to every peer, (rows inner +\n"
      " inner cols) (N-1) elements per party; Shamir reduces the rows cols outputs' degree,\n"
      " rows cols (N-1-t) elements at the most loaded party, with nothing to prepare)\n\n",
      n_parties, sm::app::load_average_text().c_str());
  print_mpc_header("B/elem");
  const sm::app::BenchCertificates certs(n_parties + 1);
  for (const auto& shape_text : options.shapes) {
    const auto [rows, inner, cols] = parse_shape(shape_text);
    const double eigen = sm::app::eigen_matmul_seconds(rows, inner, cols);
    const std::size_t operands = rows * inner + inner * cols;
    for (const auto& scheme_name : options.schemes) {
      const BenchScheme scheme = parse_scheme(scheme_name);
      const auto reports = run_scheme(
          scheme, n_parties, certs,
          [rows = rows, inner = inner, cols = cols](BenchScheme s, const sm::net::TlsConfig& c) {
            return sm::app::matmul_party(s, c, rows, inner, cols);
          });
      const double plain = sm::app::plain_matmul_seconds(scheme, rows, inner, cols);
      const auto pre = collect_phase(reports, "preprocessing");
      const auto online = collect_phase(reports, "online");
      const std::string label = sm::app::scheme_label(scheme) + ", " + std::to_string(rows) + "x" +
                                std::to_string(inner) + " * " + std::to_string(inner) + "x" +
                                std::to_string(cols);
      const std::size_t min_elements = scheme == BenchScheme::kAdditive
                                           ? operands * (n_parties - 1)
                                           : rows * cols * products_min_elements(scheme, n_parties);
      const double min_online = static_cast<double>(min_elements * sm::app::element_bytes(scheme));
      auto rows_json = nlohmann::json::array(
          {mpc_row(label, "preprocessing", pre.summary, plain, operands, 0),
           mpc_row(label, "online", online.summary, plain, operands, min_online),
           mpc_row(label, "total", add_phases(pre.summary, online.summary), plain, operands, 0)});
      const auto dealer = dealer_report(reports);
      print_case_notes(reports);
      std::printf("%-34s  eigen (doubles): %.3g s; online / eigen %.1f\n", "", eigen,
                  online.summary.seconds / eigen);
      for (auto& row : rows_json) {
        row["scheme"] = sm::app::scheme_label(scheme);
        row["shape"] = {rows, inner, cols};
        row["eigen_double_seconds"] = eigen;
        row["dealer"] = dealer;
        row["peak_rss_bytes_per_party"] = peak_rss(reports);
        document["rows"].push_back(row);
      }
      document["rows"].back()["parties_detail"] = reports;
    }
  }
  finish_document(document, options.json);
}

void run_aggregate(const AggregateOptions& options) {
  const std::size_t d = options.values;
  const double raw_bytes = 8.0 * static_cast<double>(d);
  nlohmann::json document = {{"suite", "aggregate"},
                             {"values", d},
                             {"transport", "TLS 1.3 on loopback, one process per party"},
                             {"load_average_before", load_json(sm::app::load_average())},
                             {"rows", nlohmann::json::array()}};
  std::printf(
      "aggregate: secure_sum of d = %zu int64 values per party, N parties as separate processes\n"
      "over TLS 1.3 on loopback; every party learns the sum\n"
      "load average before: %s\n"
      "(seconds: slowest party; sent/party: most loaded party other than party 0 (the leader /\n"
      " aggregator); expansion: bytes sent / 8 d raw input bytes; baseline: every party sends its\n"
      " raw vector to party 0, which sends the sum back, measured in the same run)\n\n",
      d, sm::app::load_average_text().c_str());
  std::printf("%7s  %-16s  %9s  %8s  %13s  %9s  %13s  %9s  %6s  %10s  %7s\n", "parties", "protocol",
              "seconds", "cpu s", "sent/party", "expansion", "party 0 sent", "expansion", "rounds",
              "baseline s", "ratio");
  const std::size_t most = *std::max_element(options.parties.begin(), options.parties.end());
  const sm::app::BenchCertificates certs(most);
  for (std::size_t n : options.parties) {
    double baseline = 0;
    for (AggregateMode mode :
         {AggregateMode::kPlainToLeader, AggregateMode::kThreshold, AggregateMode::kMasked}) {
      const auto ports = sm::app::free_loopback_ports(n);
      const auto reports = sm::app::run_in_processes(
          n,
          [&](PartyId self) {
            return sm::app::aggregate_party(mode, sm::app::loopback_config(certs, self, ports), d);
          },
          kPartyDeadline);
      const auto sum = collect_phase(reports, "sum");
      const PhaseMeasure leader = sum.parties.at(0);
      const PhaseMeasure others =
          sm::app::slowest(std::span<const PhaseMeasure>(sum.parties).subspan(1));
      if (mode == AggregateMode::kPlainToLeader) baseline = sum.summary.seconds;
      const double ratio = sum.summary.seconds / baseline;
      std::printf("%7zu  %-16s  %9.4f  %8.3f  %13llu  %9.3f  %13llu  %9.3f  %6llu  %10.4f  %7.2f\n",
                  n, sm::app::aggregate_label(mode).c_str(), sum.summary.seconds,
                  sum.summary.cpu_seconds, static_cast<unsigned long long>(others.bytes_sent),
                  static_cast<double>(others.bytes_sent) / raw_bytes,
                  static_cast<unsigned long long>(leader.bytes_sent),
                  static_cast<double>(leader.bytes_sent) / raw_bytes,
                  static_cast<unsigned long long>(sum.summary.rounds), baseline, ratio);
      document["rows"].push_back(
          {{"case", "N=" + std::to_string(n)},
           {"phase", sm::app::aggregate_label(mode)},
           {"parties", n},
           {"seconds", sum.summary.seconds},
           {"cpu_seconds", sum.summary.cpu_seconds},
           {"bytes_sent_per_party", others.bytes_sent},
           {"bytes_received_per_party", others.bytes_received},
           {"expansion", static_cast<double>(others.bytes_sent) / raw_bytes},
           {"leader_bytes_sent", leader.bytes_sent},
           {"leader_expansion", static_cast<double>(leader.bytes_sent) / raw_bytes},
           {"leader_bytes_received", leader.bytes_received},
           {"rounds", sum.summary.rounds},
           {"baseline_seconds", baseline},
           {"ratio", ratio},
           {"peak_rss_bytes_per_party", peak_rss(reports)},
           {"parties_detail", reports}});
    }
  }
  finish_document(document, options.json);
}

// ---- lr suite: party processes over TLS (apps/bench_lr.hpp) ---------------------------------

struct LrOptions {
  std::vector<std::string> datasets = {"breast-cancer", "synthetic"};
  std::vector<std::string> partitions = {"vertical", "horizontal"};
  std::vector<std::string> schemes = {"additive", "fp127"};
  std::size_t epochs = 10;           // breast cancer
  // 100,000 rows: 1562 iterations per epoch at batch 64; the first epoch also holds the set-up,
  // so the later ones show the cost per epoch.
  std::size_t synthetic_epochs = 3;
  std::size_t batch_size = 64;
  std::size_t synthetic_rows = 100000, synthetic_columns = 100;
  std::size_t parties = 3;
  std::string data_file = SM_BREAST_CANCER;
  std::string json;
};

void run_lr(const LrOptions& options) {
  nlohmann::json document = {{"suite", "lr"},
                             {"transport", "TLS 1.3 on loopback, one process per party"},
                             {"load_average_before", load_json(sm::app::load_average())},
                             {"rows", nlohmann::json::array()}};
  std::printf(
      "lr: joint logistic regression (piecewise5 sigmoid, batch %zu, learning rate 1), 3 "
      "computing\n"
      "parties as separate processes over TLS 1.3 on loopback, next to plaintext training of the\n"
      "same model (same batches, same sigmoid, doubles, Eigen) in the same run\n"
      "load average before: %s\n"
      "(seconds: slowest party, everything from sharing the data to the last epoch's statistics;\n"
      " s/epoch: epochs after the first; set-up: the first epoch's extra time; cpu s: the slowest\n"
      " party's process CPU time, and per epoch after the first (cpu/ep; with one epoch: the\n"
      " first); rounds/it: rounds of one training iteration on the computing parties' mesh;\n"
      " stats: rounds of one epoch's statistics; accuracy on the 20 %% test rows, secure /\n"
      " plaintext; |dw|: largest weight difference from the plaintext run)\n\n",
      options.batch_size, sm::app::load_average_text().c_str());
  std::printf("%-42s  %-15s  %8s  %8s  %7s  %8s  %7s  %12s  %9s  %5s  %13s  %7s  %9s  %8s\n",
              "case", "scheme", "seconds", "s/epoch", "set-up", "cpu s", "cpu/ep", "sent/party",
              "rounds/it", "stats", "accuracy", "|dw|", "plain s", "ratio");
  const sm::app::BenchCertificates certs(options.parties + 1);
  for (const auto& dataset : options.datasets) {
    for (const auto& partition : options.partitions) {
      sm::app::LrBenchCase bench;
      bench.dataset = dataset;
      bench.partition = partition == "vertical" ? sm::proto::Partition::kVertical
                                                : sm::proto::Partition::kHorizontal;
      bench.parties = options.parties;
      bench.epochs = dataset == "synthetic" ? options.synthetic_epochs : options.epochs;
      bench.batch_size = options.batch_size;
      bench.synthetic_rows = options.synthetic_rows;
      bench.synthetic_columns = options.synthetic_columns;
      bench.breast_cancer_file = options.data_file;
      const auto data = sm::app::lr_bench_data(bench);
      const auto plain = sm::app::lr_plain(data);
      const std::string label = dataset + " " + partition + " (" + std::to_string(data.x.rows()) +
                                "x" + std::to_string(data.x.cols()) + ", " +
                                std::to_string(bench.epochs) + " ep)";
      for (const auto& scheme_name : options.schemes) {
        const BenchScheme scheme = parse_scheme(scheme_name);
        const auto reports = run_scheme(scheme, options.parties, certs,
                                        [&](BenchScheme s, const sm::net::TlsConfig& config) {
                                          return sm::app::lr_party(s, config, bench);
                                        });
        const auto train = collect_phase(reports, "train");
        const nlohmann::json* first = nullptr;
        for (const auto& report : reports) {
          if (report.at("role") == "compute") {
            first = &report;
            break;
          }
        }
        const auto& party = *first;
        const auto& curve = party.at("curve");
        // The slowest computing party's CPU seconds per epoch after the first.
        double cpu_per_epoch = 0;
        for (const auto& report : reports) {
          if (report.at("role") != "compute") continue;
          const auto& own = report.at("curve");
          const double first_cpu = own.at(0).at("cpu_seconds").get<double>();
          cpu_per_epoch = std::max(
              cpu_per_epoch, own.size() > 1 ? (own.back().at("cpu_seconds").get<double>() -
                                               first_cpu) / static_cast<double>(own.size() - 1)
                                            : first_cpu);
        }
        const double first_epoch = curve.at(0).at("seconds").get<double>();
        const double per_epoch =
            curve.size() > 1
                ? (curve.back().at("seconds").get<double>() - first_epoch) / (curve.size() - 1)
                : first_epoch;
        const auto weights = party.at("weights").get<std::vector<double>>();
        double worst = 0;
        for (std::size_t i = 0; i < weights.size(); ++i) {
          worst =
              std::max(worst, std::fabs(weights[i] - plain.weights(static_cast<Eigen::Index>(i))));
        }
        const double accuracy = party.at("test_accuracy").get<double>();
        const auto iterations = party.at("iterations").get<std::uint64_t>();
        const double rounds_per_iteration =
            static_cast<double>(party.at("training_rounds").get<std::uint64_t>()) /
            static_cast<double>(iterations);
        const double stats_rounds =
            static_cast<double>(party.at("statistics_rounds").get<std::uint64_t>()) /
            static_cast<double>(bench.epochs);
        const double ratio = train.summary.seconds / plain.seconds;
        std::printf(
            "%-42s  %-15s  %8.3f  %8.3f  %7.3f  %8.3f  %7.3f  %12llu  %9.1f  %5.0f  %6.4f/%6.4f  "
            "%7.4f  %9.5f  %8.0f\n",
            label.c_str(), sm::app::scheme_label(scheme).c_str(), train.summary.seconds, per_epoch,
            first_epoch - per_epoch, train.summary.cpu_seconds, cpu_per_epoch,
            static_cast<unsigned long long>(train.summary.bytes_sent), rounds_per_iteration,
            stats_rounds, accuracy, plain.test_accuracy, worst, plain.seconds, ratio);
        if (std::fabs(accuracy - plain.test_accuracy) > 0.05) {
          throw sm::ProtocolError("lr benchmark: the secure model's test accuracy " +
                                  std::to_string(accuracy) + " is far from the plaintext " +
                                  std::to_string(plain.test_accuracy));
        }
        document["rows"].push_back({{"case", label},
                                    {"phase", sm::app::scheme_label(scheme)},
                                    {"dataset", dataset},
                                    {"partition", partition},
                                    {"epochs", bench.epochs},
                                    {"batch_size", bench.batch_size},
                                    {"seconds", train.summary.seconds},
                                    {"seconds_per_epoch", per_epoch},
                                    {"setup_seconds", first_epoch - per_epoch},
                                    {"cpu_seconds", train.summary.cpu_seconds},
                                    {"cpu_seconds_per_epoch", cpu_per_epoch},
                                    {"bytes_sent_per_party", train.summary.bytes_sent},
                                    {"bytes_received_per_party", train.summary.bytes_received},
                                    {"rounds", train.summary.rounds},
                                    {"iterations", iterations},
                                    {"rounds_per_iteration", rounds_per_iteration},
                                    {"statistics_rounds_per_epoch", stats_rounds},
                                    {"test_accuracy", accuracy},
                                    {"plain_test_accuracy", plain.test_accuracy},
                                    {"max_weight_difference", worst},
                                    {"baseline_seconds", plain.seconds},
                                    {"ratio", ratio},
                                    {"peak_rss_bytes_per_party", peak_rss(reports)}});
      }
    }
  }
  finish_document(document, options.json);
}

// ---- psi suite -------------------------------------------------------------------------------

struct PsiBenchOptions {
  std::vector<std::size_t> log_items = {16, 20};
  std::vector<std::size_t> parties = {2, 3};
  std::vector<std::string> modes = {"intersection", "sum"};
  double overlap = 0.5;
  std::size_t threads = 0;  // per party; 0: every core
  std::string certs;
};

// Single-thread rates of the group operations PSI is made of (protocols/psi_group.hpp), measured
// now in this thread's CPU time (so that other load on the machine does not lower them).
struct GroupRates {
  double x25519 = 0;     // crypto_scalarmult_curve25519 per second: PSI's blinding
  double ristretto = 0;  // crypto_scalarmult_ristretto255 per second: the group PSI does not use
  double hashes = 0;     // SHA-512 then elligator2_batch, 256 at a time, per second: PSI's hash
};

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

GroupRates measure_group_rates() {
  if (sodium_init() < 0) throw sm::ConfigError("libsodium failed to initialise");
  constexpr int kOps = 3000;
  GroupRates rates;
  const sm::proto::GroupScalar key = sm::proto::random_group_scalar();
  sm::proto::GroupElement element = sm::proto::elligator2(sm::proto::FieldBytes{9});
  for (int i = 0; i < kOps / 10; ++i) sm::proto::blind(element, key);  // warm-up
  double start = thread_cpu_seconds();
  for (int i = 0; i < kOps; ++i) {
    if (!sm::proto::blind(element, key)) throw sm::ConfigError("X25519 gave all zeros");
  }
  rates.x25519 = kOps / (thread_cpu_seconds() - start);

  std::array<unsigned char, 32> scalar, point;
  std::array<unsigned char, 64> uniform;
  crypto_core_ristretto255_scalar_random(scalar.data());
  randombytes_buf(uniform.data(), uniform.size());
  crypto_core_ristretto255_from_hash(point.data(), uniform.data());
  start = thread_cpu_seconds();
  for (int i = 0; i < kOps; ++i) {
    if (crypto_scalarmult_ristretto255(point.data(), scalar.data(), point.data()) != 0) {
      throw sm::ConfigError("ristretto255 scalar multiplication failed");
    }
  }
  rates.ristretto = kOps / (thread_cpu_seconds() - start);

  constexpr std::size_t kBatch = 256;
  constexpr std::size_t kHashes = 32 * kBatch;
  std::vector<sm::proto::FieldBytes> field(kBatch);
  std::vector<sm::proto::GroupElement> hashed(kBatch);
  std::array<unsigned char, crypto_hash_sha512_BYTES> digest;
  start = thread_cpu_seconds();
  for (std::size_t done = 0; done < kHashes; done += kBatch) {
    for (std::size_t k = 0; k < kBatch; ++k) {
      const std::string item = "common-" + std::to_string(done + k);
      crypto_hash_sha512(digest.data(), reinterpret_cast<const unsigned char*>(item.data()),
                         item.size());
      std::memcpy(field[k].data(), digest.data(), field[k].size());
    }
    sm::proto::elligator2_batch(field, hashed);
  }
  rates.hashes = static_cast<double>(kHashes) / (thread_cpu_seconds() - start);
  return rates;
}

// What one psi row measured.
struct PsiRow {
  double seconds = 0;        // the slowest party's
  double cpu_seconds = 0;    // the whole process (every party, and the dealer if any)
  std::uint64_t bytes = 0;   // the most any party sent
  std::uint64_t rounds = 0;  // party 0's
  std::int64_t result = 0;   // party 0's: the cardinality, or the sum
};

// One run among n parties (threads of this process, each with its own TlsMesh on loopback),
// party 0 the only output party. Intersection mode; or sum mode with party 1 holding
// payloads[p][i] for its item i, on the additive engine with a dealer (a thread with id n of the
// same mesh) for n = 2 and on ShamirEngine<Fp127> with DealerFreeShamir from n = 3.
PsiRow run_psi_row(const fs::path& certs, const std::vector<std::vector<std::string>>& sets,
                   const std::vector<std::int64_t>& payloads, bool sum, std::size_t threads) {
  const std::size_t n = sets.size();
  const bool with_dealer = sum && n == 2;
  const std::size_t members = with_dealer ? n + 1 : n;
  std::vector<PartyId> computing(n);
  for (PartyId p = 0; p < n; ++p) computing[p] = p;
  const auto ports = sm::app::free_loopback_ports(members);
  std::vector<double> seconds(n, 0);
  std::vector<std::uint64_t> bytes(n, 0);
  PsiRow row;
  std::barrier ready(static_cast<std::ptrdiff_t>(members));
  double cpu_start = 0;
  on_threads(members, [&](PartyId self) {
    sm::net::TlsConfig config = sm::app::loopback_config(certs, self, ports);
    config.receive_timeout = std::chrono::seconds(1800);
    sm::Logger log("party" + std::to_string(self), sm::Logger::Level::kWarn);
    auto mesh = sm::net::TlsMesh::connect(config, log);
    mesh->broadcast(Bytes(1), "warm-up");
    if (self == n) {
      ready.arrive_and_wait();
      sm::mpc::serve_dealer(*mesh, computing);
      ready.arrive_and_wait();
    } else {
      sm::net::SubMesh compute(*mesh, computing);
      sm::mpc::Session session = sm::mpc::Session::establish(compute);
      sm::proto::PsiOptions options;
      options.output_parties = {0};
      options.threads = threads;
      const auto before = mesh->stats();
      ready.arrive_and_wait();
      if (self == 0) cpu_start = process_cpu_seconds();
      const auto start = Clock::now();
      std::int64_t result = 0;
      if (!sum) {
        result = static_cast<std::int64_t>(
            sm::proto::psi(session, sets[self], options).cardinality.value_or(0));
      } else {
        options.mode = sm::proto::PsiMode::kSum;
        const std::span<const std::int64_t> mine =
            self == 1 ? std::span<const std::int64_t>(payloads) : std::span<const std::int64_t>();
        if (with_dealer) {
          sm::mpc::DealerClient source(*mesh, n, computing);
          sm::mpc::AdditiveEngine engine(session, source);
          result = sm::proto::psi_sum(engine, sets[self], mine, 1, options).sum.value_or(0);
          source.finish();
        } else {
          const std::size_t threshold = (n - 1) / 2;
          sm::mpc::DealerFreeShamir<sm::mpc::Fp127> source(
              session, threshold, sm::mpc::ShamirEngine<sm::mpc::Fp127>::kDefaultValueBits);
          sm::mpc::ShamirEngine<sm::mpc::Fp127> engine(session, source, threshold);
          result = sm::proto::psi_sum(engine, sets[self], mine, 1, options).sum.value_or(0);
        }
      }
      seconds[self] = std::chrono::duration<double>(Clock::now() - start).count();
      ready.arrive_and_wait();
      if (self == 0) {
        row.cpu_seconds = process_cpu_seconds() - cpu_start;
        row.result = result;
      }
      const auto stats = mesh->stats().since(before);
      bytes[self] = stats.bytes_sent();
      if (self == 0) row.rounds = stats.rounds;
    }
    mesh->broadcast(Bytes(1), "done");
    mesh->close();
  });
  row.seconds = *std::max_element(seconds.begin(), seconds.end());
  row.bytes = *std::max_element(bytes.begin(), bytes.end());
  return row;
}

// Every party holds 2^k ids of which a fraction `overlap` is common to all; party 1's payload of
// its i-th id is i % 1000 + 1.
void run_psi_bench(const PsiBenchOptions& options) {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t threads = options.threads ? options.threads : cores;
  const std::size_t most = *std::max_element(options.parties.begin(), options.parties.end());
  std::optional<sm::app::BenchCertificates> generated;
  const fs::path certs =
      options.certs.empty() ? generated.emplace(most + 1).folder() : fs::path(options.certs);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  const GroupRates first = measure_group_rates();
  std::printf(
      "psi: parties as threads of this process, each with its own TlsMesh on loopback and %zu\n"
      "threads for the group operations; %zu cores; load average %.2f at the start. Group\n"
      "operations per second on one core (CPU time): X25519 %.0f, ristretto255 %.0f (not used),\n"
      "hash to the curve (SHA-512 and Elligator 2) %.0f. bound s: total group operations (a hash\n"
      "per id, N X25519 per id of every party) / (cores x the single-thread rates, measured just\n"
      "before each row): the seconds on an otherwise idle machine; ratio: seconds / bound; cpu\n"
      "ratio: CPU seconds of the process / (cores x bound), which other load does not inflate.\n"
      "sum: the sum of party 1's payloads over the intersection, to party 0; additive engine\n"
      "with a dealer thread for N = 2, Shamir over 2^127 - 1 without a dealer from N = 3\n\n",
      threads, cores, load[0], first.x25519, first.ristretto, first.hashes);
  std::printf("%7s  %12s  %6s  %9s  %9s  %9s  %14s  %6s  %8s  %8s  %8s  %8s  %6s  %9s\n", "parties",
              "mode", "items", "common", "seconds", "cpu s", "bytes/party", "rounds", "peak MiB",
              "X25519/s", "hash/s", "bound s", "ratio", "cpu ratio");
  for (std::size_t n : options.parties) {
    for (std::size_t log_items : options.log_items) {
      const std::size_t items = std::size_t{1} << log_items;
      const auto common = static_cast<std::size_t>(options.overlap * static_cast<double>(items));
      std::vector<std::vector<std::string>> sets(n);
      for (PartyId p = 0; p < n; ++p) {
        sets[p].reserve(items);
        for (std::size_t i = 0; i < items; ++i) {
          sets[p].push_back(i < common ? "common-" + std::to_string(i)
                                       : "party" + std::to_string(p) + "-" + std::to_string(i));
        }
      }
      std::vector<std::int64_t> payloads(items);
      std::int64_t expected_sum = 0;
      for (std::size_t i = 0; i < items; ++i) {
        payloads[i] = static_cast<std::int64_t>(i % 1000 + 1);
        if (i < common) expected_sum += payloads[i];
      }
      for (const std::string& mode : options.modes) {
        const bool sum = mode == "sum";
        const GroupRates rates = measure_group_rates();
        const double total_items = static_cast<double>(n * items);
        const double bound =
            (total_items * static_cast<double>(n) / rates.x25519 + total_items / rates.hashes) /
            static_cast<double>(cores);
        const PsiRow row = run_psi_row(certs, sets, payloads, sum, threads);
        const std::int64_t expected = sum ? expected_sum : static_cast<std::int64_t>(common);
        if (row.result != expected) {
          throw sm::ProtocolError("psi bench: " + mode + " gave " + std::to_string(row.result) +
                                  ", expected " + std::to_string(expected));
        }
        rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        std::printf(
            "%7zu  %12s  %6s  %9zu  %9.2f  %9.2f  %14llu  %6llu  %8.0f  %8.0f  %8.0f  %8.2f  "
            "%6.2f  %9.2f\n",
            n, (sum ? (n == 2 ? "sum additive" : "sum shamir") : "intersection"),
            ("2^" + std::to_string(log_items)).c_str(), common, row.seconds, row.cpu_seconds,
            static_cast<unsigned long long>(row.bytes), static_cast<unsigned long long>(row.rounds),
            static_cast<double>(usage.ru_maxrss) / 1024.0, rates.x25519, rates.hashes, bound,
            row.seconds / bound, row.cpu_seconds / (static_cast<double>(cores) * bound));
        std::fflush(stdout);
      }
    }
  }
  getloadavg(load, 3);
  std::printf(
      "\n(load average %.2f at the end; bytes/party: the most any party sent, dealer traffic\n"
      " included; rounds: party 0's, its exchanges with the dealer included; peak MiB: the\n"
      " process's maximum resident set so far, all parties together)\n",
      load[0]);
}
}  // namespace

int main(int argc, char** argv) {
  sm::app::keep_freed_memory_for_reuse();  // inherited by the party processes it forks
  CLI::App app{"mpc-bench: speed of SecretMesh's layers"};
  app.require_subcommand(1);
  NetOptions net;
  auto* net_command = app.add_subcommand("net", "TLS mesh throughput next to plain TCP");
  net_command->add_option("--mib", net.mib, "MiB sent to every peer (0: no throughput run)")
      ->check(CLI::Range(0, 4096));
  net_command->add_option("--parties", net.parties, "party counts to measure")
      ->delimiter(',')
      ->check(CLI::Range(2, 16));
  net_command->add_option("--certs", net.certs, "folder made by scripts/gen-certs.sh");
  net_command->add_option("--rounds", net.rounds, "rounds of small messages (0: none)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10000000}))
      ->capture_default_str();
  net_command->add_option("--round-sizes", net.round_sizes, "bytes to every peer per round")
      ->delimiter(',')
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20));
  net_command->add_option("--round-parties", net.round_parties, "party processes of the rounds")
      ->check(CLI::Range(2, 16))
      ->capture_default_str();

  const auto schemes_option = [](CLI::App* command, std::vector<std::string>& schemes) {
    command->add_option("--schemes", schemes, "additive (with a dealer), fp61, fp127 (Shamir)")
        ->delimiter(',')
        ->check(CLI::IsMember({"additive", "fp61", "fp127"}));
  };
  MulOptions mul;
  auto* mul_command =
      app.add_subcommand("mul", "element-wise multiplication, party processes over TLS");
  mul_command->add_option("--sizes", mul.sizes, "vector lengths")
      ->delimiter(',')
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
  schemes_option(mul_command, mul.schemes);
  mul_command->add_option("--parties", mul.parties, "computing parties")->check(CLI::Range(3, 16));
  mul_command->add_option("--json", mul.json, "also write the figures to this JSON file");
  MatmulOptions matmul;
  auto* matmul_command = app.add_subcommand("matmul", "matrix product, party processes over TLS");
  matmul_command->add_option("--shapes", matmul.shapes, "ROWSxINNERxCOLS products")->delimiter(',');
  schemes_option(matmul_command, matmul.schemes);
  matmul_command->add_option("--parties", matmul.parties, "computing parties")
      ->check(CLI::Range(3, 16));
  matmul_command->add_option("--json", matmul.json, "also write the figures to this JSON file");
  AggregateOptions aggregate;
  auto* aggregate_command =
      app.add_subcommand("aggregate", "secure_sum next to plaintext sums, party processes");
  aggregate_command->add_option("--values", aggregate.values, "values per party (d)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
  aggregate_command->add_option("--parties", aggregate.parties, "party counts to measure")
      ->delimiter(',')
      ->check(CLI::Range(3, 32));
  aggregate_command->add_option("--json", aggregate.json,
                                "also write the figures to this JSON file");
  LrOptions lr;
  auto* lr_command = app.add_subcommand(
      "lr", "joint logistic regression next to plaintext training, party processes over TLS");
  lr_command->add_option("--datasets", lr.datasets, "breast-cancer, synthetic")
      ->delimiter(',')
      ->check(CLI::IsMember({"breast-cancer", "synthetic"}));
  lr_command->add_option("--partitions", lr.partitions, "vertical, horizontal")
      ->delimiter(',')
      ->check(CLI::IsMember({"vertical", "horizontal"}));
  lr_command->add_option("--schemes", lr.schemes, "additive (with a dealer), fp127 (Shamir)")
      ->delimiter(',')
      ->check(CLI::IsMember({"additive", "fp127"}));
  lr_command->add_option("--epochs", lr.epochs, "epochs on breast cancer")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  lr_command->add_option("--synthetic-epochs", lr.synthetic_epochs, "epochs on synthetic data")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  lr_command->add_option("--batch-size", lr.batch_size)
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  lr_command->add_option("--synthetic-rows", lr.synthetic_rows)
      ->check(CLI::Range(10, 10000000))
      ->capture_default_str();
  lr_command->add_option("--synthetic-columns", lr.synthetic_columns)
      ->check(CLI::Range(3, 10000))
      ->capture_default_str();
  lr_command->add_option("--data", lr.data_file, "the breast-cancer CSV")->capture_default_str();
  lr_command->add_option("--json", lr.json, "also write the figures to this JSON file");
  PsiBenchOptions psi;
  auto* psi_command =
      app.add_subcommand("psi", "private set intersection next to the group operations' bound");
  psi_command->add_option("--log-items", psi.log_items, "log2 of the ids per party")
      ->delimiter(',')
      ->check(CLI::Range(0, 24));
  psi_command->add_option("--parties", psi.parties, "party counts to measure")
      ->delimiter(',')
      ->check(CLI::Range(2, 8));
  psi_command->add_option("--modes", psi.modes, "intersection, sum")
      ->delimiter(',')
      ->check(CLI::IsMember({"intersection", "sum"}));
  psi_command->add_option("--overlap", psi.overlap, "fraction of the ids common to all")
      ->check(CLI::Range(0.0, 1.0));
  psi_command->add_option("--threads", psi.threads, "threads per party (default: every core)");
  psi_command->add_option("--certs", psi.certs, "folder made by scripts/gen-certs.sh");
  CLI11_PARSE(app, argc, argv);
  try {
    if (*net_command) run_net(net);
    if (*psi_command) run_psi_bench(psi);
    if (*mul_command) run_mul(mul);
    if (*matmul_command) run_matmul(matmul);
    if (*aggregate_command) run_aggregate(aggregate);
    if (*lr_command) run_lr(lr);
  } catch (const sm::Error& e) {
    std::cerr << "mpc-bench: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << "mpc-bench: " << e.what() << "\n";
    return static_cast<int>(sm::ExitCode::kInternal);
  }
  return 0;
}
