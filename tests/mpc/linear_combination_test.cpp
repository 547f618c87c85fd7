// linear_combination and inner_product (mpc/linear_combination.hpp) and times_power_of_two
// (mpc/mersenne.hpp) against the fields' own + and *, term by term: every kind of weight (zero,
// small, small negated, general, p - 1), extreme point values, 0 to 40 points (past Fp61's
// reduction every 32 terms), and an output that is also one of the points. The row products of
// mpc/row_products.hpp against the same term-by-term sums, repeated rows included. The fields'
// own +, -, * and negation (mpc/mersenne.hpp) against plain modular arithmetic with branches, at
// edge values.
#include "mpc/linear_combination.hpp"

#include <catch2/catch.hpp>

#include "mpc/elements.hpp"
#include "mpc/prg.hpp"
#include "mpc/row_products.hpp"

using namespace sm;
using namespace sm::mpc;

namespace {

// Weights cycling through the kinds the implementation tells apart.
template <class F>
std::vector<F> weights_of_every_kind(std::size_t count, Prg& prg) {
  const std::uint64_t small_max = (std::uint64_t{1} << 32) - 1;
  const std::vector<F> kinds{F(0),
                             F(1),
                             -F(1),
                             F(small_max),
                             -F(small_max),
                             F(small_max + 1),
                             -F(small_max + 1),
                             F(3),
                             prg.sample<F>(1)[0]};
  std::vector<F> out;
  for (std::size_t q = 0; q < count; ++q) {
    out.push_back(q % 3 == 2 ? prg.sample<F>(1)[0] : kinds[(q * 5 + count) % kinds.size()]);
  }
  return out;
}

// Points with the extreme values 0, 1, p - 1 and 2^64 - 1 mixed into random ones.
template <class F>
std::vector<std::vector<F>> points_with_extremes(std::size_t count, std::size_t length, Prg& prg) {
  const std::vector<F> extremes{F(0), F(1), -F(1),
                                from_unsigned<F>(u128{~std::uint64_t{0}} % F::kModulus)};
  std::vector<std::vector<F>> out;
  for (std::size_t q = 0; q < count; ++q) {
    std::vector<F> values = prg.sample<F>(length);
    for (std::size_t i = q; i < length; i += 7) values[i] = extremes[(i + q) % extremes.size()];
    out.push_back(std::move(values));
  }
  return out;
}

template <class F>
std::vector<F> oracle(const std::vector<F>& weights, const std::vector<std::vector<F>>& points,
                      std::size_t length) {
  std::vector<F> out(length, F(0));
  for (std::size_t q = 0; q < points.size(); ++q) {
    for (std::size_t i = 0; i < length; ++i) out[i] += weights[q] * points[q][i];
  }
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("linear_combination equals the sum of the products", "[linear_combination]",
                   Fp61, Fp127) {
  using F = TestType;
  Prg prg(Seed{4, 2});
  for (const std::size_t count : {0, 1, 2, 3, 4, 5, 7, 33, 40}) {
    for (const std::size_t length : {0, 1, 130}) {
      CAPTURE(count, length);
      const std::vector<F> weights = weights_of_every_kind<F>(count, prg);
      const auto points = points_with_extremes<F>(count, length, prg);
      std::vector<const F*> pointers;
      for (const auto& p : points) pointers.push_back(p.data());
      std::vector<F> out(length, F(7));
      linear_combination<F>(out.data(), length, weights, pointers);
      CHECK(out == oracle(weights, points, length));
    }
  }
  // All weights p - 1 or all 2^32 - 1, on points of p - 1: the largest sums of each kind.
  for (const F w : {-F(1), F((std::uint64_t{1} << 32) - 1)}) {
    const std::vector<std::vector<F>> points(6, std::vector<F>(3, -F(1)));
    const std::vector<F> weights(6, w);
    std::vector<const F*> pointers;
    for (const auto& p : points) pointers.push_back(p.data());
    std::vector<F> out(3);
    linear_combination<F>(out.data(), 3, weights, pointers);
    CHECK(out == oracle(weights, points, 3));
  }
}

TEMPLATE_TEST_CASE("linear_combination may write over one of its points", "[linear_combination]",
                   Fp61, Fp127) {
  using F = TestType;
  Prg prg(Seed{4, 3});
  const std::vector<F> weights{F(3), prg.sample<F>(1)[0], -F(2)};
  auto points = points_with_extremes<F>(3, 200, prg);
  const std::vector<F> expected = oracle(weights, points, 200);
  const std::vector<const F*> pointers{points[0].data(), points[1].data(), points[2].data()};
  linear_combination<F>(points[1].data(), 200, weights, pointers);
  CHECK(points[1] == expected);
}

TEMPLATE_TEST_CASE("inner_product equals the sum of the products", "[linear_combination]", Fp61,
                   Fp127) {
  using F = TestType;
  Prg prg(Seed{4, 5});
  for (const std::size_t length : {0, 1, 2, 31, 32, 33, 64, 65, 101, 300}) {
    CAPTURE(length);
    const std::vector<F> a = weights_of_every_kind<F>(length, prg);
    const std::vector<F> b = points_with_extremes<F>(1, length, prg)[0];
    F expected(0);
    for (std::size_t j = 0; j < length; ++j) expected += a[j] * b[j];
    CHECK(inner_product<F>(a.data(), b.data(), length) == expected);
  }
  // All terms (p - 1)^2: the largest sums.
  const std::vector<F> top(300, -F(1));
  CHECK(inner_product<F>(top.data(), top.data(), 300) == F(300));
}

TEMPLATE_TEST_CASE("row products equal the sums of the products, rows repeated",
                   "[linear_combination]", Fp61, Fp127) {
  using F = TestType;
  Prg prg(Seed{4, 6});
  constexpr std::size_t kRows = 9, kCols = 101;
  const std::vector<F> m = points_with_extremes<F>(1, kRows * kCols, prg)[0];
  const std::vector<std::size_t> rows{4, 0, 8, 4, 4, 2};
  const std::vector<F> x = weights_of_every_kind<F>(kCols, prg);
  const std::vector<F> xt = weights_of_every_kind<F>(rows.size(), prg);
  std::vector<F> times(rows.size(), F(5)), transposed(kCols, F(6));
  add_rows_times<F>(m, kCols, rows, x, times);
  add_rows_transposed_times<F>(m, kCols, rows, xt, transposed);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    F expected(5);
    for (std::size_t j = 0; j < kCols; ++j) expected += m[rows[i] * kCols + j] * x[j];
    CHECK(times[i] == expected);
  }
  for (std::size_t j = 0; j < kCols; ++j) {
    F expected(6);
    for (std::size_t i = 0; i < rows.size(); ++i) expected += xt[i] * m[rows[i] * kCols + j];
    CHECK(transposed[j] == expected);
  }
}

TEMPLATE_TEST_CASE("times_power_of_two multiplies by 2^e", "[linear_combination]", Fp61, Fp127) {
  using F = TestType;
  Prg prg(Seed{4, 4});
  std::vector<F> values = prg.sample<F>(20);
  values.push_back(F(0));
  values.push_back(-F(1));
  values.push_back(F(1));
  for (int e = 0; e < F::kBits; ++e) {
    CAPTURE(e);
    const F factor = power_of_two<F>(e);
    for (const F x : values) CHECK(times_power_of_two(x, e) == x * factor);
  }
  // 2^-e = 2^(kBits - e): the rotation back.
  const F half = inverse(F(2));
  CHECK(times_power_of_two(values[0], F::kBits - 1) == values[0] * half);
}

namespace {

// Plain modular arithmetic on canonical values below p < 2^127, with branches: the oracle for the
// fields' branch-free operations.
u128 oracle_add(u128 a, u128 b, u128 p) { return a + b >= p ? a + b - p : a + b; }
u128 oracle_sub(u128 a, u128 b, u128 p) { return a >= b ? a - b : a + (p - b); }
u128 oracle_mul(u128 a, u128 b, u128 p) {  // double and add, from b's top bit
  u128 product = 0;
  for (int bit = 127; bit >= 0; --bit) {
    product = oracle_add(product, product, p);
    if ((b >> bit) & 1) product = oracle_add(product, a, p);
  }
  return product;
}

}  // namespace

TEMPLATE_TEST_CASE("+, - and * agree with plain modular arithmetic, edge values included",
                   "[linear_combination]", Fp61, Fp127) {
  using F = TestType;
  const u128 p = F::kModulus;
  Prg prg(Seed{7});
  std::vector<u128> values{0, 1, 2, p - 1, p - 2, p / 2, p / 2 + 1, u128{~std::uint64_t{0}} % p};
  for (const F& v : prg.sample<F>(64)) values.push_back(to_unsigned(v));
  for (const u128 a : values) {
    for (const u128 b : values) {
      CAPTURE(static_cast<std::uint64_t>(a), static_cast<std::uint64_t>(b));
      const F x = from_unsigned<F>(a), y = from_unsigned<F>(b);
      CHECK(to_unsigned(x + y) == oracle_add(a, b, p));
      CHECK(to_unsigned(x - y) == oracle_sub(a, b, p));
      CHECK(to_unsigned(x * y) == oracle_mul(a, b, p));
      CHECK(to_unsigned(-x) == oracle_sub(0, a, p));
    }
  }
}
