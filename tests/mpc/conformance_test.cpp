// Conformance of the engine API (mpc/engine.hpp) and the generic operations (mpc/ops.hpp): every
// operation of every scheme, for several party counts, checked against a plaintext oracle that
// does not use the element types' arithmetic (tests/support/oracle.hpp) or, for fixed-point
// matrices, against Eigen. Inputs are random vectors from a fixed-seed std::mt19937_64 and edge
// values; vector lengths 0, 1, a few, and 10^5 for input / open / mul / dot.
#include <Eigen/Dense>
#include <array>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>

#include "mpc/ops.hpp"
#include "tests/support/oracle.hpp"

namespace sm::mpc {
namespace {

using test::i128;
using test::u128;

// Under AddressSanitizer every element operation costs several times more; the large vectors
// shrink so that the whole suite stays within a few minutes there.
// The long vectors run at each scheme's smallest party count; the larger counts use kMedium
// (the operations are the same code for every N, only the sharing differs).
#ifdef __SANITIZE_ADDRESS__
constexpr std::size_t kLarge = 20000;
constexpr std::size_t kCompareLong = 200;
#else
constexpr std::size_t kLarge = 100000;
constexpr std::size_t kCompareLong = 1000;
#endif
constexpr std::size_t kMedium = 1000;
constexpr std::size_t kCompareShort = 60;

// What the suite needs to know of each scheme: its party counts, the engine's value_bits, the
// fixed-point settings it is used with, and the documented truncation error: the result is
// floor(x / 2^bits) + e with kTruncLow <= e <= kTruncHigh.
template <class En>
struct Scheme;

template <>
struct Scheme<AdditiveEngine> {
  static constexpr std::array<std::size_t, 3> kParties{2, 3, 5};
  static constexpr int kValueBits = 63;
  static constexpr int kMaxTruncBits = 61;
  static constexpr int kTruncLow = 0, kTruncHigh = 1;
  static FixedPoint fixed() { return {}; }
};

template <>
struct Scheme<ShamirEngine<Fp61>> {
  static constexpr std::array<std::size_t, 3> kParties{3, 5, 7};
  static constexpr int kValueBits = 16;
  static constexpr int kMaxTruncBits = 14;
  static constexpr int kTruncLow = 0, kTruncHigh = 1;
  // Fp61 holds 16-bit values: fixed point with 5 fractional bits.
  static FixedPoint fixed() { return {5, 16}; }
};

template <>
struct Scheme<ShamirEngine<Fp127>> {
  static constexpr std::array<std::size_t, 3> kParties{3, 5, 7};
  static constexpr int kValueBits = 64;
  static constexpr int kMaxTruncBits = 62;
  static constexpr int kTruncLow = 0, kTruncHigh = 1;
  static FixedPoint fixed() { return {}; }
};

// The largest magnitude trunc and comparisons accept: 2^(value_bits - 1) - 1.
template <class En>
constexpr std::int64_t max_signed() {
  return static_cast<std::int64_t>((std::uint64_t{1} << (Scheme<En>::kValueBits - 1)) - 1);
}

template <class E>
using Opened = std::map<std::string, std::vector<E>>;

// Edge values of the whole domain first (0, 1, -1, 2, the largest positive and negative signed
// values, the middle of the domain), then uniformly random elements; n in total.
template <class E>
std::vector<E> domain_inputs(std::mt19937_64& rng, std::size_t n) {
  const u128 m = test::modulus<E>();
  std::vector<E> out{test::elem<E>(0),
                     test::elem<E>(1),
                     test::elem<E>(-1),
                     test::elem<E>(2),
                     test::from_rep<E>((m - 1) / 2),
                     test::from_rep<E>((m + 1) / 2),
                     test::from_rep<E>(m / 2),
                     test::from_rep<E>(m - 2)};
  out.resize(std::min(n, out.size()));
  const auto rest = test::random_elements<E>(rng, n - out.size());
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

// Values in [-max, max] with the given edge values first.
inline std::vector<std::int64_t> signed_inputs(std::mt19937_64& rng, std::size_t n, int bits,
                                               std::vector<std::int64_t> edges) {
  edges.resize(std::min(n, edges.size()));
  const auto rest = test::random_signed(rng, n - edges.size(), bits);
  edges.insert(edges.end(), rest.begin(), rest.end());
  return edges;
}

template <class E>
std::vector<i128> as_signed(const std::vector<E>& v) {
  return test::signed_values<E>(v);
}

// The values `owner` inputs: everybody else passes nothing, so the engine must not read them.
template <class E>
std::span<const E> owned(net::PartyId self, net::PartyId owner, const std::vector<E>& values) {
  return self == owner ? std::span<const E>(values) : std::span<const E>();
}

TEMPLATE_TEST_CASE("conformance: input, open, open_to and local operations", "[conformance]",
                   AdditiveEngine, ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  using E = typename En::Element;
  for (const std::size_t parties : Scheme<En>::kParties) {
    const std::size_t longest = parties == Scheme<En>::kParties[0] ? kLarge : kMedium;
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{9}, longest}) {
      CAPTURE(parties, n);
      std::mt19937_64 rng(1000 * parties + n);
      const auto xs = domain_inputs<E>(rng, n);
      auto ys = domain_inputs<E>(rng, n);
      std::reverse(ys.begin(), ys.end());
      const auto cs = test::random_elements<E>(rng, n);
      const E k = test::random_element<E>(rng);
      const net::PartyId last = parties - 1;

      const auto results = test::run_engine_seeded<En>(parties, test::seed_from(n), [&](En& en) {
        const net::PartyId self = en.session().self();
        const auto x = en.input(0, owned(self, 0, xs), n, "input x");
        const auto y = en.input(last, owned(self, last, ys), n, "input y");
        Opened<E> out;
        out["x"] = en.open(x, "open x");
        out["y"] = en.open(y, "open y");
        out["add"] = en.open(add(x, y), "open add");
        out["sub"] = en.open(sub(x, y), "open sub");
        out["neg"] = en.open(neg(x), "open neg");
        out["scale"] = en.open(scale(x, k), "open scale");
        out["scale_vec"] = en.open(scale(x, std::span<const E>(cs)), "open scale_vec");
        out["add_public"] = en.open(en.add_public(x, cs), "open add_public");
        out["constant"] = en.open(en.constant(cs), "open constant");
        out["mul"] = en.open(mul(en, x, y), "open mul");
        const auto triples = en.correlations().triples(n);
        out["mul_with"] = en.open(mul_with(en, x, y, triples, "mul_with"), "open mul_with");
        out["dot"] = en.open(dot(en, x, y), "open dot");
        const auto to_last = en.open_to(last, sub(x, y), "open_to");
        const auto to_zero = en.open_to(0, add(x, y), "open_to 0");
        // The target gets the values, everybody else nothing.
        if (to_last.has_value() != (self == last) || to_zero.has_value() != (self == 0)) {
          throw std::logic_error("open_to gave values to a party other than its target");
        }
        if (to_last) out["open_to"] = *to_last;
        if (to_zero) out["open_to 0"] = *to_zero;
        return out;
      });

      using test::add_mod, test::sub_mod, test::mul_mod, test::rep;
      u128 dot_oracle = 0;
      for (std::size_t i = 0; i < n; ++i) {
        dot_oracle = add_mod<E>(dot_oracle, mul_mod<E>(rep(xs[i]), rep(ys[i])));
      }
      for (net::PartyId party = 0; party < parties; ++party) {
        CAPTURE(party);
        const auto& out = results[party];
        REQUIRE(out.at("x") == xs);
        REQUIRE(out.at("y") == ys);
        REQUIRE(out.at("add").size() == n);
        REQUIRE(out.at("dot").size() == 1);
        CHECK(rep(out.at("dot")[0]) == dot_oracle);
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < n; ++i) {
          const u128 x = rep(xs[i]), y = rep(ys[i]), c = rep(cs[i]);
          const u128 sum = add_mod<E>(x, y), product = mul_mod<E>(x, y);
          wrong += rep(out.at("add")[i]) != sum;
          wrong += rep(out.at("sub")[i]) != sub_mod<E>(x, y);
          wrong += rep(out.at("neg")[i]) != sub_mod<E>(0, x);
          wrong += rep(out.at("scale")[i]) != mul_mod<E>(x, rep(k));
          wrong += rep(out.at("scale_vec")[i]) != mul_mod<E>(x, c);
          wrong += rep(out.at("add_public")[i]) != add_mod<E>(x, c);
          wrong += rep(out.at("constant")[i]) != c;
          wrong += rep(out.at("mul")[i]) != product;
          wrong += rep(out.at("mul_with")[i]) != product;
          if (party == last) wrong += rep(out.at("open_to")[i]) != sub_mod<E>(x, y);
          if (party == 0) wrong += rep(out.at("open_to 0")[i]) != sum;
        }
        CHECK(wrong == 0);
        CHECK(out.count("open_to") == (party == last ? 1 : 0));
        CHECK(out.count("open_to 0") == (party == 0 ? 1 : 0));
      }
    }
  }
}

