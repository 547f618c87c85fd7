// Joint logistic regression against a plaintext Eigen run with the same hyperparameters, the
// same mini-batches and the same sigmoid approximation, on the breast-cancer data split across
// 3 parties vertically (columns 1-10 / 11-20 / 21-30, the label at party 2) and horizontally
// (rows dealt round-robin), on both engines (and the dealer-free Shamir source).
#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <fstream>
#include <sstream>

#include "mpc/dealer_free.hpp"
#include "mpc/ops.hpp"
#include "net/errors.hpp"
#include "protocols/logreg.hpp"
#include "protocols/logreg_plain.hpp"
#include "tests/support/counting_source.hpp"
#include "tests/support/engines.hpp"

using namespace sm;
using namespace sm::proto;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kEpochs = 1;
#else
constexpr std::size_t kEpochs = 4;
#endif
constexpr std::size_t kParties = 3;
constexpr double kWeightTolerance = 0.02;
constexpr double kMseTolerance = 0.005;

struct Dataset {
  Eigen::MatrixXd x;  // standardised on the training rows
  Eigen::VectorXd y;
};

// data/breast_cancer.csv: id, 30 features, label. Standardised with the training rows' mean and
// population standard deviation (what the train-lr job does at each party).
Dataset load(const std::vector<std::size_t>& train) {
  std::ifstream in(SM_DATA_DIR "/breast_cancer.csv");
  REQUIRE(in);
  std::string line;
  std::getline(in, line);
  std::vector<std::vector<double>> rows;
  while (std::getline(in, line)) {
    std::stringstream cells(line);
    std::string cell;
    std::getline(cells, cell, ',');
    std::vector<double> row;
    while (std::getline(cells, cell, ',')) row.push_back(std::stod(cell));
    rows.push_back(row);
  }
  Dataset data{Eigen::MatrixXd(rows.size(), 30), Eigen::VectorXd(rows.size())};
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (int c = 0; c < 30; ++c) data.x(r, c) = rows[r][c];
    data.y(r) = rows[r][30];
  }
  for (int c = 0; c < 30; ++c) {
    double sum = 0, squares = 0;
    for (auto r : train) {
      sum += data.x(r, c);
      squares += data.x(r, c) * data.x(r, c);
    }
    const double mean = sum / train.size();
    const double sd = std::sqrt(squares / train.size() - mean * mean);
    data.x.col(c) = (data.x.col(c).array() - mean) / sd;
  }
  return data;
}

// The approximations, written out from the header's definitions.
double approx(SigmoidKind kind, double z) {
  if (kind == SigmoidKind::kSecureMl3) return std::clamp(z + 0.5, 0.0, 1.0);
  if (z <= -4) return 0;
  if (z <= -1.6) return 0.25 + z / 16;
  if (z <= 1.6) return 0.5 + 0.215 * z;
  if (z <= 4) return 0.75 + z / 16;
  return 1;
}

struct Split {
  LogRegLayout layout;
  std::vector<LogRegData> parts;
};

Split vertical(const Dataset& data) {
  Split split;
  split.layout = {Partition::kVertical, {std::size_t(data.x.rows())}, {10, 10, 10}, 2};
  for (std::size_t p = 0; p < kParties; ++p) {
    LogRegData part;
    for (Eigen::Index r = 0; r < data.x.rows(); ++r) {
      for (int c = 0; c < 10; ++c) part.features.push_back(data.x(r, 10 * p + c));
      if (p == 2) part.labels.push_back(data.y(r));
    }
    split.parts.push_back(part);
  }
  return split;
}

// Rows dealt round-robin to `parties` parties; returns the global index of each dealt row in
// `order`.
Split horizontal(const Dataset& data, std::vector<std::size_t>& order,
                 std::size_t parties = kParties) {
  Split split;
  split.layout = {Partition::kHorizontal, {}, {30}, 0};
  split.parts.resize(parties);
  for (std::size_t p = 0; p < parties; ++p) {
    std::size_t rows = 0;
    for (Eigen::Index r = static_cast<Eigen::Index>(p); r < data.x.rows();
         r += static_cast<Eigen::Index>(parties), ++rows) {
      for (int c = 0; c < 30; ++c) split.parts[p].features.push_back(data.x(r, c));
      split.parts[p].labels.push_back(data.y(r));
      order.push_back(r);
    }
    split.layout.rows.push_back(rows);
  }
  return split;
}

