// The run report: what `mpc-party --report FILE` writes, as JSON.
//
//   {"job": "ping", "party": "party0", "id": 0, "status": "ok", "exit_code": 0,
//    "error": null,                       // the error message when status is "failed"
//    "seconds": 1.23,                     // total, from start to the end of the job
//    "phases": [{"name": "connect", "seconds": 0.2}, ...],   // in the order they ran
//    "rounds": 42,                        // communication rounds (0 if never connected)
//    "bytes_sent": 123, "bytes_received": 456,
//    "peers": [{"id": 1, "name": "party1", "bytes_sent": 1, "bytes_received": 2,
//               "messages_sent": 1, "messages_received": 1}, ...],
//    "result": {...}}                     // the job's own summary, e.g. ping's table
//
// Byte counts are payload bytes (framing and TLS overhead excluded), as the mesh counts them.
// A Report only collects; main() writes it (atomically) whether the job succeeded or not.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/mesh.hpp"

namespace sm::app {

class Report {
 public:
  Report(std::string job, std::string party, net::PartyId id);

  // Measures one phase: the time from phase() until the returned object is destroyed is
  // recorded under `name` (also when an exception ends the phase).
  class Phase {
   public:
    Phase(Report& report, std::string name);
    ~Phase();
    Phase(const Phase&) = delete;
    Phase& operator=(const Phase&) = delete;

   private:
    Report& report_;
    std::string name_;
    std::chrono::steady_clock::time_point start_;
  };
  [[nodiscard]] Phase phase(std::string name) { return Phase(*this, std::move(name)); }

  void add_phase(std::string name, double seconds);
  // Takes the byte and round counters (and peer names) of the run's mesh.
  void set_traffic(const net::Mesh& mesh);
  void set_result(nlohmann::json result) { result_ = std::move(result); }
  // Records how the run ended; `error` is empty on success.
  void set_outcome(int exit_code, std::string error);

  nlohmann::json to_json() const;

 private:
  struct PhaseTime {
    std::string name;
    double seconds;
  };
  std::string job_;
  std::string party_;
  net::PartyId id_;
  std::chrono::steady_clock::time_point start_;
  std::vector<PhaseTime> phases_;
  nlohmann::json traffic_ = nlohmann::json::object();
  nlohmann::json result_;
  int exit_code_ = 0;
  std::string error_;
};

}  // namespace sm::app
