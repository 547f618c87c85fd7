// Properties of the sharing schemes themselves:
//   - shares reveal nothing on their own: for a fixed secret, one additive share (any N-1 of
//     them), and any t Shamir shares, are uniformly distributed (chi-square tests at
//     significance 1e-6 on fixed seeds), while the same statistics reject N additive shares and
//     t+1 Shamir shares, which determine the secret;
//   - an inconsistent Shamir share at an opening ends the run at every party with a clear
//     ProtocolError, and open_to's target detects it;
//   - trunc_sum_of_products and open_products open degree-2t polynomials that are uniform given
//     their values at 0 (the same chi-square tests on their coefficients of degree t + 1 .. 2t);
//   - FixedPoint::encode rejects NaN, infinities and out-of-range values with InputError.
#include <catch2/catch.hpp>
#include <limits>
#include <map>
#include <string>

#include "mpc/ops.hpp"
#include "mpc/serialize.hpp"
#include "mpc/shamir.hpp"
#include "tests/support/oracle.hpp"

namespace sm::mpc {
namespace {

using test::u128;

constexpr double kSignificance = 1e-6;
constexpr std::size_t kSamples = 16000;

template <class E>
std::vector<std::uint64_t> histogram(std::span<const E> values, std::size_t buckets) {
  std::vector<std::uint64_t> counts(buckets);
  for (const E v : values) ++counts[test::bucket_of(v, buckets)];
  return counts;
}

// Joint buckets of several share vectors: `per_axis` buckets on each.
template <class E>
std::vector<std::uint64_t> joint_histogram(const std::vector<const std::vector<E>*>& columns,
                                           std::size_t per_axis) {
  std::size_t cells = 1;
  for (std::size_t i = 0; i < columns.size(); ++i) cells *= per_axis;
  std::vector<std::uint64_t> counts(cells);
  for (std::size_t k = 0; k < columns[0]->size(); ++k) {
    std::size_t cell = 0;
    for (const auto* column : columns)
      cell = cell * per_axis + test::bucket_of((*column)[k], per_axis);
    ++counts[cell];
  }
  return counts;
}

// Every party's shares alone, and (with `pairs`) every two parties' shares jointly in 16 x 16
// buckets, pass the chi-square test of uniformity.
template <class E>
void check_shares_uniform(const std::vector<std::vector<E>>& shares, bool pairs) {
  for (std::size_t j = 0; j < shares.size(); ++j) {
    CAPTURE(j);
    CHECK(test::chi_square_uniform(histogram<E>(shares[j], 16)).p_value > kSignificance);
  }
  if (!pairs) return;
  for (std::size_t i = 0; i < shares.size(); ++i) {
    for (std::size_t j = i + 1; j < shares.size(); ++j) {
      CAPTURE(i, j);
      const auto joint = joint_histogram<E>({&shares[i], &shares[j]}, 16);
      CHECK(test::chi_square_uniform(joint).p_value > kSignificance);
    }
  }
}

TEST_CASE("the chi-square p-value matches published critical values", "[sharing]") {
  // Upper critical values of the chi-square distribution (NIST/SEMATECH e-Handbook, 1.3.6.7.4).
  struct Row {
    double degrees, statistic, p;
  };
  for (const Row row : {Row{1, 3.841, 0.05}, Row{3, 11.345, 0.01}, Row{15, 24.996, 0.05},
                        Row{15, 30.578, 0.01}, Row{100, 124.342, 0.05}, Row{100, 135.807, 0.01}}) {
    CAPTURE(row.degrees, row.statistic);
    CHECK(test::gamma_q(row.degrees / 2, row.statistic / 2) == Approx(row.p).epsilon(2e-3));
  }
  // A fair and a visibly loaded die.
  const std::vector<std::uint64_t> fair{1000, 1000, 1000, 1000, 1000, 1000};
  const std::vector<std::uint64_t> loaded{1000, 1000, 1000, 1000, 1000, 1300};
  CHECK(test::chi_square_uniform(fair).p_value == Approx(1.0));
  CHECK(test::chi_square_uniform(loaded).p_value < kSignificance);
}

TEST_CASE("a single additive share, and any N-1 jointly, are uniform, but all N are not", "[sharing]") {
  const Ring64 secret = Ring64::from_int(123456789);
  for (const std::size_t parties : {2, 3, 5}) {
    CAPTURE(parties);
    // The owner shares the same secret kSamples times through AdditiveEngine::input: every
    // element uses fresh pairwise PRG output.
    const std::vector<Ring64> secrets(kSamples, secret);
    const auto shares = test::run_engine_seeded<AdditiveEngine>(
        parties, test::seed_from(parties), [&](AdditiveEngine& en) {
          const bool owner = en.session().self() == 0;
          return en
              .input(0, owner ? std::span<const Ring64>(secrets) : std::span<const Ring64>(),
                     kSamples, "input")
              .values;
        });
    // Pairs of shares too, when they are fewer than N.
    check_shares_uniform(shares, parties >= 3);
    // The same statistic sees through all N shares: they sum to the secret.
    if (parties <= 3) {
      std::vector<const std::vector<Ring64>*> all;
      for (const auto& s : shares) all.push_back(&s);
      const auto joint = joint_histogram<Ring64>(all, parties == 2 ? 16 : 8);
      CHECK(test::chi_square_uniform(joint).p_value < kSignificance);
    }
    std::vector<Ring64> sums(kSamples);
    for (std::size_t k = 0; k < kSamples; ++k) {
      for (const auto& s : shares) sums[k] += s[k];
    }
    CHECK(sums == secrets);
    CHECK(test::chi_square_uniform(histogram<Ring64>(sums, 16)).p_value < kSignificance);
  }
}

// Lagrange coefficients at 0 for the points 1..m, computed with the oracle's arithmetic.
template <class F>
std::vector<u128> lagrange_at_zero(std::size_t m) {
  auto power = [](u128 a, u128 e) {
    u128 r = 1;
    for (; e != 0; e >>= 1, a = test::mul_mod<F>(a, a)) {
      if (e & 1) r = test::mul_mod<F>(r, a);
    }
    return r;
  };
  std::vector<u128> lambda(m);
  for (std::size_t i = 1; i <= m; ++i) {
    u128 num = 1, den = 1;
    for (std::size_t j = 1; j <= m; ++j) {
      if (j == i) continue;
      num = test::mul_mod<F>(num, j);
      den = test::mul_mod<F>(den, test::sub_mod<F>(j, i));
    }
    lambda[i - 1] = test::mul_mod<F>(num, power(den, test::modulus<F>() - 2));
  }
  return lambda;
}

TEMPLATE_TEST_CASE("any t Shamir shares are uniform, but t+1 are not", "[sharing]", Fp61, Fp127) {
  using F = TestType;
  const F secret = test::elem<F>(-987654321);
  for (const std::size_t parties : {3, 5, 7}) {
    const std::size_t t = test::threshold_for(parties);
    CAPTURE(parties, t);
    // kSamples sharings of the same secret through ShamirCodec::share, each on its own PRG
    // stream; shares[j][k] is party j's share in sharing k.
    const ShamirCodec<F> codec(parties, t);
    std::vector<std::vector<F>> shares(parties, std::vector<F>(kSamples));
    const std::vector<F> one{secret};
    for (std::size_t k = 0; k < kSamples; ++k) {
      Prg prg(test::seed_from(parties), k);
      const auto sharing = codec.share(one, prg);
      for (std::size_t j = 0; j < parties; ++j) shares[j][k] = sharing[j][0];
    }
    for (std::size_t j = 0; j < parties; ++j) {
      CAPTURE(j);
      CHECK(test::chi_square_uniform(histogram<F>(shares[j], 16)).p_value > kSignificance);
    }
    // Pairs within any t parties (t >= 2): 16 x 16 buckets.
    if (t >= 2) {
      for (std::size_t i = 0; i < parties; ++i) {
        for (std::size_t j = i + 1; j < parties; ++j) {
          CAPTURE(i, j);
          const auto joint = joint_histogram<F>({&shares[i], &shares[j]}, 16);
          CHECK(test::chi_square_uniform(joint).p_value > kSignificance);
        }
      }
    }
    if (t >= 3) {
      const auto joint = joint_histogram<F>({&shares[0], &shares[3], &shares[6]}, 8);
      CHECK(test::chi_square_uniform(joint).p_value > kSignificance);
    }
    // With t = 1, two shares lie on a line through the secret: the pair's buckets are far
    // from uniform.
    if (t == 1) {
      const auto joint = joint_histogram<F>({&shares[0], &shares[1]}, 16);
      CHECK(test::chi_square_uniform(joint).p_value < kSignificance);
    }
    // The interpolation of parties 0..t's shares at 0 is the secret: a function of t+1 shares
    // that does not look uniform at all. The same combination of only t shares (the first t
    // coefficients) is uniform.
    const auto lambda = lagrange_at_zero<F>(t + 1);
    std::vector<F> from_t_plus_1(kSamples), from_t(kSamples);
    for (std::size_t k = 0; k < kSamples; ++k) {
      u128 sum = 0;
      for (std::size_t i = 0; i <= t; ++i) {
        if (i == t) from_t[k] = test::from_rep<F>(sum);
        sum = test::add_mod<F>(sum, test::mul_mod<F>(lambda[i], test::rep(shares[i][k])));
      }
      from_t_plus_1[k] = test::from_rep<F>(sum);
    }
    CHECK(from_t_plus_1 == std::vector<F>(kSamples, secret));
    CHECK(test::chi_square_uniform(histogram<F>(from_t_plus_1, 16)).p_value < kSignificance);
    CHECK(test::chi_square_uniform(histogram<F>(from_t, 16)).p_value > kSignificance);
  }
}

TEMPLATE_TEST_CASE("ShamirEngine::input: any t parties' shares are uniform, t + 1 are not",
                   "[sharing]", Fp61, Fp127) {
  using F = TestType;
  using En = ShamirEngine<F>;
  const F secret = test::elem<F>(424242);
  for (const std::size_t parties : {3, 5}) {
    const std::size_t t = test::threshold_for(parties);
    CAPTURE(parties, t);
    // Party 1 inputs the same secret kSamples times: its next t parties draw their shares from
    // the seed they share with it, the others receive theirs.
    const std::vector<F> secrets(kSamples, secret);
    const auto shares = test::run_engine_seeded<En>(parties, test::seed_from(parties), [&](En& en) {
      const bool owner = en.session().self() == 1;
      try {  // an owner outside the mesh is refused at every party before anything is sent
        en.input(static_cast<net::PartyId>(parties), std::span<const F>(), 1, "no such owner");
        throw std::logic_error("an input from party N was accepted");
      } catch (const std::invalid_argument& e) {
        if (std::string(e.what()).find("no party") == std::string::npos) throw;
      }
      auto x = en.input(1, owner ? std::span<const F>(secrets) : std::span<const F>(), kSamples,
                        "input");
      if (en.open(x, "open") != secrets) throw std::logic_error("input opened wrongly");
      return x.values;
    });
    check_shares_uniform(shares, t >= 2);
    if (t == 1) {
      // Two shares of a degree-1 sharing lie on a line through the secret.
      const auto joint = joint_histogram<F>({&shares[1], &shares[2]}, 16);
      CHECK(test::chi_square_uniform(joint).p_value < kSignificance);
    }
  }
}

TEMPLATE_TEST_CASE("ShamirEngine::input from a vector deals into its storage, as from a span",
                   "[sharing]", Fp61, Fp127) {
  using F = TestType;
  using En = ShamirEngine<F>;
  // Lengths around the owner's dealing chunk (4096 elements), so that the seeded peers' draws of
  // all n at once must meet the owner's chunked draws.
  for (const std::size_t parties : {3, 5}) {
    for (const std::size_t n : {std::size_t{1}, std::size_t{4096}, std::size_t{10001}}) {
      CAPTURE(parties, n);
      std::vector<F> secrets(n);
      for (std::size_t i = 0; i < n; ++i) {
        secrets[i] = test::elem<F>(static_cast<std::int64_t>(i * 7919 + parties));
      }
      const auto opened =
          test::run_engine_seeded<En>(parties, test::seed_from(parties + n), [&](En& en) {
            const net::PartyId owner = 2;
            const bool mine = en.session().self() == owner;
            std::vector<F> values = mine ? secrets : std::vector<F>{};
            const F* storage = values.data();
            const auto moved = en.input(owner, std::move(values), n, "input from a vector");
            if (mine && moved.values.data() != storage) {
              throw std::logic_error("the owner's shares are not in its values' storage");
            }
            const auto spanned =
                en.input(owner, mine ? std::span<const F>(secrets) : std::span<const F>(), n,
                         "input from a span");
            return std::vector<std::vector<F>>{en.open(moved, "open moved"),
                                               en.open(spanned, "open spanned")};
          });
      for (const auto& party : opened) {
        CHECK(party[0] == secrets);
        CHECK(party[1] == secrets);
      }
    }
  }
}

// How one party's run ended.
struct Outcome {
  enum Kind { kOk, kProtocolError, kNetError, kOther } kind = kOk;
  std::string message;
  bool got_values = false;
};

template <class F, class Fn>
std::vector<Outcome> outcomes(std::size_t parties, Fn fn) {
  using En = ShamirEngine<F>;
  return test::run_engine_seeded<En>(parties, test::seed_from(99), [&](En& en) {
    Outcome out;
    try {
      out.got_values = fn(en);
    } catch (const ProtocolError& e) {
      out = {Outcome::kProtocolError, e.what()};
    } catch (const NetError& e) {
      out = {Outcome::kNetError, e.what()};
    } catch (const std::exception& e) {
      out = {Outcome::kOther, e.what()};
    }
    return out;
  });
}

TEMPLATE_TEST_CASE("an inconsistent Shamir share at an open ends the run at every party",
                   "[sharing]", Fp61, Fp127) {
  using F = TestType;
  using En = ShamirEngine<F>;
  const std::vector<F> values{F(10), F(20), F(30), F(40), F(50)};
  for (const std::size_t parties : {5, 7}) {
    // A party of the interpolation set (0) and one that is checked against it (the last).
    for (const net::PartyId cheater : {net::PartyId{0}, net::PartyId{parties - 1}}) {
      CAPTURE(parties, cheater);
      auto open_with_bad_share = [&](En& en) {
        const net::PartyId self = en.session().self();
        auto x = en.input(1, self == 1 ? std::span<const F>(values) : std::span<const F>(),
                          values.size(), "input");
        if (self == cheater) x.values[3] += F(1);
        en.open(x, "open x");
        return true;
      };
      const auto results = outcomes<F>(parties, open_with_bad_share);
      for (net::PartyId party = 0; party < parties; ++party) {
        CAPTURE(party, results[party].message);
        CHECK(results[party].kind != Outcome::kOk);
        CHECK(results[party].kind != Outcome::kOther);
        if (party != cheater) {
          CHECK(results[party].kind == Outcome::kProtocolError);
          CHECK_THAT(results[party].message,
                     Catch::Contains("inconsistent Shamir shares at element 3") &&
                         Catch::Contains("the run is aborted"));
        }
      }
      // Uncaught, the error ends the whole run with the same ProtocolError.
      bool run_ended = false;
      try {
        test::run_engine_seeded<En>(parties, test::seed_from(1), open_with_bad_share);
      } catch (const ProtocolError& e) {
        run_ended = true;
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("inconsistent Shamir shares at element 3"));
      }
      CHECK(run_ended);
    }
  }
}

TEMPLATE_TEST_CASE("open_to's target detects an inconsistent share", "[sharing]", Fp61, Fp127) {
  using F = TestType;
  using En = ShamirEngine<F>;
  constexpr std::size_t kParties = 5;
  const std::vector<F> values{F(1), F(2), F(3)};
  for (const net::PartyId target : {net::PartyId{0}, net::PartyId{4}}) {
    const net::PartyId cheater = target == 0 ? 4 : 1;
    CAPTURE(target, cheater);
    const auto results = outcomes<F>(kParties, [&](En& en) {
      const net::PartyId self = en.session().self();
      auto x = en.input(2, self == 2 ? std::span<const F>(values) : std::span<const F>(),
                        values.size(), "input");
      if (self == cheater) x.values[0] -= F(5);
      return en.open_to(target, x, "open_to").has_value();
    });
    for (net::PartyId party = 0; party < kParties; ++party) {
      CAPTURE(party, results[party].message);
      if (party == target) {
        CHECK(results[party].kind == Outcome::kProtocolError);
        CHECK_THAT(results[party].message,
                   Catch::Contains("inconsistent Shamir shares at element 0"));
      } else {
        // The others only send: they finish, with nothing.
        CHECK(results[party].kind == Outcome::kOk);
        CHECK_FALSE(results[party].got_values);
      }
    }
  }
  // Without a bad share the same opening succeeds at the target only.
  const auto honest = outcomes<F>(kParties, [&](En& en) {
    const net::PartyId self = en.session().self();
    const auto x = en.input(2, self == 2 ? std::span<const F>(values) : std::span<const F>(),
                            values.size(), "input");
    const auto opened = en.open_to(0, x, "open_to");
    if (opened && *opened != values) throw std::logic_error("open_to gave wrong values");
    return opened.has_value();
  });
  for (net::PartyId party = 0; party < kParties; ++party) {
    CAPTURE(party, honest[party].message);
    CHECK(honest[party].kind == Outcome::kOk);
    CHECK(honest[party].got_values == (party == 0));
  }
}

// Passes every round on unchanged and keeps a copy of the first message this party sends in
// each named step (in an opening: its share).
class RecordingMesh final : public net::Mesh {
 public:
  explicit RecordingMesh(net::Mesh& inner) : Mesh(inner.self(), test::names_of(inner)), inner_(inner) {}
  void close() override { inner_.close(); }
  const net::Bytes& sent(const std::string& step) const { return sent_.at(step); }

