#include "tests/support/loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

namespace sm::test {

std::vector<std::uint16_t> free_ports(std::size_t count) {
  std::vector<int> sockets;
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot find a free port");
    }
    sockets.push_back(fd);
    ports.push_back(ntohs(address.sin_port));
  }
  for (const int fd : sockets) ::close(fd);
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
