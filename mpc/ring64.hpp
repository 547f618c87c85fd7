// Ring64: an element of the ring Z_2^64, the domain of the additive sharing scheme.
//
// A trivially copyable wrapper of uint64_t; arithmetic wraps around modulo 2^64. Signed values
// use two's complement: from_int(-1) is 2^64-1 and to_int() maps it back. On the wire an element
// is its 8 bytes, little-endian, so a span<const Ring64> is sent as bytes.
#pragma once

#include <bit>
#include <cstdint>
#include <type_traits>

namespace sm::mpc {

class Ring64 {
 public:
  static constexpr std::size_t kBytes = 8;
  static constexpr int kBits = 64;
  // Largest magnitude a signed value may have (any int64 fits).
  static constexpr std::uint64_t kMaxSignedMagnitude = (std::uint64_t{1} << 63) - 1;
  static constexpr const char* kName = "Z_2^64";

  constexpr Ring64() = default;
  constexpr explicit Ring64(std::uint64_t value) : v_(value) {}
  static constexpr Ring64 from_int(std::int64_t value) {
    return Ring64(static_cast<std::uint64_t>(value));
  }
  // From the low 64 bits of a uniformly random word (used by Prg::sample).
  static constexpr Ring64 from_random_bits(std::uint64_t low, std::uint64_t /*high*/) {
    return Ring64(low);
  }

  constexpr std::uint64_t value() const { return v_; }
  constexpr std::int64_t to_int() const { return static_cast<std::int64_t>(v_); }

  friend constexpr Ring64 operator+(Ring64 a, Ring64 b) { return Ring64(a.v_ + b.v_); }
  friend constexpr Ring64 operator-(Ring64 a, Ring64 b) { return Ring64(a.v_ - b.v_); }
  friend constexpr Ring64 operator*(Ring64 a, Ring64 b) { return Ring64(a.v_ * b.v_); }
  constexpr Ring64 operator-() const { return Ring64(0 - v_); }
  constexpr Ring64& operator+=(Ring64 b) { return *this = *this + b; }
  constexpr Ring64& operator-=(Ring64 b) { return *this = *this - b; }
  constexpr Ring64& operator*=(Ring64 b) { return *this = *this * b; }
  friend constexpr bool operator==(Ring64 a, Ring64 b) = default;

 private:
  std::uint64_t v_ = 0;
};

static_assert(std::is_trivially_copyable_v<Ring64> && sizeof(Ring64) == Ring64::kBytes);
static_assert(std::endian::native == std::endian::little, "elements go on the wire as-is");

}  // namespace sm::mpc
