// Linear combinations of vectors of field elements with public weights, the inner loop of
// Shamir reconstruction (ShamirCodec), of dealing, extraction and degree reduction
// (DealerFreeShamir). Header-only; no allocation beyond two vectors of one entry per weight.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "mpc/elements.hpp"
#include "mpc/mersenne.hpp"

namespace sm::mpc {

namespace linear_combination_detail {

// Reduces a 128-bit sum of products of Fp61 values.
inline Fp61 reduce_wide(u128 v) {
  const u128 once = (v & Fp61::kModulus) + (v >> 61);  // < 2^68
  return Fp61::reduce(static_cast<std::uint64_t>((once & Fp61::kModulus) + (once >> 61)));
}

// Reduces lo + hi 2^64 (lo, hi < 2^127) modulo 2^127 - 1: hi 2^64 = (hi mod 2^63) 2^64 +
// (hi >> 63) 2^127, and 2^127 = 1.
inline Fp127 reduce_split(u128 lo, u128 hi) {
  const u128 hi_low = hi & ((u128{1} << 63) - 1);
  return Fp127::reduce(lo) + Fp127::reduce((hi_low << 64) + (hi >> 63));
}

inline constexpr std::uint64_t kSmallWeight = std::uint64_t{1} << 32;
inline constexpr std::size_t kCombineBlock = 64;

}  // namespace linear_combination_detail

// out[i] = sum_q weights[q] points[q][i] for i < length. out may be one of the points: each block
// of kCombineBlock outputs is written after all points of that block are read.
// Fp61: 128-bit products summed without reduction, reduced once per output (and every 32 terms).
// Fp127: weights w with w or -w below 2^32 (the Vandermonde rows, and many Lagrange weights for
// small N) cost two word multiplications and no reduction; others a full field multiplication.
template <class F>
void linear_combination(F* out, std::size_t length, std::span<const F> weights,
                        std::span<const F* const> points) {
  using namespace linear_combination_detail;
  if constexpr (std::is_same_v<F, Fp61>) {
    std::array<u128, kCombineBlock> acc;
    for (std::size_t begin = 0; begin < length; begin += kCombineBlock) {
      const std::size_t size = std::min(kCombineBlock, length - begin);
      acc.fill(0);
      for (std::size_t q = 0; q < points.size(); ++q) {
        if (q > 0 && q % 32 == 0) {  // 32 products of 122 bits fit
          for (std::size_t i = 0; i < size; ++i) acc[i] = reduce_wide(acc[i]).value();
        }
        const std::uint64_t w = weights[q].value();
        const F* x = points[q] + begin;
        for (std::size_t i = 0; i < size; ++i) acc[i] += static_cast<u128>(x[i].value()) * w;
      }
      for (std::size_t i = 0; i < size; ++i) out[begin + i] = reduce_wide(acc[i]);
    }
  } else {
    std::array<u128, kCombineBlock> plus_lo, plus_hi, minus_lo, minus_hi;
    std::array<F, kCombineBlock> general;
    // Classify the weights once: small (w < 2^32), small negated (-w < 2^32), or general.
    enum class Kind { kPlus, kMinus, kGeneral };
    std::vector<Kind> kinds(points.size());
    std::vector<std::uint64_t> small(points.size(), 0);
    bool any_minus = false, any_general = false;
    for (std::size_t q = 0; q < points.size(); ++q) {
      const u128 w = to_unsigned(weights[q]), minus_w = to_unsigned(-weights[q]);
      if (w < kSmallWeight) {
        kinds[q] = Kind::kPlus;
        small[q] = static_cast<std::uint64_t>(w);
      } else if (minus_w < kSmallWeight) {
        kinds[q] = Kind::kMinus;
        small[q] = static_cast<std::uint64_t>(minus_w);
        any_minus = true;
      } else {
        kinds[q] = Kind::kGeneral;
        any_general = true;
      }
    }
    for (std::size_t begin = 0; begin < length; begin += kCombineBlock) {
      const std::size_t size = std::min(kCombineBlock, length - begin);
      plus_lo.fill(0), plus_hi.fill(0);
      if (any_minus) minus_lo.fill(0), minus_hi.fill(0);
      if (any_general) general.fill(F(0));
      for (std::size_t q = 0; q < points.size(); ++q) {
        const F* x = points[q] + begin;
        if (kinds[q] == Kind::kGeneral) {
          for (std::size_t i = 0; i < size; ++i) general[i] += weights[q] * x[i];
          continue;
        }
        auto& lo = kinds[q] == Kind::kPlus ? plus_lo : minus_lo;
        auto& hi = kinds[q] == Kind::kPlus ? plus_hi : minus_hi;
        const std::uint64_t w = small[q];
        for (std::size_t i = 0; i < size; ++i) {
          const u128 v = x[i].value();
          lo[i] += static_cast<u128>(static_cast<std::uint64_t>(v)) * w;
          hi[i] += static_cast<u128>(static_cast<std::uint64_t>(v >> 64)) * w;
        }
      }
      for (std::size_t i = 0; i < size; ++i) out[begin + i] = reduce_split(plus_lo[i], plus_hi[i]);
      if (any_minus) {
        for (std::size_t i = 0; i < size; ++i) {
          out[begin + i] -= reduce_split(minus_lo[i], minus_hi[i]);
        }
      }
      if (any_general) {
        for (std::size_t i = 0; i < size; ++i) out[begin + i] += general[i];
      }
    }
  }
}

}  // namespace sm::mpc
