// The party side of `mpc-bench lr`: joint logistic regression (protocols/logreg.hpp) among
// computing parties as separate processes over TLS, next to plaintext training of the same model
// (protocols/logreg_plain.hpp: same mini-batches, same sigmoid approximation) in the same run.
//
// Data. Every process derives the whole data set itself (the benchmark's data is public to it,
// never to a real party) and keeps its own block:
//   - breast cancer (data/breast_cancer.csv: id, 30 features, label), or
//   - synthetic: rows x columns standard normal features and labels drawn from a logistic model
//     with fixed weights, all from a fixed seed (mpc::Prg), so every run sees the same data.
// A fixed-seed 80/20 split; features standardised with the training rows' means and population
// standard deviations. Vertical: the columns dealt in contiguous blocks (as even as possible),
// the label at the last computing party. Horizontal: the rows dealt in contiguous blocks.
//
// Measured phase "train": the whole of train_logreg (sharing the data, masking it, all
// preprocessing, every iteration and epoch statistics), on the mesh that carries all of this
// party's traffic (the dealer's included). The report adds the model's round counts, iterations,
// the weights opened after the phase (not measured) and the secure test accuracy. The caller
// compares them with the plaintext run (lr_plain).
#pragma once

#include <Eigen/Dense>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/bench_mpc.hpp"
#include "protocols/logreg.hpp"

namespace sm::app {

struct LrBenchCase {
  std::string dataset = "breast-cancer";  // or "synthetic"
  proto::Partition partition = proto::Partition::kVertical;
  std::size_t parties = 3;  // computing parties
  std::size_t epochs = 10;
  std::size_t batch_size = 64;
  double learning_rate = 1.0;
  double l2 = 0;
  std::size_t synthetic_rows = 100000, synthetic_columns = 100;
  std::filesystem::path breast_cancer_file;
};

// The case's whole data set, standardised on the training rows, and its options (train and test
// rows, the mini-batch seed, piecewise5). Throws InputError if the breast-cancer file is bad.
struct LrBenchData {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
  proto::LogRegOptions options;
};
LrBenchData lr_bench_data(const LrBenchCase& bench);

// One party's process (see the header comment); scheme kAdditive or kShamir127.
nlohmann::json lr_party(BenchScheme scheme, const net::TlsConfig& config, const LrBenchCase& bench);

// Plaintext training of the same model on the same data: median seconds of a few runs, the
// weights and the test accuracy.
struct LrPlainRun {
  double seconds = 0;
  Eigen::VectorXd weights;
  double test_accuracy = 0;
};
LrPlainRun lr_plain(const LrBenchData& data);

}  // namespace sm::app
