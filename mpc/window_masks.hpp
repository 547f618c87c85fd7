// The plaintext side of WindowMasks (mpc/correlations.hpp), shared by the sources that make
// them (DealerClient's dealer, LocalDealerUnsafe<Ring64>): which windows are valid, and the
// window's bits and their group products derived from a plaintext r.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

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

// bits[k width + i] = bit (low + i) of r[k]; products as WindowMasks lays them out. The window
// must be valid; the outputs sized n width and n window_products(width).
inline void derive_window_bits(std::span<const Ring64> r, int low, std::size_t width,
                               std::span<Ring64> bits, std::span<Ring64> products) {
  std::size_t next = 0;
  for (std::size_t k = 0; k < r.size(); ++k) {
    const std::uint64_t window = r[k].value() >> low;
    for (std::size_t i = 0; i < width; ++i) bits[k * width + i] = Ring64((window >> i) & 1);
    for (std::size_t group = 0; group < width; group += 4) {
      const std::size_t group_bits = std::min<std::size_t>(4, width - group);
      const std::uint64_t values = (window >> group) & ((std::uint64_t{1} << group_bits) - 1);
      for (std::uint64_t m = 3; m < (std::uint64_t{1} << group_bits); ++m) {
        if (std::popcount(m) >= 2) products[next++] = Ring64((values & m) == m ? 1 : 0);
      }
    }
  }
}

}  // namespace sm::mpc
