// A first check of both engines against plaintext: input, open, mul, trunc, comparison.
#include <catch2/catch.hpp>

#include "mpc/ops.hpp"
#include "tests/support/engines.hpp"

using namespace sm;
using namespace sm::mpc;

TEMPLATE_TEST_CASE("engine basics agree with plaintext", "[engine]", AdditiveEngine,
                   ShamirEngine<Fp127>) {
  using E = typename TestType::Element;
  const std::vector<std::int64_t> xs{0, 1, -1, 5, -7, 1000000, -123456789};
  const std::vector<std::int64_t> ys{3, -2, 4, 0, -7, 3, 1000};
  const std::size_t n_parties = std::is_same_v<TestType, AdditiveEngine> ? 2 : 3;
  auto results = test::run_engine<TestType>(n_parties, [&](TestType& engine) {
    std::vector<E> xv, yv;
    for (auto v : xs) xv.push_back(E::from_int(v));
    for (auto v : ys) yv.push_back(E::from_int(v));
    const auto x = engine.input(0, xv, xv.size(), "input x");
    const auto y = engine.input(1, yv, yv.size(), "input y");
    std::vector<std::vector<std::int64_t>> out;
    auto to_ints = [](const std::vector<E>& v) {
      std::vector<std::int64_t> r;
      for (auto e : v) r.push_back(e.to_int());
      return r;
    };
    out.push_back(to_ints(engine.open(x, "open x")));
    out.push_back(to_ints(engine.open(mul(engine, x, y), "open xy")));
    out.push_back(to_ints(engine.open(engine.trunc(x, 3, "trunc"), "open trunc")));
    out.push_back(to_ints(engine.open(less_than(engine, x, y), "open lt")));
    return out;
  });
  for (const auto& party : results) {
    for (std::size_t i = 0; i < xs.size(); ++i) {
      CHECK(party[0][i] == xs[i]);
      CHECK(party[1][i] == xs[i] * ys[i]);
      const std::int64_t floor_div = xs[i] >> 3;
      CHECK(party[2][i] >= floor_div - 1);
      CHECK(party[2][i] <= floor_div + 1);
      CHECK(party[3][i] == (xs[i] < ys[i] ? 1 : 0));
    }
  }
}
