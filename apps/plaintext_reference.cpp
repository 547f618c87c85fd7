// plaintext-reference: the insecure, in-the-clear computations that scripts/demo.sh (and its
// test) compare SecretMesh's results with. It reads everybody's files at once, so it is a
// checking tool for demos and tests, never part of a real deployment.
//
//   plaintext-reference intersect --column id A.csv B.csv ...   common ids, sorted bytewise
//   plaintext-reference sum A.csv B.csv ...                      element-wise sum of numeric CSVs
//   plaintext-reference lr --label y --train A.csv B.csv ... --test A.csv B.csv ...
//                           [--epochs E --batch-size B --learning-rate L --l2 R --seed S]
//       logistic regression on the column-wise join of row-aligned files (first column = id),
//       standardised with the training rows' means and deviations; prints the test accuracy
//   plaintext-reference report A.json B.json ...                 seconds, bytes, rounds per party
#include <CLI/CLI.hpp>
#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>
#include <set>

#include "apps/csv.hpp"
#include "net/errors.hpp"

namespace {

using sm::app::CsvTable;

double number(const CsvTable& table, std::size_t row, std::size_t column) {
  const auto value = sm::app::parse_number(table, row, column);
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return static_cast<double>(*integer);
  return std::get<double>(value);
}

int intersect(const std::string& column, const std::vector<std::string>& files) {
  std::optional<std::set<std::string>> common;
  for (const auto& file : files) {
    const CsvTable table = sm::app::read_csv(file, sm::app::HeaderRule::kRequired);
    const std::size_t index = table.column_index(column);
    std::set<std::string> ids;
    for (const auto& row : table.rows) ids.insert(row[index]);
    if (!common) {
      common = std::move(ids);
    } else {
      std::set<std::string> kept;
      std::set_intersection(common->begin(), common->end(), ids.begin(), ids.end(),
                            std::inserter(kept, kept.end()));
      common = std::move(kept);
    }
  }
  std::cout << column << "\n";
  for (const auto& id : *common) std::cout << id << "\n";
  return 0;
}

int sum(const std::vector<std::string>& files) {
  std::vector<double> total;
  CsvTable first;
  for (const auto& file : files) {
    const CsvTable table = sm::app::read_csv(file, sm::app::HeaderRule::kDetect);
    const std::size_t cells = table.rows.size() * table.columns();
    if (total.empty()) {
      total.assign(cells, 0);
      first = table;
    }
    if (cells != total.size()) throw sm::InputError(file + ": a different shape");
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      for (std::size_t c = 0; c < table.columns(); ++c) {
        total[r * table.columns() + c] += number(table, r, c);
      }
    }
  }
  for (std::size_t c = 0; c < first.header.size(); ++c)
    std::cout << (c ? "," : "") << first.header[c];
  if (!first.header.empty()) std::cout << "\n";
  for (std::size_t i = 0; i < total.size(); ++i) {
    std::printf("%.12g%s", total[i], (i + 1) % first.columns() == 0 ? "\n" : ",");
  }
  return 0;
}

// Features (all columns but the first, the id, and the label) and labels of row-aligned files.
void join(const std::vector<std::string>& files, const std::string& label, Eigen::MatrixXd& x,
          Eigen::VectorXd& y) {
  std::vector<CsvTable> tables;
  std::size_t features = 0;
  for (const auto& file : files) {
    tables.push_back(sm::app::read_csv(file, sm::app::HeaderRule::kRequired));
    features += tables.back().columns() - 1;
    if (std::find(tables.back().header.begin(), tables.back().header.end(), label) !=
        tables.back().header.end()) {
      --features;
    }
  }
  const std::size_t rows = tables[0].rows.size();
  x.resize(static_cast<long>(rows), static_cast<long>(features));
  y.resize(static_cast<long>(rows));
  long column = 0;
  for (const auto& table : tables) {
    if (table.rows.size() != rows)
      throw sm::InputError(table.file.string() + ": row count differs");
    for (std::size_t c = 1; c < table.columns(); ++c) {
      for (std::size_t r = 0; r < rows; ++r) {
        if (table.rows[r][0] != tables[0].rows[r][0]) {
          throw sm::InputError(table.file.string() + ": rows are not aligned by id");
        }
        if (table.header[c] == label) {
          y(static_cast<long>(r)) = number(table, r, c);
        } else {
          x(static_cast<long>(r), column) = number(table, r, c);
        }
      }
      if (table.header[c] != label) ++column;
    }
  }
}