 protected:
  std::vector<net::Bytes> transfer(std::span<const net::Outgoing> sends,
                                   std::span<const net::PartyId> receive_from,
                                   std::string_view step) override {
    if (!sends.empty()) sent_[std::string(step)].assign(sends[0].data.begin(), sends[0].data.end());
    return inner_.round(sends, receive_from, step);
  }

 private:
  net::Mesh& inner_;
  std::map<std::string, net::Bytes> sent_;
};

// The coefficients of degree lowest.. of the polynomials of degree below shares.size() through
// (party + 1, shares[party][k]), for every k: coefficients[d - lowest][k].
template <class F>
std::vector<std::vector<F>> coefficients_from(const std::vector<std::vector<F>>& shares,
                                              std::size_t lowest) {
  const std::size_t m = shares.size();
  // basis[j][d]: the coefficient of X^d in the Lagrange basis polynomial of point j + 1.
  std::vector<std::vector<F>> basis(m);
  for (std::size_t j = 0; j < m; ++j) {
    std::vector<F> poly{F(1)};
    F denominator(1);
    for (std::size_t l = 0; l < m; ++l) {
      if (l == j) continue;
      const F point(l + 1);
      std::vector<F> next(poly.size() + 1, F(0));  // poly (X - point)
      for (std::size_t d = 0; d < poly.size(); ++d) {
        next[d + 1] += poly[d];
        next[d] -= point * poly[d];
      }
      poly = std::move(next);
      denominator *= F(j + 1) - point;
    }
    const F scale = inverse(denominator);
    for (auto& c : poly) c *= scale;
    basis[j] = std::move(poly);
  }
  std::vector<std::vector<F>> out(m - lowest, std::vector<F>(shares[0].size(), F(0)));
  for (std::size_t d = lowest; d < m; ++d) {
    for (std::size_t j = 0; j < m; ++j) {
      for (std::size_t k = 0; k < shares[j].size(); ++k) {
        out[d - lowest][k] += basis[j][d] * shares[j][k];
      }
    }
  }
  return out;
}

TEMPLATE_TEST_CASE("trunc_sum_of_products and open_products open polynomials uniform but at 0",
                   "[sharing]", Fp61, Fp127) {
  using F = TestType;
  using En = ShamirEngine<F>;
  for (const std::size_t parties : {3, 5}) {
    const std::size_t t = test::threshold_for(parties);
    CAPTURE(parties, t);
    // Public factors and addend (constant sharings, degree 0): the sums' local shares all equal
    // 2, and r's sharing has degree t, so without the fresh degree-2t sharing of 0 the opened
    // polynomial's coefficients of degree t + 1 .. 2t would be 0, as they are in trunc's
    // opening of a degree-t sharing.
    const auto sent = net::run_parties(parties, [&](net::Mesh& mesh) {
      RecordingMesh recording(mesh);
      const Seed master = test::seed_from(parties);
      Session session(recording, PrgState::from_master_seed(master, mesh.self(), parties));
      LocalDealerUnsafe<F> dealer(master, mesh.self(), parties, t, En::kDefaultValueBits);
      En en(session, dealer, t);
      const auto ones = en.constant(std::vector<F>(2 * kSamples, F(1)));
      const auto zeros = en.constant(std::vector<F>(kSamples, F(0)));
      trunc_sum_of_products(en, ones, ones, zeros, 4, "sums");
      en.open_products(slice(ones, 0, kSamples), "products");
      en.trunc(zeros, 4, "trunc");
      std::vector<std::vector<F>> out;
      for (const std::string step : {"sums", "products", "trunc"}) {
        out.push_back(from_bytes<F>(recording.sent(step), kSamples, "party", step));
      }
      return out;
    });
    std::vector<std::vector<F>> sums, products, truncs;
    for (const auto& party : sent) {
      sums.push_back(party[0]);
      products.push_back(party[1]);
      truncs.push_back(party[2]);
    }
    check_shares_uniform(coefficients_from(sums, t + 1), true);
    check_shares_uniform(coefficients_from(products, t + 1), true);
    // A fresh sharing of 0 per opening: the two openings' top coefficients differ.
    CHECK(coefficients_from(sums, t + 1) != coefficients_from(products, t + 1));
    truncs.resize(2 * t + 1);
    for (const auto& coefficient : coefficients_from(truncs, t + 1)) {
      CHECK(coefficient == std::vector<F>(kSamples, F(0)));
    }
  }
}

TEST_CASE("FixedPoint::encode rejects NaN, infinities and out-of-range values", "[sharing]") {
  for (const FixedPoint fixed : {FixedPoint{}, FixedPoint{5, 16}, FixedPoint{20, 52}}) {
    CAPTURE(fixed.frac_bits, fixed.value_bits);
    const double max = fixed.max_value();
    const double ulp = std::ldexp(1.0, -fixed.frac_bits);
    for (const double bad : {std::nan(""), std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(), max, -max, 2 * max, -2 * max,
                             1e300, -1e300, max - ulp / 4}) {
      CAPTURE(bad);
      CHECK_THROWS_AS(fixed.encode(bad), InputError);
    }
    CHECK_THROWS_WITH(fixed.encode(max), Catch::Contains("outside the fixed-point range"));
    // The largest values inside the range encode exactly.
    const auto top = static_cast<std::int64_t>(std::ldexp(1.0, fixed.value_bits - 1)) - 1;
    CHECK(fixed.encode(max - ulp) == top);
    CHECK(fixed.encode(-(max - ulp)) == -top);
    CHECK(fixed.encode(0.0) == 0);
  }
}

}  // namespace
}  // namespace sm::mpc
