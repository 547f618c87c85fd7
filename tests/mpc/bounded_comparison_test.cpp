// less_than_zero(x, step, bits): for inputs with |x| < 2^(bits-1) the result equals the
// plaintext sign test, at the edges of the bound too, on both schemes; the Shamir engine then
// compares bits - 1 bits (made even), in 1 + ceil(log2(bits - 1)) - 2 rounds (at least 2 on
// Fp127).
// less_than_thresholds (mpc/ops.hpp): several thresholds at once, exact outside the band
// |x - a| < N 2^coarse_bits (at its edges too), with the dealer's and the dealer-free
// correlations; on both engines a window of W bits (Shamir: w = bits - 1 - coarse made even;
// additive: w made odd, plus the mask's top bit) whose group products stand in for the tree's
// first two levels: 1 + ceil(log2 ceil(W / 4)) rounds (groups of 3 bits where that gives no more).
// less_than_thresholds_of_products: the same of a degree-2t sharing, which it also returns
// reduced to degree t.
#include <catch2/catch.hpp>

#include <random>

#include "mpc/dealer_free.hpp"
#include "mpc/ops.hpp"
#include "tests/support/engines.hpp"
#include "tests/support/oracle.hpp"

using namespace sm;
using namespace sm::mpc;

namespace {

// Rounds of a comparison on a window of W bits (W even) with its group products: the opening,
// then ceil(log2 ceil(W / 4)) levels of the tree above the groups (of 4 bits, or of 3 where
// ceil(W / 3) nodes need no more levels).
std::uint64_t window_rounds(int window) {
  std::uint64_t rounds = 1;
  for (int span = 4; span < window; span *= 2) ++rounds;
  return rounds;
}

}  // namespace

TEMPLATE_TEST_CASE("less_than_zero with a bound on the input", "[comparison]", AdditiveEngine,
                   ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  using E = typename En::Element;
  const int bits = GENERATE(2, 9, 16);
  CAPTURE(bits);
  const std::int64_t limit = (std::int64_t{1} << (bits - 1)) - 1;
  std::vector<std::int64_t> values{0, 1, -1, limit, -limit, -limit - 1};
  std::mt19937_64 rng(static_cast<std::uint64_t>(bits));
  std::uniform_int_distribution<std::int64_t> draw(-limit - 1, limit);
  for (int i = 0; i < 200; ++i) values.push_back(draw(rng));
  const auto results = test::run_engine<En>(3, [&](En& engine) {
    const auto x = engine.constant(test::elements<E>(values));
    const auto before = engine.session().mesh().stats().rounds;
    const auto below = engine.less_than_zero(x, "bounded", bits);
    const auto rounds = engine.session().mesh().stats().rounds - before;
    return std::pair{engine.open(below, "open"), rounds};
  });
  for (const auto& [opened, rounds] : results) {
    REQUIRE(opened.size() == values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      CAPTURE(values[i]);
      CHECK(test::signed_of(opened[i]) == (values[i] < 0 ? 1 : 0));
    }
    if constexpr (!std::is_same_v<En, AdditiveEngine>) {
      // Fp127: a window of one group has no tree level in whose round the root's opening (from
      // Fp61, the bits' field) could go: one round more.
      const std::uint64_t expected = window_rounds(bits - 1 + (bits - 1) % 2);
      CHECK(rounds == (std::is_same_v<E, Fp127> ? std::max<std::uint64_t>(expected, 2) : expected));
    }
  }
}

TEMPLATE_TEST_CASE("less_than_zero refuses a bound above the engine's value bits", "[comparison]",
                   AdditiveEngine, ShamirEngine<Fp127>) {
  using En = TestType;
  test::run_engine<En>(3, [&](En& engine) {
    const auto x = engine.constant(std::vector<typename En::Element>(2));
    CHECK_THROWS_AS(engine.less_than_zero(x, "too wide", engine.value_bits() + 1),
                    std::invalid_argument);
    return 0;
  });
}

