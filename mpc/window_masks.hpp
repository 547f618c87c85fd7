// The plaintext side of WindowMasks (mpc/correlations.hpp), shared by the sources that make
// them (DealerClient's dealer, LocalDealerUnsafe, DealerFreeShamir): which windows are valid, the
// window's bits and their group products derived from a plaintext r, and the layout of the group
// products.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "mpc/correlations.hpp"
#include "mpc/ring64.hpp"

namespace sm::mpc {

// Empty for a valid window (0 <= low, 2 <= width, width even, low + width <= 64), else what is
// wrong with it.
inline std::string window_problem(std::int64_t low, std::uint64_t width) {
  if (low < 0 || low > 62 || width < 2 || width % 2 != 0 ||
      width > static_cast<std::uint64_t>(64 - low)) {
    return "window of " + std::to_string(width) + " bits from bit " + std::to_string(low) +
           " is not an even width of at least 2 inside 64 bits";
  }
  return {};
}

// The subset masks m (bit l for the group's bit l) of the products of one group of `group_bits`
// (1 to 4) bits, in WindowMasks order (increasing m, two or more bits).
inline std::span<const unsigned> group_subsets(std::size_t group_bits) {
  static constexpr unsigned kFour[] = {3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15};
  return std::span<const unsigned>(kFour, (std::size_t{1} << group_bits) - group_bits - 1);
}

// The group products of plaintext window bits (any element type with 0 and 1): bits holds n
// windows of `width` bits (bits[k width + i]), products n window_products<E>(width) values.
template <class E>
void derive_group_products(std::span<const E> bits, std::size_t width, std::span<E> products) {
  const std::size_t full_group = window_group_bits<E>(width);
  std::size_t next = 0;
  for (std::size_t begin = 0; begin < bits.size(); begin += width) {
    for (std::size_t group = 0; group < width; group += full_group) {
      const std::size_t group_bits = std::min(full_group, width - group);
      for (const unsigned m : group_subsets(group_bits)) {
        E product(1);
        for (std::size_t l = 0; l < group_bits; ++l) {
          if ((m >> l) & 1) product *= bits[begin + group + l];
        }
        products[next++] = product;
      }
    }
  }
}

// bits[k width + i] = bit (low + i) of r[k]; products as WindowMasks lays them out. The window
// must be valid; the outputs sized n width and n window_products<E>(width).
inline void derive_window_bits(std::span<const Ring64> r, int low, std::size_t width,
                               std::span<Ring64> bits, std::span<Ring64> products) {
  for (std::size_t k = 0; k < r.size(); ++k) {
    const std::uint64_t window = r[k].value() >> low;
    for (std::size_t i = 0; i < width; ++i) bits[k * width + i] = Ring64((window >> i) & 1);
  }
  derive_group_products<Ring64>(bits, width, products);
}

}  // namespace sm::mpc
