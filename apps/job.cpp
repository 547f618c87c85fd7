#include "apps/job.hpp"

#include "net/errors.hpp"
#include "net/sub_mesh.hpp"
#include "net/tls_mesh.hpp"

namespace sm::app {

JobContext::~JobContext() = default;

net::Mesh& JobContext::connect(Dealer dealer) {
  if (mesh_) throw std::logic_error("JobContext::connect called twice");
  const auto phase = report_.phase("connect");
  if (dealer == Dealer::kInclude && !config_.dealer) {
    throw ConfigError(config_.file.string() +
                      ": this job needs a dealer, but no party has role = \"dealer\"");
  }
  if (config_.dealer && dealer == Dealer::kExclude) {
    if (config_.tls.self == *config_.dealer) {
      throw ConfigError(config_.file.string() + ": the dealer only runs the dealer job");
    }
    net::TlsConfig without = config_.tls;
    without.parties.pop_back();  // the dealer has the highest id
    mesh_ = net::TlsMesh::connect(without, log_);
    return *mesh_;
  }
  mesh_ = net::TlsMesh::connect(config_.tls, log_);
  if (config_.dealer && config_.tls.self != *config_.dealer) {
    const auto computing = config_.compute_parties();
    compute_mesh_ = std::make_unique<net::SubMesh>(*mesh_, computing);
  }
  return *compute_mesh();
}

net::SessionInfo JobContext::agree(net::SessionParams params) {
  if (!mesh_) throw std::logic_error("JobContext::agree before connect");
  const auto phase = report_.phase("session");
  std::string names;
  for (const auto& party : config_.tls.parties) names += (names.empty() ? "" : ",") + party.name;
  params.parameters.emplace_back("parties", names);
  net::SessionInfo info = net::agree_session(*compute_mesh(), params);
  log_.info("session agreed: job '" + info.job + "'");
  return info;
}

void JobContext::finish() {
  if (compute_mesh_) compute_mesh_->close();
  if (mesh_) mesh_->close();
}

}  // namespace sm::app
