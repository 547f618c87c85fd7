// Helpers shared by all element types (Ring64, Fp61, Fp127): conversions from unsigned
// integers, powers of two, vectorised local arithmetic and the plaintext matrix product.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "mpc/mersenne.hpp"
#include "mpc/prg.hpp"
#include "mpc/ring64.hpp"

namespace sm::mpc {

// The element representing the unsigned integer v: v mod 2^64 for Ring64; for the fields v must
// be below p.
template <class E>
constexpr E from_unsigned(u128 v) {
  if constexpr (std::is_same_v<E, Ring64>) {
    return Ring64(static_cast<std::uint64_t>(v));
  } else if constexpr (std::is_same_v<E, Fp61>) {
    return Fp61::reduce(static_cast<std::uint64_t>(v));
  } else {
    return Fp127::reduce(v);
  }
}

// The canonical representative as an unsigned integer (for Ring64 the 64-bit word).
template <class E>
constexpr u128 to_unsigned(E e) {
  return static_cast<u128>(e.value());
}

// The same non-negative integers as elements of To (each value must lie below To's modulus:
// e.g. a switch mask's term, moved from Fp127 to Fp61).
template <class To, class From>
std::vector<To> same_integers(std::span<const From> values) {
  std::vector<To> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    out[i] = from_unsigned<To>(to_unsigned(values[i]));
  }
  return out;
}

template <class E>
constexpr E power_of_two(int exponent) {
  return from_unsigned<E>(u128{1} << exponent);
}

// Uniformly random field elements from the PRG, as few bytes as possible: 8 per Fp61 element
// (uniform up to 2^-61, as Fp61::from_random_bits), 16 per Fp127 element (Prg::sample_into).
// Both holders of a seed draw the same values.
template <class F>
void sample_elements(Prg& prg, std::span<F> out) {
  if constexpr (std::is_same_v<F, Fp61>) {
    constexpr std::size_t kBlock = 2048;
    std::array<std::uint64_t, kBlock> words;
    for (std::size_t done = 0; done < out.size();) {
      const std::size_t count = std::min(kBlock, out.size() - done);
      prg.fill({reinterpret_cast<std::uint8_t*>(words.data()), count * sizeof(std::uint64_t)});
      for (std::size_t i = 0; i < count; ++i) out[done + i] = Fp61::from_random_bits(words[i], 0);
      done += count;
    }
  } else {
    prg.sample_into(out);
  }
}

// n values uniform in [0, 2^bits) (bits <= 127), as elements.
template <class E>
std::vector<E> sample_bounded(Prg& prg, std::size_t n, int bits) {
  std::vector<u128> words(n);
  prg.fill({reinterpret_cast<std::uint8_t*>(words.data()), n * sizeof(u128)});
  const u128 mask = bits >= 128 ? ~u128{0} : (u128{1} << bits) - 1;
  std::vector<E> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = from_unsigned<E>(words[i] & mask);
  return out;
}

// a[i] += b[i], in place.
template <class E>
void add_in_place(std::span<E> a, std::span<const E> b) {
  if (a.size() != b.size()) throw std::invalid_argument("add: lengths differ");
  for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
}

template <class E>
std::vector<E> add_vec(std::span<const E> a, std::span<const E> b) {
  if (a.size() != b.size()) throw std::invalid_argument("add_vec: lengths differ");
  std::vector<E> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

template <class E>
std::vector<E> sub_vec(std::span<const E> a, std::span<const E> b) {
  if (a.size() != b.size()) throw std::invalid_argument("sub: lengths differ");
  std::vector<E> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = a[i] - b[i];
  return out;
}

template <class E>
std::vector<E> mul_vec(std::span<const E> a, std::span<const E> b) {
  if (a.size() != b.size()) throw std::invalid_argument("mul: lengths differ");
  std::vector<E> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = a[i] * b[i];
  return out;
}

// The plaintext product of a (rows x inner) and b (inner x cols), row-major.
template <class E>
std::vector<E> matmul_plain(std::span<const E> a, std::span<const E> b, std::size_t rows,
                            std::size_t inner, std::size_t cols) {
  if (a.size() != rows * inner || b.size() != inner * cols) {
    throw std::invalid_argument("matmul: shapes do not match");
  }
  std::vector<E> c(rows * cols);
  for (std::size_t i = 0; i < rows; ++i) {
    E* row = c.data() + i * cols;
    for (std::size_t k = 0; k < inner; ++k) {
      const E aik = a[i * inner + k];
      const E* brow = b.data() + k * cols;
      for (std::size_t j = 0; j < cols; ++j) row[j] += aik * brow[j];
    }
  }
  return c;
}

}  // namespace sm::mpc
