// Generic operations on secret-shared vectors, written once against the Engine concept
// (mpc/engine.hpp) and instantiated for AdditiveEngine, ShamirEngine<Fp61> and
// ShamirEngine<Fp127> in ops.cpp.
//
// Local operations (add, sub, neg, scale) cost nothing. Communicating ones state their rounds
// and the elements each party sends (n = vector length, N parties):
//   mul            1 round. AdditiveEngine (Beaver: open x-a and y-b together, with a triple from
//                  the correlation source): 2n to each of the N-1 peers. ShamirEngine (degree
//                  reduction of the local products, no triple, nothing opened): n (N-1-t) in all
//                  at parties 0..2t, nothing at the others; N = 3: n, i.e. 1 element per product.
//   matmul         1 round. AdditiveEngine (a matrix triple): rows*inner + inner*cols to each
//                  peer, O(nd + dk), not O(ndk). ShamirEngine: the reduction of the rows*cols
//                  outputs, rows*cols (N-1-t) in all at parties 0..2t.
//   dot            matmul of 1 x n by n x 1: AdditiveEngine 2n to each peer, ShamirEngine N-1-t
//                  elements in all at parties 0..2t (whatever n).
//   mul_with, matmul_with  AdditiveEngine's mul and matmul on given triples, for any engine
//                  (so that preprocessing can be timed apart).
//   fixed_mul      mul + trunc
//   trunc_sum_of_products  ShamirEngine: 1 round, n elements to every peer at parties 0..2t
//                  (see the engine). Others: mul of the K n products, then trunc of the n sums:
//                  2 rounds (AdditiveEngine: 2 K n + n elements to each peer).
//   bit_less_than  ceil(log2 width) rounds (a comparison tree over the bits), at most
//                  width/2 + 2 ceil(width/2) - 3 multiplications per element (92 for width 63),
//                  of which the width/2 of the first level are shared by values with one mask
//   less_than_thresholds  ShamirEngine: 1 + max(0, ceil(log2 w) - 2) rounds, w the even one of
//                  bits - 1 - coarse_bits and bits - coarse_bits; per element one opened value
//                  and one WindowMasks (w bits with their products in groups of G =
//                  window_group_bits<E>(w), 3 or 4 bits: the tree's first two levels cost nothing;
//                  and a truncation mask if coarse_bits > 0) for all J thresholds, then J
//                  comparison trees of at most max(0, 2 ceil(w/G) - 3) multiplications each (a
//                  tree node over the same bits of two thresholds' public c - a_j is computed
//                  once; w = 24, G = 3: at most 13 each). The path is the element type's
//                  (kUniformMasks, correlations.hpp): fields here, Z_2^64 below. Fp127: the bits
//                  and the tree are over Fp61 (ComparisonBit, the engine's bit engine: 8-byte
//                  elements, cheaper products), and each tree's root is not reduced but opened
//                  at degree 2t under a switch mask (SwitchMasks of 41 bits, one per threshold
//                  and element), which moves the result to Fp127 in the root's round (1 more
//                  round only where the tree has no level: w <= G). N = 3, w = 24: per
//                  threshold and element at most 12 Fp61 products reduced and one root opened
//                  (2 Fp61 elements sent), instead of 13 Fp127 products.
//                  AdditiveEngine: ceil(log2 w) - 1 rounds, w the odd one of
//                  bits - 1 - coarse_bits and bits - coarse_bits; per value one opened value
//                  and one WindowMasks (w + 1 bits with their products in groups of 4: the
//                  tree's first two levels cost nothing) for all J thresholds, then J
//                  comparison trees with the mask's top bit folded in, over C = ceil((w + 1) / 4)
//                  nodes: at most 2 C + 2 ceil(log2 C) - 4 multiplications per threshold and
//                  value (w = 23, C = 6: 14; w = 63, C = 16: 36).
//   less_than etc. one less_than_zero (see the engine), select: 1 mul
// Every step tag passed in appears in network errors.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "mpc/additive_engine.hpp"
#include "mpc/elements.hpp"
#include "mpc/engine.hpp"
#include "mpc/shamir_engine.hpp"