// Dataset rows re-ordered to the protocol's global order.
Dataset reorder(const Dataset& data, const std::vector<std::size_t>& order) {
  Dataset out{Eigen::MatrixXd(data.x.rows(), data.x.cols()), Eigen::VectorXd(data.y.size())};
  for (std::size_t i = 0; i < order.size(); ++i) {
    out.x.row(i) = data.x.row(order[i]);
    out.y(i) = data.y(order[i]);
  }
  return out;
}

struct SecureRun {
  std::vector<double> weights;
  std::vector<double> test_logits;
  std::vector<EpochStats> curve;
  std::uint64_t rounds = 0, training_rounds = 0;
  std::size_t iterations = 0;
};

template <class En>
SecureRun train_and_predict(En& engine, const Split& split, const LogRegOptions& options) {
  const auto self = engine.session().self();
  const auto before = engine.session().mesh().stats().rounds;
  const auto model = train_logreg(engine, split.parts[self], split.layout, options);
  SecureRun run;
  run.rounds = engine.session().mesh().stats().rounds - before;
  run.iterations = model.iterations;
  run.training_rounds = model.training_rounds;
  run.curve = model.curve;
  const auto& fixed = engine.session().fixed();
  using E = typename En::Element;
  run.weights = mpc::decode_fixed<E>(fixed, engine.open(model.weights, "test: weights"));
  const auto z = logits(engine, split.parts[self], split.layout, model.weights);
  const auto opened = mpc::decode_fixed<E>(fixed, engine.open(z, "test: logits"));
  for (auto r : options.test_rows) run.test_logits.push_back(opened[r]);
  return run;
}

void check_against_plaintext(const Dataset& data, const LogRegOptions& options,
                             const std::vector<SecureRun>& runs) {
  const auto plain = train_logreg_plain(data.x, data.y, options,
                                        [&](double z) { return approx(options.sigmoid, z); });
  const double plain_accuracy = accuracy_plain(data.x, data.y, plain.weights, options.test_rows);
  for (const auto& run : runs) {
    REQUIRE(run.weights.size() == std::size_t(plain.weights.size()));
    double worst = 0;
    for (Eigen::Index i = 0; i < plain.weights.size(); ++i) {
      worst = std::max(worst, std::fabs(run.weights[i] - plain.weights(i)));
    }
    const Eigen::VectorXd secure =
        Eigen::Map<const Eigen::VectorXd>(run.weights.data(), plain.weights.size());
    const double secure_accuracy = accuracy_plain(data.x, data.y, secure, options.test_rows);
    WARN("plaintext test accuracy " << plain_accuracy << ", secure " << secure_accuracy
                                    << ", max weight difference " << worst);
    CHECK(worst <= kWeightTolerance);
    CHECK(std::fabs(secure_accuracy - plain_accuracy) <= 0.01);
    REQUIRE(run.curve.size() == options.epochs);
    REQUIRE(run.curve.back().test_accuracy);
    CHECK(std::fabs(*run.curve.back().test_accuracy - secure_accuracy) < 1e-9);
    // The revealed mean squared error over each epoch's batches, against the plaintext run's:
    // the weights differ by at most kWeightTolerance, so the sigmoid outputs by a few hundredths.
    for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
      CHECK(run.curve[epoch].train_mse == Approx(plain.train_mse[epoch]).margin(kMseTolerance));
    }
    // Prediction: the secure logits give the plaintext model's labels on the test rows.
    std::size_t agree = 0;
    for (std::size_t i = 0; i < options.test_rows.size(); ++i) {
      const auto r = options.test_rows[i];
      const double z =
          data.x.row(r).dot(plain.weights.head(data.x.cols())) + plain.weights(data.x.cols());
      agree += (run.test_logits[i] > 0) == (z > 0);
      CHECK(std::fabs(run.test_logits[i] - z) < 0.1);
    }
    CHECK(static_cast<double>(agree) / options.test_rows.size() >= 0.99);
  }
}

