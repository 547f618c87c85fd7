// PSI's group (protocols/psi_group.hpp) against independent oracles: the Elligator 2 map
// recomputed with OpenSSL's BIGNUM (its outputs on the curve by the Legendre symbol, and equal to
// libsodium's own Elligator 2 inside crypto_core_ed25519_from_uniform after clearing the
// cofactor), determinism and distinct outputs, the batch against single items, and blinding:
// commutativity, and refusal of small-order and non-canonical elements.
#include <openssl/bn.h>
#include <sodium.h>
#include <catch2/catch.hpp>

#include <memory>
#include <random>
#include <set>
#include <vector>

#include "protocols/psi_group.hpp"

using namespace sm::proto;

namespace {

using Bn = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

Bn bn() { return Bn(BN_new(), &BN_free); }

Bn bn_word(BN_ULONG value) {
  Bn out = bn();
  BN_set_word(out.get(), value);
  return out;
}

// Plain modular arithmetic mod p = 2^255 - 19 with BIGNUM: the oracle, sharing no code with the
// radix-2^51 field of psi_group.cpp.
struct Oracle {
  Bn p = bn();
  Bn a = bn_word(486662);
  std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> ctx{BN_CTX_new(), &BN_CTX_free};

  Oracle() {
    BN_set_bit(p.get(), 255);
    BN_sub_word(p.get(), 19);
  }
  Bn from_le(const std::uint8_t* bytes, bool mask_top_bit) {
    std::array<std::uint8_t, 32> copy;
    std::copy(bytes, bytes + 32, copy.begin());
    if (mask_top_bit) copy[31] &= 0x7f;
    Bn out(BN_lebin2bn(copy.data(), 32, nullptr), &BN_free);
    BN_nnmod(out.get(), out.get(), p.get(), ctx.get());
    return out;
  }
  GroupElement to_le(const Bn& value) {
    GroupElement out;
    REQUIRE(BN_bn2lebinpad(value.get(), out.data(), 32) == 32);
    return out;
  }
  Bn mul(const Bn& x, const Bn& y) {
    Bn out = bn();
    BN_mod_mul(out.get(), x.get(), y.get(), p.get(), ctx.get());
    return out;
  }
  Bn add(const Bn& x, const Bn& y) {
    Bn out = bn();
    BN_mod_add(out.get(), x.get(), y.get(), p.get(), ctx.get());
    return out;
  }
  Bn sub(const Bn& x, const Bn& y) {
    Bn out = bn();
    BN_mod_sub(out.get(), x.get(), y.get(), p.get(), ctx.get());
    return out;
  }
  Bn inverse(const Bn& x) {
    Bn out(BN_mod_inverse(nullptr, x.get(), p.get(), ctx.get()), &BN_free);
    REQUIRE(out);
    return out;
  }
  // u^3 + A u^2 + u
  Bn curve(const Bn& u) {
    const Bn u2 = mul(u, u);
    return add(add(mul(u2, u), mul(a, u2)), u);
  }
  int legendre(const Bn& x) { return BN_kronecker(x.get(), p.get(), ctx.get()); }
  // Elligator 2 with Z = 2, straight from its definition.
  Bn elligator2(const FieldBytes& r) {
    const Bn value = from_le(r.data(), true);
    const Bn d = add(bn_word(1), mul(bn_word(2), mul(value, value)));
    Bn u1 = sub(bn_word(0), mul(a, inverse(d)));
    if (legendre(curve(u1)) != -1) return u1;
    return sub(sub(bn_word(0), u1), a);
  }
  // The u-coordinate of 2P from P's: (u^2 - 1)^2 / (4 u (u^2 + A u + 1)).
  Bn double_u(const Bn& u) {
    const Bn u2 = mul(u, u);
    const Bn numerator = sub(u2, bn_word(1));
    const Bn denominator = mul(mul(bn_word(4), u), add(add(u2, mul(a, u)), bn_word(1)));
    return mul(mul(numerator, numerator), inverse(denominator));
  }
};

std::vector<FieldBytes> random_inputs(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<FieldBytes> out(count);
  for (auto& r : out) {
    for (auto& byte : r) byte = static_cast<std::uint8_t>(rng());
  }
  return out;
}

// Edge inputs: 0, 1, p - 1, p (reads as 0), 2^255 - 1 (reads as 18), and the top bit set.
std::vector<FieldBytes> edge_inputs() {
  std::vector<FieldBytes> out(6, FieldBytes{});
  out[1][0] = 1;
  out[2].fill(0xff);
  out[2][0] = 0xec;
  out[2][31] = 0x7f;
  out[3].fill(0xff);
  out[3][0] = 0xed;
  out[3][31] = 0x7f;
  out[4].fill(0xff);
  out[4][31] = 0x7f;
  out[5].fill(0xff);
  return out;
}

}  // namespace

