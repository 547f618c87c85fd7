// DegreeReduction<F>: from this party's shares of degree 2t of n secrets, its shares of degree t
// of the same secrets, in ONE round (F = Fp61 or Fp127; N parties, 1 <= t, 2t < N; party i holds
// the evaluation at x = i + 1, as in ShamirCodec).
//
// What for: the product of two degree-t sharings, computed share by share, is a degree-2t sharing
// of the product; reducing it multiplies (ShamirEngine::mul / matmul) and makes the dealer-free
// triples' c (DealerFreeShamir). A sum of products may be reduced once: a dot product or a matrix
// product costs the reduction of its outputs only.
//
// How (Gennaro, Rabin and Rabin, "Simplified VSS and fast-track multiparty computations",
// PODC 1998, resharing; PRG-compressed): the secret is s = sum_{i <= 2t} lambda_i s(x_i), with
// lambda_i the Lagrange weights of the points x_0 .. x_2t at 0. Each party i <= 2t shares its
// term lambda_i s(x_i) with a random polynomial of degree t whose shares at its next t parties
// (i + k mod N, k = 1..t, at the points a_k) both ends draw from their pairwise PRG seed; it
// computes its own share and sends the N - 1 - t others theirs. Every party's new share is the
// sum of its shares of the 2t + 1 terms (received or drawn from the seeds). The polynomial is
//   f(x) = sigma P(x) s(x_i) + sum_k W_k(x) w_k,   P(x) = prod_k (a_k - x),
//   W_k(x) = x prod_(j != k) (x - a_j),            sigma = lambda_i / prod_k a_k,
// with w_k the k-th seeded value: f(0) = lambda_i s(x_i), and f(a_k) = c_k w_k with the public
// integer c_k = W_k(a_k) != 0, which seeded peer k takes as its share. The weights P(x) and
// W_k(x) are small integers for small N, and so cheap (mpc/linear_combination.hpp); sigma is
// applied once per secret, as a rotation (times a small integer folded into P) when it is
// 2^-e m with m small (N = 3: sigma is 3/2, -1 or 1), else as one product.
//
// Cost per call of n secrets: 1 round; party i <= 2t sends n (N - 1 - t) elements (n to each of
// the parties i + t + 1 .. i + N - 1 mod N), parties above 2t send nothing. N = 3 (t = 1): n
// elements per party, 1 per secret (8 bytes in Fp61, 16 in Fp127). n = 0 communicates nothing.
// CPU per secret: at a resharer, sigma's rotation or product, t PRG draws and N - t linear
// combinations of t + 1 points; at every party, t' more PRG draws and terms for the seeded
// values it receives (t' <= t the resharers seeding it), and the received messages added.
// N = 3: every weight at most 3 in magnitude, 2 PRG draws and 5 terms per party.
//
// Security: semi-honest parties, static corruption, honest majority (t < N / 2). Nothing is
// opened: every resharing polynomial is uniformly random given its term (t uniform seeded points
// and the term fix it), so any t parties' shares of an honest party's term are uniform and
// independent of the term, perfectly up to the PRG (AES-128-CTR) expanding the pairwise seeds.
// The output is a fresh sharing whose randomness comes from the honest parties' polynomials.
//
// Seeds: the constructor derives this component's own pairwise seeds from session.prg() (one
// pairwise stream per peer, no communication), so two reductions (the engine's, a correlation
// source's) never share a PRG stream. Ordering: every party must make the same calls with the
// same lengths in the same order, or the run ends with NetError / ProtocolError (message lengths
// are checked, naming the peer and `step`) or gives wrong results.
//
// Memory: the instance keeps its PRG contexts (one per seeded peer and per seeding resharer, keyed
// once) and its scratch between calls: the seeded values of one chunk, a block of received
// elements and, for calls of up to kRetainedElements secrets, the outgoing messages (larger calls
// allocate theirs and free them).
//
// Errors: std::invalid_argument at construction unless 1 <= t and 2t < N. Not thread-safe (like
// the mesh); the session must outlive the reduction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpc/mersenne.hpp"
#include "mpc/prg.hpp"
#include "mpc/session.hpp"

