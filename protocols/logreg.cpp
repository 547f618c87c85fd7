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

// [z > c_j] for logits z (scale 2^(2f)) and public points c_j (j-major) as [-z < -c_j]: one
// less_than_thresholds call; a logit within 2^-band_bits of a point may give either result (see
// coarse_bits), elsewhere the result is exact.
template <mpc::Engine En>
typename En::Shares above_points(En& engine, const typename En::Shares& z2,
                                 std::span<const double> points, int band_bits,
                                 std::string_view step) {
  const int f = engine.session().fixed().frac_bits;
  std::vector<std::int64_t> thresholds;
  for (const double point : points) thresholds.push_back(-std::llround(std::ldexp(point, 2 * f)));
  return mpc::less_than_thresholds(engine, mpc::neg(z2), thresholds, compare_bits(engine),
                                   coarse_bits(engine, band_bits), step);
}

// [z > c_k] for every piece (k-major).
template <mpc::Engine En>
typename En::Shares piece_tests(En& engine, const typename En::Shares& z2,
                                std::span<const Breakpoint> pieces) {
  std::vector<double> points;
  for (const auto& piece : pieces) points.push_back(piece.at);
  return above_points(engine, z2, std::span<const double>(points), kSigmoidBandBits,
                      "logreg: sigmoid pieces");
}

// The data matrix as the masked products use it: X = E + U with E public and U shared (n x
// width, row-major). SecureML (mask_features): U uniform from the correlation source, E = X - U
// published. Engines with kTruncIsPublicMinusHigh (shared_features): U = X shared by its owners,
// E = 0, not stored.
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

// X_rows w = E_rows w + U_rows (w - v) + z, for the public w - v: no communication (no E term
// when U = X).
template <class S>
S masked_times_given(const MaskedData<typename S::Element>& data, std::span<const std::size_t> rows,
                     const S& w, std::span<const typename S::Element> w_minus_v,
                     std::span<const typename S::Element> z) {
  using E = typename S::Element;
  S out{std::vector<E>(z.begin(), z.end())};
  if (!data.opened.empty()) {
    mpc::add_rows_times<E>(data.opened, data.width, rows, w.values, out.values);
  }
  mpc::add_rows_times<E>(data.mask.u, data.width, rows, w_minus_v, out.values);
  return out;
}

// The same, opening w - v first (width elements, 1 round).
template <mpc::Engine En>
typename En::Shares masked_times(En& engine, const MaskedData<typename En::Element>& data,
                                 std::span<const std::size_t> rows, const typename En::Shares& w,
                                 const mpc::MaskedProducts<typename En::Element>& products,
                                 std::string_view step) {
  const auto w_minus_v = engine.open(mpc::sub(w, typename En::Shares{products.v}), step);
  return masked_times_given(data, rows, w, std::span(w_minus_v), std::span(products.z));
}

// X_rows^T e = E_rows^T e + U_rows^T (e - vt) + zt, for the public e - vt: no communication (no
// E term when U = X).
template <class S>
S masked_transposed_given(const MaskedData<typename S::Element>& data,
                          std::span<const std::size_t> rows, const S& e,
                          std::span<const typename S::Element> e_minus_vt,
                          std::span<const typename S::Element> zt) {
  using E = typename S::Element;
  S out{std::vector<E>(zt.begin(), zt.end())};
  if (!data.opened.empty()) {
    mpc::add_rows_transposed_times<E>(data.opened, data.width, rows, e.values, out.values);
  }
  mpc::add_rows_transposed_times<E>(data.mask.u, data.width, rows, e_minus_vt, out.values);
  return out;
}

// The same, opening e - vt first (|rows| elements, 1 round).
template <mpc::Engine En>
typename En::Shares masked_transposed_times(
    En& engine, const MaskedData<typename En::Element>& data, std::span<const std::size_t> rows,
    const typename En::Shares& e, const mpc::MaskedProducts<typename En::Element>& products,
    std::string_view step) {
  const auto e_minus_vt = engine.open(mpc::sub(e, typename En::Shares{products.vt}), step);
  return masked_transposed_given(data, rows, e, std::span(e_minus_vt), std::span(products.zt));
}

// Engines whose trunc(x, f) gives every party P - high for a public P and its share of the
// mask's high part (TruncMasks::high): ShamirEngine (its trunc adds the opened top part to
// -high). With them the training reuses the truncations' openings as the masked products'
// (see FoldedMasks), and shares X itself (shared_features), which needs row_products: the
// products of X's rows with the shared masks at the cost of their outputs.
template <class En>
inline constexpr bool kTruncIsPublicMinusHigh = false;
template <class F>
inline constexpr bool kTruncIsPublicMinusHigh<mpc::ShamirEngine<F>> = true;

