#include "tests/support/loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace sm::test {

namespace {

// The first port of the kernel's ephemeral range, from which outgoing connections take their
// source ports.
int first_ephemeral_port() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int first = 0;
  return range >> first && first > 2048 ? first : 32768;
}

// A socket bound to 127.0.0.1:port, or -1 if the port is taken.
int bind_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("cannot open a socket to probe for free ports");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
  ::close(fd);
  return -1;
}

}  // namespace

std::vector<std::uint16_t> free_ports(std::size_t count) {
  constexpr int kLowest = 1024;
  static const int span = first_ephemeral_port() - kLowest;
  // Where this process looks next: spread by process id so that concurrent test processes
  // start far apart, then advanced past every port handed out.
  static int next = static_cast<int>((static_cast<unsigned>(::getpid()) * 7919u) % span);
  std::vector<int> sockets;
  std::vector<std::uint16_t> ports;
  for (int tried = 0; ports.size() < count && tried < span; ++tried) {
    const auto port = static_cast<std::uint16_t>(kLowest + next);
    next = (next + 1) % span;
    if (const int fd = bind_loopback(port); fd >= 0) {
      sockets.push_back(fd);
      ports.push_back(port);
    }
  }
  for (const int fd : sockets) ::close(fd);
  if (ports.size() < count) throw std::runtime_error("cannot find enough free loopback ports");
  return ports;
}

DemoCerts::DemoCerts(std::size_t parties) {
  char pattern[] = "/tmp/sm-certs-XXXXXX";
  const char* made = ::mkdtemp(pattern);
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  folder_ = made;
  // gen-certs.sh refuses to write into an existing folder's files, so give it a fresh subfolder.
  folder_ /= "keys";
  const std::string command = std::string(SM_SOURCE_DIR) + "/scripts/gen-certs.sh " +
                              std::to_string(parties) + " " + folder_.string() + " 2>/dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("gen-certs.sh failed");
}

DemoCerts::~DemoCerts() {
  std::error_code ignored;
  std::filesystem::remove_all(folder_.parent_path(), ignored);
}

net::TlsConfig loopback_config(const DemoCerts& certs, net::PartyId self,
                               const std::vector<std::uint16_t>& ports,
                               std::chrono::milliseconds timeout) {
  net::TlsConfig config;
  config.self = self;
  for (net::PartyId i = 0; i < ports.size(); ++i) {
    config.parties.push_back({i, "party" + std::to_string(i), "127.0.0.1", ports[i], {}});
  }
  const std::string own = "party" + std::to_string(self);
  config.private_key = certs.file(own + ".key");
  config.certificate = certs.file(own + ".crt");
  config.ca_certificate = certs.file("ca.crt");
  config.listen_address = "127.0.0.1";
  config.connect_timeout = timeout;
  config.receive_timeout = timeout;
  return config;
}

}  // namespace sm::test