namespace sm::mpc {

template <class F>
class DegreeReduction {
 public:
  DegreeReduction(Session& session, std::size_t threshold);

  std::size_t threshold() const { return threshold_; }

  // This party's shares of degree t of the secrets of `shares` (degree 2t); 1 round (above).
  // The result takes the place of `shares` (move a vector in to spare a copy).
  std::vector<F> reduce(std::vector<F> shares, std::string_view step);

 private:
  // Messages of at most this many elements keep their buffers for the next call.
  static constexpr std::size_t kRetainedElements = std::size_t{1} << 16;
  // Received elements loaded at a time (L1-resident).
  static constexpr std::size_t kReceivedBlock = 512;

  Session& session_;
  std::size_t parties_;
  std::size_t threshold_;
  std::uint64_t batch_ = 0;
  // The pairwise PRGs, keyed once and restarted at each call's streams: to the seeded peers
  // (offsets 1..t, resharers only) and from seeding_resharers_ (in its order).
  std::vector<Prg> to_seeded_, from_resharers_;
  // Parties 0..2t: how sigma is applied (a general product, or a rotation by -prescale_shift_),
  // and the weights of the points (the prescaled degree-2t share, w_1 .. w_t) for this party's
  // own new share and for the peers at offsets t + 1 .. N - 1.
  bool prescale_general_ = false;
  F prescale_multiplier_{};
  int prescale_shift_ = 0;
  std::vector<F> own_weights_;
  std::vector<std::vector<F>> peer_weights_;
  // The resharers whose seeded peer this party is, and the factors c_k of their seeded values.
  std::vector<net::PartyId> seeding_resharers_;
  std::vector<F> seeded_factors_;
  // The weights of this party's new share: own_weights_ (resharers) then seeded_factors_.
  std::vector<F> new_share_weights_;
  // The peers at offsets t + 1 .. N - 1 (resharers; messages_ in that order), the resharers this
  // party receives a message from, and their names for errors.
  std::vector<net::PartyId> message_peers_, message_senders_;
  std::vector<std::string> sender_names_;
  // Scratch kept between calls (see Memory above): the messages, the seeded values, the points
  // of a chunk's combinations (the prescaled share, then the drawn values), the round's sends
  // and expected lengths, and a block of received elements.
  std::vector<std::vector<F>> messages_;
  std::vector<F> seeded_;
  std::vector<const F*> points_;
  std::vector<net::Outgoing> sends_;
  std::vector<std::size_t> expected_;
  std::vector<F> received_block_;
};

// The secrets of degree-2t sharings, opened in 1 round: parties 0..2t (the senders) send their n
// shares to every peer, and every party interpolates the senders' shares at 0 (N = 3: 2n
// elements per party). Unchecked: 2t + 1 shares always lie on one polynomial of degree 2t. The
// opened polynomial is revealed whole, so the caller must have made it uniformly random given
// its secret (e.g. a fresh random degree-2t sharing added: masking before opening, Damgard and
// Nielsen, CRYPTO 2007, section 3). `shares` is read at the senders only (the others pass
// anything of length n). `senders_at_zero`: the Lagrange weights of the senders' points at 0
// (senders_at_zero<F>(threshold), computed once by the caller). ProtocolError / NetError naming
// the peer and `step`.
template <class F>
std::vector<F> open_degree_2t(Session& session, std::size_t threshold, std::span<const F> shares,
                              std::string_view step, std::span<const F> senders_at_zero);

// The Lagrange weights of the points of parties 0..2t at 0.
template <class F>
std::vector<F> senders_at_zero(std::size_t threshold);

}  // namespace sm::mpc
