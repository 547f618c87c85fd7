#include "protocols/logreg.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "mpc/correlation_pool.hpp"
#include "mpc/ops.hpp"
#include "mpc/row_products.hpp"
#include "mpc/serialize.hpp"
#include "net/errors.hpp"

namespace sm::proto {

namespace {

// The sigmoid approximation as sum_k [z > c_k] (slope_k z + offset_k): each piece's difference
// from the one below it.
struct Breakpoint {
  double at, slope, offset;
};

std::span<const Breakpoint> breakpoints(SigmoidKind kind) {
  static constexpr Breakpoint kSecureMl3[] = {{-0.5, 1.0, 0.5}, {0.5, -1.0, 0.5}};
  static constexpr Breakpoint kPiecewise5[] = {
      {-4.0, 0.0625, 0.25}, {-1.6, 0.1525, 0.25}, {1.6, -0.1525, 0.25}, {4.0, -0.0625, 0.25}};
  if (kind == SigmoidKind::kSecureMl3) return kSecureMl3;
  return kPiecewise5;
}

// round(v * 2^bits) as an element.
template <class E>
E fixed_const(double v, int bits) {
  return E::from_int(std::llround(std::ldexp(v, bits)));
}

template <class S>
S gather_rows(const S& matrix, std::size_t width, std::span<const std::size_t> rows) {
  S out;
  out.values.reserve(rows.size() * width);
  for (std::size_t r : rows) {
    const auto begin = matrix.values.begin() + static_cast<std::ptrdiff_t>(r * width);
    out.values.insert(out.values.end(), begin, begin + static_cast<std::ptrdiff_t>(width));
  }
  return out;
}

void check_data(const LogRegData& data, const LogRegLayout& layout, net::PartyId self,
                bool need_labels) {
  std::size_t rows = 0, cols = 0;
  if (layout.partition == Partition::kVertical) {
    if (layout.rows.size() != 1) throw InputError("vertical layout: expected one row count");
    rows = layout.rows[0];
    cols = layout.columns.at(self);
  } else {
    if (layout.columns.size() != 1)
      throw InputError("horizontal layout: expected one column count");
    rows = layout.rows.at(self);
    cols = layout.columns[0];
  }
  if (data.features.size() != rows * cols) {
    throw InputError("logistic regression: this party's data has " +
                     std::to_string(data.features.size()) + " values, the layout says " +
                     std::to_string(rows) + " x " + std::to_string(cols));
  }
  const bool holds_labels =
      layout.partition == Partition::kHorizontal || layout.label_party == self;
  if (need_labels && holds_labels && data.labels.size() != rows) {
    throw InputError("logistic regression: " + std::to_string(data.labels.size()) + " labels for " +
                     std::to_string(rows) + " rows");
  }
}

// The shared n x D matrix (features and a column of ones), scale 2^f. One input per party; this
// party's encoded features go to the engine by value (std::move(mine)), so an engine that takes
// a vector (ShamirEngine) deals into their storage instead of new memory.
template <mpc::Engine En>
typename En::Shares share_features(En& engine, const LogRegData& data, const LogRegLayout& layout) {
  using E = typename En::Element;
  mpc::Session& session = engine.session();
  const net::PartyId self = session.self();
  const auto& fixed = session.fixed();
  const std::size_t n = layout.total_rows(), d = layout.total_features(), width = d + 1;
  auto mine = mpc::encode_fixed<E>(fixed, data.features);
  typename En::Shares x;
  x.values.assign(n * width, E(0));
  if (layout.partition == Partition::kVertical) {
    std::size_t offset = 0;
    for (net::PartyId p = 0; p < layout.columns.size(); ++p) {
      const std::size_t cols = layout.columns[p];
      const auto block = engine.input(p, p == self ? std::move(mine) : std::vector<E>{}, n * cols,
                                      "logreg: share features");
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t c = 0; c < cols; ++c) {
          x.values[r * width + offset + c] = block.values[r * cols + c];
        }
      }
      offset += cols;
    }
  } else {
    std::size_t offset = 0;
    for (net::PartyId p = 0; p < layout.rows.size(); ++p) {
      const std::size_t rows = layout.rows[p];
      const auto block = engine.input(p, p == self ? std::move(mine) : std::vector<E>{}, rows * d,
                                      "logreg: share features");
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < d; ++c) {
          x.values[(offset + r) * width + c] = block.values[r * d + c];
        }
      }
      offset += rows;
    }
  }
  const std::vector<E> ones(n, fixed_const<E>(1.0, fixed.frac_bits));
  const auto bias = engine.constant(ones);
  for (std::size_t r = 0; r < n; ++r) x.values[r * width + d] = bias.values[r];
  return x;
}

