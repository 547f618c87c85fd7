// Correlated randomness for the engines, behind one interface, produced in batches.
//
// Every struct holds THIS party's shares (additive over Z_2^64, or Shamir of degree t over a
// field). Implementations:
//   - LocalDealerUnsafe (mpc/local_dealer.hpp): every party derives everything from one common
//     seed: each party could compute all others' shares. For unit tests only.
//   - DealerClient (mpc/dealer.hpp): a dealer process, seed-compressed (additive scheme).
//   - DealerFreeShamir (mpc/dealer_free.hpp): the parties generate it themselves (Shamir, N >= 3,
//     honest majority).
// A source may communicate (dealer round trips, dealer-free generation): every party must then
// request the same batches in the same order. Errors are thrown as NetError / ProtocolError.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "mpc/mersenne.hpp"
#include "mpc/ring64.hpp"

namespace sm::mpc {

// Beaver triples: c[i] = a[i] * b[i].
template <class E>
struct Triples {
  std::vector<E> a, b, c;
};

// A matrix triple for an (rows x inner)(inner x cols) product, row-major: c = a * b.
template <class E>
struct MatrixTriple {
  std::size_t rows = 0, inner = 0, cols = 0;
  std::vector<E> a, b, c;
};

// Truncation masks for `frac_bits` fractional bits; the meaning of the parts is the engine's:
//   additive (Z_2^64): r uniform; high = (r mod 2^63) >> frac_bits; msb = r >> 63.
//   Shamir: r in [0, 2^(value_bits + sigma + log2 N)); r = 2^frac_bits high + l with
//   |l| < N 2^frac_bits (LocalDealerUnsafe: high = r >> frac_bits, l in [0, 2^frac_bits);
//   DealerFreeShamir: see there); msb unused (empty).
template <class E>
struct TruncMasks {
  std::vector<E> r, high, msb;
};

// Masks for comparison: element k's mask is sum_i bits[k * width + i] 2^i + 2^width high[k],
// the bits each in {0, 1}. For Z_2^64 width is 64 and high is zero.
template <class E>
struct BitMasks {
  std::size_t width = 0;
  std::vector<E> bits, high;
};

// Whether E's masks for comparison are uniform over E (Z_2^64, whose arithmetic wraps) rather than
// bounded integers with statistical masking (prime fields): it decides WindowMasks' form and the
// comparison that uses them (mpc/ops.hpp less_than_thresholds).
template <class E>
inline constexpr bool kUniformMasks = std::is_same_v<E, Ring64>;

// The element type of a comparison's bits and tree for values over E: Fp61 for Fp127 (a
// comparison's bits need no large field; Fp61's elements are half the bytes, and dealer-free
// triples, N = 3, cost 0.24 against 0.46 us of CPU each), E itself otherwise.
template <class E>
using ComparisonBit = std::conditional_t<std::is_same_v<E, Fp127>, Fp61, E>;

// Comparison masks that let a comparison skip the first two levels of its tree: a mask r with a
// window of its bits, bits[k * width + i] = bit (low + i) of r[k] (each 0 or 1), shared one by
// one, and the products of the window's bits in groups of G = window_group_bits<E>(width) from
// bit 0 (width even; the last group has width mod G bits when that is not 0): for every group, in
// increasing order of the subset mask m (bit l of m for the group's bit l), the product of each
// subset of two or more of its bits (2^g - g - 1 for a group of g bits: 4 for 3 bits, 11 for 4),
// products[k * P + (2^G - G - 1) g + rank(m)], P = window_products<E>(width) per mask. These are
// the products that the first two levels of a comparison tree over the window would otherwise
// compute.
// The form of r is the element type's (kUniformMasks):
//   Z_2^64: r uniform over the ring (an opening x + r is perfectly hidden); high empty.
//   prime fields: r = 2^low (sum_i bits[k width + i] 2^i + 2^width high[k]), with high[k] a sum
//     of N values uniform in [0, 2^40) (one per party, DealerFreeShamir) or one such value
//     (LocalDealerUnsafe): x + r hides x statistically (as BitMasks); low + width <= value_bits.
// The bits and their products are shared over ComparisonBit<E> (above), r and high over E.
template <class E>
struct WindowMasks {
  int low = 0;
  std::size_t width = 0;
  std::vector<E> r;
  std::vector<ComparisonBit<E>> bits, products;
  std::vector<E> high;
};

// Masks that move a bit (or any small integer below 2^(bits - 40)) from ComparisonBit<E> to E
// where the two differ (Fp127: a comparison's result from its Fp61 tree): rho = sum over the
// parties of a value each draws uniformly from [0, 2^bits), shared at degree 2t over
// ComparisonBit<E> (bit_side) and at degree t over E (value_side). Opening a degree-2t sharing of
// v + rho (v < 2^(bits - 40), so no wrap) gives v + rho within statistical distance 2^-40 of
// uniform-shifted noise (an honest party's term), and then [v] = (v + rho) - [rho] over E.
template <class E>
struct SwitchMasks {
  std::vector<ComparisonBit<E>> bit_side;
  std::vector<E> value_side;
};

// std::invalid_argument unless SwitchMasks of `bits` bits suit N parties: 41 <= bits <= 60 -
// bit_width(N), so that a bit is hidden and v + rho stays below Fp61's modulus.
inline void check_switch_bits(int bits, std::size_t parties) {
  const int most = 60 - static_cast<int>(std::bit_width(parties));
  if (bits < 41 || bits > most) {
    throw std::invalid_argument("switch_masks: bits " + std::to_string(bits) + " outside 41.." +
                                std::to_string(most));
  }
}

// Bits per group of a WindowMasks window of `width` bits over E. Prime fields: 3 (4 products per
// group, then ceil(width / 3) tree nodes above the groups), except for the widths where
// ceil(width / 3) nodes would need one tree level (one round) more than ceil(width / 4): there 4
// (11 products per group); for even widths up to 64 that is 4, 8, 14, 16, 26 to 32 and 50 to 64.
// Z_2^64: always 4, as the dealer's group products cost less than the Beaver multiplications of
// the larger tree (groups of 3 sent 42 % more per party in the breast-cancer regression).
template <class E>
inline std::size_t window_group_bits(std::size_t width) {
  const auto levels = [](std::size_t nodes) {
    return nodes <= 1 ? 0 : static_cast<int>(std::bit_width(nodes - 1));
  };
  return kUniformMasks<E> || levels((width + 2) / 3) > levels((width + 3) / 4) ? 4 : 3;
}

// Products per WindowMasks mask: 2^G - G - 1 per full group of G = window_group_bits<E>(width)
// bits (4 for G = 3, 11 for G = 4), and 1 for a last group of 2 (none for a last group of 1).
template <class E>
inline std::size_t window_products(std::size_t width) {
  const std::size_t group_bits = window_group_bits<E>(width);
  const std::size_t per_group = (std::size_t{1} << group_bits) - group_bits - 1;
  return width / group_bits * per_group + (width % group_bits == 2 ? 1 : 0);
}

// A persistent random matrix U (rows x cols, row-major) to mask a data matrix X once (SecureML,
// Mohassel and Zhang, S&P 2017, section IV-B): the parties open X - U once; afterwards a product
// of a row subset X_B with a shared vector needs only that vector opened under a fresh mask,
// with a MaskedProducts correlation for U_B. `id` names U in later requests (its meaning is the
// source's); U itself stays secret.
template <class E>
struct MaskedMatrix {
  std::uint64_t id = 0;
  std::size_t rows = 0, cols = 0;
  std::vector<E> u;  // this party's shares of U
};

// For one row subset B of a MaskedMatrix U (U_B: the |B| x cols rows of U listed in B, in that
// order): forward, fresh uniform v (cols) and z = U_B v (|B|); backward, fresh uniform vt (|B|)
// and zt = U_B^T vt (cols). Then X_B w = E_B w + U_B (w - v) + z and
// X_B^T e = E_B^T e + U_B^T (e - vt) + zt for E = X - U, with only w - v or e - vt opened.
template <class E>
struct MaskedProducts {
  std::vector<E> v, z, vt, zt;
};

template <class E>
class CorrelationSource {
 public:
  virtual ~CorrelationSource() = default;
  virtual Triples<E> triples(std::size_t n) = 0;
  virtual MatrixTriple<E> matrix_triple(std::size_t rows, std::size_t inner, std::size_t cols) = 0;
  virtual TruncMasks<E> trunc_masks(std::size_t n, int frac_bits) = 0;
  virtual BitMasks<E> bit_masks(std::size_t n, std::size_t width) = 0;
  // Shares of n uniformly random bits.
  virtual std::vector<E> random_bits(std::size_t n) = 0;
  // n WindowMasks, 0 <= low, 2 <= width (even), low + width <= 64 (fields: <= value_bits);
  // std::invalid_argument for another window.
  virtual WindowMasks<E> window_masks(std::size_t n, int low, std::size_t width) = 0;
  // n SwitchMasks of `bits` bits (41 <= bits <= 60 - bit_width(N)). Only where
  // ComparisonBit<E> is not E; the default throws std::logic_error.
  virtual SwitchMasks<E> switch_masks(std::size_t /*n*/, int /*bits*/) {
    throw std::logic_error("switch_masks: this source's comparisons need no change of field");
  }
  // A fresh random rows x cols matrix U, to be used with masked_products.
  virtual MaskedMatrix<E> masked_matrix(std::size_t rows, std::size_t cols) = 0;
  // MaskedProducts for each row subset (indices < matrix.rows) of a matrix this source made,
  // in order; all subsets in one batch (sources that communicate do so once per call). The
  // correlation's size is O(|B| + cols) per subset, never O(|B| cols).
  virtual std::vector<MaskedProducts<E>> masked_products(
      const MaskedMatrix<E>& matrix, std::span<const std::vector<std::size_t>> subsets) = 0;
};

}  // namespace sm::mpc
