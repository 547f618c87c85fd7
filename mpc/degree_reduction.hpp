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
// term lambda_i s(x_i) with a random polynomial of degree t fixed by the term at 0 and by the
// shares of its next t parties (i + 1 .. i + t mod N), which both ends draw from their pairwise
// PRG seed; it computes its own share and sends the N - 1 - t others theirs. Every party's new
// share is the sum of its shares of the 2t + 1 terms (received or drawn from the seeds).
//
// Cost per call of n secrets: 1 round; party i <= 2t sends n (N - 1 - t) elements (n to each of
// the parties i + t + 1 .. i + N - 1 mod N), parties above 2t send nothing. N = 3 (t = 1): n
// elements per party, 1 per secret (8 bytes in Fp61, 16 in Fp127). n = 0 communicates nothing.
// CPU: per secret, (t + 1) (N - t) multiply-adds and t PRG draws at a resharer, plus t PRG draws
// and t additions for the terms each party receives through seeds.
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
// Errors: std::invalid_argument at construction unless 1 <= t and 2t < N. Not thread-safe (like
// the mesh); the session must outlive the reduction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
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
  Session& session_;
  std::size_t parties_;
  std::size_t threshold_;
  std::vector<Seed> pair_seeds_;  // [peer]; own entry unused
  std::uint64_t batch_ = 0;
  // Parties 0..2t: the weights of the resharing polynomial's free points (this party's degree-2t
  // share, times its lambda, then the t seeded peers' shares) for this party's own new share and
  // for the peers at offsets t + 1 .. N - 1.
  std::vector<F> own_weights_;
  std::vector<std::vector<F>> peer_weights_;
};

}  // namespace sm::mpc
