// The network part of a party's configuration: who this party is, its key material and the
// table of all parties. apps/ fills it from the party's TOML file (after validating it); net/
// only consumes it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "net/mesh.hpp"

namespace sm::net {

struct PartyEntry {
  PartyId id = 0;       // equals the entry's position in TlsConfig::parties
  std::string name;     // must equal the CN or a DNS SAN of the party's certificate
  std::string host;     // where its mpc-party listens
  std::uint16_t port = 0;
  // If set, the peer's leaf certificate must have exactly this SHA-256 fingerprint (of its DER
  // encoding), in addition to verifying against the CA.
  std::optional<std::array<std::uint8_t, 32>> fingerprint;
};

struct TlsConfig {
  PartyId self = 0;
  std::vector<PartyEntry> parties;  // parties[i].id == i
  std::filesystem::path private_key;     // PEM
  std::filesystem::path certificate;     // PEM, this party's leaf certificate
  std::filesystem::path ca_certificate;  // PEM, the CA every party's certificate must chain to
  std::string listen_address = "0.0.0.0";  // address to bind; the port is parties[self].port
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds receive_timeout{std::chrono::seconds(60)};
  std::size_t max_frame_bytes = std::size_t{1} << 30;  // larger frames end the run
};

}  // namespace sm::net