TEMPLATE_TEST_CASE("conformance: matrix products", "[conformance]", AdditiveEngine,
                   ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  using E = typename En::Element;
  struct Shape {
    std::size_t rows, inner, cols;
  };
  const std::vector<Shape> shapes{{7, 5, 3}, {1, 1, 1}, {1, 6, 1}, {4, 1, 3}, {3, 8, 2}};
  for (const std::size_t parties : Scheme<En>::kParties) {
    CAPTURE(parties);
    std::mt19937_64 rng(parties);
    std::vector<std::vector<E>> as, bs;
    for (const auto& s : shapes) {
      as.push_back(domain_inputs<E>(rng, s.rows * s.inner));
      bs.push_back(test::random_elements<E>(rng, s.inner * s.cols));
    }
    const auto results = test::run_engine_seeded<En>(parties, test::seed_from(7), [&](En& en) {
      const net::PartyId self = en.session().self();
      std::vector<std::vector<E>> out;
      for (std::size_t i = 0; i < shapes.size(); ++i) {
        const auto& s = shapes[i];
        const auto a = en.input(0, owned(self, 0, as[i]), as[i].size(), "input a");
        const auto b = en.input(1, owned(self, 1, bs[i]), bs[i].size(), "input b");
        out.push_back(en.open(matmul(en, a, b, s.rows, s.inner, s.cols), "open matmul"));
        const auto triple = en.correlations().matrix_triple(s.rows, s.inner, s.cols);
        out.push_back(en.open(matmul_with(en, a, b, triple, "matmul_with"), "open matmul_with"));
      }
      return out;
    });
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const auto& s = shapes[i];
      CAPTURE(s.rows, s.inner, s.cols);
      std::vector<u128> expected(s.rows * s.cols, 0);
      for (std::size_t r = 0; r < s.rows; ++r) {
        for (std::size_t c = 0; c < s.cols; ++c) {
          for (std::size_t d = 0; d < s.inner; ++d) {
            expected[r * s.cols + c] = test::add_mod<E>(
                expected[r * s.cols + c], test::mul_mod<E>(test::rep(as[i][r * s.inner + d]),
                                                           test::rep(bs[i][d * s.cols + c])));
          }
        }
      }
      for (const auto& party : results) {
        for (const auto& product : {party[2 * i], party[2 * i + 1]}) {
          REQUIRE(product.size() == expected.size());
          for (std::size_t j = 0; j < expected.size(); ++j)
            CHECK(test::rep(product[j]) == expected[j]);
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("conformance: random values are uniform and fresh", "[conformance]",
                   AdditiveEngine, ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  using E = typename En::Element;
  constexpr std::size_t kCount = 4096;
  for (const std::size_t parties : Scheme<En>::kParties) {
    CAPTURE(parties);
    auto draw = [&] {
      // Fresh seeds from the operating system at every run.
      return test::run_engine<En>(parties, [&](En& en) {
        std::vector<std::vector<E>> out;
        out.push_back(en.open(en.random(kCount, "random"), "open random"));
        out.push_back(en.open(en.random(1, "random 1"), "open random 1"));
        out.push_back(en.open(en.random(0, "random 0"), "open random 0"));
        return out;
      });
    };
    const auto first = draw(), second = draw();
    for (std::size_t party = 1; party < parties; ++party) CHECK(first[party] == first[0]);
    const auto& values = first[0][0];
    REQUIRE(values.size() == kCount);
    CHECK(first[0][1].size() == 1);
    CHECK(first[0][2].empty());
    // Over domains of 2^61 elements and more, 4096 uniform values are distinct except with
    // probability below 2^-36, and two runs share no value at the same position.
    std::set<u128> distinct;
    std::size_t same_position = 0;
    std::array<std::uint64_t, 16> counts{};
    for (std::size_t i = 0; i < kCount; ++i) {
      distinct.insert(test::rep(values[i]));
      same_position += values[i] == second[0][0][i];
      ++counts[test::bucket_of(values[i], counts.size())];
    }
    CHECK(distinct.size() == kCount);
    CHECK(same_position == 0);
    CHECK(first[0][1] != second[0][1]);
    CHECK(test::chi_square_uniform(counts).p_value > 1e-6);
  }
}

TEMPLATE_TEST_CASE("conformance: trunc is floor(x / 2^bits) within the documented error",
                   "[conformance]", AdditiveEngine, ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  using E = typename En::Element;
  using S = Scheme<En>;
  const std::int64_t max = max_signed<En>();
  const std::vector<int> bit_counts{1, S::kValueBits / 4, S::kMaxTruncBits};
  for (const std::size_t parties : S::kParties) {
    const std::size_t longest = parties == S::kParties[0] ? kLarge / 10 : kMedium;
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, longest}) {
      CAPTURE(parties, n);
      std::mt19937_64 rng(parties * 31 + n);
      std::vector<std::vector<std::int64_t>> inputs;
      for (const int bits : bit_counts) {
        const std::int64_t p = std::int64_t{1} << bits;
        inputs.push_back(signed_inputs(rng, n, S::kValueBits - 1,
                                       {0, 1, -1, max, -max, p, -p, p - 1, -(p - 1), p + 1,
                                        -(p + 1), max - 1, -max + 1, p + (p - 1), -(p + (p - 1))}));
      }
      const auto results = test::run_engine_seeded<En>(parties, test::seed_from(n), [&](En& en) {
        if (en.value_bits() != S::kValueBits) throw std::logic_error("unexpected value_bits");
        const net::PartyId self = en.session().self();
        std::vector<std::vector<E>> out;
        for (std::size_t b = 0; b < bit_counts.size(); ++b) {
          const auto values = test::elements<E>(inputs[b]);
          const auto x = en.input(0, owned(self, 0, values), n, "input");
          out.push_back(en.open(en.trunc(x, bit_counts[b], "trunc"), "open trunc"));
        }
        return out;
      });
      for (const auto& party : results) {
        for (std::size_t b = 0; b < bit_counts.size(); ++b) {
          CAPTURE(bit_counts[b]);
          REQUIRE(party[b].size() == n);
          std::size_t outside = 0;
          for (std::size_t i = 0; i < n; ++i) {
            const i128 error =
                test::signed_of(party[b][i]) - test::floor_shift(inputs[b][i], bit_counts[b]);
            if (error < S::kTruncLow || error > S::kTruncHigh) {
              ++outside;
              UNSCOPED_INFO("x = " << inputs[b][i] << " error " << static_cast<long long>(error));
            }
          }
          CHECK(outside == 0);
        }
      }
    }
  }
}

// Runs fn(engine) at each of `parties` parties; Shamir engines use `threshold` (additive: none).
template <class En, class Fn>
auto run_with_threshold(std::size_t parties, std::size_t threshold, const Seed& master, Fn fn) {
  if constexpr (std::is_same_v<En, AdditiveEngine>) {
    return test::run_engine_seeded<En>(parties, master, fn);
  } else {
    return net::run_parties(parties, [&](net::Mesh& mesh) {
      Session session(mesh, PrgState::from_master_seed(master, mesh.self(), parties));
      LocalDealerUnsafe<typename En::Element> dealer(master, mesh.self(), parties, threshold,
                                                     En::kDefaultValueBits);
      En engine(session, dealer, threshold);
      return fn(engine);
    });
  }
}

TEMPLATE_TEST_CASE("conformance: trunc_sum_of_products is the truncated sum within trunc's error",
                   "[conformance]", AdditiveEngine, ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  using E = typename En::Element;
  using S = Scheme<En>;
  // K = 4 products of factors below 2^a and an addend below 2^(value_bits - 3): the sum stays
  // below 2^(value_bits - 2) in magnitude.
  constexpr std::size_t kPieces = 4;
  constexpr int kFactorBits = (S::kValueBits - 6) / 2;
  const std::int64_t factor_max = (std::int64_t{1} << kFactorBits) - 1;
  const std::vector<int> bit_counts{1, S::kValueBits / 2};
  // (parties, threshold): the scheme's counts with t = floor((N - 1) / 2), so that every party
  // sends, and for Shamir N = 5 with t = 1, where only parties 0..2 do.
  std::vector<std::pair<std::size_t, std::size_t>> setups;
  for (const std::size_t parties : S::kParties) {
    setups.emplace_back(parties, test::threshold_for(parties));
  }
  if constexpr (!std::is_same_v<En, AdditiveEngine>) setups.emplace_back(5, 1);
  for (const auto& [parties, threshold] : setups) {
    const std::size_t longest = parties == S::kParties[0] ? kLarge / 10 : kMedium;
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, longest}) {
      CAPTURE(parties, threshold, n);
      std::mt19937_64 rng(parties * 131 + threshold * 7 + n);
      const auto x = signed_inputs(rng, kPieces * n, kFactorBits,
                                   {factor_max, -factor_max, factor_max, -factor_max});
      const auto y = signed_inputs(rng, kPieces * n, kFactorBits,
                                   {factor_max, factor_max, -factor_max, -factor_max});
      const auto c = signed_inputs(rng, n, S::kValueBits - 3, {0, 1, -1});
      const auto run = [&](En& en) {
        const net::PartyId self = en.session().self();
        const auto xs = en.input(0, owned(self, 0, test::elements<E>(x)), kPieces * n, "x");
        const auto ys = en.input(1, owned(self, 1, test::elements<E>(y)), kPieces * n, "y");
        const auto cs =
            en.input(parties - 1, owned(self, parties - 1, test::elements<E>(c)), n, "c");
        std::vector<std::vector<E>> out;
        for (const int bits : bit_counts) {
          out.push_back(
              en.open(trunc_sum_of_products(en, xs, ys, cs, bits, "sum of products"), "open"));
        }
        if (n > 0) {  // x and y must hold K n shares each: refused before anything is sent
          bool refused = false;
          try {
            trunc_sum_of_products(en, xs, slice(ys, 0, kPieces * n - 1), cs, 1, "mismatch");
          } catch (const std::invalid_argument&) {
            refused = true;
          }
          if (!refused) throw std::logic_error("shares of different lengths were accepted");
        }
        return out;
      };
      const auto results = run_with_threshold<En>(parties, threshold, test::seed_from(n), run);
      for (const auto& party : results) {
        for (std::size_t b = 0; b < bit_counts.size(); ++b) {
          CAPTURE(bit_counts[b]);
          REQUIRE(party[b].size() == n);
          std::size_t outside = 0;
          for (std::size_t i = 0; i < n; ++i) {
            i128 sum = c[i];
            for (std::size_t k = 0; k < kPieces; ++k) sum += i128{x[k * n + i]} * y[k * n + i];
            const i128 error = test::signed_of(party[b][i]) - test::floor_shift(sum, bit_counts[b]);
            if (error < S::kTruncLow || error > S::kTruncHigh) ++outside;
          }
          CHECK(outside == 0);
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("conformance: fixed-point encoding, fixed_mul and matmul against Eigen",
                   "[conformance]", AdditiveEngine, ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  using E = typename En::Element;
  using S = Scheme<En>;
  const FixedPoint fixed = S::fixed();
  const int f = fixed.frac_bits;
  const double ulp = std::ldexp(1.0, -f);
  // Operands of fixed_mul: their product must stay below 2^(value_bits - 1).
  const int operand_bits = (S::kValueBits - 1) / 2;
  const std::int64_t max_encoded = (std::int64_t{1} << (fixed.value_bits - 1)) - 1;
  const std::int64_t partner = max_signed<En>() / max_encoded;
  constexpr std::size_t kRows = 7, kInner = 5, kCols = 3;
  const int matrix_bits = std::min(operand_bits - 3, 24);  // Eigen's doubles stay exact

  for (const std::size_t parties : S::kParties) {
    CAPTURE(parties);
    std::mt19937_64 rng(parties + 77);
    const std::size_t n = 1000;
    auto xs = signed_inputs(rng, n, operand_bits, {0, 1, -1, max_encoded, -max_encoded, 5});
    auto ys = signed_inputs(rng, n, operand_bits, {7, -3, 1, partner, partner, 0});
    const auto a_enc = test::random_signed(rng, kRows * kInner, matrix_bits);
    const auto b_enc = test::random_signed(rng, kInner * kCols, matrix_bits);
    std::vector<double> a_real, b_real;
    for (auto v : a_enc) a_real.push_back(fixed.decode(v));
    for (auto v : b_enc) b_real.push_back(fixed.decode(v));

    const auto results = test::run_engine_seeded<En>(
        parties, test::seed_from(parties),
        [&](En& en) {
          const net::PartyId self = en.session().self();
          const auto xe = test::elements<E>(xs), ye = test::elements<E>(ys);
          const auto x = en.input(0, owned(self, 0, xe), n, "input x");
          const auto y = en.input(1, owned(self, 1, ye), n, "input y");
          std::vector<std::vector<E>> out;
          out.push_back(en.open(fixed_mul(en, x, y), "open fixed_mul"));
          const auto a_values = encode_fixed<E>(en.session().fixed(), a_real);
          const auto b_values = encode_fixed<E>(en.session().fixed(), b_real);
          const auto a = en.input(0, owned(self, 0, a_values), a_values.size(), "input a");
          const auto b = en.input(1, owned(self, 1, b_values), b_values.size(), "input b");
          const auto product = en.trunc(matmul(en, a, b, kRows, kInner, kCols), f, "trunc");
          out.push_back(en.open(product, "open product"));
          return out;
        },
        fixed);

    Eigen::MatrixXd a(kRows, kInner), b(kInner, kCols);
    for (std::size_t i = 0; i < kRows * kInner; ++i) a(i / kInner, i % kInner) = a_real[i];
    for (std::size_t i = 0; i < kInner * kCols; ++i) b(i / kCols, i % kCols) = b_real[i];
    const Eigen::MatrixXd expected = a * b;
    for (const auto& party : results) {
      std::size_t outside = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const i128 exact = test::floor_shift(static_cast<i128>(xs[i]) * ys[i], f);
        const i128 error = test::signed_of(party[0][i]) - exact;
        outside += error < S::kTruncLow || error > S::kTruncHigh;
      }
      CHECK(outside == 0);
      const auto decoded = decode_fixed<E>(fixed, party[1]);
      for (std::size_t i = 0; i < kRows * kCols; ++i) {
        const double want = expected(i / kCols, i % kCols);
        CAPTURE(i, want, decoded[i]);
        // floor(exact) + e, e in [low, high]: the value lies in (want + (low-1) ulp, want + high
        // ulp].
        CHECK(decoded[i] > want + (S::kTruncLow - 1) * ulp);
        CHECK(decoded[i] <= want + S::kTruncHigh * ulp);
      }
    }
  }
}

TEMPLATE_TEST_CASE("conformance: comparisons, select, max and clamp", "[conformance]",
                   AdditiveEngine, ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  using E = typename En::Element;
  using S = Scheme<En>;
  const std::int64_t largest = max_signed<En>();
  const std::int64_t half = std::int64_t{1} << (S::kValueBits - 2);
  const std::int64_t low = -(half / 2), high = half / 2 + 5;
  for (const std::size_t parties : S::kParties) {
    const std::size_t longest = parties == S::kParties[0] ? kCompareLong : kCompareShort;
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, longest}) {
      CAPTURE(parties, n);
      std::mt19937_64 rng(parties * 7 + n);
      // x alone spans the whole range; x - y stays inside it.
      const auto zs =
          signed_inputs(rng, n, S::kValueBits - 1, {0, -1, 1, largest, -largest, largest - 1});
      const auto xs = signed_inputs(rng, n, S::kValueBits - 2,
                                    {largest, 0, -largest, 0, 5, 5, 6, half, -(half - 1), -1, 0});
      const auto ys = signed_inputs(rng, n, S::kValueBits - 2,
                                    {0, largest, 0, -largest, 5, 6, 5, -(half - 1), half, 0, -1});
      // clamp compares x - low and high - x, which must stay inside the range too.
      const auto ws = signed_inputs(rng, n, S::kValueBits - 2,
                                    {low, high, low - 1, high + 1, 0, half - 1, -(half - 1), 3});
      std::vector<std::int64_t> bits(n);
      for (auto& bit : bits) bit = static_cast<std::int64_t>(rng() & 1);

      const auto results = test::run_engine_seeded<En>(parties, test::seed_from(n), [&](En& en) {
        const net::PartyId self = en.session().self();
        const auto ze = test::elements<E>(zs), xe = test::elements<E>(xs),
                   ye = test::elements<E>(ys), we = test::elements<E>(ws),
                   be = test::elements<E>(bits);
        const auto z = en.input(0, owned(self, 0, ze), n, "input z");
        const auto x = en.input(0, owned(self, 0, xe), n, "input x");
        const auto y = en.input(1, owned(self, 1, ye), n, "input y");
        const auto w = en.input(1, owned(self, 1, we), n, "input w");
        const auto b = en.input(1, owned(self, 1, be), n, "input bits");
        Opened<E> out;
        out["ltz"] = en.open(en.less_than_zero(z, "ltz"), "open");
        out["lt"] = en.open(less_than(en, x, y), "open");
        out["gt"] = en.open(greater_than(en, x, y), "open");
        out["max"] = en.open(max(en, x, y), "open");
        out["select"] = en.open(select(en, b, x, y), "open");
        out["xor"] = en.open(bit_xor(en, b, less_than(en, x, y), "xor"), "open");
        out["clamp"] = en.open(clamp(en, w, test::elem<E>(low), test::elem<E>(high)), "open");
        out["clamp point"] = en.open(clamp(en, w, test::elem<E>(3), test::elem<E>(3)), "open");
        return out;
      });
      for (const auto& out : results) {
        for (const auto& [name, values] : out) REQUIRE(values.size() == n);
        std::size_t wrong = 0, first_wrong = n;
        for (std::size_t i = 0; i < n; ++i) {
          const std::size_t wrong_before = wrong;
          const i128 x = xs[i], y = ys[i], w = ws[i];
          const i128 lt = x < y ? 1 : 0;
          const auto got = [&](const char* name) { return test::signed_of(out.at(name)[i]); };
          wrong += got("ltz") != (zs[i] < 0 ? 1 : 0);
          wrong += got("lt") != lt;
          wrong += got("gt") != (x > y ? 1 : 0);
          wrong += got("max") != std::max(x, y);
          wrong += got("select") != (bits[i] ? x : y);
          wrong += got("xor") != (bits[i] ^ lt);
          wrong += got("clamp") != std::clamp<i128>(w, low, high);
          wrong += got("clamp point") != 3;
          if (wrong != wrong_before && first_wrong == n) first_wrong = i;
        }
        CAPTURE(first_wrong);
        CHECK(wrong == 0);
      }
    }
  }
}

TEMPLATE_TEST_CASE("conformance: bit_less_than against plaintext", "[conformance]", AdditiveEngine,
                   ShamirEngine<Fp61>, ShamirEngine<Fp127>) {
  using En = TestType;
  using E = typename En::Element;
  const std::size_t parties = Scheme<En>::kParties[1];
  for (const std::size_t width :
       {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{8}, std::size_t{13}}) {
    CAPTURE(width);
    std::mt19937_64 rng(width);
    const std::uint64_t limit = (std::uint64_t{1} << width) - 1;
    std::vector<u128> cs{0, limit, 1};
    std::vector<std::uint64_t> rs{limit, 0, 1};
    for (std::uint64_t c = 0; c <= std::min<std::uint64_t>(limit, 15); ++c) {
      for (std::uint64_t r = 0; r <= std::min<std::uint64_t>(limit, 15); ++r) {
        cs.push_back(c);
        rs.push_back(r);
      }
    }
    for (int i = 0; i < 50; ++i) {
      cs.push_back(rng() & limit);
      rs.push_back(rng() & limit);
    }
    std::vector<std::int64_t> bits;
    for (auto r : rs) {
      for (std::size_t b = 0; b < width; ++b)
        bits.push_back(static_cast<std::int64_t>((r >> b) & 1));
    }
    const auto results = test::run_engine_seeded<En>(parties, test::seed_from(width), [&](En& en) {
      const auto be = test::elements<E>(bits);
      const auto r = en.input(0, owned(en.session().self(), 0, be), be.size(), "input bits");
      return en.open(bit_less_than(en, cs, r, width, "bit_less_than"), "open");
    });
    for (const auto& out : results) {
      REQUIRE(out.size() == cs.size());
      for (std::size_t k = 0; k < cs.size(); ++k) {
        CAPTURE(static_cast<std::uint64_t>(cs[k]), rs[k]);
        CHECK(test::signed_of(out[k]) == (cs[k] < rs[k] ? 1 : 0));
      }
    }
  }
}

TEMPLATE_TEST_CASE("conformance: element arithmetic against the oracle on edge values",
                   "[conformance]", Ring64, Fp61, Fp127) {
  using E = TestType;
  const u128 m = test::modulus<E>();
  // Values at the ends of the domain and at the word and reduction boundaries, then random ones.
  std::vector<u128> reps{0, 1, 2, 3, m - 1, m - 2, m / 2, m / 2 + 1};
  for (const int bit : {32, 60, 61, 63, 64, 65, 96, 125, 126}) {
    const u128 power = u128{1} << bit;
    for (const u128 v : {power - 1, power, power + 1}) {
      if (v < m) reps.push_back(v);
    }
  }
  std::mt19937_64 rng(127);
  for (int i = 0; i < 40; ++i) reps.push_back(test::rep(test::random_element<E>(rng)));
  for (const u128 a : reps) {
    const E x = test::from_rep<E>(a);
    CAPTURE(static_cast<std::uint64_t>(a >> 64), static_cast<std::uint64_t>(a));
    CHECK(test::rep(-x) == test::sub_mod<E>(0, a));
    for (const u128 b : reps) {
      const E y = test::from_rep<E>(b);
      CAPTURE(static_cast<std::uint64_t>(b >> 64), static_cast<std::uint64_t>(b));
      CHECK(test::rep(x + y) == test::add_mod<E>(a, b));
      CHECK(test::rep(x - y) == test::sub_mod<E>(a, b));
      CHECK(test::rep(x * y) == test::mul_mod<E>(a, b));
    }
  }
  if constexpr (!std::is_same_v<E, Ring64>) {  // reduce() takes any word of the width
    using Word = std::conditional_t<std::is_same_v<E, Fp127>, u128, std::uint64_t>;
    std::vector<Word> words{0,
                            1,
                            static_cast<Word>(m),
                            static_cast<Word>(m + 1),
                            static_cast<Word>(2 * m),
                            static_cast<Word>(~Word{0}),
                            static_cast<Word>(~Word{0} - 1)};
    for (int i = 0; i < 1000; ++i) words.push_back(static_cast<Word>((u128{rng()} << 64) | rng()));
    for (const Word w : words) {
      CAPTURE(static_cast<std::uint64_t>(u128{w} >> 64), static_cast<std::uint64_t>(w));
      CHECK(test::rep(E::reduce(w)) == u128{w} % m);
    }
  }
}

TEST_CASE("conformance: fixed-point encode and decode", "[conformance]") {
  for (const FixedPoint fixed : {FixedPoint{}, FixedPoint{5, 16}, FixedPoint{20, 64}}) {
    CAPTURE(fixed.frac_bits, fixed.value_bits);
    const double ulp = std::ldexp(1.0, -fixed.frac_bits);
    const double max = fixed.max_value();
    std::mt19937_64 rng(fixed.value_bits);
    std::uniform_real_distribution<double> dist(-max, max);
    std::vector<double> values{0.0, ulp, -ulp, ulp / 4, max - ulp, -(max - ulp), 1.5, -2.25};
    for (int i = 0; i < 1000; ++i) values.push_back(dist(rng));
    for (const double v : values) {
      if (std::fabs(std::nearbyint(std::ldexp(v, fixed.frac_bits))) >=
          std::ldexp(1.0, fixed.value_bits - 1)) {
        continue;  // rounds up to the excluded bound
      }
      CAPTURE(v);
      const std::int64_t encoded = fixed.encode(v);
      CHECK(std::fabs(fixed.decode(encoded) - v) <= ulp / 2);
      // Through the element types used by the engines, including the public-vector helpers.
      const std::vector<double> one{v};
      CHECK(decode_fixed<Ring64>(fixed, encode_fixed<Ring64>(fixed, one))[0] ==
            fixed.decode(encoded));
      CHECK(decode_fixed<Fp127>(fixed, encode_fixed<Fp127>(fixed, one))[0] ==
            fixed.decode(encoded));
      if (fixed.value_bits <= 16) {
        CHECK(decode_fixed<Fp61>(fixed, encode_fixed<Fp61>(fixed, one))[0] ==
              fixed.decode(encoded));
      }
    }
  }
}

}  // namespace
}  // namespace sm::mpc
