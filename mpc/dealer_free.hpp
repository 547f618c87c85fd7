// DealerFreeShamir<F>: correlated randomness for ShamirEngine<F> (F = Fp61 or Fp127) that the
// N >= 3 parties generate among themselves, with no dealer and no trusted helper.
//
// What it provides (all shares are Shamir of degree t unless said otherwise, party i holding the
// evaluation at x = i + 1, as in ShamirCodec):
//   double_sharings(n)  n random double sharings ([r]_t, [r]_2t).
//   triples(n)          Beaver triples, c = ab.
//   matrix_triple(...)  a (rows x inner)(inner x cols) matrix triple, C = AB.
//   random_bits(n)      n uniformly random bits in {0, 1}.
//   trunc_masks(n, f)   every party i draws r_i uniformly from [0, 2^(value_bits + 40)) and
//                       deals sharings of r_i and of r_i >> f; r = sum_i r_i, and
//                       high = sum_i (r_i >> f) + delta with delta = trunc_mask_offset(N) =
//                       floor((N - 1) / 2). So r = 2^f high + l with l = sum_i (r_i mod 2^f) -
//                       delta 2^f in [-delta 2^f, (N - delta) 2^f), 0 <= r < N 2^(value_bits+40),
//                       and ShamirEngine::trunc's result is floor(x / 2^f) + e with
//                       e = floor(((x mod 2^f) + l) / 2^f) in {-delta, ..., N - delta}. As
//                       floor(a + U) has mean a for U uniform on [0, 1), e's mean is
//                       (x mod 2^f) / 2^f + (N - 1) / 2 - delta up to 2^-f: the result is
//                       unbiased for odd N (e in {-1, 0, 1, 2} for N = 3) and 1/2 unit high for
//                       even N. No random bits are needed (contrast bit_masks).
//   bit_masks(n, w)     n * w random bits, and high[k] a sum of N values each party draws
//                       uniformly from [0, 2^40) (ShamirEngine::less_than_zero masks with
//                       2^w * high).
//   window_masks(n, l, w) WindowMasks (mpc/correlations.hpp, the field form): n * w random bits
//                       and high as bit_masks, r = 2^l (bits + 2^w high) locally, and each
//                       group's products (groups of G = window_group_bits<F>(w) = 3 or 4 bits): the
//                       pairs of every group (3 per group of 3, 6 per group of 4, 1 for a last
//                       group of 2) from the bits, reduced to degree t together; then the
//                       triples (and quadruple) from the reduced pairs (012 = 01 b_2; for groups
//                       of 4 also 013 = 01 b_3, 023 = 02 b_3, 123 = 12 b_3, 0123 = 01 23),
//                       reduced together. Fp127: the bits and products are over Fp61
//                       (ComparisonBit), made so by an inner DealerFreeShamir<Fp61> (its own
//                       seeds, drawn after this source's); the window's value over Fp127 comes
//                       from its pieces of at most 20 - bit_width(N) bits (N = 3: 18; w = 24: 2
//                       pieces of 12): each piece's value, a local sum of its bits over Fp61, is
//                       opened at degree 2t (open_degree_2t) under a switch mask of piece + 40
//                       bits and that mask's Fp127 side subtracted; high is dealt over Fp127 with
//                       the switch masks.
//   switch_masks(n, b)  Fp127 only: SwitchMasks (mpc/correlations.hpp): every party draws its
//                       term of each rho uniformly from [0, 2^b) and deals it as a fixed secret
//                       at degree 2t over Fp61 and at degree t over Fp127; each side sums the N
//                       dealers' sharings.
//   masked_matrix(r, c) a random r x c matrix U (extracted random sharings; id unused: U is
//                       read from the argument of masked_products).
//   masked_products     for each row subset B: random v, vt; [U_B v]_2t and [U_B^T vt]_2t
//                       locally from the degree-t shares, reduced to degree t as for matrix
//                       triples.
//
// How (N parties, threshold t, 1 <= t, 2t < N; E = N - t; all vectorised, so the rounds of every
// call are constant, independent of n):
//   Dealing and extraction: Damgard and Nielsen, "Scalable and unconditionally secure multiparty
//     computation", CRYPTO 2007. Every party deals random sharings of its own; the parties apply
//     the fixed E x N Vandermonde matrix M[k][d] = (d + 1)^k to the N dealers' sharings and keep
//     the E outputs, which are uniform and independent to any t parties (the columns of the
//     honest dealers form an invertible Vandermonde matrix). Dealing is PRG-compressed, as in
//     DegreeReduction: a dealer's polynomial of degree d (t, or 2t for a double sharing's high
//     part) is f(x) = lead P(x) + sum_k W_k(x) w_k, with a_1 .. a_d the points of its next d
//     parties (dealer + k mod N), P(x) = prod_k (a_k - x), W_k(x) = x prod_(j != k) (x - a_j),
//     w_k drawn from the PRG seed the dealer shares with party k, and the lead a private draw
//     (random secret f(0) = lead P(0)) or a fixed secret times 1 / P(0). Party k's share is
//     f(a_k) = c_k w_k with the public integer c_k = W_k(a_k) != 0, so it comes from the seed;
//     only the other N - 1 - d parties are sent theirs. The weights P(x), W_k(x) and c_k are
//     small integers for small N (cheap in mpc/linear_combination.hpp). As the W_k span the
//     polynomials of degree d that vanish at 0, f is uniform given its secret:
//       random degree-t sharing          seeds for t peers,   sent to N - 1 - t peers,
//       degree-2t sharing, fixed secret  seeds for 2t peers,  sent to N - 1 - 2t peers,
//       degree-t sharing, fixed secret   seeds for t peers,   sent to N - 1 - t peers.
//     A double sharing is a random degree-t sharing plus a degree-2t sharing of its secret.
//   Triples: [a]_t, [b]_t from the extraction, [ab]_2t = [a]_t [b]_t locally, reduced to degree
//     t in one round by PRG-compressed resharing (DegreeReduction, mpc/degree_reduction.hpp:
//     Gennaro, Rabin and Rabin, PODC 1998; this source's own instance and seeds). Matrix triples
//     likewise, with [AB]_2t = [A]_t [B]_t locally, so communication is O(rows inner + inner
//     cols + rows cols), never O(rows inner cols).
//   Random bits, N >= 5: b = b_0 XOR ... XOR b_t of t + 1 bits dealt by t + 1 distinct parties
//     (each party shares its own uniformly random bits as degree-t sharings with a fixed secret;
//     bit i uses the dealer bits q = i (t + 1) + j, j <= t, of dealer q mod N, so every party
//     deals about (t + 1) n / N of them). At least one of the t + 1 dealers is honest, so b is
//     uniform and unknown to any t parties. a XOR b = a + b - 2ab, with ab reduced from degree 2t
//     like the triples' products, in a tree of ceil(log2(t + 1)) levels: t products per bit. No
//     exponentiation (the squaring method of Damgard et al., TCC 2006, spent 125 squarings in
//     F_(2^127-1) per bit on a Legendre symbol: most of the CPU of logistic regression).
//   Random bits, N = 3 (so t = 1): the n bits are padded to 3m, m = ceil(n / 3), in 3 segments
//     of m; in segment k, with a and b the other two parties, b = beta XOR gamma where
//       beta   is a bit that a and b draw from a pairwise PRG stream only they hold (seeds of
//              this source's own, apart from the dealing's). It has the degree-1 sharing
//              beta (x_k - x) / x_k: a and b compute theirs, k's is 0, nothing is sent.
//       gamma  is a bit of k's own, dealt by k (a fixed-secret degree-t dealing, as above).
//     beta XOR gamma = beta + gamma - 2 beta gamma. The degree-2 sharing of beta gamma (the
//     share-wise product) has k's share 0, so its secret is lambda_a s_a + lambda_b s_b
//     (lambda the Lagrange weights of x = 1, 2, 3 at 0): a and b each deal their term as a
//     fixed-secret degree-t sharing (Gennaro, Rabin and Rabin's resharing, of which k's part
//     would share 0, so it is left out) and every party adds its two shares. Why no single
//     party learns b: k's view (gamma, its own zero share of beta, one share of each of a's and
//     b's term sharings, each uniform by the dealer's seeded point) is independent of beta, which
//     is uniform; a's view (beta, one share of k's dealing of gamma and one of b's term, both
//     uniform given their secrets, and its own term, a function of these) is independent of
//     gamma, which is uniform; b's likewise. Each segment's bits are independent of the
//     others'. Per bit: one dealing (k's gamma) and two terms, one element sent each, no
//     product at k: 1 element per bit and party instead of 5/3, still 2 rounds. A version for
//     t = 1 and any N would need a seed common to every N - 1 parties; N >= 5 keep the XOR.
//
// Costs per call, elements SENT by one party (8 bytes for Fp61, 16 for Fp127), with
// slots(m) = ceil(m / E) and reshare(m) = m (N - 1 - t) for parties 0..2t, 0 for the others
// (the degree reduction of m products, 1 round):
//   double_sharings(n)       1 round;  slots(n) (2N - 2 - 3t)
//   triples(n)               2 rounds; deal slots(2n) (N-1-t), plus reshare(n). N = 3, t = 1:
//                            2 elements per triple (16 bytes in Fp61, 32 in Fp127).
//   matrix_triple(r, i, c)   2 rounds; slots(ri + ic) (N-1-t) + reshare(rc).
//   random_bits(n)           N = 3: 2 rounds; 3 ceil(n / 3) (ceil(n / 3) for gamma, 2 ceil(n /
//                            3) for the terms): 1 element per bit (3 | n).
//                            N >= 5: 1 + ceil(log2(t + 1)) rounds; ceil((t + 1) n / N) (N - 1 -
//                            t) (the dealer bits) plus, per level of the XOR tree with m
//                            products, reshare(m).
//   trunc_masks(n, f)        1 round;  2 n (N - 1 - t) (sharings of r_i and r_i >> f).
//   masked_matrix(r, c)      1 round; slots(r c) (N - 1 - t).
//   masked_products(U, Bs)   2 rounds for all subsets together; slots(m) (N-1-t) + reshare(m),
//                            m = sum over the subsets of (|B| + c): O(|B| + c) per subset,
//                            never O(|B| c).
//   bit_masks(n, w)          as random_bits(n w), plus n (N - 1 - t) in its dealing round.
//   window_masks(n, l, w)    Fp61: as bit_masks(n, w), then reshare(n (3 floor(w / 3) +
//                            [w mod 3 = 2])) (1 round) and, for w >= 3, reshare(n floor(w / 3))
//                            (1 round), for G = window_group_bits<F>(w) = 3; for G = 4 (w = 4,
//                            8, 14, 16)
//                            reshare(n (6 floor(w / 4) + [w mod 4 = 2])) and reshare(5 n
//                            floor(w / 4)): for N = 3, 2 + 2 rounds and w + 1 + 4 floor(w / 3)
//                            + [w mod 3 = 2] elements per mask for G = 3 (w = 14, G = 4:
//                            14 + 1 + 34).
//   Fp127 window_masks(n, l, w)  the bits and products as above over Fp61 (8 bytes each, N = 3:
//                            24 + 32 elements per mask for w = 24), then 1 round dealing high and
//                            the pieces' switch masks over Fp127 (n (1 + P) (N - 1 - t), P
//                            pieces; N = 2t + 1: their Fp61 sides are seeded, nothing sent) and
//                            1 round opening the pieces (n P (N - 1) Fp61 elements from parties
//                            0..2t): for N = 3, w = 24 (P = 2), 2 + 2 + 2 rounds and 56 Fp61 +
//                            3 Fp127 + 4 Fp61 elements per mask, 528 bytes (912 with the bits
//                            over Fp127). N > 2t + 1: the switch masks' Fp61 dealing sends
//                            n P (N - 1 - 2t) Fp61 elements more, in a round of its own.
//   switch_masks(n, b)       1 round; n (N - 1 - t) over Fp127 and n (N - 1 - 2t) over Fp61 (a
//                            round of its own when N > 2t + 1).
// A call with nothing to produce (n = 0) communicates nothing.
//
// Security: semi-honest parties, static corruption, honest majority (t < N / 2). Any t colluding
// parties learn nothing about the values behind the shares (a, b, c, A, B, C, r, the bits): their
// view is independent of them, perfectly up to the security of the PRG (AES-128-CTR) that expands
// the pairwise seeds. Nothing is opened: in a degree reduction, every resharing polynomial is
// uniformly random given its term (t uniform seeded points and the term fix it), so any t
// parties' shares of an honest party's term are uniform and independent of it.
// The pieces of Fp127's window masks are opened, but under switch masks: an honest party's term
// is uniform over 2^(piece + 40) values, so the opened piece + rho is within statistical
// distance 2^-40 of the same with another piece, and the opened degree-2t polynomial is uniform
// given its value (each honest dealer's polynomial is, through the t or more seeded points its
// honest peers draw), as in ShamirEngine::trunc_sum_of_products.
// The truncation masks r and the comparison masks' high parts are sums in which each honest
// party's term is uniform over 2^(value_bits + 40) resp. 2^40 values and unknown to the others:
// for y < 2^value_bits, y + r_i is within statistical distance 2^-40 of r_i, so the engine's
// masked openings (y + r in trunc, as in Catrina and Saxena, FC 2010) are statistically hidden
// whatever the other parties' terms are.
//
// Ordering: the source communicates over session.mesh(). Every party must make the same calls
// with the same arguments in the same order (an engine's operations do so), or the run ends
// with ProtocolError / NetError (message lengths are checked) or wrong results.
//
// Errors: std::invalid_argument for bad parameters (at construction: N >= 3, 1 <= t, 2t < N,
// value_bits + 40 + bit_width(N) + 2 <= F::kBits; per call: 1 <= f < value_bits + 40, a window
// as WindowMasks requires, switch mask bits as check_switch_bits requires); std::logic_error
// for switch_masks on Fp61; NetError and ProtocolError from the mesh and from malformed messages
// (naming the peer and the step).
//
// Not thread-safe (like the mesh). The session must outlive the source.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "mpc/correlations.hpp"
#include "mpc/degree_reduction.hpp"
#include "mpc/mersenne.hpp"
#include "mpc/prg.hpp"
#include "mpc/session.hpp"

