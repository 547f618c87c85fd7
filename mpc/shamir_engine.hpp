// ShamirEngine<F>: Shamir secret sharing of degree t over F = Fp61 or Fp127, 2t < N parties.
//
// Security: semi-honest, honest majority: any t colluding parties learn nothing (statistically
// up to 2^-40 for masked openings in trunc and less_than_zero). With DealerFreeShamir as the
// correlation source, no trusted helper is needed at all.
//
// Openings send the share to every peer, so every party holds all N shares and checks that they
// lie on one polynomial of degree t before reconstructing: an inconsistent share ends the run
// with ProtocolError at every party that sees it.
//
// Costs (N parties, n elements; |F| = 8 or 16 bytes per element sent to each peer):
//   input     1 round, the owner sends n elements to each peer.
//   open      1 round, n elements to each peer.  open_to: 1 round, n elements to the target.
//   random    1 round, n elements to each peer (every party contributes a random sharing).
//   trunc     1 round, n elements to each peer. Signed |x| < 2^(value_bits-1); the result is
//             floor(x / 2^bits) + e where the mask r = 2^bits high + l makes
//             e = floor(((x mod 2^bits) + l) / 2^bits): e in {0, 1} (mean: unbiased) for the
//             dealer's masks (LocalDealerUnsafe, l in [0, 2^bits)); e in {-d, ..., N - d},
//             d = floor((N - 1) / 2), for DealerFreeShamir's (a sum of every party's mask,
//             built without random bits; unbiased for odd N, 1/2 unit high for even N; N = 3:
//             e in {-1, 0, 1, 2}). Catrina and Saxena, FC 2010, with masks of value_bits + 40
//             bits.
//   less_than_zero  1 + ceil(log2(value_bits - 1)) rounds (Catrina and de Hoogh, SCN 2010).
// value_bits + 40 + log2(N) + 2 must not exceed the field's bits: value_bits <= 64 for Fp127,
// <= 16 for Fp61 (use Fp61 for integer sums, Fp127 for fixed point).
#pragma once

#include "mpc/engine.hpp"
#include "mpc/mersenne.hpp"
#include "mpc/shamir.hpp"

namespace sm::mpc {

template <class F>
class ShamirEngine {
 public:
  using Element = F;
  using Shares = SharedVector<F, ShamirTag>;
  static constexpr int kDefaultValueBits = F::kBits > 64 ? 64 : 16;

  // Session and correlations must outlive the engine. Throws std::invalid_argument unless
  // 1 <= threshold and 2 * threshold < parties, and value_bits fits the field (see above).
  ShamirEngine(Session& session, CorrelationSource<F>& correlations, std::size_t threshold,
               int value_bits = kDefaultValueBits);

  Session& session() { return session_; }
  CorrelationSource<F>& correlations() { return correlations_; }
  // This engine (same session, threshold and value bits) drawing its correlations from
  // `source` (which must outlive the result).
  ShamirEngine with_correlations(CorrelationSource<F>& source) const {
    return ShamirEngine(session_, source, codec_.degree(), value_bits_);
  }
  int value_bits() const { return value_bits_; }
  const ShamirCodec<F>& codec() const { return codec_; }

  Shares input(net::PartyId owner, std::span<const F> values, std::size_t n, std::string_view step);
  Shares constant(std::span<const F> values) const;
  Shares add_public(Shares x, std::span<const F> values) const;
  // The peers' shares are streamed (net::Mesh::round_streamed) and reconstructed as soon as
  // every peer's share of an element is in: n elements of new memory (the secrets) plus the lag
  // between the peers' streams, whatever N.
  std::vector<F> open(const Shares& x, std::string_view step);
  // The same (x is being sent while the secrets form, so its storage cannot hold them).
  std::vector<F> open(Shares&& x, std::string_view step);
  std::optional<std::vector<F>> open_to(net::PartyId party, const Shares& x, std::string_view step);
  Shares random(std::size_t n, std::string_view step);
  Shares trunc(const Shares& x, int bits, std::string_view step);
  Shares less_than_zero(const Shares& x, std::string_view step);
  // For |x| < 2^(bits-1), 2 <= bits <= value_bits: compares bits - 1 bits (1 + ceil(log2(bits -
  // 1)) rounds), with the same masks (the top part keeps its 40 bits of statistical masking).
  Shares less_than_zero(const Shares& x, std::string_view step, int bits);

 private:
  std::vector<std::string> party_names() const;
  // The secrets from this party's shares `own` and every peer's message received[peer] (checked
  // here: length and canonical elements), after the consistency check, into `out` (which may be
  // `own`).
  void reconstruct_opened(std::span<const F> own, std::span<const net::Bytes> received,
                          std::span<F> out, std::string_view step) const;

  Session& session_;
  CorrelationSource<F>& correlations_;
  ShamirCodec<F> codec_;
  int value_bits_;
};

static_assert(Engine<ShamirEngine<Fp61>>);
static_assert(Engine<ShamirEngine<Fp127>>);

}  // namespace sm::mpc