namespace {

// Values x and thresholds a with |x - a| <= 2^(bits - 1) - N 2^m, the edges of the band
// |x - a| < N 2^m around every threshold included.
struct ThresholdCase {
  std::vector<std::int64_t> values, thresholds;
};

ThresholdCase threshold_case(int bits, int coarse, std::size_t parties) {
  const std::int64_t band = static_cast<std::int64_t>(parties) << coarse;
  const std::int64_t half = std::int64_t{1} << (bits - 2);
  ThresholdCase out;
  out.thresholds = {0, 1, -1, half / 2, -half / 2, 37 * band / 10};
  std::mt19937_64 rng(static_cast<std::uint64_t>(bits * 100 + coarse));
  std::uniform_int_distribution<std::int64_t> draw(-half, half);
  for (int i = 0; i < 300; ++i) out.values.push_back(draw(rng));
  for (const std::int64_t a : out.thresholds) {
    for (const std::int64_t d : {-band - 1, -band, std::int64_t{-1}, std::int64_t{0}, band - 1, band,
                                 band + 1}) {
      out.values.push_back(a + d);
    }
  }
  out.values.push_back(half);
  out.values.push_back(-half);
  return out;
}

// Checks out[j n + i] against [x_i < a_j]: exact where |x_i - a_j| >= N 2^m, a bit elsewhere.
void check_thresholds(const ThresholdCase& c, const std::vector<std::int64_t>& opened, int coarse,
                      std::size_t parties) {
  const std::size_t n = c.values.size();
  REQUIRE(opened.size() == n * c.thresholds.size());
  const std::int64_t band = coarse == 0 ? 0 : static_cast<std::int64_t>(parties) << coarse;
  std::size_t in_band = 0;
  for (std::size_t j = 0; j < c.thresholds.size(); ++j) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t difference = c.values[i] - c.thresholds[j];
      CAPTURE(c.values[i], c.thresholds[j], difference);
      const std::int64_t result = opened[j * n + i];
      if (difference >= band || difference < -band) {
        CHECK(result == (difference < 0 ? 1 : 0));
      } else {
        ++in_band;
        CHECK((result == 0 || result == 1));
      }
    }
  }
  if (coarse > 0) CHECK(in_band >= 4 * c.thresholds.size());
}

