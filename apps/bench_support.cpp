#include "apps/bench_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "apps/atomic_file.hpp"
#include "net/errors.hpp"

namespace sm::app {

namespace {

using Clock = std::chrono::steady_clock;

// Writes all of `data` to `fd`; returns false on an error.
bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t count = write(fd, data.data() + done, data.size() - done);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) return false;
    done += static_cast<std::size_t>(count);
  }
  return true;
}

// The child's side: runs body, writes its JSON (or {"error": ...}) to `fd`, never returns.
[[noreturn]] void run_child(net::PartyId party,
                            const std::function<nlohmann::json(net::PartyId)>& body, int fd) {
  int status = 0;
  std::string text;
  try {
    text = body(party).dump();
  } catch (const std::exception& e) {
    text = nlohmann::json{{"error", e.what()}}.dump();
    status = 1;
  } catch (...) {
    text = nlohmann::json{{"error", "an unknown exception"}}.dump();
    status = 1;
  }
  if (!write_all(fd, text)) status = 1;
  close(fd);
  _exit(status);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

BenchCertificates::BenchCertificates(std::size_t parties) : parties_(parties) {
  char pattern[] = "/tmp/mpc-bench-certs-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw ConfigError("cannot create a temporary folder in /tmp");
  folder_ = pattern;
  const std::string command = std::string(SM_GEN_CERTS) + " " + std::to_string(parties) + " " +
                              folder_.string() + " 2>/dev/null";
  if (std::system(command.c_str()) != 0) {
    std::filesystem::remove_all(folder_);
    throw ConfigError("generating demo certificates with " + std::string(SM_GEN_CERTS) + " failed");
  }
}

BenchCertificates::~BenchCertificates() {
  std::error_code ignored;
  std::filesystem::remove_all(folder_, ignored);
}

std::vector<std::uint16_t> free_loopback_ports(std::size_t n) {
  std::vector<int> sockets;
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < n; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) sockets.push_back(fd);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      for (int s : sockets) close(s);
      throw NetError("cannot find a free port on 127.0.0.1");
    }
    ports.push_back(ntohs(address.sin_port));
  }
  for (int fd : sockets) close(fd);
  return ports;
}

net::TlsConfig loopback_config(const BenchCertificates& certs, net::PartyId self,
                               std::span<const std::uint16_t> ports) {
  if (ports.size() > certs.parties() || self >= ports.size()) {
    throw ConfigError("the benchmark's certificates cover " + std::to_string(certs.parties()) +
                      " parties, not " + std::to_string(ports.size()));
  }
  return loopback_config(certs.folder(), self, ports);
}

net::TlsConfig loopback_config(const std::filesystem::path& folder, net::PartyId self,
                               std::span<const std::uint16_t> ports) {
  net::TlsConfig config;
  config.self = self;
  for (net::PartyId i = 0; i < ports.size(); ++i) {
    config.parties.push_back({i, "party" + std::to_string(i), "127.0.0.1", ports[i], {}});
  }
  const std::string name = "party" + std::to_string(self);
  config.private_key = folder / (name + ".key");
  config.certificate = folder / (name + ".crt");
  config.ca_certificate = folder / "ca.crt";
  config.listen_address = "127.0.0.1";
  config.connect_timeout = std::chrono::minutes(2);
  config.receive_timeout = std::chrono::minutes(10);
  return config;
}

