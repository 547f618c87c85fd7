// Test support: mpc-party as real processes on loopback. A Cluster makes key material and
// configurations for n parties on free ports; a Process runs the binary named by the SM_MPC_PARTY
// compile definition (the test target must define it), with stdout and stderr in files.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/apps/pki.hpp"

namespace sm::test {


using Clock = std::chrono::steady_clock;

inline constexpr const char* kProgram = SM_MPC_PARTY;

// One mpc-party process; stdout and stderr go to files in `folder`. Killed if still running
// when destroyed.
class Process {
 public:
  Process(const std::filesystem::path& folder, const std::string& label, std::vector<std::string> args)
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
    wait(std::chrono::seconds(5));
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
  std::string out() const { return read_text(out_); }
  std::string err() const { return read_text(err_); }

 private:
  std::filesystem::path out_;
  std::filesystem::path err_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Key material and configurations for n parties on free loopback ports.
struct Cluster {
  TempDir dir;
  std::vector<std::uint16_t> ports;

  explicit Cluster(std::size_t n, const std::string& settings = "")
      : ports(free_ports(n)) {
    TestCa ca(dir.path());
    for (std::size_t i = 0; i < n; ++i) {
      const std::string name = "party" + std::to_string(i);
      ca.issue(name, {name, {name}});
      write_text(config(i), party_config(
                                          i, ports, "listen_address = \"127.0.0.1\"\n" + settings));
    }
  }
  std::filesystem::path config(std::size_t i) const {
    return dir.path() / ("party" + std::to_string(i) + ".toml");
  }
  std::filesystem::path file(const std::string& name) const { return dir.path() / name; }
  // Runs one job at every party (args[i] for party i) and waits for all; returns the exit codes
  // (-1 for a party still running after `limit`) and puts each party's stderr in `errors`.
  std::vector<int> run(const std::vector<std::vector<std::string>>& args,
                       std::vector<std::string>& errors,
                       Clock::duration limit = std::chrono::seconds(120)) const {
    std::vector<std::unique_ptr<Process>> parties;
    for (std::size_t i = 0; i < args.size(); ++i) parties.push_back(start(i, args[i]));
    std::vector<int> codes;
    errors.clear();
    for (auto& party : parties) {
      codes.push_back(party->wait(limit).value_or(-1));
      errors.push_back(party->err());
    }
    return codes;
  }
  std::unique_ptr<Process> start(std::size_t i, std::vector<std::string> job_args) const {
    std::vector<std::string> args = {"--config", config(i).string()};
    args.insert(args.end(), job_args.begin(), job_args.end());
    return std::make_unique<Process>(dir.path(), "party" + std::to_string(i), args);
  }
};

// Requires the process to end within `limit` with `code`; shows its stderr otherwise.
inline void require_exit(Process& process, Clock::duration limit, int code) {
  const auto status = process.wait(limit);
  INFO("stderr:\n" << process.err() << "stdout:\n" << process.out());
  REQUIRE(status);
  REQUIRE(*status == code);
}

}  // namespace sm::test
