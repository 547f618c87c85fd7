// Fixed-point encoding of real numbers as signed integers x * 2^frac_bits, rounded to nearest.
//
// encode() rejects (InputError) NaN, infinities and values whose encoding would not fit in
// `value_bits` signed bits, so nothing wraps silently; decode() is exact on the integer.
// Multiplying two encoded values doubles the fractional bits; the engines' trunc() removes
// frac_bits again (see each engine for its truncation error). With the defaults (16 fractional
// bits, 32 value bits: |x| < 32768 with a resolution of 2^-16) the product of any two encodable
// values stays below 2^62, inside the truncation range of both the additive engine and
// ShamirEngine<Fp127>; larger value_bits widen the input range, but then fixed_mul operands must
// keep |a * b| * 2^(2 frac_bits) < 2^62 themselves. Fp61 supports fixed point only with
// value_bits <= 16 (see ShamirEngine).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>

#include "net/errors.hpp"

namespace sm::mpc {

struct FixedPoint {
  int frac_bits = 16;
  // Encoded values must satisfy |x * 2^frac_bits| < 2^(value_bits - 1).
  int value_bits = 32;

  double max_value() const { return std::ldexp(1.0, value_bits - 1 - frac_bits); }

  std::int64_t encode(double x) const {
    if (!std::isfinite(x)) throw InputError("cannot encode " + std::to_string(x) + " in fixed point");
    // Multiplying by a power of two is exact (as ldexp, which costs a library call per value).
    const double scaled = std::nearbyint(x * power_of_two(frac_bits));
    if (std::fabs(scaled) >= power_of_two(value_bits - 1)) {
      throw InputError("value " + std::to_string(x) + " is outside the fixed-point range (+-" +
                       std::to_string(max_value()) + " with " + std::to_string(frac_bits) +
                       " fractional bits)");
    }
    return static_cast<std::int64_t>(scaled);
  }
  double decode(std::int64_t encoded) const {
    return static_cast<double>(encoded) * power_of_two(-frac_bits);
  }

 private:
  // 2^e as a double, for |e| <= 1022 (a normal number: its exponent field alone).
  static double power_of_two(int e) {
    return std::bit_cast<double>(static_cast<std::uint64_t>(1023 + e) << 52);
  }
};

}  // namespace sm::mpc
