// train-lr and predict as real mpc-party processes on loopback (3 parties, Shamir; one run on the
// additive engine with a dealer process): end-to-end runs on breast cancer, vertical (also with
// --align on differing id sets, against a run on the pre-intersected rows) and horizontal (the
// model revealed to all, to one party, or kept secret-shared), with predict checked against
// plaintext prediction from the model files, and bad inputs that must end every party with the
// documented exit code and no output anywhere.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "mpc/mersenne.hpp"
#include "tests/apps/process.hpp"

using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;

using sm::test::Process;

// Three parties on loopback with a 20 s connect deadline.
struct Cluster : sm::test::Cluster {
  Cluster() : sm::test::Cluster(3, "connect_timeout_s = 20\n") {}
};

std::vector<std::string> split_cells(const std::string& line) {
  std::vector<std::string> row;
  std::stringstream stream(line);
  std::string cell;
  while (std::getline(stream, cell, ',')) row.push_back(cell);
  if (!line.empty() && line.back() == ',') row.emplace_back();
  return row;
}

std::string join_cells(const std::vector<std::string>& row) {
  std::string text;
  for (std::size_t c = 0; c < row.size(); ++c) text += (c ? "," : "") + row[c];
  return text;
}

// Replaces cell `column` (0-based) of a CSV line.
void set_cell(std::string& line, std::size_t column, const std::string& value) {
  auto row = split_cells(line);
  row.at(column) = value;
  line = join_cells(row);
}

// data/breast_cancer.csv as cells: the header, then one row per patient (id, 30 features, the
// label "malignant").
std::vector<std::vector<std::string>> breast_cancer() {
  std::ifstream in(SM_DATA_DIR "/breast_cancer.csv");
  REQUIRE(in);
  std::vector<std::vector<std::string>> cells;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // the file has CRLF line ends
    cells.push_back(split_cells(line));
  }
  return cells;
}

// Writes part<p>.csv for every party after `edit(p, lines)` (header first) may change them.
template <class Edit>
void write_parts(const Cluster& cluster, std::vector<std::vector<std::string>> lines, Edit edit) {
  for (std::size_t p = 0; p < lines.size(); ++p) {
    edit(p, lines[p]);
    std::string text;
    for (const auto& l : lines[p]) text += l + "\n";
    sm::test::write_text(cluster.file("part" + std::to_string(p) + ".csv"), text);
  }
}

// The breast-cancer file split by columns among `parties` parties: with 3, party p gets id and
// features 10p+1..10p+10, party 2 also the label (with 2: 15 features each). `edit(p, lines)` may
// change a party's lines before they are written.
template <class Edit>
void write_vertical(const Cluster& cluster, Edit edit, std::size_t parties = 3) {
  std::vector<std::vector<std::string>> lines(parties);
  for (std::size_t p = 0; p < parties; ++p) {
    for (const auto& row : breast_cancer()) {
      std::string text = row[0];
      for (std::size_t c = 30 * p / parties + 1; c <= 30 * (p + 1) / parties; ++c) {
        text += "," + row[c];
      }
      if (p + 1 == parties) text += "," + row[31];
      lines[p].push_back(text);
    }
  }
  write_parts(cluster, lines, edit);
}

// The breast-cancer rows dealt to the parties (row i to party i % 3), every column at every
// party; returns each party's rows as cells (without the header).
template <class Edit>
std::vector<std::vector<std::vector<std::string>>> write_horizontal(const Cluster& cluster,
                                                                    Edit edit) {
  const auto cells = breast_cancer();
  std::vector<std::vector<std::string>> lines(3, {join_cells(cells[0])});
  std::vector<std::vector<std::vector<std::string>>> rows(3);
  for (std::size_t i = 1; i < cells.size(); ++i) {
    lines[(i - 1) % 3].push_back(join_cells(cells[i]));
    rows[(i - 1) % 3].push_back(cells[i]);
  }
  write_parts(cluster, lines, edit);
  return rows;
}

// train-lr's arguments at each computing party: 2 epochs, batches of 32, 20 % held out, the
// label at the last party (vertical) or at all (horizontal), then `extra`.
std::vector<std::vector<std::string>> train_args(const Cluster& cluster,
                                                 const std::vector<std::string>& extra = {},
                                                 const std::string& partition = "vertical",
                                                 std::size_t parties = 3,
                                                 const std::string& scheme = "shamir") {
  std::vector<std::vector<std::string>> args;
  for (std::size_t p = 0; p < parties; ++p) {
    std::vector<std::string> a = {"train-lr",
                                  "--input",
                                  cluster.file("part" + std::to_string(p) + ".csv"),
                                  "--partition",
                                  partition,
                                  "--epochs",
                                  "2",
                                  "--batch-size",
                                  "32",
                                  "--test-fraction",
                                  "0.2",
                                  "--scheme",
                                  scheme,
                                  "--output",
                                  cluster.file("model" + std::to_string(p) + ".json")};
    if (p + 1 == parties || partition == "horizontal")
      a.insert(a.end(), {"--label-column", "malignant"});
    a.insert(a.end(), extra.begin(), extra.end());
    args.push_back(a);
  }
  return args;
}

