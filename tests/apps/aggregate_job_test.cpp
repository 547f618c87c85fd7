// The aggregate job as real mpc-party processes over TLS on loopback: results against the
// plaintext sum, dropouts of killed parties, and bad inputs (exit 3 everywhere, no output).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "tests/apps/process.hpp"

using Catch::Matchers::Contains;
using sm::test::Cluster;
using sm::test::Process;
using sm::test::require_exit;
using std::chrono::seconds;

namespace {

namespace fs = std::filesystem;
using Matrix = std::vector<std::vector<double>>;

// Writes `rows` as a CSV with a header a,b,c...; integers print without a decimal point.
void write_csv(const fs::path& file, const Matrix& rows) {
  std::ofstream out(file);
  for (std::size_t c = 0; c < rows[0].size(); ++c) out << (c ? "," : "") << "col" << c;
  out << "\n";
  out.precision(17);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) out << (c ? "," : "") << row[c];
    out << "\n";
  }
}

Matrix read_csv_values(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  Matrix rows;
  while (std::getline(in, line)) {
    std::stringstream cells(line);
    std::string cell;
    rows.emplace_back();
    while (std::getline(cells, cell, ',')) rows.back().push_back(std::stod(cell));
  }
  return rows;
}

Matrix random_matrix(std::mt19937_64& rng, std::size_t rows, std::size_t cols, bool integers) {
  std::uniform_real_distribution<double> value(-1000, 1000);
  Matrix m(rows, std::vector<double>(cols));
  for (auto& row : m) {
    for (auto& v : row) v = integers ? std::round(value(rng)) : value(rng);
  }
  return m;
}

Matrix plain_sum(const std::vector<Matrix>& inputs, const std::vector<std::size_t>& parties) {
  Matrix sum(inputs[0].size(), std::vector<double>(inputs[0][0].size(), 0));
  for (auto p : parties) {
    for (std::size_t r = 0; r < sum.size(); ++r) {
      for (std::size_t c = 0; c < sum[r].size(); ++c) sum[r][c] += inputs[p][r][c];
    }
  }
  return sum;
}

struct Run {
  Cluster cluster;
  std::vector<Matrix> inputs;
  std::vector<std::unique_ptr<Process>> processes;

  Run(std::size_t n, bool integers, std::uint64_t seed) : cluster(n) {
    std::mt19937_64 rng(seed);
    for (std::size_t p = 0; p < n; ++p) {
      inputs.push_back(random_matrix(rng, 20, 3, integers));
      write_csv(input(p), inputs.back());
    }
  }
  fs::path input(std::size_t p) const {
    return cluster.dir.path() / ("in" + std::to_string(p) + ".csv");
  }
  fs::path output(std::size_t p) const {
    return cluster.dir.path() / ("out" + std::to_string(p) + ".csv");
  }
  // Starts every party with the same job options plus `extra[p]` for party p.
  void start(const std::vector<std::string>& options,
             const std::map<std::size_t, std::vector<std::string>>& extra = {}) {
    for (std::size_t p = 0; p < inputs.size(); ++p) {
      std::vector<std::string> args = {"aggregate", "--input", input(p).string(), "--output",
                                       output(p).string()};
      args.insert(args.end(), options.begin(), options.end());
      if (auto it = extra.find(p); it != extra.end()) {
        args.insert(args.end(), it->second.begin(), it->second.end());
      }
      processes.push_back(cluster.start(p, args));
    }
  }
};

void require_values(const Matrix& actual, const Matrix& expected, double tolerance) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t r = 0; r < actual.size(); ++r) {
    REQUIRE(actual[r].size() == expected[r].size());
    for (std::size_t c = 0; c < actual[r].size(); ++c) {
      CHECK(std::fabs(actual[r][c] - expected[r][c]) <= tolerance);
    }
  }
}

}  // namespace

