// The group of PSI's commutative blinding: Curve25519 in Montgomery form, elements given by their
// u-coordinate (32 bytes, little-endian, canonical: below p = 2^255 - 19), blinded with libsodium's
// X25519 scalar multiplication, and a hash to the curve by Elligator 2.
//
// Why this group (measured on the 2-core development machine, libsodium 1.0.18, single-thread CPU
// time; mpc-bench psi measures the rates again in every run): crypto_scalarmult_curve25519 runs
// about 28,400 times per second against 17,600 for crypto_scalarmult_ristretto255 (1.6 times
// faster), so X25519 replaced ristretto255. Why this hash: libsodium's
// crypto_core_ed25519_from_uniform (45,000 per second) also runs Elligator 2, but then converts
// to Edwards form, clears the cofactor with a scalar multiplication by 8 and would need a
// conversion back to u (an inversion); the map below goes straight to u, shares its inversion
// among a batch and needs no cofactor clearing, and runs about 135,000 times per second with the
// SHA-512 before it. A scalar multiplication dominates PSI's cost either way.

// The hash to the curve, elligator2(r), is the Elligator 2 map of Bernstein, Hamburg, Krasnova,
// Lange ("Elligator: elliptic-curve points indistinguishable from uniform random strings", CCS
// 2013), with the non-square Z = 2 as in RFC 9380, section 6.7.1, and in libsodium's
// crypto_core_ed25519_from_uniform: for the field element r (32 bytes, the top bit ignored, read
// modulo p), d = 1 + 2 r^2 (never 0: -1/2 is not a square mod p), u1 = -A / d with A = 486662;
// u = u1 if g(u1) = u1^3 + A u1^2 + u1 is a square (or 0), else u = -u1 - A, for which g(u) is then
// a square: u is always the u-coordinate of a point of the curve (not of its twist). The square
// test needs no inversion: g(u1) d^4 = A d (A^2 (d - 1) - d^2) has the same Legendre symbol as
// g(u1). The batch version shares one field inversion among all its items (Montgomery's trick), so
// an item costs one exponentiation (the Legendre symbol, about 265 field multiplications) and a
// few multiplications. The output may lie outside the prime-order subgroup (the curve's group is
// 8 times a prime); X25519 clamps every scalar to a multiple of 8, which clears that part on the
// first blinding, and the raw hash never leaves the party. r and -r give the same u; PSI derives r
// from SHA-512, so two items collide only with probability about 2^-252 per pair.
//
// Blinding: blind(u, k) = X25519(k, u), the u-coordinate of [clamp(k)] P for either point P with
// u-coordinate u (u fixes a point up to sign, and [c](-P) = -[c]P). Clamped multiplications
// commute, blind(blind(u, a), b) = blind(blind(u, b), a), which is what DH-PSI needs. blind()
// returns false, and the caller must stop, for an all-zero result (u of small order: never for an
// honest party's element, except with negligible probability) or an input that is not canonical
// (top bit set or u >= p: never produced by an honest party).
//
// Thread-safety: every function is pure (no state); call them from any number of threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sm::proto {

inline constexpr std::size_t kGroupElementBytes = 32;
using GroupElement = std::array<std::uint8_t, kGroupElementBytes>;  // a canonical u-coordinate
using GroupScalar = std::array<std::uint8_t, 32>;                   // X25519 clamps it on use
using FieldBytes = std::array<std::uint8_t, 32>;                    // Elligator 2's input r

// A fresh uniformly random secret scalar (libsodium's randombytes_buf).
GroupScalar random_group_scalar();

// Elligator 2 of one field element (see above).
GroupElement elligator2(const FieldBytes& r);

// Elligator 2 of every r[i] into out[i] (out.size() == r.size()), sharing one field inversion.
void elligator2_batch(std::span<const FieldBytes> r, std::span<GroupElement> out);

// element <- X25519(key, element); false (element unspecified) if the input is not canonical or
// the result is all zero.
bool blind(GroupElement& element, const GroupScalar& key);

}  // namespace sm::proto