// Engines that multiply row subsets of a shared matrix with shared vectors at the cost of the
// outputs (ShamirEngine::row_products); kTruncIsPublicMinusHigh's training path needs it.
template <class En>
concept MultipliesRowSubsets = requires(En& engine, std::span<const typename En::Element> matrix,
                                        std::span<const typename En::RowProduct> requests) {
  {
    engine.row_products(matrix, std::size_t{}, requests, "")
  } -> std::same_as<typename En::Shares>;
};

// Serves trunc_masks for `frac_bits` from masks fetched in advance, in order (each such request
// must match the next one's size), and every other request from `rest`.
template <class E>
class ScheduledTruncMasks final : public mpc::CorrelationSource<E> {
 public:
  ScheduledTruncMasks(mpc::CorrelationSource<E>& rest, std::vector<mpc::TruncMasks<E>> schedule,
                      int frac_bits)
      : rest_(rest), schedule_(std::move(schedule)), frac_bits_(frac_bits) {}

  mpc::TruncMasks<E> trunc_masks(std::size_t n, int frac_bits) override {
    if (frac_bits != frac_bits_) return rest_.trunc_masks(n, frac_bits);
    if (next_ == schedule_.size() || schedule_[next_].r.size() != n) {
      throw std::logic_error("logreg: a truncation out of the planned schedule");
    }
    return std::move(schedule_[next_++]);
  }
  mpc::Triples<E> triples(std::size_t n) override { return rest_.triples(n); }
  mpc::MatrixTriple<E> matrix_triple(std::size_t r, std::size_t i, std::size_t c) override {
    return rest_.matrix_triple(r, i, c);
  }
  mpc::BitMasks<E> bit_masks(std::size_t n, std::size_t w) override {
    return rest_.bit_masks(n, w);
  }
  std::vector<E> random_bits(std::size_t n) override { return rest_.random_bits(n); }
  mpc::WindowMasks<E> window_masks(std::size_t n, int low, std::size_t width) override {
    return rest_.window_masks(n, low, width);
  }
  mpc::SwitchMasks<E> switch_masks(std::size_t n, int bits) override {
    return rest_.switch_masks(n, bits);
  }
  mpc::MaskedMatrix<E> masked_matrix(std::size_t r, std::size_t c) override {
    return rest_.masked_matrix(r, c);
  }
  std::vector<mpc::MaskedProducts<E>> masked_products(
      const mpc::MaskedMatrix<E>& m, std::span<const std::vector<std::size_t>> s) override {
    return rest_.masked_products(m, s);
  }

 private:
  mpc::CorrelationSource<E>& rest_;
  std::vector<mpc::TruncMasks<E>> schedule_;
  int frac_bits_;
  std::size_t next_ = 0;
};

// The truncations' masks of every iteration, fetched at set-up for engines with
// kTruncIsPublicMinusHigh: iteration k truncates the residual e_k (B values) and the update t_k
// (D values). Since e_k = P_e - high_e and t_k = P_t - high_t with P public, choosing
// vt_k = -high_e makes e_k - vt_k = P_e public, and chaining v_(k+1) = v_k + high_t from v_0 = 0
// makes w_(k+1) - v_(k+1) = (w_k - v_k) - P_t public (w_0 - v_0 = 0): neither masked product
// opens anything (truncation_masked_products makes their z and zt).
template <class E>
struct FoldedMasks {
  // In the order the engine asks for them: iteration k's residual masks at 2k, its update's at
  // 2k + 1 (handed to ScheduledTruncMasks).
  std::vector<mpc::TruncMasks<E>> schedule;
  std::vector<E> high;  // every iteration's B residual then D update high parts, in order
  std::size_t batch = 0, width = 0;

  std::span<const E> residual_high(std::size_t k) const {
    return std::span<const E>(high).subspan(k * (batch + width), batch);
  }
  std::span<const E> update_high(std::size_t k) const {
    return std::span<const E>(high).subspan(k * (batch + width) + batch, width);
  }
};

template <class E>
FoldedMasks<E> fetch_folded_masks(mpc::CorrelationSource<E>& source, std::size_t iterations,
                                  std::size_t batch, std::size_t width, int frac_bits) {
  auto all = source.trunc_masks(iterations * (batch + width), frac_bits);
  const auto part = [&](const std::vector<E>& v, std::size_t begin, std::size_t n) {
    return v.empty() ? std::vector<E>{}
                     : std::vector<E>(v.begin() + static_cast<std::ptrdiff_t>(begin),
                                      v.begin() + static_cast<std::ptrdiff_t>(begin + n));
  };
  const auto masks = [&](std::size_t begin, std::size_t n) {
    return mpc::TruncMasks<E>{part(all.r, begin, n), part(all.high, begin, n),
                              part(all.msb, begin, n)};
  };
  FoldedMasks<E> out;
  for (std::size_t k = 0; k < iterations; ++k) {
    const std::size_t begin = k * (batch + width);
    out.schedule.push_back(masks(begin, batch));
    out.schedule.push_back(masks(begin + batch, width));
  }
  out.high = std::move(all.high);
  out.batch = batch;
  out.width = width;
  return out;
}

