// mpc-party as real processes on loopback: the command line, exit codes, and what every party
// sees when a peer fails (killed, never started, or run with different job options).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "tests/apps/pki.hpp"

using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr const char* kProgram = SM_MPC_PARTY;

// One mpc-party process; stdout and stderr go to files in `folder`. Killed if still running
// when destroyed.
class Process {
 public:
  Process(const fs::path& folder, const std::string& label, std::vector<std::string> args)
      : out_(folder / (label + ".out")), err_(folder / (label + ".err")) {
    args.insert(args.begin(), kProgram);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(127);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(kProgram, argv.data());
      ::_exit(127);
    }
  }
  ~Process() {
    if (!status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The exit code, or nullopt if the process is still running after `limit`.
  std::optional<int> wait(Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    while (!status_) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else if (Clock::now() >= deadline) {
        return std::nullopt;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    return status_;
  }
  void kill() {
    REQUIRE(::kill(pid_, SIGKILL) == 0);
    wait(seconds(5));
  }
  // Waits until stderr contains `text`; false if the process ends or `limit` passes first.
  bool wait_for_log(const std::string& text, Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (err().find(text) != std::string::npos) return true;
      if (wait(std::chrono::milliseconds(0))) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string out() const { return sm::test::read_text(out_); }
  std::string err() const { return sm::test::read_text(err_); }

 private:
  fs::path out_;
  fs::path err_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Key material and configurations for n parties on free loopback ports.
struct Cluster {
  sm::test::TempDir dir;
  std::vector<std::uint16_t> ports;

  explicit Cluster(std::size_t n, const std::string& settings = "")
      : ports(sm::test::free_ports(n)) {
    sm::test::TestCa ca(dir.path());
    for (std::size_t i = 0; i < n; ++i) {
      const std::string name = "party" + std::to_string(i);
      ca.issue(name, {name, {name}});
      sm::test::write_text(config(i), sm::test::party_config(
                                          i, ports, "listen_address = \"127.0.0.1\"\n" + settings));
    }
  }
  fs::path config(std::size_t i) const {
    return dir.path() / ("party" + std::to_string(i) + ".toml");
  }
  std::unique_ptr<Process> start(std::size_t i, std::vector<std::string> job_args) const {
    std::vector<std::string> args = {"--config", config(i).string()};
    args.insert(args.end(), job_args.begin(), job_args.end());
    return std::make_unique<Process>(dir.path(), "party" + std::to_string(i), args);
  }
};

// Requires the process to end within `limit` with `code`; shows its stderr otherwise.
void require_exit(Process& process, Clock::duration limit, int code) {
  const auto status = process.wait(limit);
  INFO("stderr:\n" << process.err() << "stdout:\n" << process.out());
  REQUIRE(status);
  REQUIRE(*status == code);
}

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