namespace sm::mpc {

// ---- local, for any engine -------------------------------------------------------------------

template <class S>
S add(const S& x, const S& y) {
  using E = typename S::Element;
  return {add_vec<E>(x.values, y.values)};
}

template <class S>
S sub(const S& x, const S& y) {
  using E = typename S::Element;
  return {sub_vec<E>(x.values, y.values)};
}

template <class S>
S neg(const S& x) {
  S out = x;
  for (auto& v : out.values) v = -v;
  return out;
}

// x * c for a public constant c.
template <class S>
S scale(const S& x, typename S::Element c) {
  S out = x;
  for (auto& v : out.values) v *= c;
  return out;
}

// x * c element-wise for a public vector c.
template <class S>
S scale(const S& x, std::span<const typename S::Element> c) {
  using E = typename S::Element;
  return {mul_vec<E>(x.values, c)};
}

// The elements [begin, begin + count) of x.
template <class S>
S slice(const S& x, std::size_t begin, std::size_t count) {
  return {
      std::vector<typename S::Element>(x.values.begin() + begin, x.values.begin() + begin + count)};
}

// x followed by y.
template <class S>
S concat(const S& x, const S& y) {
  S out = x;
  out.values.insert(out.values.end(), y.values.begin(), y.values.end());
  return out;
}

// ---- communicating, for any engine -----------------------------------------------------------

template <Engine En>
typename En::Shares mul(En& engine, const typename En::Shares& x, const typename En::Shares& y,
                        std::string_view step = "mul");

// x * y by Beaver with triples obtained beforehand (so preprocessing can be timed apart; for
// every engine, also those whose mul needs no triples). The triples are consumed (pass them with
// std::move: AdditiveEngine forms the result in their storage).
template <Engine En>
typename En::Shares mul_with(En& engine, const typename En::Shares& x, const typename En::Shares& y,
                             Triples<typename En::Element> triples, std::string_view step);

// (rows x inner) times (inner x cols), row-major.
template <Engine En>
typename En::Shares matmul(En& engine, const typename En::Shares& a, const typename En::Shares& b,
                           std::size_t rows, std::size_t inner, std::size_t cols,
                           std::string_view step = "matmul");

template <Engine En>
typename En::Shares matmul_with(En& engine, const typename En::Shares& a,
                                const typename En::Shares& b,
                                const MatrixTriple<typename En::Element>& triple,
                                std::string_view step);

// The inner product of x and y, as a vector of length 1.
template <Engine En>
typename En::Shares dot(En& engine, const typename En::Shares& x, const typename En::Shares& y,
                        std::string_view step = "dot");

// Fixed-point product: trunc(x * y, frac_bits).
template <Engine En>
typename En::Shares fixed_mul(En& engine, const typename En::Shares& x,
                              const typename En::Shares& y, std::string_view step = "fixed_mul");

// trunc(sum_k x[k n + i] y[k n + i] + c[i], bits) for n = c.size() and K pieces (x and y hold
// K n shares each, piece-major; std::invalid_argument otherwise), rounded as the engine's trunc.
template <Engine En>
typename En::Shares trunc_sum_of_products(En& engine, const typename En::Shares& x,
                                          const typename En::Shares& y,
                                          const typename En::Shares& c, int bits,
                                          std::string_view step);

// For shared bits a, b in {0, 1}: a XOR b = a + b - 2ab (1 round).
template <Engine En>
typename En::Shares bit_xor(En& engine, const typename En::Shares& a, const typename En::Shares& b,
                            std::string_view step);

// The comparison tree behind bit_less_than: lt[k] = [c[k] < r[k]] and, given shared bits
// top[k] (one per element; the width must then be odd), top_lt[k] = top[k] lt[k] in the same
// rounds: ceil(log2 width) rounds, the products of bit_less_than plus at most 2 ceil(log2 width)
// per element for the top bit (e.g. to XOR the top bit of a mask into the result without an
// extra round). Given group_products, laid out as WindowMasks::products over each mask's bits
// r_0 .. r_(width-1) followed, with top bits, by the top bit (which must then be the same for
// all elements of a mask; width + 1 even, or width even without), the first two levels cost
// nothing: the tree starts from ceil(W / G) nodes of G = window_group_bits<E>(W) bits (W = width,
// or width + 1 with top bits), max(0, ceil(log2 W) - 2) rounds, and no products below them.
// Given root_masks (engines that multiply without triples only; no top bits), one degree-2t
// sharing of a mask per element, the root's products are not reduced: the root's lt at degree
// 2t plus the element's mask is opened instead (ShamirEngine::open_degree_2t, in the round the
// reduction would have taken; the masks must make the opened polynomials uniformly random given
// their secrets), returned as opened_root, and lt is left empty. Nodes are then shared below the
// root only.
// std::invalid_argument on mismatched sizes.
template <class Shares>
struct ComparisonTree {
  Shares lt, top_lt;  // top_lt empty without top bits
  std::vector<typename Shares::Element> opened_root;  // lt + root mask, with root_masks only
};
template <Engine En>
ComparisonTree<typename En::Shares> comparison_tree(
    En& engine, std::span<const u128> c, const typename En::Shares& bits, std::size_t width,
    const typename En::Shares* top, std::string_view step,
    const typename En::Shares* group_products = nullptr,
    const typename En::Shares* root_masks = nullptr);

// [c[k] < r[k]] for public c[k] < 2^width and shared r[k] = sum_i bits[(k mod M) width + i] 2^i,
// with M = bits.size() / width masks (M divides c.size(): several values may share one mask, as
// in less_than_thresholds; comparison_tree likewise).
template <Engine En>
typename En::Shares bit_less_than(En& engine, std::span<const u128> c,
                                  const typename En::Shares& bits, std::size_t width,
                                  std::string_view step);

// out[j n + i] = [x[i] < a_j] for n shared values x and J public thresholds a_j (signed, in x's
// encoding), for |x[i] - a_j| <= 2^(bits - 1) - N 2^coarse_bits (coarse_bits = 0: |x[i] - a_j| <
// 2^(bits - 1)), 2 <= bits <= value_bits, coarse_bits = 0 or 1 <= coarse_bits <= bits - 3 (a
// larger difference gives a wrong result). coarse_bits = m lets
// the result be either 0 or 1 where |x[i] - a_j| < N 2^m (N parties), and is exact elsewhere;
// then only the w = bits - 1 - m bits above m are compared. Costs: see the top of this file.
// ShamirEngine: all thresholds share one opening of x + 2^T + N 2^m + R (T = m + w, w as in the
// costs above) with one mask R = l + 2^m (b + 2^w H) (b: w shared random bits with their group
// products, a WindowMasks; l: a truncation mask's low part, |l| < N 2^m; H: 40 bits of
// statistical masking); the differences c - a_j are public, so sharing the mask reveals nothing
// more, and the opening is within statistical distance 2^-38 of uniform-shifted noise (H's
// honest term is uniform over 2^40 steps of 2^T, x's part spans less than 2^(T+2)).
// AdditiveEngine: all thresholds share one opening of x + R, R
// uniform in Z_2^64 (so the opening is uniform: perfect privacy), whose bits m .. m + w the
// dealer also shares one by one with the products of their groups of 4 (WindowMasks); the result
// may be wrong only for -2^m <= x[i] - a_j < 0 (exact for coarse_bits = 0).
template <Engine En>
typename En::Shares less_than_thresholds(En& engine, const typename En::Shares& x,
                                         std::span<const std::int64_t> thresholds, int bits,
                                         int coarse_bits, std::string_view step);

// less_than_thresholds (the same bound, rounds and costs, one opening for all thresholds) of x
// given at degree 2t, e.g. the local products of a shared matrix and vector, for engines that
// open products (OpensProducts: ShamirEngine): the opening of x + R is of degree 2t
// (open_products, which adds a fresh sharing of 0; sent by parties 0..2t only, n elements to
// every peer), and `value` returns x at degree t, the opened value less the public offset and
// the mask's shares: x's reduction costs nothing.
template <class Shares>
struct ThresholdsOfProducts {
  Shares below;  // [x[i] < a_j] at j n + i
  Shares value;  // x at degree t
};
template <Engine En>
  requires OpensProducts<En>
ThresholdsOfProducts<typename En::Shares> less_than_thresholds_of_products(
    En& engine, const typename En::Shares& x, std::span<const std::int64_t> thresholds, int bits,
    int coarse_bits, std::string_view step);

// 1 where x < y, else 0 (signed values).
template <Engine En>
typename En::Shares less_than(En& engine, const typename En::Shares& x,
                              const typename En::Shares& y, std::string_view step = "less_than");

template <Engine En>
typename En::Shares greater_than(En& engine, const typename En::Shares& x,
                                 const typename En::Shares& y,
                                 std::string_view step = "greater_than");

// cond ? a : b element-wise, for shared bits cond (1 round).
template <Engine En>
typename En::Shares select(En& engine, const typename En::Shares& cond,
                           const typename En::Shares& a, const typename En::Shares& b,
                           std::string_view step = "select");

template <Engine En>
typename En::Shares max(En& engine, const typename En::Shares& x, const typename En::Shares& y,
                        std::string_view step = "max");

// x limited to [low, high] (public bounds, same encoding as x): two comparisons, two selects.
template <Engine En>
typename En::Shares clamp(En& engine, const typename En::Shares& x, typename En::Element low,
                          typename En::Element high, std::string_view step = "clamp");

// ---- fixed-point encoding of public values ---------------------------------------------------

template <class E>
std::vector<E> encode_fixed(const FixedPoint& fixed, std::span<const double> values) {
  std::vector<E> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = E::from_int(fixed.encode(values[i]));
  return out;
}

template <class E>
std::vector<double> decode_fixed(const FixedPoint& fixed, std::span<const E> values) {
  std::vector<double> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = fixed.decode(values[i].to_int());
  return out;
}

}  // namespace sm::mpc
