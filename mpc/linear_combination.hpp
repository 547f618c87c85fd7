// Linear combinations of vectors of field elements, the inner loop of Shamir reconstruction
// (ShamirCodec), of dealing, extraction and degree reduction (DealerFreeShamir,
// DegreeReduction), with public weights there, and of the local products of shares in
// mpc/row_products.hpp, whose weights may be shares. Which path a weight takes (small or
// general, zero or not) depends on its value, so the time taken may tell this party about its
// own weights; it sends nothing, so nothing reaches a peer. Header-only; no allocation beyond a
// few vectors of one entry per weight. inner_product: the dot product of two vectors, in place.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>
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

// The residue modulo 2^127 - 1 of low + 2^128 top (2^128 = 2 mod p), for top < 2^62.
inline Fp127 reduce_wide(u128 low, std::uint64_t top) {
  const u128 r = (low & Fp127::kModulus) + ((low >> 127) | (u128{top} << 1));  // < 2p
  // r mod p: r + 1 reaches bit 127 exactly when r >= p, and then (r + 1) - 2^127 = r - p + 1.
  const u128 s = r + 1;
  return Fp127((s & Fp127::kModulus) + (s >> 127) - 1);
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

// Fp127's weights, classified once per call: small ones (w or -w below 2^32) as signed integers,
// general ones as they are.
struct Fp127Terms {
  std::vector<const Fp127*> small_points, general_points;
  std::vector<std::int64_t> small_weights;
  std::vector<u128> general_weights;
  std::vector<std::pair<bool, std::size_t>> order;  // (general, index in its lists) per point
  // The small terms' sum starts from low + 2^64 high = 0 mod p, large enough that the negative
  // terms never take it below 0: high = W 2^63 and low = p - W, W the sum of the negative weights'
  // magnitudes (a point's high word is below 2^63, its low word below 2^64, and
  // -W 2^127 = -W mod p).
  u128 start_low = 0, start_high = 0;

  Fp127Terms(std::span<const Fp127> weights, std::span<const Fp127* const> points) {
    std::uint64_t negative = 0;
    small_points.reserve(points.size());
    small_weights.reserve(points.size());
    general_points.reserve(points.size());
    general_weights.reserve(points.size());
    order.reserve(points.size());
    for (std::size_t q = 0; q < points.size(); ++q) {
      const u128 w = weights[q].value(), minus_w = (-weights[q]).value();
      if (w == 0) continue;
      if (w < kSmallWeight || minus_w < kSmallWeight) {
        order.emplace_back(false, small_points.size());
        small_points.push_back(points[q]);
        if (w < kSmallWeight) {
          small_weights.push_back(static_cast<std::int64_t>(w));
        } else {
          small_weights.push_back(-static_cast<std::int64_t>(minus_w));
          negative += static_cast<std::uint64_t>(minus_w);
        }
      } else {
        order.emplace_back(true, general_points.size());
        general_points.push_back(points[q]);
        general_weights.push_back(w);
      }
    }
    if (negative > 0) {
      start_high = u128{negative} << 63;
      start_low = Fp127::kModulus - negative;
    }
  }
};

// x w added to low + 2^64 high as x_low w + 2^64 x_high w, two signed word products (each
// below 2^96 in magnitude), no carries to track (fewer than 2^31 terms); the sums stay in
// [0, 2^128) (Fp127Terms' start).
inline void add_small_term(Fp127 point, std::int64_t w, u128& low, u128& high) {
  const u128 x = point.value();
  const auto x_low = static_cast<std::uint64_t>(x);
  const auto x_high = static_cast<std::int64_t>(x >> 64);  // < 2^63
  // x_low w (signed): the unsigned product with w's 64-bit pattern, less x_low 2^64 if w < 0.
  low += static_cast<u128>(x_low) * static_cast<std::uint64_t>(w) -
         (static_cast<u128>(x_low & static_cast<std::uint64_t>(w >> 63)) << 64);
  high += static_cast<u128>(static_cast<i128>(x_high) * w);
}

// low + 2^64 high (low, high < 2^128) reduced: low's top word joins high's bottom word.
inline Fp127 reduce_split(u128 low, u128 high) {
  const u128 middle = (low >> 64) + static_cast<std::uint64_t>(high);  // < 2^65
  const u128 low128 = static_cast<std::uint64_t>(low) | (middle << 64);
  const auto top = static_cast<std::uint64_t>((high >> 64) + (middle >> 64));
  return reduce_wide(low128, top);
}

// out[i] for i < length when every weight is small, kCount of them.
template <std::size_t kCount>
void combine_small(Fp127* out, std::size_t length, const Fp127Terms& terms) {
  for (std::size_t i = 0; i < length; ++i) {
    u128 low = terms.start_low, high = terms.start_high;
    for (std::size_t q = 0; q < kCount; ++q) {
      add_small_term(terms.small_points[q][i], terms.small_weights[q], low, high);
    }
    out[i] = reduce_split(low, high);
  }
}

}  // namespace linear_combination_detail