// The shared labels, scale 2^(3f).
template <mpc::Engine En>
typename En::Shares share_labels(En& engine, const LogRegData& data, const LogRegLayout& layout) {
  using E = typename En::Element;
  const net::PartyId self = engine.session().self();
  const int bits = 3 * engine.session().fixed().frac_bits;
  std::vector<E> mine(data.labels.size());
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = fixed_const<E>(data.labels[i], bits);
  if (layout.partition == Partition::kVertical) {
    const net::PartyId owner = layout.label_party;
    return engine.input(owner, owner == self ? std::span<const E>(mine) : std::span<const E>{},
                        layout.rows[0], "logreg: share labels");
  }
  typename En::Shares y;
  for (net::PartyId p = 0; p < layout.rows.size(); ++p) {
    y = mpc::concat(y, engine.input(p, p == self ? std::span<const E>(mine) : std::span<const E>{},
                                    layout.rows[p], "logreg: share labels"));
  }
  return y;
}

// For logits z (scale 2^(2f)), every piece's difference slope_k z + offset_k (scale 2^(3f)),
// k-major: multiplied by the bits [z > c_k] and summed over k, they give the sigmoid.
template <mpc::Engine En>
typename En::Shares piece_deltas(En& engine, const typename En::Shares& z2,
                                 std::span<const Breakpoint> pieces) {
  using E = typename En::Element;
  const int f = engine.session().fixed().frac_bits;
  typename En::Shares deltas;
  for (const auto& piece : pieces) {
    const auto term = mpc::scale(z2, fixed_const<E>(piece.slope, f));
    deltas = mpc::concat(
        deltas,
        engine.add_public(term, std::vector<E>(z2.size(), fixed_const<E>(piece.offset, 3 * f))));
  }
  return deltas;
}

// The comparisons cover logits |z| < 2^kLogitRangeBits minus their band (the header's bound):
// told bits = 2f + kLogitRangeBits + 1, they see z - c (scale 2^(2f), |c| <= 4) below
// 2^(bits - 1) - N 2^m in magnitude. With the sigmoid's band of 2^-4, the window above the m
// ignored bits is 16 bits wide (Shamir: 16 for N <= 8; additive: 15 and the top bit for N <= 4),
// four groups of the window masks' products: the tree needs one round less than a 20-bit one.
constexpr int kLogitRangeBits = 9;

template <mpc::Engine En>
int compare_bits(En& engine) {
  return 2 * engine.session().fixed().frac_bits + kLogitRangeBits + 1;
}

// The sigmoid's comparisons may take either neighbouring piece for logits within 2^-4 of a
// breakpoint; the epoch statistics' test predictions may count a logit within 2^-8 of 0 as
// either class.
constexpr int kSigmoidBandBits = 4;
constexpr int kPredictionBandBits = 8;

// The low bits that comparisons with a band of 2^-band_bits may ignore: N 2^m <= 2^(2f -
// band_bits), so a logit within 2^-band_bits of a point may take either result (nowhere else).
template <mpc::Engine En>
int coarse_bits(En& engine, int band_bits) {
  const auto parties = static_cast<unsigned>(engine.session().parties());
  return std::max(0, 2 * engine.session().fixed().frac_bits - band_bits -
                         static_cast<int>(std::bit_width(parties - 1)));
}