LogRegOptions options_for(std::size_t rows, SigmoidKind sigmoid) {
  LogRegOptions options;
  const auto split = split_rows(rows, 0.2, mpc::Seed{42});
  options.train_rows = split.train;
  options.test_rows = split.test;
  options.epochs = kEpochs;
  options.batch_size = 32;
  options.learning_rate = 1.0;
  options.l2 = 0.01;
  options.sigmoid = sigmoid;
  options.shuffle_seed = mpc::Seed{9};
  return options;
}

template <class En>
std::vector<SecureRun> run_split(const Split& split, const LogRegOptions& options) {
  return test::run_engine<En>(
      kParties, [&](En& engine) { return train_and_predict(engine, split, options); });
}

// The Shamir engine over Fp127 with the dealer-free source among `parties` parties, t the
// largest threshold below N / 2.
std::vector<SecureRun> run_dealer_free(const Split& split, const LogRegOptions& options,
                                       std::size_t parties) {
  using En = mpc::ShamirEngine<mpc::Fp127>;
  const std::size_t t = (parties - 1) / 2;
  return net::run_parties(parties, [&](net::Mesh& mesh) {
    mpc::Session session = mpc::Session::establish(mesh);
    mpc::DealerFreeShamir<mpc::Fp127> source(session, t, En::kDefaultValueBits);
    En engine(session, source, t);
    return train_and_predict(engine, split, options);
  });
}

}  // namespace

TEST_CASE("split_rows and minibatches are seeded, disjoint and complete", "[logreg]") {
  const auto split = split_rows(569, 0.2, mpc::Seed{42});
  CHECK(split.test.size() == 114);
  CHECK(split.train.size() == 455);
  std::vector<std::size_t> all = split.train;
  all.insert(all.end(), split.test.begin(), split.test.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i < all.size(); ++i) REQUIRE(all[i] == i);
  CHECK(split_rows(569, 0.2, mpc::Seed{43}).test != split.test);
  LogRegOptions options;
  options.train_rows = split.train;
  options.epochs = 2;
  options.batch_size = 100;
  const auto batches = minibatches(options);
  REQUIRE(batches.size() == 8);
  CHECK(batches[0] != batches[4]);
  CHECK(minibatches(options) == batches);
}

TEST_CASE("the sigmoid approximations stay within their stated error", "[logreg]") {
  for (auto kind : {SigmoidKind::kSecureMl3, SigmoidKind::kPiecewise5}) {
    double worst = 0;
    for (int i = -20000; i <= 20000; ++i) {
      const double z = i / 1000.0;
      CHECK(sigmoid_approx(kind, z) == Approx(approx(kind, z)).margin(1e-12));
      worst = std::max(worst, std::fabs(sigmoid_approx(kind, z) - 1 / (1 + std::exp(-z))));
    }
    CHECK(worst <= sigmoid_max_error(kind));
    CHECK(worst > sigmoid_max_error(kind) - 1e-3);
    CHECK(parse_sigmoid(sigmoid_name(kind)) == kind);
  }
  CHECK_THROWS_AS(parse_sigmoid("tanh"), InputError);
}

TEST_CASE("vertical logistic regression matches plaintext on both engines", "[logreg]") {
  const auto sigmoid = GENERATE(SigmoidKind::kPiecewise5, SigmoidKind::kSecureMl3);
  const auto options = options_for(569, sigmoid);
  const Dataset data = load(options.train_rows);
  const Split split = vertical(data);
  SECTION("additive") {
    check_against_plaintext(data, options, run_split<mpc::AdditiveEngine>(split, options));
  }
  SECTION("shamir") {
    const auto runs = run_split<mpc::ShamirEngine<mpc::Fp127>>(split, options);
    check_against_plaintext(data, options, runs);
    // 5 rounds per iteration (3 for the comparisons of 16 bits: the window masks' group
    // products stand in for the tree's first two levels; the sigmoid's products opened with the
    // residual's truncation, and the update's truncation: X_B w and X_B^T e are local products
    // that the comparison's opening and the update's truncation take at degree 2t). At the
    // start, party 0 takes part in 2 rounds: the inputs of its own columns (it sends) and of
    // party 1's (it receives; party 2's and the labels, at party 2, it draws from the seed it
    // shares with party 2). 6 per epoch's statistics (4 for the comparison of 20 bits with the
    // threshold 0, mul, open; the test logits are local products too).
    CHECK(runs[0].training_rounds == 5 * runs[0].iterations);
    CHECK(runs[0].rounds == 5 * runs[0].iterations + 2 + 6 * options.epochs);
  }
}