void require_success(const std::vector<int>& codes, const std::vector<std::string>& errors) {
  for (std::size_t p = 0; p < codes.size(); ++p) {
    INFO("party " << p << " stderr:\n" << errors[p]);
    REQUIRE(codes[p] == 0);
  }
}

nlohmann::json read_json(const fs::path& file) {
  nlohmann::json json;
  std::ifstream(file) >> json;
  return json;
}

// The plaintext logit of a breast-cancer row (cells under `header`) with a model file's
// standardisation (every feature's mean and scale, as in a horizontal model) and `weights`
// (the model's features in order, then the bias).
double plaintext_logit(const nlohmann::json& model, const std::vector<double>& weights,
                       const std::vector<std::string>& header,
                       const std::vector<std::string>& row) {
  const auto& features = model.at("features");
  REQUIRE(weights.size() == features.size() + 1);
  double z = weights.back();
  for (std::size_t f = 0; f < features.size(); ++f) {
    const auto column = std::find(header.begin(), header.end(), features[f].at("name"));
    REQUIRE(column != header.end());
    const double x = std::stod(row[column - header.begin()]);
    z += weights[f] * (x - features[f].at("mean").get<double>()) /
         features[f].at("scale").get<double>();
  }
  return z;
}

// Checks predict's output (id,probability,label) against plaintext logits by row name: one
// line per row, probabilities within 0.005, labels equal wherever the logit is not within 0.05
// of 0.
void require_predictions(const std::string& text, const std::map<std::string, double>& logits) {
  std::stringstream lines(text);
  std::string line;
  REQUIRE(std::getline(lines, line));
  REQUIRE(line == "id,probability,label");
  std::set<std::string> seen;
  while (std::getline(lines, line)) {
    const auto cells = split_cells(line);
    REQUIRE(cells.size() == 3);
    INFO("line: " << line);
    REQUIRE(logits.count(cells[0]) == 1);
    CHECK(seen.insert(cells[0]).second);
    const double z = logits.at(cells[0]);
    CHECK(std::abs(std::stod(cells[1]) - 1 / (1 + std::exp(-z))) < 0.005);
    if (std::abs(z) > 0.05) CHECK(cells[2] == (z > 0 ? "1" : "0"));
  }
  CHECK(seen.size() == logits.size());
}

// Runs predict at every party (model<P>.json on part<P>.csv) with the output to `target`, and
// checks that only `target` writes predictions and that they agree with `logits`.
void require_predict(const Cluster& cluster, std::size_t target,
                     const std::map<std::string, double>& logits) {
  std::vector<std::vector<std::string>> args;
  for (std::size_t p = 0; p < 3; ++p) {
    const std::string n = std::to_string(p);
    args.push_back({"predict", "--model", cluster.file("model" + n + ".json"), "--input",
                    cluster.file("part" + n + ".csv"), "--output",
                    cluster.file("pred" + n + ".csv"), "--output-to", std::to_string(target)});
  }
  std::vector<std::string> errors;
  require_success(cluster.run(args, errors), errors);
  for (std::size_t p = 0; p < 3; ++p) {
    if (p != target) CHECK(!fs::exists(cluster.file("pred" + std::to_string(p) + ".csv")));
  }
  require_predictions(sm::test::read_text(cluster.file("pred" + std::to_string(target) + ".csv")),
                      logits);
}

// The share of rows whose plaintext logit has the sign of their label (the last cell).
double plaintext_accuracy(const std::vector<std::vector<std::string>>& rows,
                          const std::vector<double>& logits) {
  std::size_t correct = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    correct += (logits[i] > 0) == (rows[i].back() == "1");
  }
  return static_cast<double>(correct) / static_cast<double>(rows.size());
}