// -c_j at the logits' scale 2^(2f), for the comparisons [-z < -c_j].
template <mpc::Engine En>
std::vector<std::int64_t> negated_fixed(En& engine, std::span<const double> points) {
  const int f = engine.session().fixed().frac_bits;
  std::vector<std::int64_t> thresholds;
  for (const double point : points) thresholds.push_back(-std::llround(std::ldexp(point, 2 * f)));
  return thresholds;
}

// [z > c_j] for logits z (scale 2^(2f)) and public points c_j (j-major) as [-z < -c_j]: one
// less_than_thresholds call; a logit within 2^-band_bits of a point may give either result (see
// coarse_bits), elsewhere the result is exact.
template <mpc::Engine En>
typename En::Shares above_points(En& engine, const typename En::Shares& z2,
                                 std::span<const double> points, int band_bits,
                                 std::string_view step) {
  return mpc::less_than_thresholds(engine, mpc::neg(z2), negated_fixed(engine, points),
                                   compare_bits(engine), coarse_bits(engine, band_bits), step);
}

// The pieces' breakpoints, in order.
std::vector<double> piece_points(std::span<const Breakpoint> pieces) {
  std::vector<double> points;
  for (const auto& piece : pieces) points.push_back(piece.at);
  return points;
}

// The data matrix as the masked products use it: X = E + U with E public and U shared (n x
// width, row-major). SecureML (mask_features): U uniform from the correlation source, E = X - U
// published. Engines that open products (shared_features): U = X shared by its owners, E = 0,
// not stored.
template <class E>
struct MaskedData {
  mpc::MaskedMatrix<E> mask;  // mask.u: this party's shares of U
  std::vector<E> opened;      // E = X - U, public; empty when U = X
  std::size_t width = 0;
};

// U = X: every party inputs its block (share_features: one input per party), E = 0.
template <mpc::Engine En>
MaskedData<typename En::Element> shared_features(En& engine, const LogRegData& data,
                                                 const LogRegLayout& layout) {
  const std::size_t n = layout.total_rows(), width = layout.total_features() + 1;
  MaskedData<typename En::Element> out;
  out.width = width;
  out.mask = {0, n, width, share_features(engine, data, layout).values};
  return out;
}

// Calls visit(position) for the positions (row-major in the n x D matrix) of the entries that
// `party` holds, in the order of its LogRegData::features (its rows, then its columns), followed,
// for party 0, by the public bias column, which it holds as if it were its own data.
template <class Visit>
void for_each_owned(const LogRegLayout& layout, net::PartyId party, Visit&& visit) {
  const std::size_t n = layout.total_rows(), d = layout.total_features(), width = d + 1;
  if (layout.partition == Partition::kVertical) {
    std::size_t offset = 0;
    for (net::PartyId p = 0; p < party; ++p) offset += layout.columns[p];
    for (std::size_t r = 0; r < n; ++r) {
      for (std::size_t c = 0; c < layout.columns[party]; ++c) visit(r * width + offset + c);
    }
  } else {
    std::size_t first = 0;
    for (net::PartyId p = 0; p < party; ++p) first += layout.rows[p];
    for (std::size_t r = first; r < first + layout.rows[party]; ++r) {
      for (std::size_t c = 0; c < d; ++c) visit(r * width + c);
    }
  }
  if (party == 0) {
    for (std::size_t r = 0; r < n; ++r) visit(r * width + d);
  }
}