TEST_CASE("horizontal logistic regression matches plaintext on both engines", "[logreg]") {
  const auto options = options_for(569, SigmoidKind::kPiecewise5);
  const Dataset original = load(options.train_rows);
  std::vector<std::size_t> order;
  const Split split = horizontal(original, order);
  const Dataset data = reorder(original, order);
  SECTION("additive") {
    const auto runs = run_split<mpc::AdditiveEngine>(split, options);
    check_against_plaintext(data, options, runs);
    // 8 rounds per iteration: open w - v, 3 for the comparisons of 15 bits and the top bit (the
    // dealer's window masks stand in for the tree's first two levels), mul, trunc, open e - v',
    // trunc; set-up: U opened to each of the 3 parties under its rows, and E = X - U published
    // (inputs are free on this engine); 7 per epoch's statistics (open w - v, 4 for the
    // comparison of 19 bits and the top bit with the threshold 0, mul, open).
    CHECK(runs[0].training_rounds == 8 * runs[0].iterations);
    CHECK(runs[0].rounds == 8 * runs[0].iterations + 3 + 1 + 7 * options.epochs);
  }
  SECTION("shamir") {
    check_against_plaintext(data, options,
                            run_split<mpc::ShamirEngine<mpc::Fp127>>(split, options));
  }
}

TEST_CASE("vertical logistic regression with the dealer-free Shamir source", "[logreg]") {
  // All epochs: the dealer-free truncation errs in {-1, 0, 1, 2} units (not {0, 1}), and the
  // sigmoid's comparisons have their 2^-4 band; the weights must still stay within the
  // tolerance.
  const auto options = options_for(569, SigmoidKind::kPiecewise5);
  const Dataset data = load(options.train_rows);
  check_against_plaintext(data, options, run_dealer_free(vertical(data), options, kParties));
}

TEST_CASE("horizontal logistic regression with the dealer-free Shamir source for 4 and 5 parties",
          "[logreg]") {
  // N = 5, t = 2: two seeded peers per input and per reduction, the truncation's error range of
  // five masks' parts. N = 4, t = 1: party 3 takes no part in the degree-2t openings (the
  // comparisons', the residuals' and the updates') and gets its shares from them all the same.
  const std::size_t parties = GENERATE(4, 5);
  CAPTURE(parties);
  const auto options = options_for(569, SigmoidKind::kPiecewise5);
  const Dataset original = load(options.train_rows);
  std::vector<std::size_t> order;
  const Split split = horizontal(original, order, parties);
  const Dataset data = reorder(original, order);
  check_against_plaintext(data, options, run_dealer_free(split, options, parties));
}

TEMPLATE_TEST_CASE("logistic regression fetches exactly the correlations it uses", "[logreg]",
                   mpc::AdditiveEngine, mpc::ShamirEngine<mpc::Fp127>) {
  // Every iteration compares B logits (one window mask each) and truncates B residuals and D
  // update values; every epoch's statistics compare the test rows' logits. The pools fetch for
  // many iterations at once, but never beyond the last one.
  using En = TestType;
  using E = typename En::Element;
  const auto options = options_for(569, SigmoidKind::kPiecewise5);
  const Split split = vertical(load(options.train_rows));
  const std::size_t batch = options.batch_size, width = 31;
  const std::size_t iterations = options.epochs * (options.train_rows.size() / batch);
  const std::size_t compared = iterations * batch + options.epochs * options.test_rows.size();
  const int f = mpc::FixedPoint{}.frac_bits;
  const auto results = test::run_engine<En>(kParties, [&](En& engine) {
    test::CountingSource<E> counting(engine.correlations());
    En counted = engine.with_correlations(counting);
    train_logreg(counted, split.parts[engine.session().self()], split.layout, options);
    return counting.counts;
  });
  for (const auto& counts : results) {
    CHECK(counts.window_masks == compared);
    CHECK(counts.trunc_masks.at(2 * f) == iterations * (batch + width));
    if constexpr (std::is_same_v<En, mpc::ShamirEngine<mpc::Fp127>>) {
      // The low part of each compared value's mask (m = 2f - 4 - 2 in training, 2f - 8 - 2 in
      // the statistics, for N = 3), and one switch mask per threshold (4 in training, 1 in the
      // statistics) and compared value: the tree roots' move from Fp61 to Fp127.
      CHECK(counts.trunc_masks.at(2 * f - 6) == iterations * batch);
      CHECK(counts.trunc_masks.at(2 * f - 10) == options.epochs * options.test_rows.size());
      CHECK(counts.switch_masks ==
            4 * iterations * batch + options.epochs * options.test_rows.size());
    }
  }
}

