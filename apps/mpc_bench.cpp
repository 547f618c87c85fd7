// mpc-bench: how fast SecretMesh's layers are. One sub-command per suite, one function per suite;
// every suite prints time, bytes per party and rounds next to a plaintext baseline measured in
// the same run.
//
//   mpc-bench net [--mib 256] [--parties 2,3] [--certs DIR]
//     One exchange_all of --mib MiB to every peer among N parties (threads of this process) on
//     loopback over TlsMesh, next to the same transfer over plain TCP sockets.
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
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "net/errors.hpp"
#include "net/log.hpp"
#include "net/tls_mesh.hpp"

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
};

struct Measure {
  double seconds = 0;            // the slowest party's time for the whole exchange
  double cpu_seconds = 0;        // CPU time of the whole process (all parties) during the exchange
  std::uint64_t bytes_sent = 0;  // per party
  std::uint64_t bytes_received = 0;  // per party
  std::uint64_t rounds = 0;
};

std::vector<std::uint16_t> free_ports(std::size_t n) {
  std::vector<int> sockets;
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < n; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw sm::NetError("cannot find a free port on 127.0.0.1");
    }
    sockets.push_back(fd);
    ports.push_back(ntohs(address.sin_port));
  }
  for (int fd : sockets) close(fd);
  return ports;
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

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
  const auto ports = free_ports(n);
  std::vector<Measure> results(n);
  std::barrier ready(static_cast<std::ptrdiff_t>(n));
  double cpu_start = 0;
  double cpu_end = 0;
  on_threads(n, [&](PartyId self) {
    sm::net::TlsConfig config;
    config.self = self;
    for (PartyId i = 0; i < n; ++i) {
      config.parties.push_back({i, "party" + std::to_string(i), "127.0.0.1", ports[i], {}});
    }
    config.private_key = certs / ("party" + std::to_string(self) + ".key");
    config.certificate = certs / ("party" + std::to_string(self) + ".crt");
    config.ca_certificate = certs / "ca.crt";
    config.listen_address = "127.0.0.1";
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
// thread per party moves all its sends and receives with poll(), as the TLS mesh's I/O thread
// does.
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

fs::path demo_certificates(std::size_t n) {
  char pattern[] = "/tmp/mpc-bench-certs-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw sm::ConfigError("cannot create a temporary folder");
  const std::string command =
      std::string(SM_GEN_CERTS) + " " + std::to_string(n) + " " + pattern + " 2>/dev/null";
  if (std::system(command.c_str()) != 0) {
    throw sm::ConfigError("generating demo certificates with " + std::string(SM_GEN_CERTS) +
                          " failed");
  }
  return pattern;
}

void print_row(std::size_t n, const char* transport, const Measure& m, const char* ratio) {
  const double mb_per_s = static_cast<double>(m.bytes_sent) / 1e6 / m.seconds;
  std::printf("%7zu  %-9s  %8.3f  %8.3f  %10.1f  %16llu  %16llu  %6llu  %s\n", n, transport,
              m.seconds, m.cpu_seconds, mb_per_s, static_cast<unsigned long long>(m.bytes_sent),
              static_cast<unsigned long long>(m.bytes_received),
              static_cast<unsigned long long>(m.rounds), ratio);
}

void run_net(const NetOptions& options) {
  const std::size_t size = options.mib << 20;
  const std::size_t most = *std::max_element(options.parties.begin(), options.parties.end());
  const fs::path certs = options.certs.empty() ? demo_certificates(most) : fs::path(options.certs);
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
  if (options.certs.empty()) fs::remove_all(certs);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-bench: speed of SecretMesh's layers"};
  app.require_subcommand(1);
  NetOptions net;
  auto* net_command = app.add_subcommand("net", "TLS mesh throughput next to plain TCP");
  net_command->add_option("--mib", net.mib, "MiB sent to every peer")->check(CLI::Range(1, 4096));
  net_command->add_option("--parties", net.parties, "party counts to measure")
      ->delimiter(',')
      ->check(CLI::Range(2, 16));
  net_command->add_option("--certs", net.certs, "folder made by scripts/gen-certs.sh");
  CLI11_PARSE(app, argc, argv);
  try {
    if (*net_command) run_net(net);
  } catch (const sm::Error& e) {
    std::cerr << "mpc-bench: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << "mpc-bench: " << e.what() << "\n";
    return static_cast<int>(sm::ExitCode::kInternal);
  }
  return 0;
}