namespace sm::mpc {

// This party's shares of random double sharings: low[k] of degree t and high[k] of degree 2t,
// both of the same uniformly random secret r_k.
template <class F>
struct DoubleSharings {
  std::vector<F> low, high;
};

template <class F>
class DealerFreeShamir final : public CorrelationSource<F> {
 public:
  // Derives this source's PRG seeds from session.prg() (a private stream and one pairwise
  // stream per peer, no communication). `value_bits` sizes the trunc and comparison masks as
  // in ShamirEngine (use the engine's value_bits).
  DealerFreeShamir(Session& session, std::size_t threshold, int value_bits);

  std::size_t threshold() const { return threshold_; }
  int value_bits() const { return value_bits_; }

  DoubleSharings<F> double_sharings(std::size_t n);

  Triples<F> triples(std::size_t n) override;
  MatrixTriple<F> matrix_triple(std::size_t rows, std::size_t inner, std::size_t cols) override;
  TruncMasks<F> trunc_masks(std::size_t n, int frac_bits) override;
  BitMasks<F> bit_masks(std::size_t n, std::size_t width) override;
  std::vector<F> random_bits(std::size_t n) override;
  WindowMasks<F> window_masks(std::size_t n, int low, std::size_t width) override;
  SwitchMasks<F> switch_masks(std::size_t n, int bits) override;
  MaskedMatrix<F> masked_matrix(std::size_t rows, std::size_t cols) override;
  std::vector<MaskedProducts<F>> masked_products(
      const MaskedMatrix<F>& matrix, std::span<const std::vector<std::size_t>> subsets) override;

