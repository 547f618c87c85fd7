// Fp61 and Fp127: elements of the prime fields modulo the Mersenne primes p = 2^61 - 1 and
// p = 2^127 - 1, the domains of the Shamir sharing scheme.
//
// Trivially copyable value types holding the canonical representative in [0, p); reduction
// modulo a Mersenne prime is a shift and an add. Signed values map x < 0 to p + x; to_int()
// maps back, treating representatives above (p - 1) / 2 as negative. On the wire an element is
// its 8 (Fp61) or 16 (Fp127) bytes, little-endian.
#pragma once

#include <bit>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

namespace sm::mpc {

// 128-bit integers (a GCC extension, marked so for -Wpedantic).
__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

class Fp61 {
 public:
  static constexpr std::uint64_t kModulus = (std::uint64_t{1} << 61) - 1;
  static constexpr std::size_t kBytes = 8;
  static constexpr int kBits = 61;
  static constexpr std::uint64_t kMaxSignedMagnitude = kModulus / 2;
  static constexpr const char* kName = "F_(2^61-1)";

  constexpr Fp61() = default;
  // `value` must be below kModulus (checked in debug builds).
  constexpr explicit Fp61(std::uint64_t value) : v_(value) {}
  static constexpr Fp61 reduce(std::uint64_t value) {
    std::uint64_t r = (value & kModulus) + (value >> 61);
    return Fp61(r >= kModulus ? r - kModulus : r);
  }
  // |value| must not exceed kMaxSignedMagnitude.
  static constexpr Fp61 from_int(std::int64_t value) {
    return value >= 0 ? Fp61(static_cast<std::uint64_t>(value))
                      : Fp61(kModulus - static_cast<std::uint64_t>(-value));
  }
  // Uniform up to statistical distance 2^-61: the 61 low bits, with p itself mapped to 0.
  static constexpr Fp61 from_random_bits(std::uint64_t low, std::uint64_t /*high*/) {
    const std::uint64_t v = low & kModulus;
    return Fp61(v == kModulus ? 0 : v);
  }

  constexpr std::uint64_t value() const { return v_; }
  constexpr std::int64_t to_int() const {
    return v_ > kModulus / 2 ? -static_cast<std::int64_t>(kModulus - v_)
                             : static_cast<std::int64_t>(v_);
  }

  friend constexpr Fp61 operator+(Fp61 a, Fp61 b) {
    const std::uint64_t s = a.v_ + b.v_;
    return Fp61(s >= kModulus ? s - kModulus : s);
  }
  friend constexpr Fp61 operator-(Fp61 a, Fp61 b) {
    return Fp61(a.v_ >= b.v_ ? a.v_ - b.v_ : a.v_ + kModulus - b.v_);
  }
  friend constexpr Fp61 operator*(Fp61 a, Fp61 b) {
    const u128 product = static_cast<u128>(a.v_) * b.v_;
    const std::uint64_t low = static_cast<std::uint64_t>(product) & kModulus;
    const std::uint64_t high = static_cast<std::uint64_t>(product >> 61);
    const std::uint64_t s = low + high;  // < 2^62
    return reduce(s);
  }
  constexpr Fp61 operator-() const { return Fp61(v_ == 0 ? 0 : kModulus - v_); }
  constexpr Fp61& operator+=(Fp61 b) { return *this = *this + b; }
  constexpr Fp61& operator-=(Fp61 b) { return *this = *this - b; }
  constexpr Fp61& operator*=(Fp61 b) { return *this = *this * b; }
  friend constexpr bool operator==(Fp61 a, Fp61 b) = default;

 private:
  std::uint64_t v_ = 0;
};

class Fp127 {
 public:
  static constexpr u128 kModulus = (u128{1} << 127) - 1;
  static constexpr std::size_t kBytes = 16;
  static constexpr int kBits = 127;
  // Signed values handled through int64 conversions; the field itself holds up to p/2.
  static constexpr std::uint64_t kMaxSignedMagnitude = (std::uint64_t{1} << 63) - 1;
  static constexpr const char* kName = "F_(2^127-1)";

  constexpr Fp127() = default;
  constexpr explicit Fp127(u128 value) : v_(value) {}
  // Any 128-bit value, reduced modulo p.
  static constexpr Fp127 reduce(u128 value) {
    return Fp127(canonical((value & kModulus) + (value >> 127)));
  }
  static constexpr Fp127 from_int(std::int64_t value) {
    return value >= 0 ? Fp127(static_cast<u128>(value))
                      : Fp127(kModulus - static_cast<u128>(-static_cast<i128>(value)));
  }
  static constexpr Fp127 from_random_bits(std::uint64_t low, std::uint64_t high) {
    const u128 v = ((static_cast<u128>(high) << 64) | low) & kModulus;
    return Fp127(v == kModulus ? 0 : v);
  }

