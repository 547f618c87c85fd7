// AdditiveEngine: additive secret sharing over Z_2^64 among N >= 2 parties.
//
// Security: semi-honest, any N-1 colluding parties learn nothing, given a correlation source
// (the dealer) that colludes with none of them. Multiplication by Beaver triples.
//
// Costs (N parties, n elements, 8 bytes per element sent to each of the N-1 peers):
//   input     0 rounds, 0 bytes: the owner's peers expand their shares from pairwise seeds
//             (a pseudo-random zero sharing); the owner keeps values minus their sum.
//   open      1 round, n elements to each peer.  open_to: 1 round, n elements to the target.
//   mul_with  1 round, 2n elements to each peer (Beaver, CRYPTO 1991: open x - a and y - b
//             together, 2 (N-1) elements per product, the minimum of a one-round Beaver product).
//   random    0 rounds (each party samples its share).
//   trunc     1 round, n elements to each peer; one TruncMasks element triple per value.
//             Exact floor(x / 2^f) or one more (the borrow of the low f bits is not computed;
//             error at most 1 unit in the last place, never a wrap) for |x| < 2^62
//             (Dalskov, Escudero and Keller, USENIX Security 2021).
//   less_than_zero  less_than_thresholds (mpc/ops.hpp) with the one threshold 0, exact: open
//             x + r (r uniform, from WindowMasks), then a comparison of public and shared
//             w-bit numbers whose tree also XORs in the window's top bit, its first two levels
//             from the masks' group products. Without a bound, w = 63: 1 + 4 rounds,
//             1 + 2 (29 + 7) elements per element and peer; with bits, w = bits - 1 or bits,
//             whichever is odd (at least 3): max(1, ceil(log2 w) - 1) rounds (5 for bits = 47).
#pragma once

#include "mpc/engine.hpp"
#include "mpc/ring64.hpp"

namespace sm::mpc {

class AdditiveEngine {
 public:
  using Element = Ring64;
  using Shares = SharedVector<Ring64, AdditiveTag>;
  static constexpr const char* kName = "additive over Z_2^64";

  // Both must outlive the engine.
  AdditiveEngine(Session& session, CorrelationSource<Ring64>& correlations);

  Session& session() { return session_; }
  CorrelationSource<Ring64>& correlations() { return correlations_; }
  // This engine drawing its correlations from `source` (which must outlive the result).
  AdditiveEngine with_correlations(CorrelationSource<Ring64>& source) const {
    return AdditiveEngine(session_, source);
  }
  int value_bits() const { return 63; }

  Shares input(net::PartyId owner, std::span<const Ring64> values, std::size_t n,
               std::string_view step);
  Shares constant(std::span<const Ring64> values) const;
  Shares add_public(Shares x, std::span<const Ring64> values) const;
  // The peers' shares are streamed (net::Mesh::round_streamed) into a copy of x's, so they never
  // occupy memory of their own: n elements of new memory in all, whatever N.
  std::vector<Ring64> open(const Shares& x, std::string_view step);
  // The same (x is being sent while the sum forms, so its storage cannot hold the sum).
  std::vector<Ring64> open(Shares&& x, std::string_view step);
  // x * y with the triples (a, b, c = ab), which it consumes (a triple must never serve twice):
  // opens d = x - a and e = y - b in one round and returns c + d y + e a (mpc/ops.hpp's mul and
  // mul_with call it). Our shares of d and e are sent from a's and b's storage, and every
  // party's share of them is folded into the products in c's storage as it is decrypted: no new
  // memory at all, whatever N. std::invalid_argument if the lengths differ.
  Shares mul_with(const Shares& x, const Shares& y, Triples<Ring64> triples, std::string_view step);
  std::optional<std::vector<Ring64>> open_to(net::PartyId party, const Shares& x,
                                             std::string_view step);
  Shares random(std::size_t n, std::string_view step);
  Shares trunc(const Shares& x, int bits, std::string_view step);
  Shares less_than_zero(const Shares& x, std::string_view step);
  Shares less_than_zero(const Shares& x, std::string_view step, int bits);

 private:
  Session& session_;
  CorrelationSource<Ring64>& correlations_;
};

static_assert(Engine<AdditiveEngine>);

}  // namespace sm::mpc