 private:
  // What one dealing round produces: `random` random degree-t sharings, `doubles` double
  // sharings (both extracted), `bounded` sums of the parties' values uniform in
  // [0, 2^bounded_bits), shared at degree t, and `dealer_bits` random bits from every party,
  // shared at degree t and kept apart per dealer, and `terms`: this party's own fixed secrets
  // (every party passes as many), shared at degree t and kept apart per dealer.
  struct Request {
    std::size_t random = 0, doubles = 0, bounded = 0;
    int bounded_bits = 0;
    int bounded_shift = 0;  // if > 0, also the sums of each party's value >> bounded_shift
    std::size_t dealer_bits = 0;
    std::span<const F> terms = {};
    // This party's own fixed secrets (every party passes as many), shared at degree t resp. 2t
    // and summed over the dealers.
    std::span<const F> summed_terms = {}, summed_terms_2t = {};
  };
  struct Dealt {
    std::vector<F> random, low, high, bounded, shifted;
    std::vector<F> dealer_bits;  // dealer d's number k at d * request.dealer_bits + k
    std::vector<F> terms;        // dealer d's number k at d * request.terms.size() + k
    std::vector<F> summed, summed_2t;
  };
  // How this party deals sharings of one degree d (t or 2t), and takes its seeded shares of
  // the other dealers' (header): the weights of the free points [lead, w_1 .. w_d] for its own
  // share and for the shares it sends.
  struct Completion {
    std::size_t degree = 0;             // peers at offsets 1..degree draw their shares' w_k
    F secret_factor{};                  // P(0): a sharing's secret is its lead times P(0)
    F lead_of_secret{};                 // 1 / P(0)
    std::vector<F> own;                 // weights for this party's own share
    std::vector<std::vector<F>> peers;  // [offset - degree - 1]: for the shares sent
    std::vector<F> seeded_factor;       // [dealer]: c_k of our share as its seeded peer k
  };
  struct BitsAndBounded {
    std::vector<F> bits, bounded;
  };

