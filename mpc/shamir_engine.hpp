// ShamirEngine<F>: Shamir secret sharing of degree t over F = Fp61 or Fp127, 2t < N parties.
//
// Security: semi-honest, honest majority: any t colluding parties learn nothing (statistically
// up to 2^-40 for masked openings in trunc and less_than_zero). With DealerFreeShamir as the
// correlation source, no trusted helper is needed at all.
//
// Multiplication by degree reduction, not Beaver triples: the share-by-share product of two
// degree-t sharings is a degree-2t sharing of the product, reduced to degree t in one round by
// PRG-compressed resharing (mpc/degree_reduction.hpp; Gennaro, Rabin and Rabin, PODC 1998; as
// MP-SPDZ's semi-honest Shamir). Nothing is opened, and each resharing polynomial is uniform
// given its term, so any t parties' view is independent of the factors (semi-honest, t < N/2).
// Against Beaver with dealer-free triples (open x-a, y-b: 2 (N-1) elements per product and
// party, plus the triple's 2 elements and 2 preprocessing rounds at N = 3) it is the same one
// online round, no preprocessing, and 1 element per product and party at N = 3. The engine's
// reduction has its own pairwise seeds, derived from session.prg() at construction (every party
// must construct its engines in the same order), shared with the copies with_correlations makes.
//
// Openings send the share to every peer, so every party holds all N shares and checks that they
// lie on one polynomial of degree t before reconstructing: an inconsistent share ends the run
// with ProtocolError at every party that sees it.
//
// Costs (N parties, n elements; |F| = 8 or 16 bytes per element sent to each peer):
//   input     1 round; the owner sends n elements to each of N - 1 - t peers (N = 3: n in all);
//             the owner's next t parties (owner + 1 .. owner + t mod N) draw their shares from the
//             seed they share with the owner (PrgState::pairwise_stream) and take no part in the
//             round. The polynomial is fixed by the secret and those t uniform shares, so any t
//             shares are uniform and independent of the secret (up to the PRG, AES-128-CTR).
//   open      1 round, n elements to each peer.  open_to: 1 round, n elements to the target.
//   random    1 round, n elements to each peer (every party contributes a random sharing).
//   mul       1 round; parties 0..2t send n (N - 1 - t) elements in all (n to each of N - 1 - t
//             peers), the others nothing: N = 3, t = 1: n elements per party.
//   matmul    1 round; as mul for the rows x cols outputs (a dot product: 1 output).
//   open_products  1 round: parties 0..2t send n elements to every peer (a degree-2t opening, a
//             fresh degree-2t sharing of 0 added: see trunc_sum_of_products); trunc_products
//             likewise, with trunc's mask.
//   trunc     1 round, n elements to each peer. Signed |x| < 2^(value_bits-1); the result is
//             floor(x / 2^bits) + e where the mask r = 2^bits high + l makes
//             e = floor(((x mod 2^bits) + l) / 2^bits): e in {0, 1} (mean: unbiased) for the
//             dealer's masks (LocalDealerUnsafe, l in [0, 2^bits)); e in {-d, ..., N - d},
//             d = floor((N - 1) / 2), for DealerFreeShamir's (a sum of every party's mask,
//             built without random bits; unbiased for odd N, 1/2 unit high for even N; N = 3:
//             e in {-1, 0, 1, 2}). Catrina and Saxena, FC 2010, with masks of value_bits + 40
//             bits.
//   trunc_sum_of_products  1 round: trunc(sum_k x[k n + i] y[k n + i] + c[i], bits) for i < n,
//             with trunc's mask, result (P - high) and error. The local products summed over k
//             are a degree-2t sharing of the sum; parties 0..2t (the senders; N = 2t + 1: all)
//             open it plus c + r + 2^(value_bits-1) and a fresh degree-2t sharing Z of 0, each
//             sending n elements to every peer (N = 3: 2n per party), the others nothing; every
//             party interpolates the degree-2t polynomial at 0. Against mul + trunc (2 rounds;
//             n (K (N - 1 - t) + N - 1) elements per party of 0..2t) it saves the degree
//             reduction's round and elements. Z is every sender's degree-2t sharing of 0 among
//             the senders, without communication: its 2t fellow senders draw their shares from
//             the seed each shares with it (PrgState::pairwise_stream), its own share follows
//             from those and 0 at 0 (4t n PRG elements per sender). Security (t < N/2, semi-
//             honest): of an honest sender's 2t fellow senders at least t are honest, so its
//             polynomial is uniform among those through 0 and the corrupted parties' known
//             shares, and the opened polynomial reveals only its value at 0 (masking before
//             opening: Damgard and Nielsen, CRYPTO 2007, section 3), which r hides as in trunc.
//             Unchecked: 2t + 1 shares always lie on one polynomial of degree 2t.
//   less_than_zero  1 + ceil(log2(value_bits - 1)) - 2 rounds (Catrina and de Hoogh, SCN 2010,
//             with window masks): an opening (n elements to each peer), then the comparison
//             tree's muls (mpc/ops.hpp less_than_thresholds; on Fp127 over Fp61 by the bit
//             engine, the root opened under a switch mask).
// value_bits + 40 + log2(N) + 2 must not exceed the field's bits: value_bits <= 64 for Fp127,
// <= 16 for Fp61 (use Fp61 for integer sums, Fp127 for fixed point).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "mpc/degree_reduction.hpp"
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

  // The engine of a comparison's bits and tree (ComparisonBit<F>, mpc/correlations.hpp): this
  // engine for Fp61; for Fp127 an Fp61 engine on the same session and threshold with its own
  // reduction (seeds drawn at construction, after this engine's), which draws no correlations
  // (its correlations() throw std::logic_error): less_than_thresholds brings them.
  using BitEngine = ShamirEngine<ComparisonBit<F>>;
  BitEngine& bit_engine();

  Session& session() { return session_; }
  CorrelationSource<F>& correlations() { return *correlations_; }
  // This engine (same session, threshold and value bits) drawing its correlations from
  // `source` (which must outlive the result).
  ShamirEngine with_correlations(CorrelationSource<F>& source) const {
    ShamirEngine engine = *this;
    engine.correlations_ = &source;
    return engine;
  }
  int value_bits() const { return value_bits_; }
  const ShamirCodec<F>& codec() const { return codec_; }

  // The owner passes its n secrets (others: anything); every party gets its shares (1 round,
  // see above). The owner deals a chunk at a time: no memory for the seeded peers' shares beyond
  // a few thousand elements, and n elements per receiving peer for its message.
  Shares input(net::PartyId owner, std::span<const F> values, std::size_t n, std::string_view step);
  // The same, the owner's shares taking the place of its secrets in `values`' storage (no new
  // memory for them); the other parties' `values` are ignored.
  Shares input(net::PartyId owner, std::vector<F>&& values, std::size_t n, std::string_view step);
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
  // The secrets of degree-2t sharings that the caller has made uniformly random given their
  // secrets (mpc/degree_reduction.hpp open_degree_2t: 1 round, parties 0..2t send n elements to
  // every peer, unchecked).
  std::vector<F> open_degree_2t(const Shares& x, std::string_view step);
  // The secrets of degree-2t sharings that need not be uniformly random given their secrets,
  // such as local products of shares (e.g. of a shared matrix and vector, where the product's
  // reduction would take a round): parties 0..2t add a fresh degree-2t sharing of 0
  // (senders_zero_sharing: masking before opening, as trunc_sum_of_products) and open the sum
  // (1 round, n elements to every peer from parties 0..2t, unchecked).
  std::vector<F> open_products(const Shares& x, std::string_view step);
  // x[i] y[i]: the local products (a degree-2t sharing), reduced to degree t (1 round).
  Shares mul(const Shares& x, const Shares& y, std::string_view step);
  // (rows x inner)(inner x cols), row-major: the local product of the shares (each output a sum
  // of degree-2t products), reduced to degree t (1 round, rows x cols elements reduced).
  Shares matmul(const Shares& a, const Shares& b, std::size_t rows, std::size_t inner,
                std::size_t cols, std::string_view step);
  Shares trunc(const Shares& x, int bits, std::string_view step);
  // trunc(sum_k x[k n + i] y[k n + i] + c[i], bits) for n = c.size() and K pieces: x and y hold
  // K n shares each, piece-major (std::invalid_argument otherwise). 1 round (see above).
  Shares trunc_sum_of_products(const Shares& x, const Shares& y, const Shares& c, int bits,
                               std::string_view step);
  // trunc(x, bits) for x given at degree 2t (e.g. a sum of local products): trunc_sum_of_products
  // of sums already formed (its mask, result, error, round and elements).
  Shares trunc_products(const Shares& x, int bits, std::string_view step);
  Shares less_than_zero(const Shares& x, std::string_view step);
  // For |x| < 2^(bits-1), 2 <= bits <= value_bits: compares bits - 1 bits, made even (1 +
  // max(0, ceil(log2(bits - 1)) - 2) rounds), with the same masks (the top part keeps its 40
  // bits of statistical masking).
  Shares less_than_zero(const Shares& x, std::string_view step, int bits);

 private:
  std::vector<std::string> party_names() const;
  // input's part for a party other than the owner: its n shares, drawn from the seed it shares
  // with the owner or received from it; std::nullopt at the owner. std::invalid_argument for an
  // owner outside the session.
  std::optional<Shares> input_if_not_owner(net::PartyId owner, std::size_t n,
                                           std::string_view step);
  // std::invalid_argument unless the owner gave n values.
  static void check_input_length(std::size_t given, std::size_t n, std::string_view step);
  // input's part at the owner: sends every receiving peer its shares of `values` (1 round) and
  // writes the owner's into own_share (same length, which may be `values`' storage).
  void deal(std::span<const F> values, std::span<F> own_share, std::string_view step);
  // std::invalid_argument unless 1 <= bits <= value_bits - 2 (`operation` names the caller).
  void check_trunc_bits(int bits, std::string_view operation) const;
  // x + r + 2^(value_bits-1), trunc's masked value (opened at degree t by trunc, at degree 2t by
  // trunc_products).
  Shares trunc_masked(const Shares& x, const TruncMasks<F>& masks) const;
  // P - high: the truncation's result from the opened c = x + r + 2^(value_bits-1), P the top
  // part of c less the offset's.
  Shares public_minus_high(std::span<const F> opened, const TruncMasks<F>& masks, int bits) const;
  // This sender's share of a fresh degree-2t sharing of 0 over parties 0..2t, n elements: the
  // sum of every sender's seeded sharing (see trunc_sum_of_products above). Senders only.
  std::vector<F> senders_zero_sharing(std::size_t n);
  // The secrets from this party's shares `own` and every peer's message received[peer] (checked
  // here: length and canonical elements), after the consistency check, into `out` (which may be
  // `own`).
  void reconstruct_opened(std::span<const F> own, std::span<const net::Bytes> received,
                          std::span<F> out, std::string_view step) const;

  Session& session_;
  CorrelationSource<F>* correlations_;  // never null
  ShamirCodec<F> codec_;
  int value_bits_;
  // Shared by the copies that with_correlations makes: one sequence of PRG streams per session.
  std::shared_ptr<DegreeReduction<F>> reduction_;
  // senders_zero_sharing's Lagrange weights (senders only): of 0 and the fellow senders' points
  // at this party's; and open_degree_2t's, of the senders' points at 0.
  std::vector<F> zero_sharing_weights_, senders_at_zero_;
  // Fp127's bit engine (null for Fp61, whose bit engine is itself); shared by the copies that
  // with_correlations makes.
  std::shared_ptr<BitEngine> bit_engine_;
};

static_assert(MultipliesWithoutTriples<ShamirEngine<Fp61>>);
static_assert(MultipliesWithoutTriples<ShamirEngine<Fp127>>);
static_assert(TruncatesSumsOfProducts<ShamirEngine<Fp61>>);
static_assert(TruncatesSumsOfProducts<ShamirEngine<Fp127>>);
static_assert(OpensProducts<ShamirEngine<Fp61>>);
static_assert(OpensProducts<ShamirEngine<Fp127>>);

}  // namespace sm::mpc
