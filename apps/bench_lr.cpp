#include "apps/bench_lr.hpp"

#include <chrono>
#include <cmath>
#include <numbers>

#include "apps/bench_support.hpp"
#include "apps/csv.hpp"
#include "mpc/ops.hpp"
#include "mpc/prg.hpp"
#include "net/errors.hpp"
#include "protocols/logreg_plain.hpp"

namespace sm::app {

namespace {

constexpr double kTestFraction = 0.2;
constexpr mpc::Seed kSplitSeed = {0x6c, 0x72, 0x20, 0x73, 0x70, 0x6c, 0x69, 0x74};
constexpr mpc::Seed kBatchSeed = {0x6c, 0x72, 0x20, 0x62, 0x61, 0x74, 0x63, 0x68};
constexpr mpc::Seed kSyntheticSeed = {0x6c, 0x72, 0x20, 0x64, 0x61, 0x74, 0x61};
// Plaintext training: the median of this many runs.
constexpr std::size_t kPlainRepeats = 5;

// Uniform doubles in (0, 1) from the PRG's 64-bit words.
std::vector<double> uniforms(mpc::Prg& prg, std::size_t n) {
  const auto words = prg.sample<mpc::Ring64>(n);
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = (static_cast<double>(words[i].value() >> 11) + 0.5) * 0x1p-53;
  }
  return out;
}

// Standard normal features (Box-Muller) and labels of a logistic model whose weights alternate
// in sign and shrink with the column, so every column matters a little.
void synthetic(std::size_t rows, std::size_t columns, Eigen::MatrixXd& x, Eigen::VectorXd& y) {
  mpc::Prg prg(kSyntheticSeed, 0);
  const auto u = uniforms(prg, rows * columns + rows);
  x.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(columns));
  for (std::size_t k = 0; k + 1 < rows * columns; k += 2) {
    const double radius = std::sqrt(-2 * std::log(u[k]));
    const double angle = 2 * std::numbers::pi * u[k + 1];
    x.data()[k] = radius * std::cos(angle);
    x.data()[k + 1] = radius * std::sin(angle);
  }
  if ((rows * columns) % 2 == 1) x.data()[rows * columns - 1] = 0;
  Eigen::VectorXd truth(static_cast<Eigen::Index>(columns));
  for (std::size_t c = 0; c < columns; ++c) {
    truth(static_cast<Eigen::Index>(c)) = (c % 2 == 0 ? 1.0 : -1.0) * 3.0 / std::sqrt(c + 1.0);
  }
  const Eigen::VectorXd logits = x * truth;
  y.resize(static_cast<Eigen::Index>(rows));
  for (std::size_t r = 0; r < rows; ++r) {
    const double p = 1 / (1 + std::exp(-logits(static_cast<Eigen::Index>(r)) / 4));
    y(static_cast<Eigen::Index>(r)) = u[rows * columns + r] < p ? 1 : 0;
  }
}

// data/breast_cancer.csv: id, 30 features, the label last.
void breast_cancer(const std::filesystem::path& file, Eigen::MatrixXd& x, Eigen::VectorXd& y) {
  const CsvTable table = read_csv(file, HeaderRule::kRequired);
  const std::size_t features = table.columns() - 2;
  x.resize(static_cast<Eigen::Index>(table.rows.size()), static_cast<Eigen::Index>(features));
  y.resize(static_cast<Eigen::Index>(table.rows.size()));
  const auto value = [&](std::size_t r, std::size_t c) {
    return std::visit([](auto v) { return static_cast<double>(v); }, parse_number(table, r, c));
  };
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    for (std::size_t c = 0; c < features; ++c) {
      x(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = value(r, c + 1);
    }
    y(static_cast<Eigen::Index>(r)) = value(r, features + 1);
  }
}

void standardise(Eigen::MatrixXd& x, std::span<const std::size_t> train) {
  for (Eigen::Index c = 0; c < x.cols(); ++c) {
    double sum = 0, squares = 0;
    for (std::size_t r : train) {
      const double v = x(static_cast<Eigen::Index>(r), c);
      sum += v;
      squares += v * v;
    }
    const double mean = sum / static_cast<double>(train.size());
    const double sd = std::sqrt(squares / static_cast<double>(train.size()) - mean * mean);
    x.col(c) = (x.col(c).array() - mean) / (sd > 0 ? sd : 1.0);
  }
}

// [begin, end) of block p when `total` items are dealt in `parts` contiguous blocks.
std::pair<std::size_t, std::size_t> block(std::size_t total, std::size_t parts, std::size_t p) {
  return {total * p / parts, total * (p + 1) / parts};
}

proto::LogRegLayout layout_of(const LrBenchCase& bench, const LrBenchData& data) {
  const auto rows = static_cast<std::size_t>(data.x.rows());
  const auto columns = static_cast<std::size_t>(data.x.cols());
  proto::LogRegLayout layout;
  layout.partition = bench.partition;
  for (std::size_t p = 0; p < bench.parties; ++p) {
    const auto [begin, end] =
        block(bench.partition == proto::Partition::kVertical ? columns : rows, bench.parties, p);
    (bench.partition == proto::Partition::kVertical ? layout.columns : layout.rows)
        .push_back(end - begin);
  }
  if (bench.partition == proto::Partition::kVertical) {
    layout.rows = {rows};
    layout.label_party = bench.parties - 1;
  } else {
    layout.columns = {columns};
  }
  return layout;
}

