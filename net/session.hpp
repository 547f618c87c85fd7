// Session agreement: the first round of every run, before any private data moves.
//
// Every party broadcasts a hello carrying the protocol version, the job name, the job's public
// parameters (and their SHA-256 digest) and a fresh random contribution to the run nonce. If any
// party's version, job or parameters differ from this party's, agree_session() throws
// ProtocolError naming the parties and what differs (e.g. "parameter 'epochs' is 10 here but 5
// at party 1 (bank-b)"); since all parties see all hellos, every party stops with the same
// finding. Otherwise all parties obtain the same run nonce: SHA-256 over all contributions in
// party order, unpredictable as long as one party is honest.
//
// Cost: one round; each party sends its hello (a few hundred bytes) to every other party.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "net/mesh.hpp"

namespace sm::net {

inline constexpr std::uint32_t kProtocolVersion = 1;

struct SessionParams {
  std::string job;  // "ping", "aggregate", "psi", "train-lr", "predict", ...
  // The job's public parameters as (name, value) pairs; order does not matter.
  std::vector<std::pair<std::string, std::string>> parameters;
};

struct SessionInfo {
  std::string job;
  std::array<std::uint8_t, 32> parameters_digest{};
  std::array<std::uint8_t, 32> nonce{};  // the same at every party
};

SessionInfo agree_session(Mesh& mesh, const SessionParams& params);

// SHA-256 of the parameters in canonical (sorted) order.
std::array<std::uint8_t, 32> parameters_digest(const SessionParams& params);

}  // namespace sm::net