// The masked data matrix without sharing X: U from the correlation source's masked_matrix; the
// entries of U under each party's own data (and the bias column, party 0's) are opened to that
// party only (one open_to per party: the others send it their shares there), which publishes
// E = X - U there (one round, every party to every peer). Revealing U_p to party p reveals
// nothing new: p knows X_p, and U_p = X_p - E_p. Elements a party sends: its shares of the
// others' entries (n D - its own) plus its own entries to every peer, instead of n D to every
// peer for opening X - U after sharing X; and only the owner reconstructs each entry.
template <mpc::Engine En>
MaskedData<typename En::Element> mask_features(En& engine, const LogRegData& data,
                                               const LogRegLayout& layout) {
  using E = typename En::Element;
  using Shares = typename En::Shares;
  mpc::Session& session = engine.session();
  net::Mesh& mesh = session.mesh();
  const net::PartyId self = session.self();
  const std::size_t n = layout.total_rows(), width = layout.total_features() + 1;
  MaskedData<E> out;
  out.width = width;
  out.mask = engine.correlations().masked_matrix(n, width);
  std::vector<E> mine;
  for (net::PartyId party = 0; party < mesh.size(); ++party) {
    Shares under;
    for_each_owned(layout, party,
                   [&](std::size_t position) { under.values.push_back(out.mask.u[position]); });
    auto opened = engine.open_to(party, under, "logreg: open U to its owner");
    if (party == self) mine = std::move(*opened);
  }
  std::vector<E> own_values = mpc::encode_fixed<E>(session.fixed(), data.features);
  if (self == 0)
    own_values.resize(own_values.size() + n, fixed_const<E>(1.0, session.fixed().frac_bits));
  if (own_values.size() != mine.size()) {
    throw std::logic_error("logreg: this party's data does not fill its part of the matrix");
  }
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = own_values[i] - mine[i];
  constexpr std::string_view kStep = "logreg: publish X - U";
  const auto received = mesh.all_to_all(mpc::as_bytes<E>(mine), kStep);
  out.opened.resize(n * width);
  for (net::PartyId party = 0; party < mesh.size(); ++party) {
    std::size_t count = 0;
    for_each_owned(layout, party, [&](std::size_t) { ++count; });
    const std::vector<E> values =
        party == self ? std::move(mine)
                      : mpc::from_bytes<E>(received[party], count, mesh.describe(party), kStep);
    std::size_t next = 0;
    for_each_owned(layout, party,
                   [&](std::size_t position) { out.opened[position] = values[next++]; });
  }
  return out;
}

// X_rows w = E_rows w + U_rows (w - v) + z (SecureML), opening w - v first (width elements, 1
// round).
template <mpc::Engine En>
typename En::Shares masked_times(En& engine, const MaskedData<typename En::Element>& data,
                                 std::span<const std::size_t> rows, const typename En::Shares& w,
                                 const mpc::MaskedProducts<typename En::Element>& products,
                                 std::string_view step) {
  using E = typename En::Element;
  const auto w_minus_v = engine.open(mpc::sub(w, typename En::Shares{products.v}), step);
  typename En::Shares out{products.z};
  mpc::add_rows_times<E>(data.opened, data.width, rows, w.values, out.values);
  mpc::add_rows_times<E>(data.mask.u, data.width, rows, w_minus_v, out.values);
  return out;
}

// X_rows^T e = E_rows^T e + U_rows^T (e - vt) + zt (SecureML), opening e - vt first (|rows|
// elements, 1 round).
template <mpc::Engine En>
typename En::Shares masked_transposed_times(
    En& engine, const MaskedData<typename En::Element>& data, std::span<const std::size_t> rows,
    const typename En::Shares& e, const mpc::MaskedProducts<typename En::Element>& products,
    std::string_view step) {
  using E = typename En::Element;
  const auto e_minus_vt = engine.open(mpc::sub(e, typename En::Shares{products.vt}), step);
  typename En::Shares out{products.zt};
  mpc::add_rows_transposed_times<E>(data.opened, data.width, rows, e.values, out.values);
  mpc::add_rows_transposed_times<E>(data.mask.u, data.width, rows, e_minus_vt, out.values);
  return out;
}

// X_rows w and X_rows^T e from X's shares (U = X, shared_features) and the shares of w and e:
// the local products, a degree-2t sharing (for engines that open products), no communication.
template <class S>
S rows_times(const MaskedData<typename S::Element>& data, std::span<const std::size_t> rows,
             const S& w) {
  using E = typename S::Element;
  S out{std::vector<E>(rows.size(), E(0))};
  mpc::add_rows_times<E>(data.mask.u, data.width, rows, w.values, out.values);
  return out;
}

template <class S>
S rows_transposed_times(const MaskedData<typename S::Element>& data,
                        std::span<const std::size_t> rows, const S& e) {
  using E = typename S::Element;
  S out{std::vector<E>(data.width, E(0))};
  mpc::add_rows_transposed_times<E>(data.mask.u, data.width, rows, e.values, out.values);
  return out;
}

