// less_than_zero(x, step, bits): for inputs with |x| < 2^(bits-1) the result equals the
// plaintext sign test, at the edges of the bound too, on both schemes; the Shamir engine then
// compares bits - 1 bits, in 1 + ceil(log2(bits - 1)) rounds.
#include <catch2/catch.hpp>

#include <random>

#include "tests/support/engines.hpp"
#include "tests/support/oracle.hpp"

using namespace sm;
using namespace sm::mpc;

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
      std::uint64_t tree = 0;
      for (int s = 1; s < bits - 1; s *= 2) ++tree;
      CHECK(rounds == 1 + tree);
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
