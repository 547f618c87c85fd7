// The psi job as real mpc-party processes over TLS on loopback: output files against the
// plaintext intersection of the CSV files, every mode (sum mode on the additive engine with a
// dealer process and on the dealer-free Shamir engine), and bad inputs (exit 3 everywhere, no
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

// Every id as its CSV field.
std::vector<std::string> fields(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  for (const auto& id : ids) out.push_back(field(id));
  return out;
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

// Sum mode: party p's rows are "row<i>,<id>,<payload>", the payload in cents written as a
// decimal with 2 digits after the point ("-0.05").
std::string cents_text(std::int64_t cents) {
  const std::int64_t magnitude = cents < 0 ? -cents : cents;
  const std::string fraction = std::to_string(magnitude % 100);
  return (cents < 0 ? "-" : "") + std::to_string(magnitude / 100) + "." +
         (fraction.size() < 2 ? "0" : "") + fraction;
}

void write_payloads(const fs::path& file, const std::vector<std::string>& ids,
                    const std::vector<std::string>& payloads) {
  std::ofstream out(file);
  out << "name,id,score\n";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    out << "row" << i << "," << field(ids[i]) << "," << payloads[i] << "\n";
  }
}

// Payloads in cents for every id of `set`: positive and negative, not all multiples of 10.
std::vector<std::int64_t> cents_for(const std::vector<std::string>& set, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> cents;
  for (std::size_t i = 0; i < set.size(); ++i) {
    cents.push_back(static_cast<std::int64_t>(rng() % 2000001) - 1000000);
  }
  if (!cents.empty()) cents.front() = -1234567;
  return cents;
}

// The oracle: the holder's cents summed over the plaintext intersection.
std::int64_t plain_sum(const std::vector<std::vector<std::string>>& sets,
                       const std::vector<std::int64_t>& cents, std::size_t holder) {
  const auto common = intersection(sets);
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < sets[holder].size(); ++i) {
    if (std::binary_search(common.begin(), common.end(), sets[holder][i])) sum += cents[i];
  }
  return sum;
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

TEST_CASE("two parties sum a payload column on the additive engine with a dealer",
          "[psi_job][psi_sum]") {
  Run run(3);  // party2 is the dealer
  for (std::size_t p = 0; p < 3; ++p) {
    sm::test::write_text(run.cluster.config(p),
                         sm::test::party_config(p, run.cluster.ports,
                                                "listen_address = \"127.0.0.1\"\n"
                                                "connect_timeout_s = 30\n") +
                             "role = \"dealer\"\n");
  }
  const auto all = random_sets(3);
  const std::vector<std::vector<std::string>> sets = {all[0], all[1]};
  REQUIRE(intersection(sets).size() > 10);
  // Integer payloads at party1: the sum is an integer.
  std::vector<std::int64_t> values = cents_for(sets[1], 4);
  std::vector<std::string> written;
  for (std::int64_t v : values) written.push_back(std::to_string(v));
  write_ids(run.input(0), fields(sets[0]));
  write_payloads(run.input(1), sets[1], written);
  run.start(0, {"--column", "id", "--mode", "sum"});
  run.start(1, {"--column", "id", "--mode", "sum", "--payload", "score", "--scheme", "additive"});
  run.processes.push_back(run.cluster.start(2, {"dealer"}));
  const std::string expected = "sum\n" + std::to_string(plain_sum(sets, values, 1)) + "\n";
  for (std::size_t p = 0; p < 3; ++p) require_exit(*run.processes[p], seconds(120), 0);
  CHECK(sm::test::read_text(run.output(0)) == expected);
  CHECK(sm::test::read_text(run.output(1)) == expected);
  CHECK_FALSE(fs::exists(run.output(2)));
}

TEST_CASE("three parties sum decimals on the Shamir engine, revealed to two of them",
          "[psi_job][psi_sum]") {
  Run run(3);
  const auto sets = random_sets(5);
  REQUIRE(intersection(sets).size() > 10);
  const std::vector<std::int64_t> cents = cents_for(sets[1], 6);
  std::vector<std::string> written;
  for (std::int64_t c : cents) written.push_back(cents_text(c));
  write_ids(run.input(0), fields(sets[0]));
  write_payloads(run.input(1), sets[1], written);
  write_ids(run.input(2), fields(sets[2]));
  for (std::size_t p = 0; p < 3; ++p) {
    std::vector<std::string> options = {"--column", "id",          "--mode",
                                        "sum",      "--output-to", "party2,party1"};
    if (p == 1) options.insert(options.end(), {"--payload", "score"});
    run.start(p, options);
  }
  const std::string expected = "sum\n" + cents_text(plain_sum(sets, cents, 1)) + "\n";
  for (std::size_t p = 0; p < 3; ++p) require_exit(*run.processes[p], seconds(120), 0);
  CHECK(sm::test::read_text(run.output(1)) == expected);
  CHECK(sm::test::read_text(run.output(2)) == expected);
  CHECK_FALSE(fs::exists(run.output(0)));
  CHECK_THAT(run.processes[0]->err(), Contains("nothing is written here"));
}