TEST_CASE("three parties sum integer and decimal vectors", "[aggregate_job]") {
  for (bool integers : {true, false}) {
    Run run(3, integers, integers ? 1 : 2);
    run.start({});
    for (auto& process : run.processes) require_exit(*process, seconds(60), 0);
    const auto expected = plain_sum(run.inputs, {0, 1, 2});
    for (std::size_t p = 0; p < 3; ++p) {
      require_values(read_csv_values(run.output(p)), expected, integers ? 0 : 1e-6);
    }
    CHECK_THAT(run.processes[0]->err(), Contains(integers ? "(exact)" : "error at most"));
  }
}

TEST_CASE("the mean goes only to the parties named by --output-to", "[aggregate_job]") {
  Run run(3, true, 3);
  run.start({"--mean", "--output-to", "party2", "--protocol", "masked"});
  for (auto& process : run.processes) require_exit(*process, seconds(60), 0);
  auto expected = plain_sum(run.inputs, {0, 1, 2});
  for (auto& row : expected) {
    for (auto& v : row) v /= 3;
  }
  require_values(read_csv_values(run.output(2)), expected, 1e-9);
  CHECK_FALSE(fs::exists(run.output(0)));
  CHECK_FALSE(fs::exists(run.output(1)));
}

TEST_CASE("threshold: parties killed after sending their shares still count",
          "[aggregate_job][dropout]") {
  for (std::size_t killed : {1u, 2u}) {
    Run run(5, true, 10 + killed);
    std::map<std::size_t, std::vector<std::string>> faults;
    for (std::size_t k = 0; k < killed; ++k) faults[4 - k] = {"--exit-after-rounds", "1"};
    run.start({"--protocol", "threshold", "--threshold", "2"}, faults);
    for (std::size_t p = 0; p < 5; ++p) {
      require_exit(*run.processes[p], seconds(60), faults.contains(p) ? 137 : 0);
    }
    for (std::size_t p = 0; p < 5 - killed; ++p) {
      require_values(read_csv_values(run.output(p)), plain_sum(run.inputs, {0, 1, 2, 3, 4}), 0);
      CHECK_THAT(run.processes[p]->err(), Contains("dropped out"));
    }
  }
}

TEST_CASE("threshold: a provider killed during reconstruction is replaced",
          "[aggregate_job][dropout]") {
  // N = 5, t = 2: output o's providers are o + 1 and o + 2. Party 1 dies instead of sending its
  // sum share (to parties 4 and 0); party 3 after sending its own, before answering requests.
  Run run(5, true, 15);
  const std::map<std::size_t, std::vector<std::string>> faults = {
      {1, {"--exit-after-rounds", "3"}}, {3, {"--exit-after-rounds", "4"}}};
  run.start({"--protocol", "threshold", "--threshold", "2"}, faults);
  for (std::size_t p = 0; p < 5; ++p) {
    require_exit(*run.processes[p], seconds(60), faults.contains(p) ? 137 : 0);
  }
  for (std::size_t p : {0u, 2u, 4u}) {
    require_values(read_csv_values(run.output(p)), plain_sum(run.inputs, {0, 1, 2, 3, 4}), 0);
  }
  CHECK_THAT(run.processes[0]->err(), Contains("party 1 (party1) dropped out"));
}

TEST_CASE("masked: the sum covers the parties whose masked vectors arrived",
          "[aggregate_job][dropout]") {
  // Party 4 dies after the key round (its vector never arrives); party 3, in the second case,
  // right after sending its masked vector (it is counted; its self-mask is rebuilt).
  struct Case {
    std::map<std::size_t, std::vector<std::string>> faults;
    std::vector<std::size_t> included;
  };
  const std::vector<Case> cases = {
      {{{4, {"--exit-after-rounds", "1"}}}, {0, 1, 2, 3}},
      {{{4, {"--exit-after-rounds", "1"}}, {3, {"--exit-after-rounds", "2"}}}, {0, 1, 2, 3}}};
  for (const auto& c : cases) {
    Run run(5, true, 20 + c.faults.size());
    run.start({"--protocol", "masked", "--threshold", "2"}, c.faults);
    for (std::size_t p = 0; p < 5; ++p) {
      require_exit(*run.processes[p], seconds(60), c.faults.contains(p) ? 137 : 0);
    }
    for (std::size_t p = 0; p < 5; ++p) {
      if (c.faults.contains(p)) continue;
      require_values(read_csv_values(run.output(p)), plain_sum(run.inputs, c.included), 0);
    }
  }
}

