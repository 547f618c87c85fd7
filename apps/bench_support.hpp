// What mpc-bench's multi-process suites (mul, matmul, aggregate) share: demo certificates in a
// temporary folder, loopback TLS configurations, parties run as forked processes that report
// back through pipes, per-phase measurements, load averages and JSON output.
//
// Processes. run_in_processes() forks one child per party. Fork only while the calling process
// has a single thread (before any TlsMesh, std::thread or other threaded library exists in it):
// a child of a threaded process may deadlock on locks held by threads that do not exist in it.
// Each child builds its own mesh, runs its body, writes the body's JSON to its pipe and ends with
// _exit(), so no destructor or atexit handler of the parent's objects runs twice.
//
// Errors: certificate generation fails with ConfigError; a child that throws, crashes or misses
// the deadline makes run_in_processes() throw ProtocolError naming the party and the child's own
// message (children still running at the deadline are killed by their pids first).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/mesh.hpp"
#include "net/tls_config.hpp"

namespace sm::app {

// A temporary folder with a demo CA and `parties` keys and certificates (party0 ..), made by
// scripts/gen-certs.sh; removed with its contents on destruction.
class BenchCertificates {
 public:
  explicit BenchCertificates(std::size_t parties);
  ~BenchCertificates();
  BenchCertificates(const BenchCertificates&) = delete;
  BenchCertificates& operator=(const BenchCertificates&) = delete;

  const std::filesystem::path& folder() const { return folder_; }
  std::size_t parties() const { return parties_; }

 private:
  std::filesystem::path folder_;
  std::size_t parties_;
};

// n distinct TCP ports free on 127.0.0.1 right now (bound, read, released).
std::vector<std::uint16_t> free_loopback_ports(std::size_t n);

// Party `self`'s configuration for a run of ports.size() parties named party0, party1, .. on
// 127.0.0.1, with the certificates of `certs` (which must cover that many parties). Receive and
// connect deadlines are long (10 min, 2 min): a loaded machine may keep a party busy for minutes
// between two messages.
net::TlsConfig loopback_config(const BenchCertificates& certs, net::PartyId self,
                               std::span<const std::uint16_t> ports);
// The same for a folder made by scripts/gen-certs.sh (e.g. a --certs option).
net::TlsConfig loopback_config(const std::filesystem::path& folder, net::PartyId self,
                               std::span<const std::uint16_t> ports);

// Runs body(i) in a forked child for every i < n (see the header comment); returns what each
// body returned, indexed by party. Every child must finish within `deadline`.
std::vector<nlohmann::json> run_in_processes(
    std::size_t n, const std::function<nlohmann::json(net::PartyId)>& body,
    std::chrono::seconds deadline);

// CPU time of the whole calling process (all its threads), in seconds.
double process_cpu_seconds();

// The calling process's peak resident memory so far, in bytes (getrusage's ru_maxrss).
std::uint64_t peak_rss_bytes();

// The memory the system could give new work now without swapping (MemAvailable of
// /proc/meminfo), in bytes; 0 if unknown.
std::uint64_t available_memory_bytes();

// The system's 1, 5 and 15 minute load averages.
std::array<double, 3> load_average();
std::string load_average_text();

// What one party measured for one phase of a benchmark.
struct PhaseMeasure {
  double seconds = 0;            // wall time at this party
  double cpu_seconds = 0;        // CPU time of this party's process (all its threads)
  std::uint64_t bytes_sent = 0;  // payload bytes, to all peers
  std::uint64_t bytes_received = 0;  // payload bytes, from all peers
  std::uint64_t rounds = 0;
};

nlohmann::json to_json(const PhaseMeasure& m);
PhaseMeasure phase_from_json(const nlohmann::json& j);

// The phase as the parties together saw it: the slowest party's seconds and CPU seconds, and
// the largest bytes sent, bytes received and rounds of any party.
PhaseMeasure slowest(std::span<const PhaseMeasure> parties);

// Runs fn() as one measured phase: first a barrier round on `barrier` (every member must call
// measure_phase at the same point), then fn(), counting bytes and rounds on `counted` (a mesh
// that sees all of this party's traffic, e.g. the parent of a SubMesh). The barrier round itself
// is not counted.
template <class Fn>
PhaseMeasure measure_phase(net::Mesh& barrier, const net::Mesh& counted, Fn&& fn) {
  barrier.broadcast(net::Bytes(1), "bench barrier");
  const net::MeshStats before = counted.stats();
  const double cpu_before = process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  std::forward<Fn>(fn)();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_seconds = process_cpu_seconds() - cpu_before;
  const net::MeshStats stats = counted.stats().since(before);
  return {seconds, cpu_seconds, stats.bytes_sent(), stats.bytes_received(), stats.rounds};
}

// The median of `repeats` timings of fn() (seconds), for plaintext baselines.
double median_seconds(std::size_t repeats, const std::function<void()>& fn);

// Writes `document` to `file` (pretty-printed), atomically; throws ConfigError if it cannot.
void write_json_file(const std::filesystem::path& file, const nlohmann::json& document);

}  // namespace sm::app
