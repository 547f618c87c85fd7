// mpc-party as real processes on loopback: the command line, exit codes, and what every party
// sees when a peer fails (killed, never started, or run with different job options).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/apps/process.hpp"

using Catch::Matchers::Contains;
using sm::test::Clock;
using sm::test::Cluster;
using sm::test::Process;
using sm::test::require_exit;

namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

}  // namespace

TEST_CASE("--help describes the program and every job option", "[mpc_party]") {
  sm::test::TempDir dir;
  Process help(dir.path(), "help", {"--help"});
  require_exit(help, seconds(10), 0);
  CHECK_THAT(help.out(), Contains("--config") && Contains("--report") && Contains("--log-level") &&
                             Contains("ping") && Contains("Exit codes"));
  Process ping_help(dir.path(), "ping-help", {"ping", "--help"});
  require_exit(ping_help, seconds(10), 0);
  CHECK_THAT(ping_help.out(),
             Contains("--bytes") && Contains("--samples") && Contains("--soak-rounds"));
}

TEST_CASE("usage and configuration errors exit 2 with the reason", "[mpc_party]") {
  Cluster cluster(2);
  SECTION("no job") {
    Process p(cluster.dir.path(), "p", {"--config", cluster.config(0).string()});
    require_exit(p, seconds(10), 2);
  }
  SECTION("no --config") {
    Process p(cluster.dir.path(), "p", {"ping"});
    require_exit(p, seconds(10), 2);
    CHECK_THAT(p.err(), Contains("--config"));
  }
  SECTION("unknown option") {
    auto p = cluster.start(0, {"ping", "--bites", "5"});
    require_exit(*p, seconds(10), 2);
    CHECK_THAT(p->err(), Contains("--bites"));
  }
  SECTION("invalid configuration") {
    sm::test::write_text(cluster.config(0),
                         sm::test::read_text(cluster.config(0)) + "recieve_timeout_s = 5\n");
    auto p = cluster.start(0, {"ping"});
    require_exit(*p, seconds(10), 2);
    CHECK_THAT(p->err(), Contains(cluster.config(0).string()) &&
                             Contains("key 'party[1].recieve_timeout_s'") &&
                             Contains("unknown key"));
  }
  SECTION("log levels are case-insensitive; unknown ones are usage errors") {
    sm::test::write_text(cluster.config(0), "id = 0\n");
    auto upper = cluster.start(0, {"--log-level", "DEBUG", "ping"});
    require_exit(*upper, seconds(10), 2);
    CHECK_THAT(upper->err(), Contains("key 'private_key'") && Contains("missing"));
    auto unknown = cluster.start(0, {"--log-level", "loud", "ping"});
    require_exit(*unknown, seconds(10), 2);
    CHECK_THAT(unknown->err(), Contains("--log-level"));
  }
  SECTION("quiet still says why a run failed") {
    sm::test::write_text(cluster.config(0), "id = 0\n");
    auto quiet = cluster.start(0, {"--log-level", "quiet", "ping"});
    require_exit(*quiet, seconds(10), 2);
    CHECK_THAT(quiet->err(), Contains("key 'private_key'") && Contains("missing"));
  }
  SECTION("payload above the frame limit") {
    auto p = cluster.start(0, {"ping", "--bytes", "2GiB"});
    require_exit(*p, seconds(10), 2);
    CHECK_THAT(p->err(), Contains("--bytes") && Contains("max_frame_mib"));
  }
}

