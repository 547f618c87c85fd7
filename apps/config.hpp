// A party's configuration: one TOML file per party, validated completely before anything else
// runs, so a typo or a wrong certificate stops the program at once with a message that names the
// file, the key and the problem (and the line, where the key appears in the file).
//
// The file layout (README.md, "Configuration reference"):
//
//   id = 0                          # this party's id, must appear in the [[party]] table
//   private_key = "party0.key"      # PEM, unencrypted; paths are relative to this file's folder
//   certificate = "party0.crt"      # PEM leaf certificate naming this party (CN or DNS SAN)
//   ca_certificate = "ca.crt"       # PEM CA every party's certificate must chain to
//   connect_timeout_s = 60          # optional: seconds to wait for all parties to connect
//   receive_timeout_s = 60          # optional: seconds any receive may wait
//   listen_address = "0.0.0.0"      # optional: IP address to listen on
//   max_frame_mib = 1024            # optional: largest message accepted, in MiB
//   [[party]]                       # one entry per party, ids exactly 0..N-1, N >= 2
//   id = 0
//   name = "party0"
//   host = "127.0.0.1"
//   port = 7100
//   fingerprint = "sha256:AB:..."   # optional: pin the SHA-256 of the party's certificate
//   role = "dealer"                 # optional: "compute" (default) or "dealer" (at most one,
//                                   # with the highest id: the additive engine's dealer, not a
//                                   # computing party; only jobs with --scheme additive use it)
//
// Unknown keys are errors. Besides the syntax, load_party_config() checks that the key, the
// certificate and the CA can be read, that the key matches the certificate, that the own and CA
// certificates are valid now, that the own certificate chains to the CA and names this party,
// and that names, ids and host:port pairs are unique.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/tls_config.hpp"

namespace sm::app {

struct PartyConfig {
  std::filesystem::path file;  // the TOML file this was loaded from
  std::string name;            // this party's name, tls.parties[tls.self].name
  net::TlsConfig tls;          // paths in it are resolved against file's folder
  std::optional<net::PartyId> dealer;  // the party with role "dealer", if any

  // The computing parties' ids in table order (every party but the dealer).
  std::vector<net::PartyId> compute_parties() const {
    std::vector<net::PartyId> ids;
    for (const auto& party : tls.parties) {
      if (party.id != dealer) ids.push_back(party.id);
    }
    return ids;
  }
};

// Reads and validates `file`. Throws ConfigError on any problem; never returns a partly valid
// configuration.
PartyConfig load_party_config(const std::filesystem::path& file);

// The parties named in a comma-separated list of names or ids (e.g. an --output-to option), in
// list order. Throws ConfigError for an unknown or repeated party.
std::vector<net::PartyId> parse_party_list(const PartyConfig& config, std::string_view list,
                                           std::string_view option);

// Who learns a job's result, from its --output-to list (empty: every party).
struct OutputParties {
  std::vector<net::PartyId> ids;  // as listed; empty means every party
  bool includes_self = true;      // whether this party is one of them
  std::string text;               // "all" or the ids, comma-separated (a session parameter)
};
OutputParties output_parties(const PartyConfig& config, std::string_view list);

// Parses a certificate fingerprint: 64 hex digits, optionally prefixed by "sha256:" and
// optionally with a colon between every two digits. Returns false on bad syntax.
bool parse_fingerprint(std::string_view text, std::array<std::uint8_t, 32>& out);

}  // namespace sm::app