// out[i] = sum_q weights[q] points[q][i] for i < length. out may be one of the points (each
// output is written after the points' elements at its index are read).
// Fp61: 128-bit products summed without reduction, reduced once per output (and every 32 terms).
// Fp127: weights w with w or -w below 2^32 (the Vandermonde rows, DegreeReduction's weights for
// small N, many Lagrange weights) cost two word multiplications, signed, and no carries; with
// at most 4 weights, all such, each output's sum stays in registers and is reduced once. Other
// weights cost four, folded below 2^128 and summed with their carries counted, block by block,
// one reduction per output. Zero weights cost nothing.
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
    const Fp127Terms terms(weights, points);
    const std::size_t small = terms.small_points.size(), general = terms.general_points.size();
    // Up to 4 small weights (the degree reductions' and extractions' for small N): one pass per
    // output, its sum in registers.
    if (general == 0 && small <= 4) {
      switch (small) {
        case 0:
          return combine_small<0>(out, length, terms);
        case 1:
          return combine_small<1>(out, length, terms);
        case 2:
          return combine_small<2>(out, length, terms);
        case 3:
          return combine_small<3>(out, length, terms);
        default:
          return combine_small<4>(out, length, terms);
      }
    }
    // Otherwise block by block, one point at a time (a general term's carries make a per-output
    // loop over the points slower, and so do many points).
    std::array<u128, kCombineBlock> low, high, sum;
    std::array<std::uint64_t, kCombineBlock> carries;  // of sum, each worth 2^128 = 2
    for (std::size_t begin = 0; begin < length; begin += kCombineBlock) {
      const std::size_t size = std::min(kCombineBlock, length - begin);
      if (small > 0) low.fill(terms.start_low), high.fill(terms.start_high);
      sum.fill(0), carries.fill(0);
      // The points in their given order, each loop over the block alone (the branch keeps the
      // compiler from interleaving two points' loops, which spills the sums to the stack).
      for (const auto& [general_term, q] : terms.order) {
        if (general_term) {
          const Fp127* x = terms.general_points[q] + begin;
          const u128 w = terms.general_weights[q];
          for (std::size_t i = 0; i < size; ++i) {
            const u128 term = product_folded(x[i].value(), w);
            sum[i] += term;
            carries[i] += sum[i] < term;
          }
          continue;
        }
        const Fp127* x = terms.small_points[q] + begin;
        const std::int64_t w = terms.small_weights[q];
        for (std::size_t i = 0; i < size; ++i) add_small_term(x[i], w, low[i], high[i]);
      }
      for (std::size_t i = 0; i < size; ++i) out[begin + i] = reduce_wide(sum[i], carries[i]);
      if (small > 0) {
        for (std::size_t i = 0; i < size; ++i) out[begin + i] += reduce_split(low[i], high[i]);
      }
    }
  }
}

// sum_j a[j] b[j] for j < length, reduced once (Fp61: every 32 terms as well): the dot
// product of one row in place, where linear_combination would need the row's elements gathered
// into points. Four word multiplications per Fp127 term, one per Fp61 term.
template <class F>
F inner_product(const F* a, const F* b, std::size_t length) {
  using namespace linear_combination_detail;
  if constexpr (std::is_same_v<F, Fp61>) {
    u128 sum = 0;
    for (std::size_t begin = 0; begin < length; begin += 32) {  // 32 products of 122 bits fit
      const std::size_t end = std::min(length, begin + 32);
      for (std::size_t j = begin; j < end; ++j) {
        sum += static_cast<u128>(a[j].value()) * b[j].value();
      }
      sum = reduce_wide(sum).value();
    }
    return F::reduce(static_cast<std::uint64_t>(sum));
  } else {
    u128 sum = 0;
    std::uint64_t carries = 0;  // of sum, each worth 2^128 = 2
    for (std::size_t j = 0; j < length; ++j) {
      const u128 term = product_folded(a[j].value(), b[j].value());
      sum += term;
      carries += sum < term;
    }
    return reduce_wide(sum, carries);
  }
}

}  // namespace sm::mpc
