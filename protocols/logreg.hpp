// Joint logistic regression: mini-batch gradient descent on secret-shared weights in fixed point,
// for data split vertically (parties hold different columns of the same rows, one of them the
// label) or horizontally (parties hold different rows with the same columns and labels).
// Written once against the Engine concept; instantiated for AdditiveEngine and
// ShamirEngine<Fp127> in logreg.cpp. The products of a mini-batch's rows X_B (X: n x D) with a
// shared vector cost O(B + D) communication, never O(B D), by engine:
//   AdditiveEngine: SecureML (Mohassel and Zhang, S&P 2017, section IV-B):
//     X_B w = E_B w + U_B (w - v) + z and X_B^T e = E_B^T e + U_B^T (e - vt) + zt, with X = E + U,
//     E public, U uniform from the correlation source's masked_matrix (mpc/correlations.hpp; the
//     dealer knows U and derives z = U_B v and zt = U_B^T vt for fresh uniform masks v, vt from
//     masked_products), so that only w - v and e - vt are opened, in every iteration. X itself
//     is never shared: U is opened to the owner of each entry only (vertical: the party of the
//     column; horizontal: of the row; the public bias column: party 0), which publishes
//     E = X - U there (U_p tells party p nothing: it knows X_p, and U_p = X_p - E_p).
//   ShamirEngine (mpc::OpensProducts): X shared as it is, each party's block input by its owner
//     (Shamir sharings of degree t; the bias column is the public constant 1). X_B w and
//     X_B^T e are the local products of the shares, degree-2t sharings, never reduced on their
//     own: X_B w goes straight into the comparison's opening, which is then of degree 2t
//     (less_than_thresholds_of_products: a fresh degree-2t sharing of 0 added, masking before
//     opening) and gives X_B w at degree t as the opened value less the mask; X_B^T e goes into
//     the update's truncation, likewise opened at degree 2t (trunc_products). Nothing about X is
//     opened: the only values opened in training are the truncations' and comparisons' masked
//     values and the two scalars per epoch below, and no correlation is spent on the products.
//
// Inputs are already standardised by the caller (apps/job_train_lr.cpp): features as doubles,
// labels in {0, 1}. D = total feature count + 1 (the bias is the weight of a public column of
// ones), n = total rows.
//
// One iteration on a mini-batch of B rows (f = FixedPoint::frac_bits, K breakpoints of the
// sigmoid: 2 for kSecureMl3, 4 for kPiecewise5):
//   z   = X_B w                                  additive: open w - v (D); scale 2^(2f)
//                                                Shamir: local, degree 2t
//   b_k = [z > c_k]                              one less_than_thresholds: B values, K thresholds
//   s   = sum_k b_k (da_k z + db_k)              K B products, scale 2^(3f)
//   e   = trunc(s - y, 2f)                       with s: one trunc_sum_of_products; scale 2^f
//   g   = X_B^T e                                additive: open e - vt (B); scale 2^(2f)
//                                                Shamir: local, degree 2t
//   w  -= trunc(eta g + eta l2 w, 2f)            eta = learning_rate / B; no L2 on the bias
// Rounds per iteration: 4 + R_cmp + 1, where R_cmp is the comparison's (mpc/ops.hpp
// less_than_thresholds). The comparisons are told their inputs' bound, bits = 2f + 10 (logits
// |z| < 2^9 minus the band below); the K thresholds share one opening and one mask of B values,
// and the comparison ignores the m = 2f - 4 - ceil(log2 N) lowest bits (a logit within 2^-4 of
// a breakpoint may take either neighbouring piece), so it compares w bits: the odd one of
// bits - 1 - m and bits - m on the additive engine (15 for f = 16, N <= 4, and the top bit;
// 17 for N = 5..8), the even one on Shamir (16 for N <= 8, 18 above). Both draw WindowMasks
// (the dealer's; DealerFreeShamir's), which give the tree's first two levels: R_cmp = 1 +
// ceil(log2 16) - 2 = 3 on both (the opening included; 4 for the wider windows). The band and
// the range trade against each other at a fixed w: 16 bits is the widest window whose tree has
// two levels above the groups of 4 (a 24-bit window, |z| < 2^14 with a 2^-8 band, took a round
// more and a third more products per row on Shamir).
// trunc_sum_of_products (mpc/ops.hpp): a mul, then a trunc, on AdditiveEngine (2 rounds); one
// round on ShamirEngine, whose local products summed over k are a degree-2t sharing of s, opened
// once with the residual's truncation mask and a fresh degree-2t sharing of 0 added.
// AdditiveEngine: open w - v, 3, mul, trunc, open e - vt, trunc: 8 rounds (N <= 4).
// ShamirEngine<Fp127>: 3 (its opening of degree 2t) + trunc_sum_of_products + trunc_products:
// 5 rounds (N <= 8).
// Elements each party sends per iteration. Additive, to each peer: D + B for the two masked
// products, B for the comparison's opening + 2 x 8 K B for its bit circuit (w = 15), 2 K B
// (mul), B + D (truncations). Shamir (its mul is a degree reduction: N = 3, one element per
// product and party, mpc/shamir_engine.hpp), to each peer from parties 0..2t (all of them for
// N = 3; every opening is of degree 2t): B (the comparison's opening) and B + D (the
// truncations); in all: the
// comparison's tree over Fp61 (mpc/ops.hpp), at most 4 K B products reduced and K B roots
// opened to each peer (w = 16, fewer products where thresholds share tree nodes); the sigmoid's
// K B products cost nothing more. O(B + D), times 8 (additive, and Shamir's tree) or 16 (Fp127)
// bytes; the correlation source adds O(B + D) per iteration too (dealer: corrections to party 0
// only, B + D for the masked products, 16 + 44 per row for the comparison's window masks
// (w = 15 and the top bit), ...; dealer-free: per row the window masks' 16 bits and 44 products
// over Fp61, 2 Fp127 and 2 Fp61 elements for their high part and value (w = 16, N = 3: 528
// bytes, mpc/dealer_free.hpp), K Fp127 elements for the tree roots' switch masks, 2 for the
// truncation mask of the comparison's low part, and 2 (N - 1 - t) (B + D) for the iteration's
// two truncation masks).
// Correlations: the iterations' requests go through a CorrelationPool (mpc/correlation_pool.hpp)
// that fetches each kind for many iterations at once, so the source's own rounds (dealer round
// trips, dealer-free generation) come a few times per training, not in every iteration, and
// never beyond the last iteration (each fetch is capped at what the remaining iterations use;
// on Shamir exactly what the training uses); the epoch statistics' requests through a second
// pool that fetches for the remaining epochs (a pool sized for the iterations would fetch
// iterations / epochs times what the statistics use).
// Set-up: the labels cost one input per label holder (vertical: the label party; horizontal:
// every party, n_p labels each; additive: nothing; Shamir: the holder sends its labels to the
// N - 1 - t peers it does not seed). Additive: X - U: N rounds opening U to each owner (a party
// sends its shares of the others' n (D - D_p) entries, D_p its own columns, with the bias at
// party 0) and 1 round publishing E (a party sends its n D_p entries to every peer), and one
// masked_products call for all iterations and test evaluations (the schedule is public).
// Shamir: one input per party of its block (its n D_p entries to N - 1 - t peers, 1 for N = 3;
// the bias is public); an input's round involves only its owner and the peers it sends to, so
// a party takes part in N - t of these N rounds (the t inputs whose owners seed it cost it
// nothing). Nothing else: no set-up grows with the epochs.
//
// Fixed point: every truncation errs by a few units 2^-f with mean about zero (engine trunc:
// e in {0, 1} with the dealer; e in {-1, 0, 1, 2} with DealerFreeShamir for N = 3); the weights
// drift from a plaintext run with the same batches by roughly sqrt(iterations) such units plus
// the rounding of eta and of the sigmoid's coefficients to f bits (tests: <= 0.02 absolute on
// breast cancer, f = 16). |x| must stay below 2^(value_bits - 3f - 2) / B for the
// 3f-scaled intermediates, and the logits |z| below 2^9 - 4 - 2^-4 = 507.9 for the comparisons
// (the 3f-scaled intermediates alone would allow 2^(value_bits - 3f - 3), 2^13 for Fp127 with
// f = 16). Nothing checks it. A larger logit makes its row's comparisons wrong: on the additive
// engine wrong bits; on Shamir not even bits (the comparison's top part is not reduced mod 2:
// integers of about |z| / 2^10), so that row's residual, and the gradient through it, are off
// by about that factor; and the opening of z + R hides z less well: by log2(|z| / 2^9) bits
// less than the 2^-38 of mpc/ops.hpp, 2^-34 at 2^13. Standardised features keep the logits of
// a trained model far inside: the sigmoid's pieces are flat beyond |z| = 4, so rows classified
// with that margin stop pulling the weights.
//
// Sigmoid approximations (max |approx - 1 / (1 + e^-z)| over all z):
//   kSecureMl3   clamp(z + 1/2, 0, 1)  (SecureML): 0.378 (at z = +-1/2).
//   kPiecewise5  0 below -4; 0.25 + z/16 on [-4, -1.6); 0.5 + 0.215 z on [-1.6, 1.6);
//                0.75 + z/16 on [1.6, 4); 1 from 4: 0.0184 (minimax fit of the breakpoints).
// Secure training may take either neighbouring piece within N 2^(m - 2f) <= 2^-4 of a
// breakpoint (3/64 for N = 3; see the rounds above): the maximum error becomes 0.0217 for
// kPiecewise5 with N = 3 (0.0230 with the whole 2^-4; measured in steps of 10^-5) and 0.413 for
// kSecureMl3 (0.425). AdditiveEngine errs only for logits at most 2^(m - 2f) above a breakpoint
// (2^-6 for N = 3): 0.0192 and 0.389.
//
// Epoch statistics (after each epoch): e of every batch of the epoch, kept as trained, gives the
// training mean squared error of the approximate sigmoid output (Brier score over the epoch's
// batches, each with the weights of its iteration, as Keras-style running losses are); with test
// rows, the test logits of the current weights are compared with 0 and the correct predictions
// counted. The comparison has the single threshold 0, the same range as the sigmoid's but a
// band of 2^-8 (m = 2f - 8 - ceil(log2 N): a 20-bit window on Shamir, 19 and the top bit on the
// additive engine, R_cmp = 4 rounds), so a test logit within 2^-8 of 0 may be counted as either
// class (the secure logits differ from a plaintext run's by fixed-point errors of about that
// size anyway). Rounds: 1 + R_cmp + 2 with test rows (additive: open w - v; Shamir: the test
// logits are local products, compared at degree 2t, so they need no round of their own), 2
// without: the sums of e^2 and of the correct predictions' products in one round (Shamir: a
// matmul that reduces only the two sums, N - 1 - t elements; additive: a Beaver mul of the
// epoch's B x iterations-per-epoch residuals and the test rows, summed locally), then one
// opening of the two sums.
//
// Revealed: per epoch, to every party, two scalars: the training mean squared error above
// (opened as one sum) and, with test rows, the number of correct test predictions (opened as one
// sum). Nothing else is opened; the weights stay secret-shared (the caller decides what to open).
// Row counts, column counts and the label's owner are public. Mini-batch order comes from a
// public seed.
// Semi-honest security of the engine (additive: N-1 of N with a non-colluding dealer; Shamir:
// t < N/2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "mpc/engine.hpp"
#include "mpc/prg.hpp"
#include "net/mesh.hpp"

