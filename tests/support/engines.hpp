// Test support: run N parties, each with an engine of one scheme over the in-memory mesh and
// the in-process LocalDealerUnsafe correlations.
//
//   auto results = run_engine<AdditiveEngine>(3, [](AdditiveEngine& engine) { ... });
#pragma once

#include "mpc/additive_engine.hpp"
#include "mpc/local_dealer.hpp"
#include "mpc/shamir_engine.hpp"
#include "net/local_mesh.hpp"

namespace sm::test {

inline constexpr mpc::Seed kDealerSeed{7, 7, 7};

// The Shamir threshold used for n parties: floor((n - 1) / 2).
inline std::size_t threshold_for(std::size_t n) { return (n - 1) / 2; }

// The party names of `mesh`, for a test's Mesh that wraps another one.
inline std::vector<std::string> names_of(const net::Mesh& mesh) {
  std::vector<std::string> names;
  for (net::PartyId p = 0; p < mesh.size(); ++p) names.push_back(mesh.name(p));
  return names;
}

template <class En, class Fn>
auto run_engine(std::size_t n, Fn fn, mpc::FixedPoint fixed = {}) {
  return net::run_parties(n, [&](net::Mesh& mesh) {
    mpc::Session session = mpc::Session::establish(mesh, fixed);
    using E = typename En::Element;
    if constexpr (std::is_same_v<En, mpc::AdditiveEngine>) {
      mpc::LocalDealerUnsafe<E> dealer(kDealerSeed, mesh.self(), n);
      En engine(session, dealer);
      return fn(engine);
    } else {
      mpc::LocalDealerUnsafe<E> dealer(kDealerSeed, mesh.self(), n, threshold_for(n),
                                       En::kDefaultValueBits);
      En engine(session, dealer, threshold_for(n));
      return fn(engine);
    }
  });
}

}  // namespace sm::test