// trunc(x, bits): of x at degree 2t (the local products of a gradient) for engines that open
// products, of x otherwise.
template <mpc::Engine En>
typename En::Shares trunc_of(En& engine, const typename En::Shares& x, int bits,
                             std::string_view step) {
  if constexpr (mpc::OpensProducts<En>) {
    return engine.trunc_products(x, bits, step);
  } else {
    return engine.trunc(x, bits, step);
  }
}

// The tests [z > c_j] (j-major) of the logits z = X_rows w (scale 2^(2f)) at the points c_j,
// with a band of 2^-band_bits (above_points), and z itself. Engines that open products
// (ShamirEngine): z at degree 2t from the local products, compared as such by
// less_than_thresholds_of_products, whose opening also gives z at degree t: no round beyond the
// comparison's. Others: masked_times (1 round) with the iteration's masked products, then
// above_points.
template <class S>
struct LogitTests {
  S above, z2;
};

template <mpc::Engine En>
LogitTests<typename En::Shares> logit_tests(
    En& engine, const MaskedData<typename En::Element>& data, std::span<const std::size_t> rows,
    const typename En::Shares& w, const mpc::MaskedProducts<typename En::Element>* products,
    std::span<const double> points, int band_bits, std::string_view step) {
  if constexpr (mpc::OpensProducts<En>) {
    auto tests = mpc::less_than_thresholds_of_products(
        engine, mpc::neg(rows_times(data, rows, w)), negated_fixed(engine, points),
        compare_bits(engine), coarse_bits(engine, band_bits), step);
    return {std::move(tests.below), mpc::neg(tests.value)};
  } else {
    auto z2 = masked_times(engine, data, rows, w, *products, step);
    auto above = above_points(engine, z2, points, band_bits, step);
    return {std::move(above), std::move(z2)};
  }
}

template <class S>
S sum_all(const S& x) {
  using E = typename S::Element;
  E total(0);
  for (const auto& v : x.values) total += v;
  return S{{total}};
}

// The two sums sum_i x1[i] y1[i] and sum_i x2[i] y2[i] (n1 and n2 terms), in one round.
// MultipliesWithoutTriples engines (ShamirEngine) reduce only the two sums: the matmul of the
// 2 x (n1 + n2) rows [x1, 0] and [0, x2] with [y1; y2] (N - 1 - t elements in all at parties
// 0..2t, whatever n1 + n2). Others multiply all n1 + n2 pairs (Beaver: 2 (n1 + n2) elements to
// each peer, fewer than a matrix triple's 3 (n1 + n2)) and sum the products locally.
template <mpc::Engine En>
typename En::Shares two_sums_of_products(En& engine, const typename En::Shares& x1,
                                         const typename En::Shares& y1,
                                         const typename En::Shares& x2,
                                         const typename En::Shares& y2, std::string_view step) {
  using E = typename En::Element;
  using Shares = typename En::Shares;
  const std::size_t n1 = x1.size(), n = n1 + x2.size();
  if constexpr (mpc::MultipliesWithoutTriples<En>) {
    Shares rows{std::vector<E>(2 * n, E(0))};
    std::copy(x1.values.begin(), x1.values.end(), rows.values.begin());
    std::copy(x2.values.begin(), x2.values.end(),
              rows.values.begin() + static_cast<std::ptrdiff_t>(n + n1));
    return engine.matmul(rows, mpc::concat(y1, y2), 2, n, 1, step);
  } else {
    const Shares products = mpc::mul(engine, mpc::concat(x1, x2), mpc::concat(y1, y2), step);
    return mpc::concat(sum_all(mpc::slice(products, 0, n1)),
                       sum_all(mpc::slice(products, n1, n - n1)));
  }
}