TEST_CASE("logistic regression rejects data that does not match the layout", "[logreg]") {
  auto options = options_for(569, SigmoidKind::kPiecewise5);
  const Dataset data = load(options.train_rows);
  Split split = vertical(data);
  for (auto& part : split.parts) part.features.pop_back();
  CHECK_THROWS_AS(test::run_engine<mpc::AdditiveEngine>(
                      kParties,
                      [&](mpc::AdditiveEngine& engine) {
                        return train_logreg(engine, split.parts[engine.session().self()],
                                            split.layout, options)
                            .iterations;
                      }),
                  InputError);
  options.batch_size = 1000;
  CHECK_THROWS_AS(test::run_engine<mpc::AdditiveEngine>(
                      kParties,
                      [&](mpc::AdditiveEngine& engine) {
                        return train_logreg(engine, vertical(data).parts[engine.session().self()],
                                            split.layout, options)
                            .iterations;
                      }),
                  InputError);
}

TEST_CASE("per-iteration communication grows with B + D, not with B D", "[logreg][cost]") {
  // Vertical breast cancer with the first 10 or all 30 features, batch 32, additive engine
  // (8-byte elements): the bytes party 0 sends in a second epoch, which costs the same as the
  // first (the sizes do not depend on the data). Per iteration, D enters only through the
  // opening of w - v and the update's truncation (2 D elements to each peer), per epoch also
  // through the evaluation's opening of w - v (D); fresh matrix triples would add 2 B D.
  auto options = options_for(569, SigmoidKind::kPiecewise5);
  const Dataset data = load(options.train_rows);
  const std::size_t iterations = options.train_rows.size() / options.batch_size;
  auto epoch_bytes = [&](int features) {
    Split split;
    const int per_party = features / 3;
    split.layout = {Partition::kVertical,
                    {std::size_t(data.x.rows())},
                    {std::size_t(per_party), std::size_t(per_party), std::size_t(per_party)},
                    2};
    for (std::size_t p = 0; p < kParties; ++p) {
      LogRegData part;
      for (Eigen::Index r = 0; r < data.x.rows(); ++r) {
        for (int c = 0; c < per_party; ++c) part.features.push_back(data.x(r, 10 * p + c));
        if (p == 2) part.labels.push_back(data.y(r));
      }
      split.parts.push_back(part);
    }
    std::vector<std::uint64_t> sent;
    for (std::size_t epochs : {1, 2}) {
      auto opts = options;
      opts.epochs = epochs;
      sent.push_back(test::run_engine<mpc::AdditiveEngine>(kParties, [&](mpc::AdditiveEngine& e) {
        const auto before = e.session().mesh().stats().bytes_sent();
        train_logreg(e, split.parts[e.session().self()], split.layout, opts);
        return e.session().mesh().stats().bytes_sent() - before;
      })[0]);
    }
    return sent[1] - sent[0];
  };
  const std::uint64_t small = epoch_bytes(9), large = epoch_bytes(30);
  WARN("bytes party 0 sends per epoch ("
       << iterations << " iterations of batch 32): D = 10: " << small << ", D = 31: " << large
       << "; per iteration " << small / iterations << " and " << large / iterations);
  const std::uint64_t peers = kParties - 1, element = 8;
  CHECK(large - small == (2 * iterations + 1) * (31 - 10) * peers * element);
}
