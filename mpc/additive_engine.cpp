#include "mpc/additive_engine.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
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

std::vector<Ring64> AdditiveEngine::open(Shares&& x, std::string_view step) {
  return open(static_cast<const Shares&>(x), step);
}

std::vector<Ring64> AdditiveEngine::open(const Shares& x, std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  const std::size_t n = x.values.size();
  // x.values is on its way to the peers while their shares arrive: the sum starts as a copy.
  std::vector<Ring64> sum = x.values;
  const auto lengths = mesh.all_to_all_streamed(
      as_bytes<Ring64>(x.values), n * Ring64::kBytes, step,
      [&sum](std::size_t, std::size_t offset, net::ByteView piece) {
        Ring64* out = sum.data() + offset / Ring64::kBytes;
        for (std::size_t i = 0; i < piece.size() / Ring64::kBytes; ++i) {
          std::uint64_t value;
          std::memcpy(&value, piece.data() + i * Ring64::kBytes, sizeof value);
          out[i] += Ring64(value);
        }
      });
  for (net::PartyId peer = 0; peer < mesh.size(); ++peer) {
    if (peer != mesh.self())
      check_message_length<Ring64>(lengths[peer], n, mesh.describe(peer), step);
  }
  return sum;
}

AdditiveEngine::Shares AdditiveEngine::mul_with(const Shares& x, const Shares& y,
                                                Triples<Ring64> triples, std::string_view step) {
  const std::size_t n = x.size();
  if (y.size() != n || triples.a.size() != n || triples.b.size() != n || triples.c.size() != n) {
    throw std::invalid_argument("mul '" + std::string(step) + "': lengths differ");
  }
  net::Mesh& mesh = session_.mesh();
  // Our shares of d = x - a and e = y - b replace a and b, and go to the peers from there. With
  // d and e the opened sums, our share of the product is c + d y + e a, which summed over the
  // parties is ab + (x - a) y + (y - b) a = xy. It is linear in every party's share of d and
  // of e, so each share is folded into c's storage as it arrives (a = x - d, from our d).
  Ring64* d = triples.a.data();
  Ring64* e = triples.b.data();
  Ring64* z = triples.c.data();
  for (std::size_t i = 0; i < n; ++i) {
    const Ring64 a = d[i];
    d[i] = x.values[i] - a;
    e[i] = y.values[i] - e[i];
    z[i] += d[i] * y.values[i] + e[i] * a;
  }
  const Ring64* x_values = x.values.data();
  const Ring64* y_values = y.values.data();
  const auto lengths = mesh.all_to_all_streamed(
      as_bytes<Ring64>(triples.a), as_bytes<Ring64>(triples.b), 2 * n * Ring64::kBytes, step,
      [&](std::size_t, std::size_t offset, net::ByteView piece) {
        const std::size_t first = offset / Ring64::kBytes;
        const std::size_t count = piece.size() / Ring64::kBytes;
        const auto share = [&piece](std::size_t k) {
          std::uint64_t value;
          std::memcpy(&value, piece.data() + k * Ring64::kBytes, sizeof value);
          return Ring64(value);
        };
        // Elements [0, n) of the message are the peer's d, [n, 2n) its e; a piece may hold both.
        const std::size_t in_d = first < n ? std::min(count, n - first) : 0;
        for (std::size_t k = 0; k < in_d; ++k) z[first + k] += share(k) * y_values[first + k];
        for (std::size_t k = in_d; k < count; ++k) {
          const std::size_t i = first + k - n;
          z[i] += share(k) * (x_values[i] - d[i]);
        }
      });
  for (net::PartyId peer = 0; peer < mesh.size(); ++peer) {
    if (peer != mesh.self())
      check_message_length<Ring64>(lengths[peer], 2 * n, mesh.describe(peer), step);
  }
  return {std::move(triples.c)};
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
  // |x| < 2^(bits-1) holds a fortiori for 3 bits, the fewest less_than_thresholds compares.
  constexpr std::int64_t kZero[] = {0};
  return less_than_thresholds(*this, x, kZero, std::max(bits, 3), 0, step);
}

AdditiveEngine::Shares AdditiveEngine::less_than_zero(const Shares& x, std::string_view step) {
  return less_than_zero(x, step, value_bits());
}

}  // namespace sm::mpc