// One epoch's statistics: the mean of e^2 over the epoch's batches (e = s - y of each batch,
// scale 2^f, as trained) and, with test rows, how many of them the current weights classify
// correctly: from b_test = [z > 0] for the test logits z (logit_tests, with a band of
// 2^-kPredictionBandBits: a logit within 2^-8 of 0 may be counted either way), correct =
// sum (1 - b - y + 2 b y). Rounds: two_sums_of_products for e.e and b.y together (1) and the
// opening of both sums (1).
template <mpc::Engine En>
EpochStats epoch_statistics(En& engine, const typename En::Shares& residuals,
                            const typename En::Shares& y_test, const typename En::Shares& b_test) {
  using E = typename En::Element;
  using Shares = typename En::Shares;
  const int f = engine.session().fixed().frac_bits;
  const std::size_t n_test = y_test.size();
  const Shares sums = two_sums_of_products(engine, residuals, residuals, b_test, y_test,
                                           "logreg: epoch statistics");
  const Shares squared = mpc::slice(sums, 0, 1);
  // y_test has scale 2^(3f): so have b y and the public 1 below; b is scaled up to match.
  const Shares by = mpc::slice(sums, 1, 1);
  Shares correct = mpc::sub(mpc::add(mpc::scale(by, E(2)), mpc::neg(sum_all(y_test))),
                            mpc::scale(sum_all(b_test), fixed_const<E>(1.0, 3 * f)));
  correct = engine.add_public(correct,
                              std::vector<E>{fixed_const<E>(static_cast<double>(n_test), 3 * f)});
  const auto opened = engine.open(mpc::concat(squared, correct), "logreg: epoch statistics");
  EpochStats stats;
  stats.train_mse = std::ldexp(static_cast<double>(opened[0].to_int()), -2 * f) /
                    static_cast<double>(residuals.size());
  if (n_test > 0) {
    stats.test_accuracy =
        std::ldexp(static_cast<double>(opened[1].to_int()), -3 * f) / static_cast<double>(n_test);
  }
  return stats;
}
}  // namespace

std::string_view sigmoid_name(SigmoidKind kind) {
  return kind == SigmoidKind::kSecureMl3 ? "secureml3" : "piecewise5";
}

SigmoidKind parse_sigmoid(std::string_view name) {
  if (name == "secureml3") return SigmoidKind::kSecureMl3;
  if (name == "piecewise5") return SigmoidKind::kPiecewise5;
  throw InputError("unknown sigmoid approximation '" + std::string(name) +
                   "' (secureml3 or piecewise5)");
}

double sigmoid_approx(SigmoidKind kind, double z) {
  double s = 0;
  for (const auto& piece : breakpoints(kind)) {
    if (z > piece.at) s += piece.slope * z + piece.offset;
  }
  return s;
}

double sigmoid_max_error(SigmoidKind kind) {
  return kind == SigmoidKind::kSecureMl3 ? 0.3776 : 0.0184;
}

std::size_t LogRegLayout::total_rows() const {
  return std::accumulate(rows.begin(), rows.end(), std::size_t{0});
}

std::size_t LogRegLayout::total_features() const {
  return std::accumulate(columns.begin(), columns.end(), std::size_t{0});
}

std::vector<std::vector<std::size_t>> minibatches(const LogRegOptions& options) {
  if (options.batch_size == 0) throw InputError("the batch size must be positive");
  mpc::Prg prg(options.shuffle_seed, 0);
  std::vector<std::vector<std::size_t>> batches;
  const std::size_t n = options.train_rows.size();
  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    std::vector<std::size_t> order = options.train_rows;
    const auto draws = prg.sample<mpc::Ring64>(n);
    for (std::size_t i = n; i > 1; --i) {
      std::swap(order[i - 1], order[draws[i - 1].value() % i]);
    }
    for (std::size_t b = 0; b + options.batch_size <= n; b += options.batch_size) {
      batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(b),
                           order.begin() + static_cast<std::ptrdiff_t>(b + options.batch_size));
    }
  }
  return batches;
}