  constexpr u128 value() const { return v_; }
  // The signed value, which must fit in int64 (throws std::overflow_error otherwise).
  constexpr std::int64_t to_int() const {
    const bool negative = v_ > kModulus / 2;
    const u128 magnitude = negative ? kModulus - v_ : v_;
    if (magnitude > kMaxSignedMagnitude) throw std::overflow_error("Fp127 value exceeds int64");
    const auto m = static_cast<std::int64_t>(magnitude);
    return negative ? -m : m;
  }
  // The signed value as a 128-bit integer (always fits).
  constexpr i128 to_int128() const {
    return v_ > kModulus / 2 ? -static_cast<i128>(kModulus - v_) : static_cast<i128>(v_);
  }

  // The operations are branch-free: their operands are secret shares or masked values, so
  // branches on them would be mispredicted about half the time (and would leak through timing).
  friend constexpr Fp127 operator+(Fp127 a, Fp127 b) {
    return Fp127(canonical(a.v_ + b.v_));  // < 2p < 2^128: no overflow
  }
  friend constexpr Fp127 operator-(Fp127 a, Fp127 b) {
    const u128 d = a.v_ - b.v_;  // wraps (top bit set) exactly when a < b
    return Fp127(d + (kModulus & (u128{0} - (d >> 127))));
  }
  friend constexpr Fp127 operator*(Fp127 a, Fp127 b) {
    // The 254-bit product as high * 2^128 + low, then folded at bit 127 (2^127 = 1 mod p).
    const auto a0 = static_cast<std::uint64_t>(a.v_), a1 = static_cast<std::uint64_t>(a.v_ >> 64);
    const auto b0 = static_cast<std::uint64_t>(b.v_), b1 = static_cast<std::uint64_t>(b.v_ >> 64);
    const u128 p00 = static_cast<u128>(a0) * b0;
    const u128 middle = static_cast<u128>(a0) * b1 + static_cast<u128>(a1) * b0;  // a1, b1 < 2^63
    const u128 low = p00 + (middle << 64);
    const u128 high = static_cast<u128>(a1) * b1 + (middle >> 64) + (low < p00);  // < 2^126
    const u128 folded = (low & kModulus) + ((high << 1) | (low >> 127));          // < 2^128
    return Fp127(canonical((folded & kModulus) + (folded >> 127)));               // <= p
  }
  constexpr Fp127 operator-() const { return Fp127(canonical(kModulus - v_)); }
  constexpr Fp127& operator+=(Fp127 b) { return *this = *this + b; }
  constexpr Fp127& operator-=(Fp127 b) { return *this = *this - b; }
  constexpr Fp127& operator*=(Fp127 b) { return *this = *this * b; }
  friend constexpr bool operator==(Fp127 a, Fp127 b) = default;

 private:
  // r mod p for r < 2p, without a branch: r - p, plus p back when that wrapped.
  static constexpr u128 canonical(u128 r) {
    const u128 t = r - kModulus;
    return t + (kModulus & (u128{0} - (t >> 127)));
  }
  u128 v_ = 0;
};

static_assert(std::is_trivially_copyable_v<Fp61> && sizeof(Fp61) == Fp61::kBytes);
static_assert(std::is_trivially_copyable_v<Fp127> && sizeof(Fp127) == Fp127::kBytes);
static_assert(std::endian::native == std::endian::little, "elements go on the wire as-is");

// a^e by square-and-multiply.
template <class F>
constexpr F power(F a, u128 e) {
  F result(1);
  while (e != 0) {
    if (e & 1) result *= a;
    a *= a;
    e >>= 1;
  }
  return result;
}

// The multiplicative inverse (a != 0), by Fermat: a^(p-2).
template <class F>
constexpr F inverse(F a) {
  return power(a, static_cast<u128>(F::kModulus) - 2);
}

// x 2^e for 0 <= e < F::kBits: as 2^kBits = 1 mod p = 2^kBits - 1, a rotation of x's kBits bits
// (canonical, since only p itself has all of them set). 2^-e is 2^(kBits - e).
template <class F>
constexpr F times_power_of_two(F x, int e) {
  using Word = decltype(x.value());
  const Word v = x.value();
  return e == 0 ? x : F(((v << e) | (v >> (F::kBits - e))) & static_cast<Word>(F::kModulus));
}

}  // namespace sm::mpc