std::vector<nlohmann::json> run_in_processes(
    std::size_t n, const std::function<nlohmann::json(net::PartyId)>& body,
    std::chrono::seconds deadline) {
  std::fflush(stdout);  // or the children would print the parent's buffered output again
  std::fflush(stderr);
  std::vector<pid_t> pids;
  std::vector<int> fds;
  const auto kill_all = [&] {
    for (pid_t pid : pids) kill(pid, SIGKILL);
    for (pid_t pid : pids) waitpid(pid, nullptr, 0);
    for (int fd : fds) close(fd);
  };
  for (net::PartyId party = 0; party < n; ++party) {
    int ends[2];
    if (pipe(ends) != 0) {
      kill_all();
      throw NetError(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    const pid_t pid = fork();
    if (pid < 0) {
      close(ends[0]);
      close(ends[1]);
      kill_all();
      throw NetError(std::string("cannot fork a party process: ") + std::strerror(errno));
    }
    if (pid == 0) {
      close(ends[0]);
      for (int fd : fds) close(fd);
      run_child(party, body, ends[1]);
    }
    close(ends[1]);
    pids.push_back(pid);
    fds.push_back(ends[0]);
  }

  std::vector<std::string> texts(n);
  std::vector<bool> open(n, true);
  const auto end = Clock::now() + deadline;
  for (;;) {
    std::vector<pollfd> polls;
    std::vector<net::PartyId> parties;
    for (net::PartyId party = 0; party < n; ++party) {
      if (!open[party]) continue;
      polls.push_back({fds[party], POLLIN, 0});
      parties.push_back(party);
    }
    if (polls.empty()) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) {
      kill_all();
      throw ProtocolError("a benchmark party did not finish within " +
                          std::to_string(deadline.count()) + " s; all parties were killed");
    }
    const int ready = poll(polls.data(), polls.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      kill_all();
      throw NetError(std::string("poll on the party pipes failed: ") + std::strerror(errno));
    }
    for (std::size_t k = 0; ready > 0 && k < polls.size(); ++k) {
      if ((polls[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[4096];
      const ssize_t count = read(polls[k].fd, buffer, sizeof buffer);
      if (count > 0) {
        texts[parties[k]].append(buffer, static_cast<std::size_t>(count));
      } else if (count == 0 || errno != EINTR) {
        open[parties[k]] = false;
      }
    }
  }
  for (int fd : fds) close(fd);

  std::vector<nlohmann::json> results(n);
  std::string failures;
  for (net::PartyId party = 0; party < n; ++party) {
    int status = 0;
    waitpid(pids[party], &status, 0);
    const auto parsed = nlohmann::json::parse(texts[party], nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      failures += "; party " + std::to_string(party) + " ended without a report (" +
                  describe_status(status) + ")";
    } else if (parsed.contains("error")) {
      failures += "; party " + std::to_string(party) + ": " + parsed["error"].get<std::string>();
    } else {
      results[party] = parsed;
    }
  }
  if (!failures.empty()) throw ProtocolError("benchmark parties failed" + failures);
  return results;
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::uint64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

std::uint64_t available_memory_bytes() {
  std::FILE* file = std::fopen("/proc/meminfo", "r");
  if (file == nullptr) return 0;
  char line[256];
  unsigned long long kib = 0;
  while (std::fgets(line, sizeof line, file) != nullptr) {
    if (std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1) break;
  }
  std::fclose(file);
  return static_cast<std::uint64_t>(kib) * 1024;
}

std::array<double, 3> load_average() {
  std::array<double, 3> load{};
  if (getloadavg(load.data(), 3) != 3) load = {-1, -1, -1};
  return load;
}

std::string load_average_text() {
  const auto load = load_average();
  char text[64];
  std::snprintf(text, sizeof text, "%.2f %.2f %.2f", load[0], load[1], load[2]);
  return text;
}

nlohmann::json to_json(const PhaseMeasure& m) {
  return {{"seconds", m.seconds},
          {"cpu_seconds", m.cpu_seconds},
          {"bytes_sent", m.bytes_sent},
          {"bytes_received", m.bytes_received},
          {"rounds", m.rounds}};
}

PhaseMeasure phase_from_json(const nlohmann::json& j) {
  return {j.at("seconds").get<double>(), j.at("cpu_seconds").get<double>(),
          j.at("bytes_sent").get<std::uint64_t>(), j.at("bytes_received").get<std::uint64_t>(),
          j.at("rounds").get<std::uint64_t>()};
}

PhaseMeasure slowest(std::span<const PhaseMeasure> parties) {
  PhaseMeasure out;
  for (const auto& m : parties) {
    out.seconds = std::max(out.seconds, m.seconds);
    out.cpu_seconds = std::max(out.cpu_seconds, m.cpu_seconds);
    out.bytes_sent = std::max(out.bytes_sent, m.bytes_sent);
    out.bytes_received = std::max(out.bytes_received, m.bytes_received);
    out.rounds = std::max(out.rounds, m.rounds);
  }
  return out;
}

double median_seconds(std::size_t repeats, const std::function<void()>& fn) {
  std::vector<double> times;
  for (std::size_t i = 0; i < std::max<std::size_t>(repeats, 1); ++i) {
    const auto start = Clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void write_json_file(const std::filesystem::path& file, const nlohmann::json& document) {
  write_file_atomically(file, document.dump(2) + "\n");
}

}  // namespace sm::app