// The weights from every party's model file of a --reveal-model none run on the Shamir engine
// (shares in hex of Fp127 elements, party i at x = i + 1, degree 1 for 3 parties): the secret at
// 0 from the shares of parties 0 and 1 (2 s_0 - s_1), checked against parties 1 and 2
// (3 s_1 - 2 s_2), decoded from fixed point.
std::vector<double> reconstruct_weights(const std::vector<nlohmann::json>& models) {
  using sm::mpc::Fp127;
  const auto share = [&](std::size_t p, std::size_t i) {
    sm::mpc::u128 v = 0;
    for (char c : models[p].at("weight_shares").at(i).get<std::string>()) {
      v = (v << 4) | static_cast<unsigned>(c >= 'a' ? c - 'a' + 10 : c - '0');
    }
    return Fp127(v);
  };
  const int frac_bits = models[0].at("settings").at("frac_bits").get<int>();
  std::vector<double> weights;
  for (std::size_t i = 0; i < models[0].at("weight_shares").size(); ++i) {
    const Fp127 secret = Fp127::from_int(2) * share(0, i) - share(1, i);
    REQUIRE(secret == Fp127::from_int(3) * share(1, i) - Fp127::from_int(2) * share(2, i));
    weights.push_back(std::ldexp(static_cast<double>(secret.to_int()), -frac_bits));
  }
  return weights;
}