TEST_CASE("three parties killed: the survivors stop with the reason and write nothing",
          "[aggregate_job][dropout]") {
  for (std::string protocol : {"threshold", "masked"}) {
    Run run(5, true, 30);
    std::map<std::size_t, std::vector<std::string>> faults;
    for (std::size_t p : {2u, 3u, 4u}) faults[p] = {"--exit-after-rounds", "1"};
    run.start({"--protocol", protocol, "--threshold", "2"}, faults);
    for (std::size_t p : {0u, 1u}) {
      require_exit(*run.processes[p], seconds(60), 5);
      CHECK_THAT(run.processes[p]->err(),
                 Contains("only 2 parties remain but the sum needs 3") &&
                     Contains("party 2 (party2)") && Contains("party 4 (party4)"));
      CHECK_FALSE(fs::exists(run.output(p)));
    }
  }
}

TEST_CASE("bad input ends the run at every party with exit 3 and no output", "[aggregate_job]") {
  struct Case {
    std::string name;
    std::string content;  // party 1's input file
    std::string message;
  };
  const std::vector<Case> cases = {
      {"non-numeric", "col0,col1\n1,2\n3,abc\n", "in1.csv:3:2: 'abc' is not a number"},
      {"empty", "", "in1.csv: the file is empty"},
      {"nan", "col0,col1\n1,nan\n2,3\n", "in1.csv:2:2: 'nan' is not a finite number"},
      {"out of range", "col0,col1\n1,2\n3,5000000\n", "outside the declared range"},
      {"shape", "col0,col1\n1,2\n", "input shapes (rows x columns) differ"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      Cluster cluster(3);
      std::vector<std::unique_ptr<Process>> processes;
      for (std::size_t p = 0; p < 3; ++p) {
        const auto input = cluster.dir.path() / ("in" + std::to_string(p) + ".csv");
        std::ofstream(input) << (p == 1 ? c.content : "col0,col1\n1,2\n3,4\n");
        processes.push_back(cluster.start(
            p, {"aggregate", "--input", input.string(), "--output",
                (cluster.dir.path() / ("out" + std::to_string(p) + ".csv")).string()}));
      }
      for (std::size_t p = 0; p < 3; ++p) {
        require_exit(*processes[p], seconds(60), 3);
        CHECK_THAT(processes[p]->err(), Contains(c.message));
        CHECK_FALSE(fs::exists(cluster.dir.path() / ("out" + std::to_string(p) + ".csv")));
      }
    }
  }
}

TEST_CASE("differential privacy: the revealed sum is noisy and the noise scale is printed",
          "[aggregate_job][dp]") {
  Run run(3, false, 40);
  run.start({"--dp-epsilon", "1", "--dp-delta", "1e-6", "--clip", "100000"});
  for (auto& process : run.processes) require_exit(*process, seconds(60), 0);
  const auto exact = plain_sum(run.inputs, {0, 1, 2});
  const auto noisy = read_csv_values(run.output(0));
  std::size_t differing = 0;
  for (std::size_t r = 0; r < exact.size(); ++r) {
    for (std::size_t c = 0; c < exact[r].size(); ++c) differing += noisy[r][c] != exact[r][c];
  }
  CHECK(differing == exact.size() * exact[0].size());
  CHECK_THAT(run.processes[0]->err(), Contains("total noise standard deviation"));
  // Every output party sees the same noisy sum.
  require_values(read_csv_values(run.output(1)), noisy, 0);
}
