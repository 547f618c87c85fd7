// The MPC engine a job computes on, chosen with the job's --scheme option:
//
//   shamir    ShamirEngine<Fp127> with DealerFreeShamir: the parties generate all correlated
//             randomness themselves; needs N >= 3 computing parties, t = floor((N-1)/2).
//   additive  AdditiveEngine over Z_2^64 with the configuration's dealer (role = "dealer"),
//             which must be running `mpc-party ... dealer`; any N >= 2.
//
// run_with_engine() connects (with the dealer for additive), agrees on the session, then calls
// fn(engine, mesh) with the engine and the mesh of the computing parties. Errors are those of
// JobContext::connect / agree and of the engine.
#pragma once

#include <string>

#include "apps/job.hpp"
#include "mpc/additive_engine.hpp"
#include "mpc/dealer.hpp"
#include "mpc/dealer_free.hpp"
#include "mpc/shamir_engine.hpp"
#include "net/errors.hpp"

namespace sm::app {

// The scheme a job runs on when --scheme is not given: Shamir from 3 computing parties up.
inline std::string default_scheme(const PartyConfig& config) {
  return config.compute_parties().size() >= 3 ? "shamir" : "additive";
}

template <class Fn>
void run_with_engine(JobContext& context, const std::string& scheme, net::SessionParams params,
                     const mpc::FixedPoint& fixed, Fn&& fn) {
  params.parameters.emplace_back("scheme", scheme);
  if (scheme == "shamir") {
    net::Mesh& mesh = context.connect();
    if (mesh.size() < 3) {
      throw ConfigError(
          "the Shamir scheme needs at least 3 computing parties; use --scheme "
          "additive with a dealer for 2");
    }
    context.agree(std::move(params));
    mpc::Session session = mpc::Session::establish(mesh, fixed);
    const std::size_t threshold = (mesh.size() - 1) / 2;
    mpc::DealerFreeShamir<mpc::Fp127> source(session, threshold,
                                             mpc::ShamirEngine<mpc::Fp127>::kDefaultValueBits);
    mpc::ShamirEngine<mpc::Fp127> engine(session, source, threshold);
    fn(engine, mesh);
  } else if (scheme == "additive") {
    net::Mesh& mesh = context.connect(JobContext::Dealer::kInclude);
    context.agree(std::move(params));
    mpc::Session session = mpc::Session::establish(mesh, fixed);
    const auto computing = context.config().compute_parties();
    mpc::DealerClient source(*context.mesh(), *context.config().dealer, computing);
    mpc::AdditiveEngine engine(session, source);
    fn(engine, mesh);
    source.finish();
  } else {
    throw ConfigError("--scheme must be shamir or additive, not '" + scheme + "'");
  }
}

}  // namespace sm::app