RowSplit split_rows(std::size_t rows, double test_fraction, const mpc::Seed& seed) {
  if (!(test_fraction >= 0 && test_fraction < 1)) {
    throw InputError("the test fraction must lie in [0, 1)");
  }
  std::vector<std::size_t> order(rows);
  std::iota(order.begin(), order.end(), 0);
  mpc::Prg prg(seed, 1);
  const auto draws = prg.sample<mpc::Ring64>(rows);
  for (std::size_t i = rows; i > 1; --i) std::swap(order[i - 1], order[draws[i - 1].value() % i]);
  const auto test_count = static_cast<std::size_t>(std::llround(rows * test_fraction));
  RowSplit split;
  split.test.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(test_count));
  split.train.assign(order.begin() + static_cast<std::ptrdiff_t>(test_count), order.end());
  std::sort(split.test.begin(), split.test.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

template <mpc::Engine En>
LogRegModel<typename En::Shares> train_logreg(En& caller_engine, const LogRegData& data,
                                              const LogRegLayout& layout,
                                              const LogRegOptions& options) {
  using E = typename En::Element;
  using Shares = typename En::Shares;
  constexpr bool kProducts = mpc::OpensProducts<En>;
  const int f = caller_engine.session().fixed().frac_bits;
  check_data(data, layout, caller_engine.session().self(), true);
  if (options.batch_size == 0 || options.train_rows.size() < options.batch_size) {
    throw InputError("the batch size " + std::to_string(options.batch_size) + " must lie in 1.." +
                     std::to_string(options.train_rows.size()) + " (the training rows)");
  }
  const std::size_t d = layout.total_features(), width = d + 1, batch = options.batch_size;
  const std::size_t per_epoch = options.train_rows.size() / batch;
  const std::size_t iterations = options.epochs * per_epoch;

  // Every iteration makes the same correlation requests: the pool fetches them for many at
  // once, never more than the remaining iterations use.
  mpc::CorrelationPool<E> pool(caller_engine.correlations(), iterations);
  En engine = caller_engine.with_correlations(pool);
  // The epoch statistics repeat once per epoch: their own pool fetches for the epochs only.
  mpc::CorrelationPool<E> statistics_pool(caller_engine.correlations(), options.epochs);
  En statistics_engine = caller_engine.with_correlations(statistics_pool);

  const auto pieces = breakpoints(options.sigmoid);
  const std::vector<double> points = piece_points(pieces);
  const Shares y = share_labels(engine, data, layout);
  const auto schedule = minibatches(options);

  // Set-up: the data matrix. kProducts: shared as it is, every product with it made locally
  // and reduced by the opening that follows it. Otherwise masked once (SecureML), with every
  // iteration's and every epoch's test-row masked products in one batch: products[epoch *
  // subsets_per_epoch + it] for iteration it of the epoch, [... + per_epoch] for its test rows.
  const bool testing = !options.test_rows.empty();
  const std::size_t subsets_per_epoch = per_epoch + (testing ? 1 : 0);
  MaskedData<E> masked;
  std::vector<mpc::MaskedProducts<E>> products;
  if constexpr (kProducts) {
    masked = shared_features(engine, data, layout);
  } else {
    masked = mask_features(engine, data, layout);
    std::vector<std::vector<std::size_t>> subsets;
    for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
      subsets.insert(subsets.end(),
                     schedule.begin() + static_cast<std::ptrdiff_t>(epoch * per_epoch),
                     schedule.begin() + static_cast<std::ptrdiff_t>((epoch + 1) * per_epoch));
      if (testing) subsets.push_back(options.test_rows);
    }
    products = engine.correlations().masked_products(masked.mask, subsets);
  }
  // The masked products of iteration `it` of `epoch` (it = per_epoch: its test rows); none
  // with kProducts.
  const auto products_of = [&](std::size_t epoch, std::size_t it) {
    return kProducts ? nullptr : &products[epoch * subsets_per_epoch + it];
  };
  const Shares y_test = gather_rows(y, 1, options.test_rows);

  const double eta = options.learning_rate / static_cast<double>(batch);
  const std::vector<E> eta_vec(width, fixed_const<E>(eta, f));
  std::vector<E> decay(width, fixed_const<E>(eta * options.l2, 2 * f));
  decay[d] = E(0);

  LogRegModel<Shares> model;
  model.weights = engine.constant(std::vector<E>(width, E(0)));
  const net::Mesh& mesh = engine.session().mesh();
  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    const std::uint64_t epoch_start = mesh.stats().rounds;
    Shares residuals;  // this epoch's e of every batch, scale 2^f
    residuals.values.reserve(per_epoch * batch);
    for (std::size_t it = 0; it < per_epoch; ++it) {
      const auto& rows = schedule[epoch * per_epoch + it];
      const Shares yb = gather_rows(y, 1, rows);
      const auto tests = logit_tests(engine, masked, rows, model.weights, products_of(epoch, it),
                                     points, kSigmoidBandBits, "logreg: sigmoid pieces");
      // e = trunc(s - y, 2f) for s = sum_k b_k (da_k z + db_k): ShamirEngine opens the
      // products' degree-2t sum with the truncation's mask (1 round); others mul, then trunc.
      const Shares e =
          mpc::trunc_sum_of_products(engine, tests.above, piece_deltas(engine, tests.z2, pieces),
                                     mpc::neg(yb), 2 * f, "logreg: residual");
      // w -= trunc(eta g + eta l2 w) for g = X_B^T e; kProducts: g and the step at degree 2t.
      constexpr std::string_view kUpdate = "logreg: update";
      Shares g;
      if constexpr (kProducts) {
        g = rows_transposed_times(masked, rows, e);
      } else {
        g = masked_transposed_times(engine, masked, rows, e, *products_of(epoch, it), kUpdate);
      }
      const Shares step = mpc::add(mpc::scale(g, std::span<const E>(eta_vec)),
                                   mpc::scale(model.weights, std::span<const E>(decay)));
      model.weights = mpc::sub(model.weights, trunc_of(engine, step, 2 * f, kUpdate));
      residuals.values.insert(residuals.values.end(), e.values.begin(), e.values.end());
      pool.end_repetition();
      ++model.iterations;
    }
    const std::uint64_t statistics_start = mesh.stats().rounds;
    model.training_rounds += statistics_start - epoch_start;
    Shares b_test;  // [z > 0] for the test logits of the current weights
    if (testing) {
      constexpr double kZero[] = {0.0};
      const std::span<const std::size_t> test_rows(options.test_rows);
      b_test = logit_tests(statistics_engine, masked, test_rows, model.weights,
                           products_of(epoch, per_epoch), std::span<const double>(kZero),
                           kPredictionBandBits, "logreg: test predictions")
                   .above;
    }
    model.curve.push_back(epoch_statistics(statistics_engine, residuals, y_test, b_test));
    statistics_pool.end_repetition();
    model.curve.back().epoch = epoch + 1;
    model.statistics_rounds += mesh.stats().rounds - statistics_start;
    if (options.progress) options.progress(model.curve.back());
  }
  return model;
}

