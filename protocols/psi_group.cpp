#include "protocols/psi_group.hpp"

#include <sodium.h>

#include <cstring>
#include <stdexcept>
#include <vector>

namespace sm::proto {

namespace {

__extension__ using Wide = unsigned __int128;

// An element of F_p, p = 2^255 - 19, in radix 2^51: value = sum limb[i] 2^(51 i). Every function
// returns limbs below 2^52 and accepts limbs below 2^54 (products stay below 2^116 before the
// carries).
struct Fe {
  std::uint64_t limb[5];
};

constexpr std::uint64_t kMask = (std::uint64_t{1} << 51) - 1;
constexpr std::uint64_t kMontgomeryA = 486662;

constexpr Fe constant(std::uint64_t value) { return Fe{{value, 0, 0, 0, 0}}; }

// Folds the limbs' carries back below 2^52 (the top carry times 19, as 2^255 = 19 mod p).
Fe carry(Wide t0, Wide t1, Wide t2, Wide t3, Wide t4) {
  Fe r;
  t1 += static_cast<std::uint64_t>(t0 >> 51);
  r.limb[0] = static_cast<std::uint64_t>(t0) & kMask;
  t2 += static_cast<std::uint64_t>(t1 >> 51);
  r.limb[1] = static_cast<std::uint64_t>(t1) & kMask;
  t3 += static_cast<std::uint64_t>(t2 >> 51);
  r.limb[2] = static_cast<std::uint64_t>(t2) & kMask;
  t4 += static_cast<std::uint64_t>(t3 >> 51);
  r.limb[3] = static_cast<std::uint64_t>(t3) & kMask;
  r.limb[4] = static_cast<std::uint64_t>(t4) & kMask;
  const Wide low = static_cast<Wide>(static_cast<std::uint64_t>(t4 >> 51)) * 19 + r.limb[0];
  r.limb[0] = static_cast<std::uint64_t>(low) & kMask;
  r.limb[1] += static_cast<std::uint64_t>(low >> 51);
  return r;
}

Fe add(const Fe& a, const Fe& b) {
  return carry(a.limb[0] + b.limb[0], a.limb[1] + b.limb[1], a.limb[2] + b.limb[2],
               a.limb[3] + b.limb[3], a.limb[4] + b.limb[4]);
}

// a - b + 4p, so that no limb goes negative for b's limbs below 2^53.
Fe sub(const Fe& a, const Fe& b) {
  constexpr std::uint64_t kLow = 4 * ((std::uint64_t{1} << 51) - 19);
  constexpr std::uint64_t kHigh = 4 * kMask;
  return carry(a.limb[0] + kLow - b.limb[0], a.limb[1] + kHigh - b.limb[1],
               a.limb[2] + kHigh - b.limb[2], a.limb[3] + kHigh - b.limb[3],
               a.limb[4] + kHigh - b.limb[4]);
}

Fe mul(const Fe& a, const Fe& b) {
  const std::uint64_t* x = a.limb;
  const std::uint64_t* y = b.limb;
  const std::uint64_t y1 = y[1] * 19, y2 = y[2] * 19, y3 = y[3] * 19, y4 = y[4] * 19;
  const auto m = [](std::uint64_t u, std::uint64_t v) { return static_cast<Wide>(u) * v; };
  return carry(m(x[0], y[0]) + m(x[1], y4) + m(x[2], y3) + m(x[3], y2) + m(x[4], y1),
               m(x[0], y[1]) + m(x[1], y[0]) + m(x[2], y4) + m(x[3], y3) + m(x[4], y2),
               m(x[0], y[2]) + m(x[1], y[1]) + m(x[2], y[0]) + m(x[3], y4) + m(x[4], y3),
               m(x[0], y[3]) + m(x[1], y[2]) + m(x[2], y[1]) + m(x[3], y[0]) + m(x[4], y4),
               m(x[0], y[4]) + m(x[1], y[3]) + m(x[2], y[2]) + m(x[3], y[1]) + m(x[4], y[0]));
}

Fe sqr(const Fe& a) {
  const std::uint64_t* x = a.limb;
  const std::uint64_t d0 = 2 * x[0], d1 = 2 * x[1];
  const std::uint64_t x3_19 = 19 * x[3], d4_19 = 2 * 19 * x[4], x4_19 = 19 * x[4];
  const auto m = [](std::uint64_t u, std::uint64_t v) { return static_cast<Wide>(u) * v; };
  return carry(m(x[0], x[0]) + m(d1, x4_19) + m(2 * x[2], x3_19),
               m(d0, x[1]) + m(2 * x[2], x4_19) + m(x[3], x3_19),
               m(d0, x[2]) + m(x[1], x[1]) + m(x[3], d4_19),
               m(d0, x[3]) + m(d1, x[2]) + m(x[4], x4_19),
               m(d0, x[4]) + m(d1, x[3]) + m(x[2], x[2]));
}

Fe sqr_times(Fe a, int times) {
  for (int i = 0; i < times; ++i) a = sqr(a);
  return a;
}

// z^(2^250 - 1), with z^2 and z^11 on the side: the common part of the chains to z^(p-2) and
// z^((p-1)/2).
struct PowerChain {
  Fe z2, z11, z2_250_1;
};

PowerChain power_chain(const Fe& z) {
  PowerChain c;
  c.z2 = sqr(z);
  const Fe z9 = mul(sqr_times(c.z2, 2), z);
  c.z11 = mul(z9, c.z2);
  const Fe z2_5_1 = mul(sqr(c.z11), z9);  // z^31
  const Fe z2_10_1 = mul(sqr_times(z2_5_1, 5), z2_5_1);
  const Fe z2_20_1 = mul(sqr_times(z2_10_1, 10), z2_10_1);
  const Fe z2_40_1 = mul(sqr_times(z2_20_1, 20), z2_20_1);
  const Fe z2_50_1 = mul(sqr_times(z2_40_1, 10), z2_10_1);
  const Fe z2_100_1 = mul(sqr_times(z2_50_1, 50), z2_50_1);
  const Fe z2_200_1 = mul(sqr_times(z2_100_1, 100), z2_100_1);
  c.z2_250_1 = mul(sqr_times(z2_200_1, 50), z2_50_1);
  return c;
}

// z^(p-2) = z^(2^255 - 21) = (z^(2^250 - 1))^(2^5) z^11: 1/z for z != 0.
Fe invert(const Fe& z) {
  const PowerChain c = power_chain(z);
  return mul(sqr_times(c.z2_250_1, 5), c.z11);
}

// The canonical little-endian encoding (the value reduced below p).
GroupElement to_bytes(const Fe& a) {
  Fe r = a;
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < 4; ++i) {
      r.limb[i + 1] += r.limb[i] >> 51;
      r.limb[i] &= kMask;
    }
    r.limb[0] += 19 * (r.limb[4] >> 51);
    r.limb[4] &= kMask;
  }
  // Now every limb is below 2^51 (a second pass carries out of limb 4 only if limbs 0-3 were
  // cleared), so r < 2^255: subtract p once if r >= p, that is if r + 19 carries out of bit 255.
  std::uint64_t q = (r.limb[0] + 19) >> 51;
  for (int i = 1; i < 5; ++i) q = (r.limb[i] + q) >> 51;
  r.limb[0] += 19 * q;
  for (int i = 0; i < 4; ++i) {
    r.limb[i + 1] += r.limb[i] >> 51;
    r.limb[i] &= kMask;
  }
  r.limb[4] &= kMask;
  const std::uint64_t words[4] = {
      r.limb[0] | (r.limb[1] << 51),
      (r.limb[1] >> 13) | (r.limb[2] << 38),
      (r.limb[2] >> 26) | (r.limb[3] << 25),
      (r.limb[3] >> 39) | (r.limb[4] << 12),
  };
  GroupElement out;
  for (int w = 0; w < 4; ++w) {
    for (int b = 0; b < 8; ++b) out[8 * w + b] = static_cast<std::uint8_t>(words[w] >> (8 * b));
  }
  return out;
}

