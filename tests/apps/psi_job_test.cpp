// The psi job as real mpc-party processes over TLS on loopback: output files against the
// plaintext intersection of the CSV files, every mode, and bad inputs (exit 3 everywhere, no
// output anywhere).
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include "tests/apps/process.hpp"

using Catch::Matchers::Contains;
using sm::test::Cluster;
using sm::test::Process;
using sm::test::require_exit;
using std::chrono::seconds;

namespace {

namespace fs = std::filesystem;

struct Run {
  Cluster cluster;
  std::vector<std::unique_ptr<Process>> processes;

  explicit Run(std::size_t n) : cluster(n, "connect_timeout_s = 30\n") {}
  fs::path input(std::size_t p) const {
    return cluster.dir.path() / ("in" + std::to_string(p) + ".csv");
  }
  fs::path output(std::size_t p) const {
    return cluster.dir.path() / ("out" + std::to_string(p) + ".csv");
  }
  // Starts party p with `psi --input inP.csv --output outP.csv` and `options`.
  void start(std::size_t p, const std::vector<std::string>& options) {
    std::vector<std::string> args = {"psi", "--input", input(p).string(), "--output",
                                     output(p).string()};
    args.insert(args.end(), options.begin(), options.end());
    processes.push_back(cluster.start(p, args));
  }
  void start_all(std::size_t n, const std::vector<std::string>& options) {
    for (std::size_t p = 0; p < n; ++p) start(p, options);
  }
};

// Party p's file: header "name,id,score"; every id of `ids` in a row, written as `written`
// (whitespace around it, quotes where needed).
void write_ids(const fs::path& file, const std::vector<std::string>& written) {
  std::ofstream out(file);
  out << "name,id,score\n";
  for (std::size_t i = 0; i < written.size(); ++i) {
    out << "row" << i << "," << written[i] << "," << i << "\n";
  }
}

// The CSV field a correct writer produces for `id` (quoted iff it holds , " or a newline).
std::string field(const std::string& id) {
  if (id.find_first_of(",\"\n") == std::string::npos) return id;
  std::string out = "\"";
  for (char c : id) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// Random sets for 3 parties over a shared pool, so some ids are in all three, some in two.
std::vector<std::vector<std::string>> random_sets(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> pool = {"Zürich", "東京", "a,b", "say \"hi\"", std::string(300, 'L')};
  for (int i = 0; i < 200; ++i) pool.push_back("id" + std::to_string(rng() % 100000));
  std::vector<std::vector<std::string>> sets(3);
  for (auto& set : sets) {
    for (const auto& id : pool) {
      if (rng() % 10 < 7) set.push_back(id);
    }
  }
  return sets;
}

std::vector<std::string> intersection(const std::vector<std::vector<std::string>>& sets) {
  std::set<std::string> common(sets[0].begin(), sets[0].end());
  for (const auto& set : sets) {
    std::set<std::string> kept;
    for (const auto& id : set) {
      if (common.count(id)) kept.insert(id);
    }
    common = kept;
  }
  return {common.begin(), common.end()};
}

}  // namespace

TEST_CASE("three parties write the exact intersection of their CSV files", "[psi_job]") {
  Run run(3);
  const auto sets = random_sets(1);
  for (std::size_t p = 0; p < 3; ++p) {
    std::vector<std::string> written;
    for (const auto& id : sets[p]) written.push_back("  " + field(id) + " ");
    if (p == 1) {
      written.push_back(field(sets[p][0]));  // duplicates, removed with a warning
      written.push_back(" " + field(sets[p][1]));
    }
    write_ids(run.input(p), written);
  }
  run.start_all(3, {"--column", "id"});
  std::string expected = "id\n";
  for (const auto& id : intersection(sets)) expected += field(id) + "\n";
  REQUIRE(intersection(sets).size() > 10);
  for (std::size_t p = 0; p < 3; ++p) {
    require_exit(*run.processes[p], seconds(90), 0);
    CHECK(sm::test::read_text(run.output(p)) == expected);
  }
  CHECK_THAT(run.processes[1]->err(), Contains("2 duplicate ids removed"));
  CHECK_THAT(run.processes[0]->err(), !Contains("duplicate"));
}

TEST_CASE("cardinality goes to the output parties only, align orders every party's rows",
          "[psi_job]") {
  const auto sets = random_sets(2);
  const auto common = intersection(sets);
  SECTION("cardinality") {
    Run run(3);
    for (std::size_t p = 0; p < 3; ++p) {
      std::vector<std::string> written;
      for (const auto& id : sets[p]) written.push_back(field(id));
      write_ids(run.input(p), written);
    }
    for (std::size_t p = 0; p < 3; ++p) {
      run.start(p, {"--column", "id", "--mode", "cardinality", "--output-to", "party2"});
    }
    for (std::size_t p = 0; p < 3; ++p) require_exit(*run.processes[p], seconds(90), 0);
    CHECK(sm::test::read_text(run.output(2)) == "count\n" + std::to_string(common.size()) + "\n");
    CHECK_FALSE(fs::exists(run.output(0)));
    CHECK_FALSE(fs::exists(run.output(1)));
  }
  SECTION("align") {
    Run run(3);
    for (std::size_t p = 0; p < 3; ++p) {
      std::vector<std::string> written;
      for (const auto& id : sets[p]) written.push_back(field(id));
      write_ids(run.input(p), written);
    }
    run.start_all(3, {"--column", "id", "--mode", "align"});
    std::vector<std::string> first;
    for (std::size_t p = 0; p < 3; ++p) {
      require_exit(*run.processes[p], seconds(90), 0);
      const std::string text = sm::test::read_text(run.output(p));
      // Rows are "rowK,<id>,K" with row K of the input holding sets[p][K].
      std::vector<std::string> ids;
      std::size_t at = text.find('\n') + 1;
      CHECK(text.substr(0, at) == "name,id,score\n");
      while (at < text.size()) {
        const std::size_t end = text.find('\n', at);
        const std::string line = text.substr(at, end - at);
        const std::size_t k = std::stoul(line.substr(3, line.find(',') - 3));
        REQUIRE(k < sets[p].size());
        CHECK(line ==
              "row" + std::to_string(k) + "," + field(sets[p][k]) + "," + std::to_string(k));
        ids.push_back(sets[p][k]);
        at = end + 1;
      }
      if (p == 0) first = ids;
      CHECK(ids == first);
      std::sort(ids.begin(), ids.end());
      CHECK(ids == common);
    }
  }
}

TEST_CASE("an empty set is valid and gives an empty result", "[psi_job]") {
  Run run(2);
  write_ids(run.input(0), {});
  write_ids(run.input(1), {"a", "b"});
  run.start_all(2, {"--column", "id"});
  for (std::size_t p = 0; p < 2; ++p) {
    require_exit(*run.processes[p], seconds(90), 0);
    CHECK(sm::test::read_text(run.output(p)) == "id\n");
  }
}

TEST_CASE("bad input ends the run at every party with exit 3 and no output", "[psi_job]") {
  struct Case {
    const char* name;
    std::string content;  // party 1's file; empty string: the file does not exist
    std::vector<std::string> messages;
  };
  const std::vector<Case> cases = {
      {"missing column", "name,key\nx,1\n", {"no column 'id'", "the columns are: name, key"}},
      {"unreadable file", "", {"cannot be opened"}},
      {"empty file", "\n", {"the file is empty"}},
      {"empty id", "name,id,score\nx,  ,1\n", {"the id is empty"}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Run run(3);
    write_ids(run.input(0), {"a", "b"});
    write_ids(run.input(2), {"a", "c"});
    if (!c.content.empty()) sm::test::write_text(run.input(1), c.content);
    run.start_all(3, {"--column", "id"});
    for (std::size_t p = 0; p < 3; ++p) {
      require_exit(*run.processes[p], seconds(90), 3);
      for (const auto& message : c.messages) CHECK_THAT(run.processes[p]->err(), Contains(message));
      CHECK_THAT(run.processes[p]->err(), Contains("party1"));
      CHECK_FALSE(fs::exists(run.output(p)));
    }
  }
}

TEST_CASE("options that do not apply are usage errors", "[psi_job]") {
  Run run(2);
  write_ids(run.input(0), {"a"});
  run.start(0, {"--column", "id", "--mode", "sum", "--payload", "score"});
  require_exit(*run.processes.back(), seconds(30), 2);
  CHECK_THAT(run.processes.back()->err(), Contains("--mode sum is not implemented"));
  run.start(0, {"--column", "id", "--mode", "align", "--output-to", "party0"});
  require_exit(*run.processes.back(), seconds(30), 2);
  CHECK_THAT(run.processes.back()->err(), Contains("--output-to does not apply"));
  CHECK_FALSE(fs::exists(run.output(0)));
}