namespace sm::proto {

enum class Partition { kVertical, kHorizontal };
enum class SigmoidKind { kSecureMl3, kPiecewise5 };

// "secureml3" / "piecewise5"; parse throws InputError for other names.
std::string_view sigmoid_name(SigmoidKind kind);
SigmoidKind parse_sigmoid(std::string_view name);
// The approximation in plaintext, and its maximum error over all z (stated above).
double sigmoid_approx(SigmoidKind kind, double z);
double sigmoid_max_error(SigmoidKind kind);

// Who holds what. Vertical: rows is the common row count, columns[p] party p's feature count,
// label_party the label's owner. Horizontal: rows[p] party p's row count, one common feature
// count columns (all parties hold labels). Global row order: vertical, the agreed order (the
// caller sorts by id); horizontal, party 0's rows, then party 1's, ...
// Global column order: party 0's columns, then party 1's, ... (vertical), then the bias.
struct LogRegLayout {
  Partition partition = Partition::kVertical;
  std::vector<std::size_t> rows;     // vertical: one entry
  std::vector<std::size_t> columns;  // horizontal: one entry
  net::PartyId label_party = 0;      // vertical only

  std::size_t total_rows() const;
  std::size_t total_features() const;  // without the bias
};

// This party's standardised block, row-major (its rows x its columns), and its labels where it
// holds them (vertical: the label party; horizontal: every party).
struct LogRegData {
  std::vector<double> features;
  std::vector<double> labels;
};

struct EpochStats {
  std::size_t epoch = 0;  // 1-based
  double train_mse = 0;   // mean of (sigmoid_approx(z) - y)^2 over the epoch's batches, as trained
  std::optional<double> test_accuracy;  // fraction correct on the test rows, if any
};

struct LogRegOptions {
  std::size_t epochs = 10;
  std::size_t batch_size = 32;
  double learning_rate = 0.5;
  double l2 = 0;
  SigmoidKind sigmoid = SigmoidKind::kPiecewise5;
  std::vector<std::size_t> train_rows;              // global row indices
  std::vector<std::size_t> test_rows;               // may be empty
  mpc::Seed shuffle_seed{};                         // public: the mini-batch order
  std::function<void(const EpochStats&)> progress;  // called after each epoch, at every party
};

// The public mini-batch schedule: for each epoch, a permutation of train_rows drawn from
// Prg(shuffle_seed) (Fisher-Yates on 8-byte draws, reduced modulo the range), cut into
// floor(|train| / B) batches of B rows (the remainder is skipped that epoch).
std::vector<std::vector<std::size_t>> minibatches(const LogRegOptions& options);

// A fixed-seed split of 0..rows-1: the first round(rows * test_fraction) of a seeded
// permutation are the test rows (both returned sorted).
struct RowSplit {
  std::vector<std::size_t> train, test;
};
RowSplit split_rows(std::size_t rows, double test_fraction, const mpc::Seed& seed);

template <class Shares>
struct LogRegModel {
  Shares weights;  // D = features + 1 shares (bias last), scale 2^f
  std::vector<EpochStats> curve;
  std::size_t iterations = 0;
  // Rounds on the engine's session mesh (a dealer's traffic, on its own mesh, not included):
  // all training iterations together, and all epoch statistics together.
  std::uint64_t training_rounds = 0, statistics_rounds = 0;
};

// Trains; every party calls it with its data and the same layout and options. Throws
// InputError when the data does not match the layout (a local check: callers check across
// parties first), errors of the engine otherwise.
template <mpc::Engine En>
LogRegModel<typename En::Shares> train_logreg(En& engine, const LogRegData& data,
                                              const LogRegLayout& layout,
                                              const LogRegOptions& options);

// The secret-shared logits z = X w + b of every row (global order, scale 2^f), for a model's
// weight shares. Rounds: one matmul and one truncation (a fresh matrix triple: n x D).
template <mpc::Engine En>
typename En::Shares logits(En& engine, const LogRegData& data, const LogRegLayout& layout,
                           const typename En::Shares& weights);

}  // namespace sm::proto