// The field element of 32 little-endian bytes, the top bit ignored (values up to 2^255 - 1,
// reduced modulo p by the arithmetic).
Fe from_bytes(const FieldBytes& bytes) {
  std::uint64_t words[4];
  for (int w = 0; w < 4; ++w) {
    words[w] = 0;
    for (int b = 0; b < 8; ++b) words[w] |= std::uint64_t{bytes[8 * w + b]} << (8 * b);
  }
  return Fe{{words[0] & kMask, ((words[0] >> 51) | (words[1] << 13)) & kMask,
             ((words[1] >> 38) | (words[2] << 26)) & kMask,
             ((words[2] >> 25) | (words[3] << 39)) & kMask, (words[3] >> 12) & kMask}};
}

// Whether z is a square or 0: z^((p-1)/2) = z^(2^254 - 10) = (z^(2^250 - 1))^(2^4) z^6 is not -1.
bool is_square_or_zero(const Fe& z) {
  const PowerChain c = power_chain(z);
  const Fe z6 = mul(sqr(c.z2), c.z2);
  const GroupElement symbol = to_bytes(mul(sqr_times(c.z2_250_1, 4), z6));
  const GroupElement minus_one = to_bytes(sub(constant(0), constant(1)));
  return symbol != minus_one;
}

bool canonical(const GroupElement& u) {
  if (u[31] & 0x80) return false;
  FieldBytes bytes;
  std::memcpy(bytes.data(), u.data(), u.size());
  return to_bytes(from_bytes(bytes)) == u;
}

}  // namespace