TEST_CASE("a bad payload ends the sum at every party with exit 3 and no output",
          "[psi_job][psi_sum]") {
  struct Case {
    const char* name;
    std::string content;  // party 1's file
    std::vector<std::string> messages;
  };
  const std::vector<Case> cases = {
      {"not a number",
       "name,id,score\nx,a,1\ny,b,12abc\n",
       {"in1.csv:3:3", "'12abc' is not a number"}},
      {"not finite", "name,id,score\nx,a,nan\n", {"in1.csv:2:3", "not a finite number"}},
      {"empty cell", "name,id,score\nx,a,\n", {"in1.csv:2:3", "the cell is empty"}},
      {"too many decimals",
       "name,id,score\nx,a,0.0000000001\n",
       {"in1.csv:2:3", "more than 9 digits"}},
      {"too large a sum",
       "name,id,score\nx,a,9000000000000000000\ny,b,300000000000000000\n",
       {"column 'score': the absolute values add up to"}},
      {"missing payload column",
       "name,id\nx,a\n",
       {"no column 'score'", "the columns are: name, id"}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Run run(3);
    write_ids(run.input(0), {"a", "b"});
    sm::test::write_text(run.input(1), c.content);
    write_ids(run.input(2), {"a", "c"});
    for (std::size_t p = 0; p < 3; ++p) {
      std::vector<std::string> options = {"--column", "id", "--mode", "sum"};
      if (p == 1) options.insert(options.end(), {"--payload", "score"});
      run.start(p, options);
    }
    for (std::size_t p = 0; p < 3; ++p) {
      require_exit(*run.processes[p], seconds(90), 3);
      for (const auto& message : c.messages) CHECK_THAT(run.processes[p]->err(), Contains(message));
      CHECK_FALSE(fs::exists(run.output(p)));
    }
  }
}

TEST_CASE("sum mode needs --payload at exactly one party", "[psi_job][psi_sum]") {
  for (const std::vector<std::size_t>& holders :
       {std::vector<std::size_t>{}, std::vector<std::size_t>{0, 2}}) {
    INFO(holders.size() << " payload holders");
    Run run(3);
    for (std::size_t p = 0; p < 3; ++p) write_ids(run.input(p), {"a", "b"});
    for (std::size_t p = 0; p < 3; ++p) {
      std::vector<std::string> options = {"--column", "id", "--mode", "sum"};
      if (std::count(holders.begin(), holders.end(), p)) {
        options.insert(options.end(), {"--payload", "score"});
      }
      run.start(p, options);
    }
    for (std::size_t p = 0; p < 3; ++p) {
      require_exit(*run.processes[p], seconds(90), 2);
      CHECK_THAT(run.processes[p]->err(), Contains("--payload at exactly one party"));
      if (!holders.empty())
        CHECK_THAT(run.processes[p]->err(), Contains("party 0 (party0), party 2 (party2)"));
      CHECK_FALSE(fs::exists(run.output(p)));
    }
  }
}

TEST_CASE("options that do not apply are usage errors", "[psi_job]") {
  Run run(2);
  write_ids(run.input(0), {"a"});
  run.start(0, {"--column", "id", "--payload", "score"});
  require_exit(*run.processes.back(), seconds(30), 2);
  CHECK_THAT(run.processes.back()->err(), Contains("--payload only applies to --mode sum"));
  run.start(0, {"--column", "id", "--mode", "cardinality", "--scheme", "shamir"});
  require_exit(*run.processes.back(), seconds(30), 2);
  CHECK_THAT(run.processes.back()->err(), Contains("--scheme only applies to --mode sum"));
  run.start(0, {"--column", "id", "--mode", "align", "--output-to", "party0"});
  require_exit(*run.processes.back(), seconds(30), 2);
  CHECK_THAT(run.processes.back()->err(), Contains("--output-to does not apply"));
  CHECK_FALSE(fs::exists(run.output(0)));
}
