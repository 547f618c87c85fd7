#include "apps/job.hpp"

#include "net/tls_mesh.hpp"

namespace sm::app {

JobContext::~JobContext() = default;

net::Mesh& JobContext::connect() {
  if (mesh_) throw std::logic_error("JobContext::connect called twice");
  const auto phase = report_.phase("connect");
  mesh_ = net::TlsMesh::connect(config_.tls, log_);
  return *mesh_;
}

net::SessionInfo JobContext::agree(net::SessionParams params) {
  if (!mesh_) throw std::logic_error("JobContext::agree before connect");
  const auto phase = report_.phase("session");
  std::string names;
  for (const auto& party : config_.tls.parties) names += (names.empty() ? "" : ",") + party.name;
  params.parameters.emplace_back("parties", names);
  net::SessionInfo info = net::agree_session(*mesh_, params);
  log_.info("session agreed: job '" + info.job + "'");
  return info;
}

void JobContext::finish() {
  if (mesh_) mesh_->close();
}

}  // namespace sm::app