int logistic_regression(const std::string& label, const std::vector<std::string>& train_files,
                        const std::vector<std::string>& test_files, int epochs, int batch,
                        double learning_rate, double l2, std::uint64_t seed) {
  Eigen::MatrixXd x, x_test;
  Eigen::VectorXd y, y_test;
  join(train_files, label, x, y);
  join(test_files, label, x_test, y_test);
  const Eigen::RowVectorXd mean = x.colwise().mean();
  Eigen::RowVectorXd deviation =
      ((x.rowwise() - mean).array().square().colwise().sum() / static_cast<double>(x.rows()))
          .sqrt();
  deviation = deviation.unaryExpr([](double d) { return d > 0 ? d : 1.0; });
  auto standardise = [&](const Eigen::MatrixXd& m) {
    return Eigen::MatrixXd((m.rowwise() - mean).array().rowwise() / deviation.array());
  };
  const Eigen::MatrixXd xs = standardise(x), xt = standardise(x_test);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(x.cols());
  double bias = 0;
  std::vector<long> order(static_cast<std::size_t>(x.rows()));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t start = 0; start + static_cast<std::size_t>(batch) <= order.size();
         start += static_cast<std::size_t>(batch)) {
      Eigen::VectorXd gradient = Eigen::VectorXd::Zero(x.cols());
      double bias_gradient = 0;
      for (int k = 0; k < batch; ++k) {
        const long row = order[start + static_cast<std::size_t>(k)];
        const double p = 1 / (1 + std::exp(-(xs.row(row).dot(w) + bias)));
        gradient += (p - y(row)) * xs.row(row).transpose();
        bias_gradient += p - y(row);
      }
      w -= learning_rate * (gradient / batch + l2 * w);
      bias -= learning_rate * bias_gradient / batch;
    }
  }
  std::size_t correct = 0;
  for (long r = 0; r < xt.rows(); ++r) {
    const double p = 1 / (1 + std::exp(-(xt.row(r).dot(w) + bias)));
    correct += (p >= 0.5) == (y_test(r) >= 0.5);
  }
  std::printf("%.6f\n", static_cast<double>(correct) / static_cast<double>(xt.rows()));
  return 0;
}

int report(const std::vector<std::string>& files) {
  std::printf("%-10s %9s %14s %14s %7s\n", "party", "seconds", "bytes sent", "bytes received",
              "rounds");
  for (const auto& file : files) {
    std::ifstream in(file);
    const auto json = nlohmann::json::parse(in);
    std::printf("%-10s %9.3f %14llu %14llu %7llu\n", json.at("party").get<std::string>().c_str(),
                json.at("seconds").get<double>(),
                static_cast<unsigned long long>(json.at("bytes_sent").get<std::uint64_t>()),
                static_cast<unsigned long long>(json.at("bytes_received").get<std::uint64_t>()),
                static_cast<unsigned long long>(json.at("rounds").get<std::uint64_t>()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(
      "plaintext-reference: in-the-clear results for checking SecretMesh's demo and "
      "tests (reads every party's files; never part of a deployment).");
  app.require_subcommand(1);
  std::vector<std::string> files, train, test;
  std::string column = "id", label;
  int epochs = 10, batch = 32;
  double learning_rate = 1.0, l2 = 0;
  std::uint64_t seed = 1;
  auto* intersect_command = app.add_subcommand("intersect", "Common ids of CSV files.");
  intersect_command->add_option("--column", column, "The id column.")->capture_default_str();
  intersect_command->add_option("files", files)->required();
  auto* sum_command = app.add_subcommand("sum", "Element-wise sum of numeric CSV files.");
  sum_command->add_option("files", files)->required();
  auto* lr_command = app.add_subcommand("lr", "Logistic regression; prints the test accuracy.");
  lr_command->add_option("--label", label, "The label column.")->required();
  lr_command->add_option("--train", train, "Row-aligned training files.")->required();
  lr_command->add_option("--test", test, "Row-aligned test files.")->required();
  lr_command->add_option("--epochs", epochs)->capture_default_str();
  lr_command->add_option("--batch-size", batch)->capture_default_str();
  lr_command->add_option("--learning-rate", learning_rate)->capture_default_str();
  lr_command->add_option("--l2", l2)->capture_default_str();
  lr_command->add_option("--seed", seed)->capture_default_str();
  auto* report_command = app.add_subcommand("report", "Seconds, bytes and rounds of run reports.");
  report_command->add_option("files", files)->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (*intersect_command) return intersect(column, files);
    if (*sum_command) return sum(files);
    if (*lr_command) {
      return logistic_regression(label, train, test, epochs, batch, learning_rate, l2, seed);
    }
    return report(files);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plaintext-reference: %s\n", e.what());
    return 3;
  }
}
