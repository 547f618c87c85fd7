// Test support: an independent plaintext oracle for the element types, seeded engine runs, and
// a chi-square goodness-of-fit test.
//
// The oracle does its arithmetic on unsigned 128-bit representatives with `%` and shift-and-add,
// never through Ring64 / Fp61 / Fp127's own operators, so a bug in an element type's reduction
// shows up as a disagreement instead of being reproduced by the check.
//
//   auto out = run_engine_seeded<AdditiveEngine>(3, seed_from(1), [](AdditiveEngine& e) {...});
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

#include "mpc/additive_engine.hpp"
#include "mpc/local_dealer.hpp"
#include "mpc/mersenne.hpp"
#include "mpc/ring64.hpp"
#include "mpc/shamir_engine.hpp"
#include "net/local_mesh.hpp"
#include "tests/support/engines.hpp"

namespace sm::test {

using mpc::u128;
__extension__ typedef __int128 i128;

// ---- the element domains, seen as integers modulo m ------------------------------------------

// The modulus of E's domain: 2^64 for Ring64, p for the fields.
template <class E>
constexpr u128 modulus() {
  if constexpr (std::is_same_v<E, mpc::Ring64>) {
    return u128{1} << 64;
  } else {
    return static_cast<u128>(E::kModulus);
  }
}

template <class E>
constexpr u128 rep(E e) {
  return static_cast<u128>(e.value());
}

// The element whose representative is v (v < modulus<E>()).
template <class E>
constexpr E from_rep(u128 v) {
  if (v >= modulus<E>()) throw std::logic_error("oracle: representative out of range");
  if constexpr (std::is_same_v<E, mpc::Fp127>) {
    return E(v);
  } else {
    return E(static_cast<std::uint64_t>(v));
  }
}

// v mod m, for any signed v.
template <class E>
constexpr u128 rep_of(i128 v) {
  const u128 m = modulus<E>();
  if (v >= 0) return static_cast<u128>(v) % m;
  const u128 magnitude = static_cast<u128>(-(v + 1)) + 1;  // no overflow at the minimum
  const u128 r = magnitude % m;
  return r == 0 ? 0 : m - r;
}

template <class E>
constexpr E elem(i128 v) {
  return from_rep<E>(rep_of<E>(v));
}

// The signed value of a representative: the upper half of the domain is negative.
template <class E>
constexpr i128 signed_of(E e) {
  const u128 m = modulus<E>(), r = rep(e);
  return r >= (m + 1) / 2 ? -static_cast<i128>(m - r) : static_cast<i128>(r);
}

template <class E>
constexpr u128 add_mod(u128 a, u128 b) {
  return (a + b) % modulus<E>();  // a, b < 2^127 (fields) or <= 2^64: no overflow
}

template <class E>
constexpr u128 sub_mod(u128 a, u128 b) {
  return (a + (modulus<E>() - b)) % modulus<E>();
}

template <class E>
constexpr u128 mul_mod(u128 a, u128 b) {
  if ((a >> 64) == 0 && (b >> 64) == 0) return (a * b) % modulus<E>();
  u128 result = 0;  // shift-and-add, for Fp127's 127-bit operands
  for (int bit = 127; bit >= 0; --bit) {
    result = add_mod<E>(result, result);
    if ((b >> bit) & 1) result = add_mod<E>(result, a);
  }
  return result;
}

// ---- random and edge inputs ------------------------------------------------------------------

// Uniform over the whole domain.
template <class E>
E random_element(std::mt19937_64& rng) {
  const u128 word = (static_cast<u128>(rng()) << 64) | rng();
  if constexpr (std::is_same_v<E, mpc::Ring64>) {
    return from_rep<E>(word & ~std::uint64_t{0});
  } else {
    return from_rep<E>(word % modulus<E>());
  }
}

template <class E>
std::vector<E> random_elements(std::mt19937_64& rng, std::size_t n) {
  std::vector<E> out(n);
  for (auto& e : out) e = random_element<E>(rng);
  return out;
}

// Uniform signed integers with |v| < 2^bits (bits <= 63).
inline std::vector<std::int64_t> random_signed(std::mt19937_64& rng, std::size_t n, int bits) {
  const std::int64_t limit = static_cast<std::int64_t>((std::uint64_t{1} << bits) - 1);
  std::uniform_int_distribution<std::int64_t> dist(-limit, limit);
  std::vector<std::int64_t> out(n);
  for (auto& v : out) v = dist(rng);
  return out;
}

template <class E>
std::vector<E> elements(std::span<const std::int64_t> values) {
  std::vector<E> out;
  out.reserve(values.size());
  for (auto v : values) out.push_back(elem<E>(v));
  return out;
}

template <class E>
std::vector<i128> signed_values(std::span<const E> values) {
  std::vector<i128> out;
  out.reserve(values.size());
  for (auto e : values) out.push_back(signed_of(e));
  return out;
}

// floor(v / 2^bits) for signed v.
constexpr i128 floor_shift(i128 v, int bits) {
  const i128 d = i128{1} << bits;
  return v >= 0 ? v / d : -((-v + d - 1) / d);
}

// ---- engines on fixed seeds ------------------------------------------------------------------

inline mpc::Seed seed_from(std::uint64_t label) {
  mpc::Seed seed{};
  for (int i = 0; i < 8; ++i) seed[i] = static_cast<std::uint8_t>(label >> (8 * i));
  seed[15] = 0x5e;
  return seed;
}

// Like run_engine (tests/support/engines.hpp), but every party's PRG seeds and the dealer's seed
// are derived from `master`, so a run is reproducible bit for bit. fn(engine) runs at every party.
template <class En, class Fn>
auto run_engine_seeded(std::size_t n, const mpc::Seed& master, Fn fn, mpc::FixedPoint fixed = {}) {
  return net::run_parties(n, [&](net::Mesh& mesh) {
    mpc::Session session(mesh, mpc::PrgState::from_master_seed(master, mesh.self(), n), fixed);
    mpc::Seed dealer_seed = master;
    dealer_seed[15] ^= 0xd1;
    using E = typename En::Element;
    if constexpr (std::is_same_v<En, mpc::AdditiveEngine>) {
      mpc::LocalDealerUnsafe<E> dealer(dealer_seed, mesh.self(), n);
      En engine(session, dealer);
      return fn(engine);
    } else {
      mpc::LocalDealerUnsafe<E> dealer(dealer_seed, mesh.self(), n, threshold_for(n),
                                       En::kDefaultValueBits);
      En engine(session, dealer, threshold_for(n));
      return fn(engine);
    }
  });
}

// ---- chi-square goodness of fit --------------------------------------------------------------

// Q(a, x) = Gamma(a, x) / Gamma(a), the regularized upper incomplete gamma function (series for
// x < a + 1, Lentz's continued fraction otherwise; Numerical Recipes, 6.2).
inline double gamma_q(double a, double x) {
  if (x <= 0) return 1.0;
  const double log_prefix = -x + a * std::log(x) - std::lgamma(a);
  if (x < a + 1) {
    double term = 1.0 / a, sum = term;
    for (int k = 1; k < 10000 && std::fabs(term) > std::fabs(sum) * 1e-15; ++k) {
      term *= x / (a + k);
      sum += term;
    }
    return 1.0 - sum * std::exp(log_prefix);
  }
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-15) break;
  }
  return std::exp(log_prefix) * h;
}

struct ChiSquare {
  double statistic = 0;
  double degrees = 0;
  double p_value = 1;
};

// Pearson's test of `counts` against the uniform distribution over the buckets.
inline ChiSquare chi_square_uniform(std::span<const std::uint64_t> counts) {
  double total = 0;
  for (auto c : counts) total += static_cast<double>(c);
  const double expected = total / static_cast<double>(counts.size());
  ChiSquare result;
  for (auto c : counts) {
    const double diff = static_cast<double>(c) - expected;
    result.statistic += diff * diff / expected;
  }
  result.degrees = static_cast<double>(counts.size()) - 1;
  result.p_value = gamma_q(result.degrees / 2, result.statistic / 2);
  return result;
}

// The bucket of e among `buckets` equal slices of the domain (its top bits for Ring64).
template <class E>
std::size_t bucket_of(E e, std::size_t buckets) {
  const u128 width = modulus<E>() / buckets;
  const u128 b = rep(e) / width;
  return b >= buckets ? buckets - 1 : static_cast<std::size_t>(b);
}

}  // namespace sm::test