// For engines with kTruncIsPublicMinusHigh and U = X (shared_features): z = X_B v_k and
// zt = X_B^T vt_k for every iteration k (B = schedule[k]) with the masks of FoldedMasks, and for
// every epoch's test rows T, z = X_T v after its last iteration; in the order of the subsets of
// masked_products (each epoch's iterations, then its test rows), v and vt left empty. One
// row_products call: 1 round, the reduction of iterations (B + D) + epochs |T| outputs.
template <mpc::Engine En>
  requires MultipliesRowSubsets<En>
std::vector<mpc::MaskedProducts<typename En::Element>> truncation_masked_products(
    En& engine, const MaskedData<typename En::Element>& data,
    const std::vector<std::vector<std::size_t>>& schedule,
    const FoldedMasks<typename En::Element>& folded,
    std::span<const std::size_t> test_rows, std::size_t per_epoch) {
  using E = typename En::Element;
  const std::size_t iterations = schedule.size(), width = data.width, batch = folded.batch;
  std::vector<E> v((iterations + 1) * width, E(0));  // v_k at k width
  std::vector<E> vt(iterations * batch);
  for (std::size_t k = 0; k < iterations; ++k) {
    const auto high_t = folded.update_high(k);
    for (std::size_t j = 0; j < width; ++j) v[(k + 1) * width + j] = v[k * width + j] + high_t[j];
    const auto high_e = folded.residual_high(k);
    for (std::size_t i = 0; i < batch; ++i) vt[k * batch + i] = -high_e[i];
  }
  const auto v_at = [&](std::size_t k) { return std::span<const E>(v).subspan(k * width, width); };
  std::vector<typename En::RowProduct> requests;
  for (std::size_t k = 0; k < iterations; ++k) {
    requests.push_back({schedule[k], v_at(k), std::span<const E>(vt).subspan(k * batch, batch)});
    if (!test_rows.empty() && (k + 1) % per_epoch == 0) {
      requests.push_back({test_rows, v_at(k + 1), {}});
    }
  }
  const auto reduced =
      engine.row_products(data.mask.u, width, requests, "logreg: products of the masks");
  std::vector<mpc::MaskedProducts<E>> out(requests.size());
  std::size_t taken = 0;
  const auto take = [&](std::size_t count) {
    const auto first = reduced.values.begin() + static_cast<std::ptrdiff_t>(taken);
    taken += count;
    return std::vector<E>(first, first + static_cast<std::ptrdiff_t>(count));
  };
  for (std::size_t k = 0; k < requests.size(); ++k) {
    out[k].z = take(requests[k].rows.size());
    if (!requests[k].left.empty()) out[k].zt = take(width);
  }
  return out;
}

