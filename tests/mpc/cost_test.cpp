// Rounds and bytes: every operation's cost as stated in mpc/engine.hpp, additive_engine.hpp,
// shamir_engine.hpp, degree_reduction.hpp and ops.hpp, checked at every party against the mesh's
// counters (stats().since(before)), for vectors of 1 and 1000 elements (100 for Fp127 at 5 and 7
// parties): the rounds must not depend on the length, the bytes must be exactly the stated count.
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "mpc/ops.hpp"
#include "tests/support/oracle.hpp"

namespace sm::mpc {
namespace {

struct Cost {
  std::uint64_t rounds = 0;
  std::uint64_t sent = 0;
  friend bool operator==(const Cost&, const Cost&) = default;
};

std::ostream& operator<<(std::ostream& os, const Cost& c) {
  return os << "{" << c.rounds << " rounds, " << c.sent << " bytes}";
}

// Rounds of bit_less_than: ceil(log2 width).
std::uint64_t tree_rounds(std::size_t width) {
  std::uint64_t rounds = 0;
  for (std::size_t s = 1; s < width; s *= 2) ++rounds;
  return rounds;
}

// Multiplications per element of the comparison tree over `width` bits (ops.hpp): one per pair
// of leaves, then two per pair of nodes on every level above, one at the root.
std::uint64_t tree_products(std::size_t width) {
  const std::uint64_t pairs = width / 2, nodes = (width + 1) / 2;
  return pairs + (nodes > 1 ? 2 * (nodes - 1) - 1 : 0);
}

template <class En>
using Costs = std::map<std::string, Cost>;

// The engine's value_bits as run_engine_seeded constructs it.
template <class En>
constexpr int default_value_bits() {
  if constexpr (std::is_same_v<En, AdditiveEngine>) {
    return 63;
  } else {
    return En::kDefaultValueBits;
  }
}

// Runs `op` and returns what it cost this party.
template <class En, class Op>
Cost measure(En& en, Op op) {
  const net::MeshStats before = en.session().mesh().stats();
  op();
  const net::MeshStats delta = en.session().mesh().stats().since(before);
  return {delta.rounds, delta.bytes_sent()};
}

// Every operation once on vectors of n elements.
template <class En>
Costs<En> measure_all(En& en, std::size_t n) {
  using E = typename En::Element;
  const net::PartyId self = en.session().self(), last = en.session().parties() - 1;
  std::mt19937_64 rng(n);
  const auto small = test::elements<E>(test::random_signed(rng, n, 10));
  std::vector<std::int64_t> bit_values(n);
  for (auto& bit : bit_values) bit = static_cast<std::int64_t>(rng() & 1);
  const auto bits = test::elements<E>(bit_values);
  const std::vector<E> a_values(35, E(2)), b_values(15, E(3));
  const std::span<const E> mine = self == 0 ? std::span<const E>(small) : std::span<const E>();
  Costs<En> costs;
  typename En::Shares x, y, b;
  costs["input"] = measure(en, [&] { x = en.input(0, mine, n, "input"); });
  y = en.input(0, mine, n, "input");
  b = en.input(0, self == 0 ? std::span<const E>(bits) : std::span<const E>(), n, "input bits");
  costs["local"] = measure(en, [&] {
    const auto c = en.constant(small);
    const auto z = en.add_public(sub(add(neg(x), scale(y, E(3))), c), small);
    if (z.size() != n) throw std::logic_error("local operations changed the length");
  });
  costs["open"] = measure(en, [&] { en.open(x, "open"); });
  costs["open_to"] = measure(en, [&] { en.open_to(last, x, "open_to"); });
  costs["random"] = measure(en, [&] { en.random(n, "random"); });
  costs["mul"] = measure(en, [&] { mul(en, x, y); });
  const auto triples = en.correlations().triples(n);
  costs["mul_with"] = measure(en, [&] { mul_with(en, x, y, triples, "mul_with"); });
  costs["dot"] = measure(en, [&] { dot(en, x, y); });
  const auto a75 =
      en.input(0, self == 0 ? std::span<const E>(a_values) : std::span<const E>(), 35, "a");
  const auto b53 =
      en.input(0, self == 0 ? std::span<const E>(b_values) : std::span<const E>(), 15, "b");
  costs["matmul 7x5x3"] = measure(en, [&] { matmul(en, a75, b53, 7, 5, 3); });
  costs["matmul 1x1x1"] =
      measure(en, [&] { matmul(en, slice(a75, 0, 1), slice(b53, 0, 1), 1, 1, 1); });
  costs["trunc"] = measure(en, [&] { en.trunc(x, 4, "trunc"); });
  costs["fixed_mul"] = measure(en, [&] { fixed_mul(en, x, y); });
  costs["trunc_sum_of_products"] =
      measure(en, [&] { trunc_sum_of_products(en, concat(x, y), concat(y, x), x, 4, "sums"); });
  if constexpr (OpensProducts<En>) {
    const typename En::Shares products{mul_vec<E>(x.values, y.values)};
    costs["open_products"] = measure(en, [&] { en.open_products(products, "products"); });
    costs["trunc_products"] = measure(en, [&] { en.trunc_products(products, 4, "products"); });
  }
  costs["less_than_zero"] = measure(en, [&] { en.less_than_zero(x, "ltz"); });
  costs["less_than"] = measure(en, [&] { less_than(en, x, y); });
  costs["greater_than"] = measure(en, [&] { greater_than(en, x, y); });
  costs["select"] = measure(en, [&] { select(en, b, x, y); });
  costs["bit_xor"] = measure(en, [&] { bit_xor(en, b, b, "xor"); });
  costs["max"] = measure(en, [&] { max(en, x, y); });
  costs["clamp"] = measure(en, [&] { clamp(en, x, E(1), E(5)); });
  std::vector<u128> c13(n, 1234);
  const auto bits13 = en.constant(std::vector<E>(13 * n, E(1)));
  costs["bit_less_than 13"] = measure(en, [&] { bit_less_than(en, c13, bits13, 13, "blt"); });
  return costs;
}

// The costs the headers state, for party `self` of N, vectors of n elements of `bytes` bytes.
template <class En>
Costs<En> stated(net::PartyId self, std::size_t parties, std::size_t n, int value_bits) {
  constexpr bool kAdditive = std::is_same_v<En, AdditiveEngine>;
  const std::uint64_t e = En::Element::kBytes, peers = parties - 1, last = parties - 1;
  const std::uint64_t all = n * peers * e;  // n elements to every peer
  // The degree reduction of m secrets (Shamir): m to each of N - 1 - t peers from parties
  // 0..2t, nothing from the others.
  const std::size_t threshold = test::threshold_for(parties);
  auto reduced = [&](std::uint64_t m) -> std::uint64_t {
    return self <= 2 * threshold ? m * (parties - 1 - threshold) * e : 0;
  };
  // m products: additive, Beaver (x - a and y - b to every peer); Shamir, their reduction.
  auto products_sent = [&](std::uint64_t m) { return kAdditive ? 2 * m * peers * e : reduced(m); };
  // A matrix product: additive, the matrix triple's two openings; Shamir, the reduction of the
  // rows x cols outputs.
  auto matmul_sent = [&](std::uint64_t rows, std::uint64_t inner, std::uint64_t cols) {
    return kAdditive ? (rows * inner + inner * cols) * peers * e : reduced(rows * cols);
  };
  // less_than_zero on m elements: the opening, then the comparison tree over a window of W bits
  // whose first two levels come from the window masks' group products, of 4 bits for these
  // windows (window_group_bits<E>), G = W / 4 groups:
  // ceil(log2 G) rounds and 2 G - 3 products per element. Additive: W = 64 (63 bits and r's top
  // bit, XOR-ed in by the same tree: 2 + 2 + 2 + 1 more products); Shamir: value_bits - 1 made
  // even (64 on Fp127, 16 on Fp61). On Fp127 the tree is over Fp61 (8-byte elements) and its
  // root is not reduced: parties 0..2t open it to every peer in the root's round.
  const std::size_t window = kAdditive ? 64 : static_cast<std::size_t>(value_bits);
  const std::size_t groups = window / 4;
  using E = typename En::Element;
  constexpr bool kSplit = !std::is_same_v<ComparisonBit<E>, E>;
  auto ltz = [&](std::uint64_t m) {
    const std::uint64_t rounds = 1 + tree_rounds(groups);
    const std::uint64_t products = m * (2 * groups - 3 + (kAdditive ? 7 : 0));
    if (!kSplit) return Cost{rounds, m * peers * e + products_sent(products)};
    const bool sender = self <= 2 * threshold;
    const std::uint64_t bit_products = products - m;  // all but the roots, reduced over Fp61
    const std::uint64_t tree = sender ? (bit_products * (parties - 1 - threshold) + m * peers) *
                                            Fp61::kBytes
                                      : 0;
    return Cost{rounds, m * peers * e + tree};
  };
  Costs<En> costs;
  // Shamir input by party 0: it sends n elements to each of the N - 1 - t peers above t; the
  // peers 1..t draw their shares from their seed with it and take no part in the round.
  const bool seeded = self >= 1 && self <= threshold;
  costs["input"] = kAdditive ? Cost{0, 0}
                             : Cost{seeded ? 0u : 1u, self == 0 ? n * (peers - threshold) * e : 0};
  costs["local"] = {0, 0};
  costs["open"] = {1, all};
  costs["open_to"] = {1, self == last ? 0 : n * e};
  costs["random"] = kAdditive ? Cost{0, 0} : Cost{1, all};
  costs["mul"] = {1, products_sent(n)};
  costs["mul_with"] = {1, 2 * all};
  costs["dot"] = {1, matmul_sent(1, n, 1)};
  costs["matmul 7x5x3"] = {1, matmul_sent(7, 5, 3)};
  costs["matmul 1x1x1"] = {1, matmul_sent(1, 1, 1)};
  costs["trunc"] = {1, all};
  costs["fixed_mul"] = {2, products_sent(n) + all};
  // K = 2 pieces. Shamir: the degree-2t sums opened by parties 0..2t; additive: mul, then trunc.
  costs["trunc_sum_of_products"] = kAdditive ? Cost{2, products_sent(2 * n) + all}
                                             : Cost{1, self <= 2 * threshold ? all : 0};
  if constexpr (OpensProducts<En>) {  // degree-2t openings, as trunc_sum_of_products'
    costs["open_products"] = costs["trunc_sum_of_products"];
    costs["trunc_products"] = costs["trunc_sum_of_products"];
  }
  costs["less_than_zero"] = ltz(n);
  costs["less_than"] = ltz(n);
  costs["greater_than"] = ltz(n);
  costs["select"] = {1, products_sent(n)};
  costs["bit_xor"] = {1, products_sent(n)};
  costs["max"] = {ltz(n).rounds + 1, ltz(n).sent + products_sent(n)};
  // clamp: both comparisons in one less_than_zero of 2n, then one mul of 2n.
  costs["clamp"] = {ltz(2 * n).rounds + 1, ltz(2 * n).sent + products_sent(2 * n)};
  costs["bit_less_than 13"] = {tree_rounds(13), products_sent(n * tree_products(13))};
  return costs;
}

TEMPLATE_TEST_CASE("every operation costs the rounds and bytes its header states", "[cost]",
                   AdditiveEngine, ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  const std::vector<std::size_t> party_counts = std::is_same_v<En, AdditiveEngine>
                                                    ? std::vector<std::size_t>{2, 3, 5}
                                                    : std::vector<std::size_t>{3, 5, 7};
  for (const std::size_t parties : party_counts) {
    std::map<std::size_t, std::vector<Costs<En>>> by_length;
    constexpr int kValueBits = default_value_bits<En>();
    // Fp127's 63-bit comparisons at 7 parties are the slowest thing here: 100 elements suffice
    // to show that the rounds do not grow with the length.
    const std::size_t longer = std::is_same_v<En, ShamirEngine<Fp127>> && parties > 3 ? 100 : 1000;
    for (const std::size_t n : {std::size_t{1}, longer}) {
      CAPTURE(parties, n);
      // Fp61 holds 16-bit values: fixed point with 5 fractional bits.
      const FixedPoint fixed =
          std::is_same_v<En, ShamirEngine<Fp61>> ? FixedPoint{5, 16} : FixedPoint{};
      by_length[n] = test::run_engine_seeded<En>(
          parties, test::seed_from(n),
          [&](En& en) {
            if (en.value_bits() != kValueBits) throw std::logic_error("unexpected value_bits");
            return measure_all(en, n);
          },
          fixed);
      for (net::PartyId self = 0; self < parties; ++self) {
        const auto expected = stated<En>(self, parties, n, kValueBits);
        const auto& measured = by_length[n][self];
        REQUIRE(measured.size() == expected.size());
        for (const auto& [name, cost] : expected) {
          CAPTURE(self, name);
          CHECK(measured.at(name) == cost);
        }
      }
    }
    // Rounds depend on the operation only, never on the vector length.
    for (net::PartyId self = 0; self < parties; ++self) {
      for (const auto& [name, cost] : by_length[1][self]) {
        CAPTURE(parties, self, name);
        CHECK(by_length[longer][self].at(name).rounds == cost.rounds);
      }
    }
  }
}

TEST_CASE("session set-up costs one round and 16 bytes per peer plus 16 per higher peer",
          "[cost]") {
  for (const std::size_t parties : {2, 3, 5}) {
    const auto costs = net::run_parties(parties, [](net::Mesh& mesh) {
      const auto before = mesh.stats();
      Session::establish(mesh);
      const auto delta = mesh.stats().since(before);
      return Cost{delta.rounds, delta.bytes_sent()};
    });
    for (net::PartyId self = 0; self < parties; ++self) {
      CAPTURE(parties, self);
      CHECK(costs[self] == Cost{1, 16 * (parties - 1) + 16 * (parties - 1 - self)});
    }
  }
}

}  // namespace
}  // namespace sm::mpc