void require_bad_input(const Cluster& cluster, const std::vector<int>& codes,
                       const std::vector<std::string>& errors, const std::string& message,
                       int code = 3) {
  for (std::size_t p = 0; p < 3; ++p) {
    INFO("party " << p << " stderr:\n" << errors[p]);
    CHECK(codes[p] == code);
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

  // Plaintext prediction: every party's standardisation of its own columns, in party order
  // (the order of the weights), applied to the whole file.
  nlohmann::json all;
  all["features"] = nlohmann::json::array();
  for (std::size_t p = 0; p < 3; ++p) {
    const auto party_model = read_json(cluster.file("model" + std::to_string(p) + ".json"));
    for (const auto& f : party_model.at("features")) all["features"].push_back(f);
  }
  const auto weights = model.at("weights").get<std::vector<double>>();
  auto rows = breast_cancer();
  const auto header = rows.front();
  rows.erase(rows.begin());
  std::vector<double> logits;
  std::map<std::string, double> by_id;
  for (const auto& row : rows) {
    logits.push_back(plaintext_logit(all, weights, header, row));
    by_id[row[0]] = logits.back();
  }
  CHECK(plaintext_accuracy(rows, logits) > 0.9);
  require_predict(cluster, 1, by_id);
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
    for (const auto& error : errors) CHECK_THAT(error, Contains("pass --align"));
  }
  SECTION("no label column at any party") {
    write_vertical(cluster, [](std::size_t, std::vector<std::string>&) {});
    auto args = train_args(cluster);
    args[2].resize(args[2].size() - 2);  // drops --label-column malignant
    require_bad_input(cluster, cluster.run(args, errors), errors, "no party has a label column");
  }
  SECTION("a NaN cell") {
    write_vertical(cluster, [](std::size_t p, std::vector<std::string>& lines) {
      if (p == 1) set_cell(lines[4], 2, "nan");
    });
    require_bad_input(cluster, cluster.run(train_args(cluster), errors), errors,
                      "part1.csv:5:3: 'nan' is not a finite number");
  }
  SECTION("an empty cell") {
    write_vertical(cluster, [](std::size_t p, std::vector<std::string>& lines) {
      if (p == 0) set_cell(lines[7], 4, "");
    });
    require_bad_input(cluster, cluster.run(train_args(cluster), errors), errors,
                      "part0.csv:8:5: the cell is empty");
  }
  SECTION("feature columns that differ between parties, horizontal") {
    write_horizontal(cluster, [](std::size_t p, std::vector<std::string>& lines) {
      if (p == 1) set_cell(lines[0], 4, "area_mean");
    });
    require_bad_input(cluster, cluster.run(train_args(cluster, {}, "horizontal"), errors), errors,
                      "feature columns differ");
  }
  SECTION("no id common to every party, with --align") {
    write_vertical(cluster, [](std::size_t p, std::vector<std::string>& lines) {
      std::vector<std::string> kept = {lines[0]};
      for (std::size_t i = 1; i < lines.size(); ++i) {
        if (i % 3 == p) kept.push_back(lines[i]);
      }
      lines = kept;
    });
    require_bad_input(cluster, cluster.run(train_args(cluster, {"--align"}), errors), errors,
                      "--align: no id is common to every party");
  }
  SECTION("--align with horizontal partitioning is a usage error") {
    write_horizontal(cluster, [](std::size_t, std::vector<std::string>&) {});
    require_bad_input(cluster, cluster.run(train_args(cluster, {"--align"}, "horizontal"), errors),
                      errors, "--align applies to --partition vertical only", 2);
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

TEST_CASE("train-lr --align on differing id sets trains as on the pre-intersected rows",
          "[logreg_job]") {
  Cluster cluster;
  // The first 300 patients; party p lacks those with i % 10 == p + 1 (party 2 also i % 10 == 4)
  // and holds its rows in its own shuffled order. 180 ids are common to all.
  const std::size_t patients = 300;
  const auto lacks = [](std::size_t p, std::size_t i) {
    return i % 10 == p + 1 || (p == 2 && i % 10 == 4);
  };
  const auto keep = [&](std::size_t p, std::vector<std::string>& lines, bool shuffle) {
    std::vector<std::string> kept = {lines[0]};
    for (std::size_t i = 0; i < patients; ++i) {
      const bool common = !lacks(0, i) && !lacks(1, i) && !lacks(2, i);
      if (shuffle ? !lacks(p, i) : common) kept.push_back(lines[i + 1]);
    }
    if (shuffle) std::shuffle(kept.begin() + 1, kept.end(), std::mt19937(7 + p));
    lines = kept;
  };
  write_vertical(cluster,
                 [&](std::size_t p, std::vector<std::string>& lines) { keep(p, lines, true); });
  std::vector<std::string> errors;
  require_success(cluster.run(train_args(cluster, {"--align"}), errors), errors);
  std::vector<nlohmann::json> aligned;
  for (std::size_t p = 0; p < 3; ++p) {
    INFO("party " << p << " stderr:\n" << errors[p]);
    CHECK_THAT(errors[p], Contains("--align: 180 ids common to every party; rows kept: ") &&
                              Contains("180 of 270") && Contains("180 of 240"));
    aligned.push_back(read_json(cluster.file("model" + std::to_string(p) + ".json")));
    CHECK(aligned[p].at("aligned") == true);
  }

  write_vertical(cluster,
                 [&](std::size_t p, std::vector<std::string>& lines) { keep(p, lines, false); });
  require_success(cluster.run(train_args(cluster), errors), errors);
  for (std::size_t p = 0; p < 3; ++p) {
    const auto model = read_json(cluster.file("model" + std::to_string(p) + ".json"));
    CHECK(model.at("aligned") == false);
    // The same training rows: the same standardisation at every party.
    REQUIRE(model.at("features").size() == aligned[p].at("features").size());
    for (std::size_t f = 0; f < model.at("features").size(); ++f) {
      const auto& mine = aligned[p].at("features")[f];
      CHECK(mine.at("name") == model.at("features")[f].at("name"));
      CHECK(mine.at("mean").get<double>() ==
            Approx(model.at("features")[f].at("mean").get<double>()).epsilon(1e-12));
      CHECK(mine.at("scale").get<double>() ==
            Approx(model.at("features")[f].at("scale").get<double>()).epsilon(1e-12));
    }
    // The same rows in the same order, split and batches: weights equal up to fixed-point
    // truncation (the tolerance of tests/protocols/logreg_test.cpp).
    const auto w = model.at("weights").get<std::vector<double>>();
    const auto w_aligned = aligned[p].at("weights").get<std::vector<double>>();
    REQUIRE(w.size() == 31);
    REQUIRE(w_aligned.size() == 31);
    for (std::size_t i = 0; i < w.size(); ++i) {
      INFO("weight " << i);
      CHECK(std::abs(w[i] - w_aligned[i]) <= 0.02);
    }
  }
}

TEST_CASE("train-lr --align on the additive engine: the dealer takes no part in the PSI",
          "[logreg_job]") {
  Cluster cluster;  // party 2 is the dealer
  for (std::size_t p = 0; p < 3; ++p) {
    sm::test::write_text(cluster.config(p),
                         sm::test::party_config(p, cluster.ports,
                                                "listen_address = \"127.0.0.1\"\n"
                                                "connect_timeout_s = 20\n") +
                             "role = \"dealer\"\n");
  }
  // Party 0 lacks the patients i with i % 7 == 3, party 1 those with i % 5 == 2.
  const auto lacks = [](std::size_t p, std::size_t i) { return p == 0 ? i % 7 == 3 : i % 5 == 2; };
  std::size_t common = 0;
  for (std::size_t i = 0; i < 569; ++i) common += !lacks(0, i) && !lacks(1, i);
  write_vertical(
      cluster,
      [&](std::size_t p, std::vector<std::string>& lines) {
        std::vector<std::string> kept = {lines[0]};
        for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
          if (!lacks(p, i)) kept.push_back(lines[i + 1]);
        }
        lines = kept;
      },
      2);
  auto dealer = cluster.start(2, {"dealer"});
  std::vector<std::string> errors;
  require_success(cluster.run(train_args(cluster, {"--align"}, "vertical", 2, "additive"), errors),
                  errors);
  sm::test::require_exit(*dealer, std::chrono::seconds(60), 0);
  for (std::size_t p = 0; p < 2; ++p) {
    INFO("party " << p << " stderr:\n" << errors[p]);
    CHECK_THAT(errors[p], Contains("--align: " + std::to_string(common) + " ids common"));
    const auto model = read_json(cluster.file("model" + std::to_string(p) + ".json"));
    CHECK(model.at("aligned") == true);
    CHECK(model.at("scheme") == "additive");
    CHECK(model.at("weights").size() == 31);
    CHECK(model.at("training").at("final_test_accuracy").get<double>() > 0.9);
  }
}

TEST_CASE("train-lr and predict end to end: 3 processes, horizontal, model at one party or shared",
          "[logreg_job]") {
  Cluster cluster;
  const auto rows = write_horizontal(cluster, [](std::size_t, std::vector<std::string>&) {});
  const auto header = breast_cancer()[0];
  std::vector<std::string> errors;
  std::vector<nlohmann::json> models(3);
  std::vector<double> weights;

  SECTION("--reveal-model party1: only party 1 learns the weights") {
    require_success(
        cluster.run(train_args(cluster, {"--reveal-model", "party1"}, "horizontal"), errors),
        errors);
    for (std::size_t p = 0; p < 3; ++p) {
      models[p] = read_json(cluster.file("model" + std::to_string(p) + ".json"));
      CHECK(models[p].at("weights_at") == 1);
      CHECK(models[p].contains("weights") == (p == 1));
      CHECK(!models[p].contains("weight_shares"));
    }
    weights = models[1].at("weights").get<std::vector<double>>();
  }
  SECTION("--reveal-model none: every party writes its share") {
    require_success(
        cluster.run(train_args(cluster, {"--reveal-model", "none"}, "horizontal"), errors), errors);
    for (std::size_t p = 0; p < 3; ++p) {
      models[p] = read_json(cluster.file("model" + std::to_string(p) + ".json"));
      CHECK(!models[p].contains("weights"));
      CHECK(models[p].at("weight_shares").size() == 31);
    }
    weights = reconstruct_weights(models);
  }
  for (std::size_t p = 0; p < 3; ++p) {
    INFO("party " << p << " stderr:\n" << errors[p]);
    CHECK_THAT(errors[p], Contains("epoch 2/2") && Contains("test accuracy"));
    CHECK(models[p].at("partition") == "horizontal");
    CHECK(models[p].at("features") == models[0].at("features"));
  }
  REQUIRE(weights.size() == 31);

  // Row names at the output party 0: its own ids, "party<P>:row<R>" for the others' rows.
  std::vector<std::vector<std::string>> all_rows;
  std::vector<double> logits;
  std::map<std::string, double> by_name;
  for (std::size_t p = 0; p < 3; ++p) {
    for (std::size_t r = 0; r < rows[p].size(); ++r) {
      all_rows.push_back(rows[p][r]);
      logits.push_back(plaintext_logit(models[0], weights, header, rows[p][r]));
      by_name[p == 0 ? rows[p][r][0]
                     : "party" + std::to_string(p) + ":row" + std::to_string(r + 1)] =
          logits.back();
    }
  }
  CHECK(plaintext_accuracy(all_rows, logits) > 0.9);
  require_predict(cluster, 0, by_name);
}

TEST_CASE("train-lr: a constant column is dropped with a warning", "[logreg_job]") {
  Cluster cluster;
  write_vertical(cluster, [](std::size_t p, std::vector<std::string>& lines) {
    if (p != 0) return;
    for (std::size_t i = 1; i < lines.size(); ++i) set_cell(lines[i], 2, "1.5");
  });
  std::vector<std::string> errors;
  require_success(cluster.run(train_args(cluster), errors), errors);
  CHECK_THAT(errors[0],
             Contains("column 'mean_texture' is constant on the training rows; dropped"));
  for (std::size_t p = 0; p < 3; ++p) {
    const auto model = read_json(cluster.file("model" + std::to_string(p) + ".json"));
    CHECK(model.at("columns") == nlohmann::json({9, 10, 10}));
    CHECK(model.at("weights").size() == 30);
    CHECK(model.at("features").size() == (p == 0 ? 9 : 10));
  }
}
