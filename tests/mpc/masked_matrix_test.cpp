// The masked-matrix correlation (CorrelationSource::masked_matrix / masked_products), checked
// algebraically for every source: the parties' shares are reconstructed and z = U_B v,
// zt = U_B^T vt recomputed in plaintext from the reconstructed U, v and vt.
#include <catch2/catch.hpp>

#include <numeric>
#include <optional>
#include <string>

#include "mpc/dealer.hpp"
#include "mpc/dealer_free.hpp"
#include "mpc/elements.hpp"
#include "mpc/local_dealer.hpp"
#include "mpc/session.hpp"
#include "mpc/shamir.hpp"
#include "net/local_mesh.hpp"

using namespace sm;
using namespace sm::mpc;

namespace {

constexpr std::size_t kRows = 23, kCols = 7;

const std::vector<std::string> kNames{"p0", "p1", "p2", "p3", "p4"};

const std::vector<std::vector<std::size_t>> kSubsets{{0, 5, 5, 22}, {}, {3}, {21, 1, 2, 8, 9, 13}};

// One party's shares: U, then every subset's products.
template <class E>
struct Drawn {
  std::vector<E> u;
  std::vector<MaskedProducts<E>> products;
};

template <class E>
Drawn<E> draw(CorrelationSource<E>& source) {
  const auto matrix = source.masked_matrix(kRows, kCols);
  REQUIRE(matrix.u.size() == kRows * kCols);
  return {matrix.u, source.masked_products(matrix, kSubsets)};
}

// Reconstructs party shares with `open` (a function of the N share vectors) and checks the
// products against plaintext.
template <class E, class Open>
void check_algebra(const std::vector<Drawn<E>>& drawn, Open open) {
  auto gather = [&](auto part) {
    std::vector<std::vector<E>> shares;
    for (const auto& d : drawn) shares.push_back(part(d));
    return open(shares);
  };
  const auto u = gather([](const Drawn<E>& d) { return d.u; });
  for (std::size_t k = 0; k < kSubsets.size(); ++k) {
    const auto& rows = kSubsets[k];
    const auto v = gather([&](const Drawn<E>& d) { return d.products[k].v; });
    const auto z = gather([&](const Drawn<E>& d) { return d.products[k].z; });
    const auto vt = gather([&](const Drawn<E>& d) { return d.products[k].vt; });
    const auto zt = gather([&](const Drawn<E>& d) { return d.products[k].zt; });
    REQUIRE(v.size() == kCols);
    REQUIRE(vt.size() == rows.size());
    REQUIRE(z.size() == rows.size());
    REQUIRE(zt.size() == kCols);
    std::vector<E> ub;
    for (std::size_t r : rows)
      ub.insert(ub.end(), u.begin() + r * kCols, u.begin() + (r + 1) * kCols);
    CHECK(z == matmul_plain<E>(ub, v, rows.size(), kCols, 1));
    CHECK(zt == matmul_plain<E>(vt, ub, 1, rows.size(), kCols));
    if (k > 0) CHECK(v != gather([&](const Drawn<E>& d) { return d.products[k - 1].v; }));
  }
}

std::vector<Ring64> add_up(const std::vector<std::vector<Ring64>>& shares) {
  std::vector<Ring64> sum = shares[0];
  for (std::size_t p = 1; p < shares.size(); ++p) sum = add_vec<Ring64>(sum, shares[p]);
  return sum;
}

}  // namespace

TEST_CASE("masked products reconstruct to U_B v and U_B^T vt: LocalDealerUnsafe", "[masked]") {
  for (std::size_t n : {2, 3, 5}) {
    std::vector<Drawn<Ring64>> additive;
    for (std::size_t p = 0; p < n; ++p) {
      LocalDealerUnsafe<Ring64> source(Seed{3}, p, n);
      additive.push_back(draw<Ring64>(source));
    }
    check_algebra(additive, add_up);
  }
  const std::size_t n = 5, t = 2;
  std::vector<Drawn<Fp127>> shamir;
  for (std::size_t p = 0; p < n; ++p) {
    LocalDealerUnsafe<Fp127> source(Seed{3}, p, n, t, 64);
    shamir.push_back(draw<Fp127>(source));
  }
  const ShamirCodec<Fp127> codec(n, t);
  check_algebra(shamir, [&](const std::vector<std::vector<Fp127>>& shares) {
    return codec.reconstruct_checked(shares, kNames);
  });
}

TEST_CASE("masked products reconstruct to U_B v and U_B^T vt: the dealer", "[masked]") {
  const std::size_t n = 3;
  std::vector<net::PartyId> compute(n);
  std::iota(compute.begin(), compute.end(), net::PartyId{0});
  DealerStats stats;
  auto outcome = net::run_parties(n + 1, [&](net::Mesh& mesh) -> std::optional<Drawn<Ring64>> {
    if (mesh.self() == n) {
      stats = serve_dealer(mesh, compute);
      return std::nullopt;
    }
    DealerClient client(mesh, n, compute);
    auto drawn = draw<Ring64>(client);
    client.finish();
    return drawn;
  });
  std::vector<Drawn<Ring64>> drawn;
  for (std::size_t p = 0; p < n; ++p) drawn.push_back(*outcome[p]);
  check_algebra(drawn, add_up);
  CHECK(stats.masked_matrices == 1);
  CHECK(stats.masked_products == kSubsets.size());
  // Seeds (16 bytes each), nothing for U, then one correction per element of z and zt.
  std::size_t corrections = 0;
  for (const auto& rows : kSubsets) corrections += rows.size() + kCols;
  CHECK(stats.bytes_sent == 16 * n + 8 * corrections);
}

TEST_CASE("masked products reconstruct to U_B v and U_B^T vt: dealer-free Shamir", "[masked]") {
  const std::size_t n = 5, t = 2;
  const auto drawn = net::run_parties(n, [&](net::Mesh& mesh) {
    Session session = Session::establish(mesh);
    DealerFreeShamir<Fp127> source(session, t, 64);
    return draw<Fp127>(source);
  });
  const ShamirCodec<Fp127> codec(n, t);
  check_algebra(drawn, [&](const std::vector<std::vector<Fp127>>& shares) {
    return codec.reconstruct_checked(shares, kNames);
  });
}