proto::LogRegData party_data(const LrBenchCase& bench, const LrBenchData& data, net::PartyId self) {
  const auto rows = static_cast<std::size_t>(data.x.rows());
  const auto columns = static_cast<std::size_t>(data.x.cols());
  proto::LogRegData out;
  const bool vertical = bench.partition == proto::Partition::kVertical;
  const auto [row_begin, row_end] =
      vertical ? std::pair{std::size_t{0}, rows} : block(rows, bench.parties, self);
  const auto [col_begin, col_end] =
      vertical ? block(columns, bench.parties, self) : std::pair{std::size_t{0}, columns};
  for (std::size_t r = row_begin; r < row_end; ++r) {
    for (std::size_t c = col_begin; c < col_end; ++c) {
      out.features.push_back(data.x(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)));
    }
    if (!vertical || self == bench.parties - 1) {
      out.labels.push_back(data.y(static_cast<Eigen::Index>(r)));
    }
  }
  return out;
}

template <class En>
nlohmann::json lr_phases(En& engine, net::Mesh& barrier, const net::Mesh& counted,
                         const LrBenchCase& bench) {
  using E = typename En::Element;
  const net::PartyId self = engine.session().self();
  LrBenchData data = lr_bench_data(bench);
  const proto::LogRegLayout layout = layout_of(bench, data);
  const proto::LogRegData mine = party_data(bench, data, self);

  using Clock = std::chrono::steady_clock;
  std::vector<double> epoch_ends, epoch_cpu_ends;  // since the training started
  Clock::time_point start;
  double cpu_start = 0;
  data.options.progress = [&](const proto::EpochStats&) {
    epoch_ends.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    epoch_cpu_ends.push_back(process_cpu_seconds() - cpu_start);
  };
  proto::LogRegModel<typename En::Shares> model;
  const PhaseMeasure train = measure_phase(barrier, counted, [&] {
    start = Clock::now();
    cpu_start = process_cpu_seconds();
    model = proto::train_logreg(engine, mine, layout, data.options);
  });
  const auto weights =
      mpc::decode_fixed<E>(engine.session().fixed(), engine.open(model.weights, "bench: weights"));
  const Eigen::VectorXd w =
      Eigen::Map<const Eigen::VectorXd>(weights.data(), static_cast<Eigen::Index>(weights.size()));
  nlohmann::json curve = nlohmann::json::array();
  for (std::size_t e = 0; e < model.curve.size(); ++e) {
    curve.push_back({{"epoch", model.curve[e].epoch},
                     {"seconds", epoch_ends.at(e)},
                     {"cpu_seconds", epoch_cpu_ends.at(e)},
                     {"train_mse", model.curve[e].train_mse},
                     {"test_accuracy", model.curve[e].test_accuracy.value_or(0)}});
  }
  nlohmann::json report = {
      {"phases", {{"train", to_json(train)}}},
      {"iterations", model.iterations},
      {"training_rounds", model.training_rounds},
      {"statistics_rounds", model.statistics_rounds},
      {"curve", curve},
      {"weights", weights},
      {"test_accuracy", proto::accuracy_plain(data.x, data.y, w, data.options.test_rows)}};
  return report;
}

}  // namespace

LrBenchData lr_bench_data(const LrBenchCase& bench) {
  LrBenchData data;
  if (bench.dataset == "synthetic") {
    synthetic(bench.synthetic_rows, bench.synthetic_columns, data.x, data.y);
  } else {
    breast_cancer(bench.breast_cancer_file, data.x, data.y);
  }
  const auto split =
      proto::split_rows(static_cast<std::size_t>(data.x.rows()), kTestFraction, kSplitSeed);
  standardise(data.x, split.train);
  data.options.train_rows = split.train;
  data.options.test_rows = split.test;
  data.options.epochs = bench.epochs;
  data.options.batch_size = bench.batch_size;
  data.options.learning_rate = bench.learning_rate;
  data.options.l2 = bench.l2;
  data.options.sigmoid = proto::SigmoidKind::kPiecewise5;
  data.options.shuffle_seed = kBatchSeed;
  return data;
}

nlohmann::json lr_party(BenchScheme scheme, const net::TlsConfig& config,
                        const LrBenchCase& bench) {
  EnginePhases phases;
  phases.additive = [&](mpc::AdditiveEngine& engine, net::Mesh& barrier, const net::Mesh& counted) {
    return lr_phases(engine, barrier, counted, bench);
  };
  phases.shamir127 = [&](mpc::ShamirEngine<mpc::Fp127>& engine, net::Mesh& barrier,
                         const net::Mesh& counted) {
    return lr_phases(engine, barrier, counted, bench);
  };
  return engine_party(scheme, config, phases);
}

LrPlainRun lr_plain(const LrBenchData& data) {
  LrPlainRun run;
  const auto sigmoid = [&](double z) { return proto::sigmoid_approx(data.options.sigmoid, z); };
  run.seconds = median_seconds(kPlainRepeats, [&] {
    run.weights = proto::train_logreg_plain(data.x, data.y, data.options, sigmoid).weights;
  });
  run.test_accuracy = proto::accuracy_plain(data.x, data.y, run.weights, data.options.test_rows);
  return run;
}

}  // namespace sm::app
