// Test support for runs over TLS on loopback: free ports, demo key material made by
// scripts/gen-certs.sh in a temporary folder, and the TlsConfig of a party among n on 127.0.0.1.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "net/tls_config.hpp"

namespace sm::test {

// Loopback ports free right now, below the kernel's ephemeral range (so no outgoing connection
// takes one as its source port before the party listens on it), and spread by process id (so
// concurrent test processes do not pick the same ones). A port is probed by binding it and then
// released: another process could still take it in between, which these two rules make unlikely.
// Throws std::runtime_error if `count` free ports cannot be found.
std::vector<std::uint16_t> free_ports(std::size_t count);

// Key material for n parties ("party0" ...) from scripts/gen-certs.sh, removed on destruction.
class DemoCerts {
 public:
  explicit DemoCerts(std::size_t parties);
  ~DemoCerts();
  DemoCerts(const DemoCerts&) = delete;
  DemoCerts& operator=(const DemoCerts&) = delete;
  std::filesystem::path file(const std::string& name) const { return folder_ / name; }

 private:
  std::filesystem::path folder_;
};

// Party `self` among `ports.size()` parties on 127.0.0.1 with `certs`' key material.
net::TlsConfig loopback_config(const DemoCerts& certs, net::PartyId self,
                               const std::vector<std::uint16_t>& ports,
                               std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace sm::test