template <mpc::Engine En>
typename En::Shares logits(En& engine, const LogRegData& data, const LogRegLayout& layout,
                           const typename En::Shares& weights) {
  check_data(data, layout, engine.session().self(), false);
  const std::size_t n = layout.total_rows(), width = layout.total_features() + 1;
  if (weights.size() != width) {
    throw InputError("the model has " + std::to_string(weights.size()) + " weights, the data " +
                     std::to_string(width - 1) + " features and a bias");
  }
  const auto x = share_features(engine, data, layout);
  const auto z2 = mpc::matmul(engine, x, weights, n, width, 1, "logreg: X w");
  return engine.trunc(z2, engine.session().fixed().frac_bits, "logreg: X w");
}

#define SM_INSTANTIATE_LOGREG(En)                                                            \
  template LogRegModel<En::Shares> train_logreg(En&, const LogRegData&, const LogRegLayout&, \
                                                const LogRegOptions&);                       \
  template En::Shares logits(En&, const LogRegData&, const LogRegLayout&, const En::Shares&);

SM_INSTANTIATE_LOGREG(mpc::AdditiveEngine)
SM_INSTANTIATE_LOGREG(mpc::ShamirEngine<mpc::Fp127>)

#undef SM_INSTANTIATE_LOGREG

}  // namespace sm::proto
