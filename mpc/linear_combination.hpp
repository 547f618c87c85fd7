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

// x w (x, w < 2^127) folded below 2^128, congruent to it modulo 2^127 - 1: Fp127's product
// without its final reduction, for sums that reduce once.
inline u128 product_folded(u128 x, u128 w) {
  const auto x0 = static_cast<std::uint64_t>(x), x1 = static_cast<std::uint64_t>(x >> 64);
  const auto w0 = static_cast<std::uint64_t>(w), w1 = static_cast<std::uint64_t>(w >> 64);
  const u128 p00 = static_cast<u128>(x0) * w0;
  const u128 middle = static_cast<u128>(x0) * w1 + static_cast<u128>(x1) * w0;  // x1, w1 < 2^63
  const u128 low = p00 + (middle << 64);
  const u128 high = static_cast<u128>(x1) * w1 + (middle >> 64) + (low < p00);  // < 2^126
  return (low & Fp127::kModulus) + ((high << 1) | (low >> 127));
}

inline constexpr std::uint64_t kSmallWeight = std::uint64_t{1} << 32;
inline constexpr std::size_t kCombineBlock = 64;

}  // namespace linear_combination_detail

// out[i] = sum_q weights[q] points[q][i] for i < length. out may be one of the points: each block
// of kCombineBlock outputs is written after all points of that block are read.
// Fp61: 128-bit products summed without reduction, reduced once per output (and every 32 terms).
// Fp127: weights w with w or -w below 2^32 (the Vandermonde rows, and many Lagrange weights for
// small N) cost two word multiplications and no reduction; others (e.g. DegreeReduction's) four,
// folded below 2^128 and summed with their carries counted, one reduction per output.
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
    std::array<u128, kCombineBlock> plus_lo, plus_hi, minus_lo, minus_hi, general;
    std::array<std::uint64_t, kCombineBlock> general_carries;
    // Classify the weights once: small (w < 2^32), small negated (-w < 2^32), or general.
    enum class Kind { kPlus, kMinus, kGeneral };
    std::vector<Kind> kinds(points.size());
    std::vector<std::uint64_t> small(points.size(), 0);
    bool any_plus = false, any_minus = false, any_general = false;
    for (std::size_t q = 0; q < points.size(); ++q) {
      const u128 w = to_unsigned(weights[q]), minus_w = to_unsigned(-weights[q]);
      if (w < kSmallWeight) {
        kinds[q] = Kind::kPlus;
        small[q] = static_cast<std::uint64_t>(w);
        any_plus = true;
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
      if (any_plus) plus_lo.fill(0), plus_hi.fill(0);
      if (any_minus) minus_lo.fill(0), minus_hi.fill(0);
      if (any_general) general.fill(0), general_carries.fill(0);
      for (std::size_t q = 0; q < points.size(); ++q) {
        const F* x = points[q] + begin;
        if (kinds[q] == Kind::kGeneral) {
          // Folded products summed in 128 bits; the carries out (each worth 2^128 = 2) counted.
          const u128 w = weights[q].value();
          for (std::size_t i = 0; i < size; ++i) {
            const u128 term = product_folded(x[i].value(), w);
            general[i] += term;
            general_carries[i] += general[i] < term;
          }
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
      for (std::size_t i = 0; i < size; ++i) {
        out[begin + i] = any_plus ? reduce_split(plus_lo[i], plus_hi[i]) : F(0);
      }
      if (any_minus) {
        for (std::size_t i = 0; i < size; ++i) {
          out[begin + i] -= reduce_split(minus_lo[i], minus_hi[i]);
        }
      }
      if (any_general) {
        for (std::size_t i = 0; i < size; ++i) {
          out[begin + i] += Fp127::reduce(general[i]) + Fp127(u128{2} * general_carries[i]);
        }
      }
    }
  }
}

}  // namespace sm::mpc