  using Bit = ComparisonBit<F>;
  template <class>
  friend class DealerFreeShamir;

  Dealt deal(const Request& request, std::string_view step);
  // n * width random bits with their group products as WindowMasks lays them out, and with
  // `with_high`, high as window_masks' (bounded, dealt with the bits; else empty).
  struct WindowBits {
    std::vector<F> bits, products, high;
  };
  WindowBits window_bits(std::size_t n, std::size_t width, bool with_high);
  // Fp127: n switch masks of `bits` bits, and in the same dealing round over F, `bounded` sums of
  // the parties' values uniform in [0, 2^bounded_bits) (window masks' high).
  struct SwitchAndBounded {
    SwitchMasks<F> masks;
    std::vector<F> bounded;
  };
  SwitchAndBounded switch_and_bounded(std::size_t n, int bits, std::size_t bounded,
                                      int bounded_bits);
  BitsAndBounded bits_and_bounded(std::size_t bits, std::size_t bounded, int bounded_bits);
  BitsAndBounded three_party_bits_and_bounded(std::size_t bits, std::size_t bounded,
                                              int bounded_bits);
  Completion make_completion(std::size_t degree) const;

  Session& session_;
  std::size_t parties_;
  std::size_t threshold_;
  int value_bits_;
  DegreeReduction<F> reduction_;  // its own pairwise seeds (mpc/degree_reduction.hpp)
  Seed private_seed_;
  std::vector<Seed> pair_seeds_;  // [peer]; own entry unused
  std::vector<Seed> bit_pair_seeds_;  // [peer]: N = 3 bits' beta (header); own entry unused
  std::uint64_t batch_ = 0;
  Completion degree_t_, degree_2t_;
  std::vector<std::vector<F>> vandermonde_;  // [output k][dealer d] = (d + 1)^k, k < N - t
  // Fp127: the source of the comparisons' bits over Fp61 (its own seeds, drawn after this
  // source's); null for Fp61.
  std::unique_ptr<DealerFreeShamir<Bit>> bit_source_;
};

// The public constant delta that trunc_masks adds to high (see above): floor((N - 1) / 2).
constexpr std::size_t trunc_mask_offset(std::size_t parties) { return (parties - 1) / 2; }

}  // namespace sm::mpc