// x + y element-wise, for share vectors and public vectors alike.
template <class E>
std::vector<E> plus(std::span<const E> x, std::span<const E> y) {
  std::vector<E> out(x.begin(), x.end());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] += y[i];
  return out;
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
// correctly: b = [z > 0] for the test logits z (z2_test, scale 2^(2f)), correct =
// sum (1 - b - y + 2 b y), b with a band of 2^-kPredictionBandBits (a logit within 2^-8 of 0
// may be counted either way). Rounds: with test rows, above_points (R_cmp),
// two_sums_of_products for e.e and b.y together (1) and the opening of both sums (1); without,
// those two.
template <mpc::Engine En>
EpochStats epoch_statistics(En& engine, const typename En::Shares& residuals,
                            const typename En::Shares& y_test, const typename En::Shares& z2_test) {
  using E = typename En::Element;
  using Shares = typename En::Shares;
  const int f = engine.session().fixed().frac_bits;
  const std::size_t n_test = y_test.size();
  Shares b_test;
  if (n_test > 0) {
    constexpr double kZero[] = {0.0};
    b_test = above_points(engine, z2_test, std::span<const double>(kZero), kPredictionBandBits,
                          "logreg: test predictions");
  }
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
  constexpr bool kFold = kTruncIsPublicMinusHigh<En>;
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
  // once, never more than the remaining iterations use; with kFold, the truncations' masks are
  // all fetched now (FoldedMasks).
  FoldedMasks<E> folded;
  if constexpr (kFold) {
    folded = fetch_folded_masks(caller_engine.correlations(), iterations, batch, width, 2 * f);
  }
  mpc::CorrelationPool<E> pool(caller_engine.correlations(), iterations);
  ScheduledTruncMasks<E> scheduled(pool, std::move(folded.schedule), 2 * f);
  En engine =
      kFold ? caller_engine.with_correlations(scheduled) : caller_engine.with_correlations(pool);
  // The epoch statistics repeat once per epoch: their own pool fetches for the epochs only.
  mpc::CorrelationPool<E> statistics_pool(caller_engine.correlations(), options.epochs);
  En statistics_engine = caller_engine.with_correlations(statistics_pool);

  const auto pieces = breakpoints(options.sigmoid);
  const Shares y = share_labels(engine, data, layout);
  const auto schedule = minibatches(options);

  // Set-up: the data matrix (kFold: shared as it is; otherwise masked once, SecureML), and every
  // iteration's and every epoch's test-row masked products in one batch: products[epoch *
  // subsets_per_epoch + it] for iteration it of the epoch, [... + per_epoch] for its test rows.
  const bool testing = !options.test_rows.empty();
  const std::size_t subsets_per_epoch = per_epoch + (testing ? 1 : 0);
  MaskedData<E> masked;
  std::vector<mpc::MaskedProducts<E>> products;
  if constexpr (kFold) {
    masked = shared_features(engine, data, layout);
    products = truncation_masked_products(engine, masked, schedule, folded, options.test_rows,
                                          per_epoch);
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
  const auto products_of = [&](std::size_t iteration) -> const mpc::MaskedProducts<E>& {
    return products[iteration / per_epoch * subsets_per_epoch + iteration % per_epoch];
  };
  const Shares y_test = gather_rows(y, 1, options.test_rows);
  // kFold: w - v in the clear, from w_0 - v_0 = 0 (FoldedMasks).
  std::vector<E> w_minus_v(kFold ? width : 0, E(0));

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
      const std::size_t iteration = epoch * per_epoch + it;
      const auto& rows = schedule[iteration];
      const auto& masks = products_of(iteration);
      const Shares yb = gather_rows(y, 1, rows);
      const Shares z2 =
          kFold ? masked_times_given(masked, rows, model.weights, std::span<const E>(w_minus_v),
                                     std::span(masks.z))
                : masked_times(engine, masked, rows, model.weights, masks, "logreg: X_B w");
      const Shares bits = piece_tests(engine, z2, pieces);
      // e = trunc(s - y, 2f) for s = sum_k b_k (da_k z + db_k): ShamirEngine opens the
      // products' degree-2t sum with the truncation's mask (1 round); others mul, then trunc.
      const Shares e = mpc::trunc_sum_of_products(engine, bits, piece_deltas(engine, z2, pieces),
                                                  mpc::neg(yb), 2 * f, "logreg: residual");
      Shares g;
      if constexpr (kFold) {
        const auto e_minus_vt = plus(std::span<const E>(e.values), folded.residual_high(iteration));
        g = masked_transposed_given(masked, rows, e, std::span<const E>(e_minus_vt),
                                    std::span(masks.zt));
      } else {
        g = masked_transposed_times(engine, masked, rows, e, masks, "logreg: X_B^T e");
      }
      const Shares step = mpc::add(mpc::scale(g, std::span<const E>(eta_vec)),
                                   mpc::scale(model.weights, std::span<const E>(decay)));
      const Shares t = engine.trunc(step, 2 * f, "logreg: update");
      model.weights = mpc::sub(model.weights, t);
      if constexpr (kFold) {
        const auto t_public = plus(std::span<const E>(t.values), folded.update_high(iteration));
        for (std::size_t j = 0; j < width; ++j) w_minus_v[j] -= t_public[j];
      }
      residuals.values.insert(residuals.values.end(), e.values.begin(), e.values.end());
      pool.end_repetition();
      ++model.iterations;
    }
    const std::uint64_t statistics_start = mesh.stats().rounds;
    model.training_rounds += statistics_start - epoch_start;
    Shares z2_test;  // the test logits, scale 2^(2f)
    if (testing) {
      const auto& test_masks = products[epoch * subsets_per_epoch + per_epoch];
      const std::span<const std::size_t> test_rows(options.test_rows);
      z2_test = kFold ? masked_times_given(masked, test_rows, model.weights,
                                           std::span<const E>(w_minus_v), std::span(test_masks.z))
                      : masked_times(statistics_engine, masked, test_rows, model.weights,
                                     test_masks, "logreg: test logits");
    }
    model.curve.push_back(epoch_statistics(statistics_engine, residuals, y_test, z2_test));
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