template <class En>
std::vector<std::int64_t> open_thresholds(En& engine, const ThresholdCase& c, int bits,
                                          int coarse, std::uint64_t* rounds) {
  using E = typename En::Element;
  const auto x = engine.constant(test::elements<E>(c.values));
  const auto before = engine.session().mesh().stats().rounds;
  const auto below = less_than_thresholds(engine, x, c.thresholds, bits, coarse, "thresholds");
  *rounds = engine.session().mesh().stats().rounds - before;
  std::vector<std::int64_t> out;
  for (const E& v : engine.open(below, "open")) {
    out.push_back(static_cast<std::int64_t>(test::signed_of(v)));
  }
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("less_than_thresholds agrees with plaintext outside its band", "[comparison]",
                   AdditiveEngine, ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  const int bits = std::is_same_v<En, ShamirEngine<Fp61>> ? 16 : 48;
  const int coarse = GENERATE(0, 3, 9);
  const std::size_t parties = GENERATE(3, 5);
  CAPTURE(bits, coarse, parties);
  const ThresholdCase c = threshold_case(bits, coarse, parties);
  const auto results = test::run_engine<En>(parties, [&](En& engine) {
    std::uint64_t rounds = 0;
    auto opened = open_thresholds(engine, c, bits, coarse, &rounds);
    return std::pair{std::move(opened), rounds};
  });
  for (const auto& [opened, rounds] : results) {
    check_thresholds(c, opened, coarse, parties);
    const int width = bits - 1 - coarse;
    // Additive: the odd width and the top bit; Shamir: the even width.
    const int window =
        std::is_same_v<En, AdditiveEngine> ? width + 2 - width % 2 : width + width % 2;
    CHECK(rounds == window_rounds(window));
  }
}

TEST_CASE("less_than_thresholds on the dealer-free source agrees with plaintext outside its band",
          "[comparison][dealer_free]") {
  using En = ShamirEngine<Fp127>;
  // The sigmoid's window (47 bits, 22 ignored: 24 bits in groups of 3) and a 26-bit one (groups
  // of 4); N = 9 (t = 4) also checks that the Fp61 bit engine and source fit N >= 8.
  const int bits = GENERATE(47, 48), coarse = 22;
  for (const std::size_t parties : {3, 4, 5, 9}) {
    CAPTURE(bits, parties);
    const ThresholdCase c = threshold_case(bits, coarse, parties);
    const auto results = net::run_parties(parties, [&](net::Mesh& mesh) {
      Session session = Session::establish(mesh);
      DealerFreeShamir<Fp127> source(session, test::threshold_for(parties),
                                     En::kDefaultValueBits);
      En engine(session, source, test::threshold_for(parties));
      std::uint64_t rounds = 0;
      return open_thresholds(engine, c, bits, coarse, &rounds);
    });
    for (const auto& opened : results) check_thresholds(c, opened, coarse, parties);
  }
}

TEMPLATE_TEST_CASE("less_than_thresholds_of_products compares a degree-2t sharing and reduces it",
                   "[comparison]", ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  // x given as the local products of shares of the values (party 0's input) and of ones (party
  // 1's): a degree-2t sharing. The results agree with plaintext outside the band, the rounds
  // are less_than_thresholds' (the opening at degree 2t included), and the returned value opens
  // to the values.
  using En = TestType;
  using E = typename En::Element;
  // N = 4 (t = 1): party 3 sends nothing in the degree-2t opening and still gets x at degree t.
  const int bits = std::is_same_v<En, ShamirEngine<Fp61>> ? 16 : 48;
  const int coarse = GENERATE(0, 9);
  const std::size_t parties = GENERATE(3, 4, 5);
  CAPTURE(bits, coarse, parties);
  const ThresholdCase c = threshold_case(bits, coarse, parties);
  const std::size_t n = c.values.size();
  const auto results = test::run_engine<En>(parties, [&](En& engine) {
    const auto values = engine.input(0, test::elements<E>(c.values), n, "values");
    const auto ones = engine.input(1, std::vector<E>(n, E(1)), n, "ones");
    const typename En::Shares products{mul_vec<E>(values.values, ones.values)};
    const auto before = engine.session().mesh().stats().rounds;
    const auto tests =
        less_than_thresholds_of_products(engine, products, c.thresholds, bits, coarse, "products");
    const auto rounds = engine.session().mesh().stats().rounds - before;
    std::vector<std::int64_t> below, value;
    for (const E& v : engine.open(tests.below, "open")) below.push_back(test::signed_of(v));
    for (const E& v : engine.open(tests.value, "open")) value.push_back(test::signed_of(v));
    return std::tuple{below, value, rounds};
  });
  for (const auto& [below, value, rounds] : results) {
    check_thresholds(c, below, coarse, parties);
    CHECK(value == c.values);
    const int width = bits - 1 - coarse;
    CHECK(rounds == window_rounds(width + width % 2));
  }
}

TEMPLATE_TEST_CASE("less_than_thresholds refuses bad bounds", "[comparison]", AdditiveEngine,
                   ShamirEngine<Fp127>) {
  using En = TestType;
  test::run_engine<En>(3, [&](En& engine) {
    const auto x = engine.constant(std::vector<typename En::Element>(2));
    const std::vector<std::int64_t> zero{0};
    const int top = engine.value_bits();
    CHECK_THROWS_AS(less_than_thresholds(engine, x, zero, top + 1, 0, "wide"),
                    std::invalid_argument);
    CHECK_THROWS_AS(less_than_thresholds(engine, x, zero, 1, 0, "narrow"), std::invalid_argument);
    CHECK_THROWS_AS(less_than_thresholds(engine, x, zero, 20, 18, "coarse"),
                    std::invalid_argument);
    CHECK_THROWS_AS(less_than_thresholds(engine, x, zero, 20, -1, "negative"),
                    std::invalid_argument);
    return 0;
  });
}