GroupScalar random_group_scalar() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  GroupScalar key;
  randombytes_buf(key.data(), key.size());
  return key;
}

void elligator2_batch(std::span<const FieldBytes> r, std::span<GroupElement> out) {
  if (out.size() != r.size()) throw std::invalid_argument("elligator2_batch: sizes differ");
  if (r.empty()) return;
  const Fe a = constant(kMontgomeryA);
  const Fe a_squared = constant(kMontgomeryA * kMontgomeryA);
  const Fe one = constant(1);
  std::vector<Fe> d(r.size());
  std::vector<Fe> prefix(r.size());  // prefix[i] = d[0] ... d[i]
  std::vector<bool> square(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) {
    const Fe r_squared = sqr(from_bytes(r[i]));
    const Fe twice = add(r_squared, r_squared);
    d[i] = add(one, twice);
    // g(u1) d^4 = A d (A^2 (d - 1) - d^2), with d - 1 = 2 r^2.
    const Fe w = mul(mul(a, d[i]), sub(mul(a_squared, twice), sqr(d[i])));
    square[i] = is_square_or_zero(w);
    prefix[i] = i == 0 ? d[0] : mul(prefix[i - 1], d[i]);
  }
  // Montgomery's trick: one inversion of the product, then 1/d[i] = prefix[i-1] / (d[0]..d[i]).
  Fe inverse = invert(prefix.back());  // 1 / (d[0] ... d[i]) for i = the current item
  for (std::size_t i = r.size(); i-- > 0;) {
    const Fe inverse_d = i == 0 ? inverse : mul(inverse, prefix[i - 1]);
    if (i > 0) inverse = mul(inverse, d[i]);
    const Fe u1 = sub(constant(0), mul(a, inverse_d));  // -A / d
    out[i] = to_bytes(square[i] ? u1 : sub(sub(constant(0), u1), a));
  }
}

GroupElement elligator2(const FieldBytes& r) {
  GroupElement out;
  elligator2_batch(std::span(&r, 1), std::span(&out, 1));
  return out;
}

bool blind(GroupElement& element, const GroupScalar& key) {
  if (!canonical(element)) return false;
  // Separate buffers: libsodium's X25519 may write its output before it has read all its input.
  GroupElement blinded;
  if (crypto_scalarmult_curve25519(blinded.data(), key.data(), element.data()) != 0) return false;
  element = blinded;
  return true;
}

}  // namespace sm::proto