TEST_CASE("three parties ping each other", "[mpc_party]") {
  Cluster cluster(3, "connect_timeout_s = 20\n");
  std::vector<std::unique_ptr<Process>> parties;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string report = (cluster.dir.path() / ("report" + std::to_string(i) + ".json"));
    parties.push_back(
        cluster.start(i, {"--report", report, "ping", "--bytes", "1MiB", "--samples", "5"}));
  }
  for (std::size_t i = 0; i < 3; ++i) {
    require_exit(*parties[i], seconds(30), 0);
    const std::string table = parties[i]->out();
    CHECK_THAT(table, Contains("rtt_ms") && Contains("MB/s"));
    for (std::size_t j = 0; j < 3; ++j) {
      const std::string address = "127.0.0.1:" + std::to_string(cluster.ports[j]);
      if (j == i) {
        CHECK_THAT(table, !Contains(address));
      } else {
        CHECK_THAT(table, Contains("party" + std::to_string(j)) && Contains(address));
      }
    }
    const auto report = nlohmann::json::parse(
        sm::test::read_text(cluster.dir.path() / ("report" + std::to_string(i) + ".json")));
    CHECK(report["job"] == "ping");
    CHECK(report["status"] == "ok");
    CHECK(report["exit_code"] == 0);
    CHECK(report["id"] == i);
    CHECK(report["rounds"].get<int>() > 0);
    REQUIRE(report["peers"].size() == 2);
    for (const auto& peer : report["peers"]) {
      CHECK(peer["bytes_sent"].get<std::uint64_t>() >= (1u << 20));
      CHECK(peer["bytes_received"].get<std::uint64_t>() >= (1u << 20));
    }
    REQUIRE(report["result"]["peers"].size() == 2);
    CHECK(report["phases"].size() >= 3);
  }
}

TEST_CASE("a party killed mid-run makes every other party exit 4 naming it", "[mpc_party]") {
  Cluster cluster(3, "connect_timeout_s = 20\nreceive_timeout_s = 30\n");
  std::vector<std::unique_ptr<Process>> parties;
  for (std::size_t i = 0; i < 3; ++i) {
    parties.push_back(cluster.start(
        i, {"ping", "--bytes", "64KiB", "--samples", "1", "--soak-rounds", "1000000000"}));
  }
  for (auto& party : parties) {
    INFO(party->err());
    REQUIRE(party->wait_for_log("soak:", seconds(20)));
  }
  parties[2]->kill();
  for (std::size_t i = 0; i < 2; ++i) {
    require_exit(*parties[i], seconds(5), 4);
    CHECK_THAT(parties[i]->err(), Contains("party2"));
  }
}

TEST_CASE("a party that never starts makes the others exit 4 at the connect deadline",
          "[mpc_party]") {
  Cluster cluster(3, "connect_timeout_s = 3\n");
  const auto start = Clock::now();
  std::vector<std::unique_ptr<Process>> parties;
  for (std::size_t i = 0; i < 2; ++i) parties.push_back(cluster.start(i, {"ping"}));
  for (auto& party : parties) {
    require_exit(*party, seconds(15), 4);
    CHECK_THAT(party->err(), Contains("party2"));
  }
  CHECK(Clock::now() - start >= std::chrono::milliseconds(2500));
}

TEST_CASE("different job options end the run at every party with exit 5", "[mpc_party]") {
  Cluster cluster(3, "connect_timeout_s = 20\n");
  std::vector<std::unique_ptr<Process>> parties;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string report = (cluster.dir.path() / ("report" + std::to_string(i) + ".json"));
    parties.push_back(
        cluster.start(i, {"--report", report, "ping", "--bytes", i == 2 ? "2MiB" : "1MiB"}));
  }
  for (std::size_t i = 0; i < 3; ++i) {
    require_exit(*parties[i], seconds(30), 5);
    CHECK_THAT(parties[i]->err(),
               Contains("parameter 'bytes'") && Contains("2097152") && Contains("1048576"));
    CHECK(parties[i]->out().empty());
    const auto report = nlohmann::json::parse(
        sm::test::read_text(cluster.dir.path() / ("report" + std::to_string(i) + ".json")));
    CHECK(report["status"] == "failed");
    CHECK(report["exit_code"] == 5);
    CHECK_THAT(report["error"].get<std::string>(), Contains("parameter 'bytes'"));
  }
}