TEST_CASE("Elligator 2 equals the BIGNUM oracle and lands on the curve", "[psi][group]") {
  Oracle oracle;
  auto inputs = random_inputs(500, 1);
  for (const auto& r : edge_inputs()) inputs.push_back(r);
  std::vector<GroupElement> batch(inputs.size());
  elligator2_batch(inputs, batch);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    INFO("input " << i);
    const GroupElement u = elligator2(inputs[i]);
    CHECK(batch[i] == u);
    const Bn expected = oracle.elligator2(inputs[i]);
    CHECK(u == oracle.to_le(expected));
    const Bn value = oracle.from_le(u.data(), false);
    CHECK(oracle.to_le(value) == u);  // canonical: below p
    CHECK(oracle.legendre(oracle.curve(value)) != -1);
  }
}

TEST_CASE("Elligator 2 agrees with libsodium's map after clearing the cofactor", "[psi][group]") {
  REQUIRE(sodium_init() >= 0);
  Oracle oracle;
  for (const auto& r : random_inputs(200, 2)) {
    FieldBytes unsigned_r = r;
    unsigned_r[31] &= 0x7f;
    std::array<std::uint8_t, 32> edwards, montgomery;
    crypto_core_ed25519_from_uniform(edwards.data(), unsigned_r.data());
    REQUIRE(crypto_sign_ed25519_pk_to_curve25519(montgomery.data(), edwards.data()) == 0);
    const GroupElement u = elligator2(r);
    Bn times8 = oracle.from_le(u.data(), false);
    for (int i = 0; i < 3; ++i) times8 = oracle.double_u(times8);
    CHECK(oracle.to_le(times8) == montgomery);
  }
}

TEST_CASE("Elligator 2 is deterministic and maps distinct inputs apart", "[psi][group]") {
  const auto inputs = random_inputs(20000, 3);
  std::vector<GroupElement> first(inputs.size()), second(inputs.size());
  elligator2_batch(inputs, first);
  elligator2_batch(inputs, second);
  CHECK(first == second);
  const std::set<GroupElement> distinct(first.begin(), first.end());
  CHECK(distinct.size() == inputs.size());
  std::vector<GroupElement> empty;
  elligator2_batch({}, empty);
}

TEST_CASE("blinding commutes, and refuses small-order and non-canonical elements", "[psi][group]") {
  const GroupScalar a = random_group_scalar();
  const GroupScalar b = random_group_scalar();
  for (const auto& r : random_inputs(50, 4)) {
    GroupElement ab = elligator2(r);
    GroupElement ba = ab;
    REQUIRE(blind(ab, a));
    REQUIRE(blind(ab, b));
    REQUIRE(blind(ba, b));
    REQUIRE(blind(ba, a));
    CHECK(ab == ba);
  }
  GroupElement zero{};  // the point of order 2
  CHECK_FALSE(blind(zero, a));
  GroupElement one{};  // u = 1: a point of order 4
  one[0] = 1;
  CHECK_FALSE(blind(one, a));
  GroupElement p;  // u = p, not canonical
  p.fill(0xff);
  p[0] = 0xed;
  p[31] = 0x7f;
  CHECK_FALSE(blind(p, a));
  GroupElement top = elligator2(random_inputs(1, 5).front());  // the top bit set
  top[31] |= 0x80;
  CHECK_FALSE(blind(top, a));
}
