#include "mpc/additive_engine.hpp"

#include <stdexcept>
#include <string>

#include "mpc/elements.hpp"
#include "mpc/ops.hpp"
#include "mpc/serialize.hpp"

namespace sm::mpc {

AdditiveEngine::AdditiveEngine(Session& session, CorrelationSource<Ring64>& correlations)
    : session_(session), correlations_(correlations) {}

AdditiveEngine::Shares AdditiveEngine::input(net::PartyId owner, std::span<const Ring64> values,
                                             std::size_t n, std::string_view step) {
  const net::PartyId self = session_.self();
  if (self != owner) return {session_.prg().pairwise_stream(owner).sample<Ring64>(n)};
  if (values.size() != n) {
    throw std::invalid_argument("input '" + std::string(step) + "': expected " + std::to_string(n) +
                                " values");
  }
  std::vector<Ring64> mine(values.begin(), values.end());
  for (net::PartyId peer = 0; peer < session_.parties(); ++peer) {
    if (peer == self) continue;
    const auto theirs = session_.prg().pairwise_stream(peer).sample<Ring64>(n);
    for (std::size_t i = 0; i < n; ++i) mine[i] -= theirs[i];
  }
  return {std::move(mine)};
}

AdditiveEngine::Shares AdditiveEngine::constant(std::span<const Ring64> values) const {
  if (session_.self() == 0) return {std::vector<Ring64>(values.begin(), values.end())};
  return {std::vector<Ring64>(values.size())};
}

AdditiveEngine::Shares AdditiveEngine::add_public(Shares x, std::span<const Ring64> values) const {
  if (session_.self() == 0) add_in_place<Ring64>(x.values, values);
  return x;
}

std::vector<Ring64> AdditiveEngine::open(const Shares& x, std::string_view step) {
  return open(Shares(x), step);
}

std::vector<Ring64> AdditiveEngine::open(Shares&& x, std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  const auto received = mesh.all_to_all(as_bytes<Ring64>(x.values), step);
  for (net::PartyId peer = 0; peer < mesh.size(); ++peer) {
    if (peer != mesh.self()) add_from_bytes<Ring64>(x.values, received[peer], mesh.describe(peer), step);
  }
  return std::move(x.values);
}

std::optional<std::vector<Ring64>> AdditiveEngine::open_to(net::PartyId party, const Shares& x,
                                                           std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  if (mesh.self() != party) {
    mesh.send(party, as_bytes<Ring64>(x.values), step);
    return std::nullopt;
  }
  std::vector<net::PartyId> peers;
  for (net::PartyId peer = 0; peer < mesh.size(); ++peer) {
    if (peer != party) peers.push_back(peer);
  }
  const auto received = mesh.round({}, peers, step);
  std::vector<Ring64> sum = x.values;
  for (std::size_t k = 0; k < peers.size(); ++k) {
    add_from_bytes<Ring64>(sum, received[k], mesh.describe(peers[k]), step);
  }
  return sum;
}

AdditiveEngine::Shares AdditiveEngine::random(std::size_t n, std::string_view /*step*/) {
  return {session_.prg().private_stream().sample<Ring64>(n)};
}

AdditiveEngine::Shares AdditiveEngine::trunc(const Shares& x, int bits, std::string_view step) {
  if (bits <= 0 || bits >= 62) throw std::invalid_argument("trunc: bits must be in 1..61");
  const std::size_t n = x.size();
  const TruncMasks<Ring64> masks = correlations_.trunc_masks(n, bits);
  // y = x + 2^62 lies in [0, 2^63); c = y + r is uniform, so opening it reveals nothing.
  const Ring64 offset = power_of_two<Ring64>(62);
  std::vector<Ring64> masked(n);
  for (std::size_t i = 0; i < n; ++i) masked[i] = x.values[i] + masks.r[i];
  const auto c = open(add_public({std::move(masked)}, std::vector<Ring64>(n, offset)), step);

  // With c = c_msb 2^63 + c', y + (r mod 2^63) = c' + w 2^63 where w = c_msb XOR r_msb, so
  // y >> bits = (c' >> bits) - high + w 2^(63-bits), minus one when the low bits borrow.
  std::vector<Ring64> result(n), public_part(n);
  const Ring64 w_scale = power_of_two<Ring64>(63 - bits);
  const Ring64 unshift = power_of_two<Ring64>(62 - bits);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t cv = c[i].value();
    const std::uint64_t c_msb = cv >> 63;
    // w = c_msb + r_msb - 2 c_msb r_msb: linear in the shared r_msb.
    const Ring64 w_share = c_msb ? -masks.msb[i] : masks.msb[i];
    result[i] = w_share * w_scale - masks.high[i];
    public_part[i] =
        Ring64((cv & ~(std::uint64_t{1} << 63)) >> bits) + Ring64(c_msb) * w_scale - unshift;
  }
  return add_public({std::move(result)}, public_part);
}

AdditiveEngine::Shares AdditiveEngine::less_than_zero(const Shares& x, std::string_view step,
                                                      int bits) {
  if (bits < 1 || bits > value_bits()) {
    throw std::invalid_argument("less_than_zero: bits " + std::to_string(bits) + " outside 1.." +
                                std::to_string(value_bits()));
  }
  return less_than_zero(x, step);
}

AdditiveEngine::Shares AdditiveEngine::less_than_zero(const Shares& x, std::string_view step) {
  const std::size_t n = x.size();
  constexpr std::size_t kWidth = 64;
  const BitMasks<Ring64> masks = correlations_.bit_masks(n, kWidth);
  std::vector<Ring64> masked = x.values;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t b = 0; b < kWidth; ++b)
      masked[i] += masks.bits[i * kWidth + b] * power_of_two<Ring64>(static_cast<int>(b));
  }
  const auto c = open({std::move(masked)}, step);

  // msb(x) = c_63 XOR r_63 XOR borrow, borrow = [c mod 2^63 < r mod 2^63].
  std::vector<u128> low(n);
  std::vector<Ring64> low_bits(n * (kWidth - 1)), top_bit(n);
  for (std::size_t i = 0; i < n; ++i) {
    low[i] = c[i].value() & ~(std::uint64_t{1} << 63);
    for (std::size_t b = 0; b + 1 < kWidth; ++b)
      low_bits[i * (kWidth - 1) + b] = masks.bits[i * kWidth + b];
    top_bit[i] = masks.bits[i * kWidth + kWidth - 1];
  }
  // u = borrow XOR r_63 = borrow + r_63 - 2 r_63 borrow, the product from the same tree.
  const Shares top{std::move(top_bit)};
  const auto tree =
      comparison_tree(*this, low, Shares{std::move(low_bits)}, kWidth - 1, &top, step);
  const Shares u = sub(add(tree.lt, top), scale(tree.top_lt, Ring64(2)));
  std::vector<Ring64> result(n), ones(n);
  for (std::size_t i = 0; i < n; ++i) {
    const bool c_top = c[i].value() >> 63;
    result[i] = c_top ? -u.values[i] : u.values[i];
    ones[i] = Ring64(c_top ? 1 : 0);
  }
  return add_public({std::move(result)}, ones);
}

}  // namespace sm::mpc
