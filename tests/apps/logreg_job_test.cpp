// train-lr and predict as real mpc-party processes on loopback (3 parties, Shamir): an
// end-to-end vertical run on breast cancer, and bad inputs that must end every party with exit
// code 3 and no output anywhere.
#include <catch2/catch.hpp>


#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/apps/process.hpp"

using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;

using sm::test::Process;

// Three parties on loopback with a 20 s connect deadline.
struct Cluster : sm::test::Cluster {
  Cluster() : sm::test::Cluster(3, "connect_timeout_s = 20\n") {}
};

// The breast-cancer file split by columns: party p gets id and features 10p+1..10p+10, party 2
// also the label. `edit(p, lines)` may change a party's lines before they are written.
template <class Edit>
void write_vertical(const Cluster& cluster, Edit edit) {
  std::ifstream in(SM_DATA_DIR "/breast_cancer.csv");
  REQUIRE(in);
  std::vector<std::vector<std::string>> cells;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> row;
    std::stringstream stream(line);
    std::string cell;
    while (std::getline(stream, cell, ',')) row.push_back(cell);
    cells.push_back(row);
  }
  for (std::size_t p = 0; p < 3; ++p) {
    std::vector<std::string> lines;
    for (const auto& row : cells) {
      std::string text = row[0];
      for (std::size_t c = 10 * p + 1; c <= 10 * p + 10; ++c) text += "," + row[c];
      if (p == 2) text += "," + row[31];
      lines.push_back(text);
    }
    edit(p, lines);
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    sm::test::write_text(cluster.file("part" + std::to_string(p) + ".csv"), text);
  }
}

std::vector<std::vector<std::string>> train_args(const Cluster& cluster,
                                                 const std::vector<std::string>& extra = {}) {
  std::vector<std::vector<std::string>> args;
  for (std::size_t p = 0; p < 3; ++p) {
    std::vector<std::string> a = {"train-lr",
                                  "--input",
                                  cluster.file("part" + std::to_string(p) + ".csv"),
                                  "--partition",
                                  "vertical",
                                  "--epochs",
                                  "2",
                                  "--batch-size",
                                  "32",
                                  "--test-fraction",
                                  "0.2",
                                  "--scheme",
                                  "shamir",
                                  "--output",
                                  cluster.file("model" + std::to_string(p) + ".json")};
    if (p == 2) a.insert(a.end(), {"--label-column", "malignant"});
    a.insert(a.end(), extra.begin(), extra.end());
    args.push_back(a);
  }
  return args;
}

void require_bad_input(const Cluster& cluster, const std::vector<int>& codes,
                       const std::vector<std::string>& errors, const std::string& message) {
  for (std::size_t p = 0; p < 3; ++p) {
    INFO("party " << p << " stderr:\n" << errors[p]);
    CHECK(codes[p] == 3);
    CHECK_THAT(errors[p], Contains(message));
    CHECK(!fs::exists(cluster.file("model" + std::to_string(p) + ".json")));
    CHECK(!fs::exists(cluster.file("model" + std::to_string(p) + ".curve.csv")));
  }
}

}  // namespace

TEST_CASE("train-lr and predict end to end: 3 processes, vertical, Shamir", "[logreg_job]") {
  Cluster cluster;
  write_vertical(cluster, [](std::size_t, std::vector<std::string>&) {});
  std::vector<std::string> errors;
  auto codes = cluster.run(train_args(cluster), errors);
  for (std::size_t p = 0; p < 3; ++p) {
    INFO("party " << p << " stderr:\n" << errors[p]);
    REQUIRE(codes[p] == 0);
    CHECK_THAT(errors[p], Contains("epoch 2/2") && Contains("test accuracy"));
  }
  nlohmann::json model;
  std::ifstream(cluster.file("model0.json")) >> model;
  REQUIRE(model.at("weights").size() == 31);
  CHECK(model.at("training").at("final_test_accuracy").get<double>() > 0.9);
  CHECK(model.at("features").size() == 10);
  CHECK_THAT(sm::test::read_text(cluster.file("model0.curve.csv")),
             Contains("epoch,train_mse,test_accuracy\n1,"));

  std::vector<std::vector<std::string>> predict;
  for (std::size_t p = 0; p < 3; ++p) {
    predict.push_back({"predict", "--model", cluster.file("model" + std::to_string(p) + ".json"),
                       "--input", cluster.file("part" + std::to_string(p) + ".csv"), "--output",
                       cluster.file("pred" + std::to_string(p) + ".csv"), "--output-to", "1"});
  }
  codes = cluster.run(predict, errors);
  for (std::size_t p = 0; p < 3; ++p) {
    INFO("party " << p << " stderr:\n" << errors[p]);
    REQUIRE(codes[p] == 0);
  }
  CHECK(!fs::exists(cluster.file("pred0.csv")));
  CHECK(!fs::exists(cluster.file("pred2.csv")));
  const std::string predictions = sm::test::read_text(cluster.file("pred1.csv"));
  CHECK_THAT(predictions, Contains("id,probability,label\nP1"));
  CHECK(std::count(predictions.begin(), predictions.end(), '\n') == 570);
}

TEST_CASE("train-lr: bad input ends every party with exit code 3 and no output", "[logreg_job]") {
  Cluster cluster;
  std::vector<std::string> errors;
  SECTION("differing id sets") {
    write_vertical(cluster, [](std::size_t p, std::vector<std::string>& lines) {
      if (p == 1) lines.pop_back();
    });
    require_bad_input(cluster, cluster.run(train_args(cluster), errors), errors,
                      "party1) lacks 1 ids");
  }
  SECTION("a non-numeric cell") {
    write_vertical(cluster, [](std::size_t p, std::vector<std::string>& lines) {
      if (p == 0) lines[5] = "P100004,abc" + lines[5].substr(lines[5].find(',', 8));
    });
    require_bad_input(cluster, cluster.run(train_args(cluster), errors), errors, "part0.csv:6:2");
  }
  SECTION("labels at two parties") {
    write_vertical(cluster, [](std::size_t p, std::vector<std::string>& lines) {
      if (p == 1) {
        lines[0] += ",y";
        for (std::size_t i = 1; i < lines.size(); ++i) lines[i] += ",0";
      }
    });
    auto args = train_args(cluster);
    args[1].insert(args[1].end(), {"--label-column", "y"});
    require_bad_input(cluster, cluster.run(args, errors), errors, "several parties have a label");
  }
  SECTION("a label other than 0 or 1") {
    write_vertical(cluster, [](std::size_t p, std::vector<std::string>& lines) {
      if (p == 2) lines[3] = lines[3].substr(0, lines[3].rfind(',')) + ",2";
    });
    require_bad_input(cluster, cluster.run(train_args(cluster), errors), errors, "is not 0 or 1");
  }
}
