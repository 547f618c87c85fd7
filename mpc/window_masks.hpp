// The plaintext side of WindowMasks (mpc/correlations.hpp), shared by the sources that make
// them (DealerClient's dealer, LocalDealerUnsafe<Ring64>): which windows are valid, and the
// window's bits and their pair products derived from a plaintext r.
#pragma once

#include <cstddef>
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

// bits[k width + i] = bit (low + i) of r[k]; pairs[k width / 2 + j] = the product of bits
// 2j + 1 and 2j of r[k]'s window. The window must be valid; the outputs sized n width, n width / 2.
inline void derive_window_bits(std::span<const Ring64> r, int low, std::size_t width,
                               std::span<Ring64> bits, std::span<Ring64> pairs) {
  for (std::size_t k = 0; k < r.size(); ++k) {
    const std::uint64_t window = r[k].value() >> low;
    for (std::size_t i = 0; i < width; ++i) bits[k * width + i] = Ring64((window >> i) & 1);
    for (std::size_t j = 0; j < width / 2; ++j) {
      pairs[k * width / 2 + j] = Ring64((window >> (2 * j)) & (window >> (2 * j + 1)) & 1);
    }
  }
}

}  // namespace sm::mpc
