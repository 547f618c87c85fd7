// The ping job: checks that every party can reach every other one, and how well.
//
// After connecting and agreeing on the session, the parties meet pairwise in a round-robin
// tournament (circle method: N-1 meetings for even N, N for odd N, one party resting in each),
// so every pair is measured alone on its link and all pairs of a meeting run concurrently. In a
// meeting the lower id leads:
//   - round-trip time: `samples` times, leader -> follower -> leader -> follower with 8-byte
//     messages; each side times from its send to the answer, so both get a round-trip time; the
//     table shows the median.
//   - throughput: both send `bytes` to each other at once; each side reports bytes / seconds of
//     that exchange (one direction's rate while the other direction is loaded too).
// Optionally, `soak_rounds` all-to-all exchanges of `bytes` with every peer at once follow (a
// load test of the links; also what the process tests use to have a run in progress).
//
// Reveals nothing private: the payloads are a fixed pattern.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>

#include "apps/jobs.hpp"
#include "net/errors.hpp"

namespace sm::app {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kRttMessageBytes = 8;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The partner of `party` in meeting `meeting` of a round-robin tournament on `n` parties, or
// nullopt when it rests. With m = n rounded up to even (party m-1 is a dummy for odd n), there
// are m-1 meetings, and in meeting r the parties i, j < m-1 with i + j = r (mod m-1) meet; the
// one with 2i = r meets party m-1.
std::optional<net::PartyId> partner(net::PartyId party, std::size_t n, std::size_t meeting) {
  const std::size_t m = n % 2 == 0 ? n : n + 1;
  net::PartyId other = 0;
  if (party == m - 1) {
    while ((2 * other) % (m - 1) != meeting) ++other;
  } else {
    other = (meeting + (m - 1) - party) % (m - 1);
    if (other == party) other = m - 1;
  }
  if (other >= n) return std::nullopt;
  return other;
}

std::size_t meeting_count(std::size_t n) { return n % 2 == 0 ? n - 1 : n; }

struct PeerResult {
  net::PartyId id = 0;
  double rtt_ms = 0;
  double megabytes_per_second = 0;
};

class PingJob final : public Job {
 public:
  void add_options(CLI::App& command) override {
    command
        .add_option("--bytes", bytes_,
                    "Payload of the throughput exchange with each peer, in bytes; units such as "
                    "64KiB, 16MiB or 1GB are accepted (must not exceed the configuration's "
                    "max_frame_mib). All parties must give the same value.")
        ->transform(CLI::AsSizeValue(true))
        ->capture_default_str();
    command
        .add_option("--samples", samples_,
                    "Round trips per peer for the round-trip time; the table shows their median. "
                    "All parties must give the same value.")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    command
        .add_option("--soak-rounds", soak_rounds_,
                    "After the measurements, this many all-to-all exchanges of --bytes with every "
                    "peer at once (a load test of the links). All parties must give the same "
                    "value.")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 40))
        ->capture_default_str();
  }

  void run(JobContext& context) override {
    const net::TlsConfig& tls = context.config().tls;
    if (bytes_ < 1 || bytes_ > tls.max_frame_bytes) {
      throw ConfigError("ping: --bytes " + std::to_string(bytes_) + " is out of range (1.." +
                        std::to_string(tls.max_frame_bytes) + ", the configuration's " +
                        "max_frame_mib)");
    }
    payload_.assign(bytes_, 0);
    for (std::size_t i = 0; i < payload_.size(); ++i) {
      payload_[i] = static_cast<std::uint8_t>(i * 131 + 7);
    }
    net::Mesh& mesh = context.connect();
    context.agree({"ping",
                   {{"bytes", std::to_string(bytes_)},
                    {"samples", std::to_string(samples_)},
                    {"soak_rounds", std::to_string(soak_rounds_)}}});

    std::vector<PeerResult> results;
    {
      const auto phase = context.report().phase("measure");
      for (std::size_t meeting = 0; meeting < meeting_count(mesh.size()); ++meeting) {
        const auto peer = partner(mesh.self(), mesh.size(), meeting);
        if (!peer) continue;
        context.log().info("measuring the link to " + mesh.describe(*peer));
        results.push_back(measure(mesh, *peer));
      }
    }
    std::sort(results.begin(), results.end(),
              [](const PeerResult& a, const PeerResult& b) { return a.id < b.id; });
    if (soak_rounds_ > 0) {
      const auto phase = context.report().phase("soak");
      soak(mesh, context.log());
    }
    print_table(context, results);
    context.report().set_result(result_json(context, results));
    context.finish();
  }

 private:
  PeerResult measure(net::Mesh& mesh, net::PartyId peer) {
    const bool leads = mesh.self() < peer;
    const net::Bytes probe(kRttMessageBytes, 0x5a);
    std::vector<double> rtts;
    rtts.reserve(samples_);
    for (std::size_t i = 0; i < samples_; ++i) {
      if (leads) {
        const auto start = Clock::now();
        mesh.send(peer, probe, "ping: round trip");
        expect_size(mesh, peer, mesh.recv(peer, "ping: round trip"), kRttMessageBytes);
        rtts.push_back(seconds_since(start));
        mesh.send(peer, probe, "ping: round trip");
      } else {
        expect_size(mesh, peer, mesh.recv(peer, "ping: round trip"), kRttMessageBytes);
        const auto start = Clock::now();
        mesh.send(peer, probe, "ping: round trip");
        expect_size(mesh, peer, mesh.recv(peer, "ping: round trip"), kRttMessageBytes);
        rtts.push_back(seconds_since(start));
      }
    }
    std::nth_element(rtts.begin(), rtts.begin() + rtts.size() / 2, rtts.end());

    const net::Outgoing send{peer, payload_};
    const auto start = Clock::now();
    const auto received = mesh.round({&send, 1}, {&peer, 1}, "ping: throughput");
    const double seconds = seconds_since(start);
    expect_size(mesh, peer, received.at(0), payload_.size());
    return {peer, rtts[rtts.size() / 2] * 1e3,
            static_cast<double>(payload_.size()) / 1e6 / std::max(seconds, 1e-9)};
  }

  void soak(net::Mesh& mesh, Logger& log) {
    std::vector<net::Outgoing> sends;
    std::vector<net::PartyId> peers;
    for (net::PartyId id = 0; id < mesh.size(); ++id) {
      if (id == mesh.self()) continue;
      sends.push_back({id, payload_});
      peers.push_back(id);
    }
    log.info("soak: " + std::to_string(soak_rounds_) + " all-to-all exchanges of " +
             std::to_string(payload_.size()) + " bytes");
    auto last_log = Clock::now();
    for (std::uint64_t round = 0; round < soak_rounds_; ++round) {
      const auto received = mesh.round(sends, peers, "ping: soak exchange");
      for (std::size_t i = 0; i < peers.size(); ++i) {
        expect_size(mesh, peers[i], received[i], payload_.size());
      }
      if (seconds_since(last_log) >= 5) {
        log.info("soak: " + std::to_string(round + 1) + " of " + std::to_string(soak_rounds_) +
                 " exchanges done");
        last_log = Clock::now();
      }
    }
  }

  static void expect_size(const net::Mesh& mesh, net::PartyId peer, const net::Bytes& message,
                          std::size_t expected) {
    if (message.size() != expected) {
      throw ProtocolError("ping: " + mesh.describe(peer) + " sent " +
                          std::to_string(message.size()) + " bytes where " +
                          std::to_string(expected) + " were agreed");
    }
  }

  void print_table(JobContext& context, const std::vector<PeerResult>& results) const {
    const net::TlsConfig& tls = context.config().tls;
    std::size_t name_width = 4;
    std::size_t address_width = 7;
    std::vector<std::string> addresses;
    for (const auto& result : results) {
      const net::PartyEntry& entry = tls.parties[result.id];
      addresses.push_back(entry.host + ":" + std::to_string(entry.port));
      name_width = std::max(name_width, entry.name.size());
      address_width = std::max(address_width, addresses.back().size());
    }
    std::printf(
        "ping from %s (id %zu): %zu parties, %zu bytes per throughput exchange, "
        "median of %zu round trips\n",
        context.config().name.c_str(), tls.self, tls.parties.size(), bytes_, samples_);
    const int nw = static_cast<int>(name_width);
    const int aw = static_cast<int>(address_width);
    std::printf("%-*s  %3s  %-*s  %10s  %10s\n", nw, "peer", "id", aw, "address", "rtt_ms", "MB/s");
    for (std::size_t i = 0; i < results.size(); ++i) {
      const PeerResult& result = results[i];
      std::printf("%-*s  %3zu  %-*s  %10.3f  %10.1f\n", nw, tls.parties[result.id].name.c_str(),
                  result.id, aw, addresses[i].c_str(), result.rtt_ms, result.megabytes_per_second);
    }
    std::fflush(stdout);
  }

  nlohmann::json result_json(JobContext& context, const std::vector<PeerResult>& results) const {
    nlohmann::json peers = nlohmann::json::array();
    for (const auto& result : results) {
      const net::PartyEntry& entry = context.config().tls.parties[result.id];
      peers.push_back({{"id", result.id},
                       {"name", entry.name},
                       {"host", entry.host},
                       {"port", entry.port},
                       {"rtt_ms", result.rtt_ms},
                       {"megabytes_per_second", result.megabytes_per_second}});
    }
    return {{"bytes", bytes_},
            {"samples", samples_},
            {"soak_rounds", soak_rounds_},
            {"peers", std::move(peers)}};
  }

  std::size_t bytes_ = std::size_t{16} << 20;
  std::size_t samples_ = 10;
  std::uint64_t soak_rounds_ = 0;
  net::Bytes payload_;
};

}  // namespace

std::unique_ptr<Job> make_ping_job() { return std::make_unique<PingJob>(); }

}  // namespace sm::app
