#include "apps/report.hpp"

namespace sm::app {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Report::Phase::Phase(Report& report, std::string name)
    : report_(report), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}

Report::Phase::~Phase() { report_.add_phase(std::move(name_), seconds_since(start_)); }

Report::Report(std::string job, std::string party, net::PartyId id)
    : job_(std::move(job)),
      party_(std::move(party)),
      id_(id),
      start_(std::chrono::steady_clock::now()) {}

void Report::add_phase(std::string name, double seconds) {
  phases_.push_back({std::move(name), seconds});
}

void Report::set_traffic(const net::Mesh& mesh) {
  const net::MeshStats& stats = mesh.stats();
  nlohmann::json peers = nlohmann::json::array();
  for (net::PartyId id = 0; id < mesh.size(); ++id) {
    if (id == mesh.self()) continue;
    const net::PeerStats& peer = stats.peers.at(id);
    peers.push_back({{"id", id},
                     {"name", mesh.name(id)},
                     {"bytes_sent", peer.bytes_sent},
                     {"bytes_received", peer.bytes_received},
                     {"messages_sent", peer.messages_sent},
                     {"messages_received", peer.messages_received}});
  }
  traffic_ = {{"rounds", stats.rounds},
              {"bytes_sent", stats.bytes_sent()},
              {"bytes_received", stats.bytes_received()},
              {"peers", std::move(peers)}};
}

void Report::set_outcome(int exit_code, std::string error) {
  exit_code_ = exit_code;
  error_ = std::move(error);
}

nlohmann::json Report::to_json() const {
  nlohmann::json phases = nlohmann::json::array();
  for (const auto& phase : phases_) {
    phases.push_back({{"name", phase.name}, {"seconds", phase.seconds}});
  }
  nlohmann::json out = {{"job", job_},
                        {"party", party_},
                        {"id", id_},
                        {"status", exit_code_ == 0 ? "ok" : "failed"},
                        {"exit_code", exit_code_},
                        {"error", error_.empty() ? nlohmann::json() : nlohmann::json(error_)},
                        {"seconds", seconds_since(start_)},
                        {"phases", std::move(phases)},
                        {"rounds", 0},
                        {"bytes_sent", 0},
                        {"bytes_received", 0},
                        {"peers", nlohmann::json::array()}};
  for (const auto& [key, value] : traffic_.items()) out[key] = value;
  out["result"] = result_;
  return out;
}

}  // namespace sm::app
