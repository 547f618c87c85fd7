#include "net/session.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "net/errors.hpp"
#include "net/wire.hpp"

namespace sm::net {

namespace {

using Digest = std::array<std::uint8_t, 32>;
using ParameterMap = std::map<std::string, std::string>;

Digest sha256(ByteView data) {
  Digest digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return digest;
}

ParameterMap canonical(const SessionParams& params) {
  ParameterMap sorted;
  for (const auto& [name, value] : params.parameters) {
    if (!sorted.emplace(name, value).second) {
      throw std::invalid_argument("session parameter '" + name + "' given twice");
    }
  }
  return sorted;
}

struct Hello {
  std::uint32_t version = 0;
  std::string job;
  ParameterMap parameters;
  Digest nonce_share{};
};

Bytes encode(const Hello& hello) {
  ByteWriter out;
  out.u32(hello.version);
  out.string(hello.job);
  out.u32(static_cast<std::uint32_t>(hello.parameters.size()));
  for (const auto& [name, value] : hello.parameters) {
    out.string(name);
    out.string(value);
  }
  out.bytes(hello.nonce_share);
  return out.take();
}

Hello decode(ByteView data, const std::string& sender) {
  ByteReader in(data, "session hello from " + sender);
  Hello hello;
  hello.version = in.u32();
  if (hello.version != kProtocolVersion) return hello;  // the rest may be laid out differently
  hello.job = in.string();
  const std::uint32_t count = in.u32();
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string name = in.string();
    hello.parameters[name] = in.string();
  }
  ByteView share = in.bytes(hello.nonce_share.size());
  std::copy(share.begin(), share.end(), hello.nonce_share.begin());
  in.expect_end();
  return hello;
}

// Lists every way `theirs` (from `who`) differs from `ours`; empty when they agree.
std::vector<std::string> differences(const Hello& ours, const Hello& theirs,
                                     const std::string& who) {
  std::vector<std::string> found;
  if (ours.version != theirs.version) {
    found.push_back("protocol version is " + std::to_string(ours.version) + " here but " +
                    std::to_string(theirs.version) + " at " + who);
    return found;
  }
  if (ours.job != theirs.job) {
    found.push_back("job is '" + ours.job + "' here but '" + theirs.job + "' at " + who);
    return found;
  }
  for (const auto& [name, value] : ours.parameters) {
    auto it = theirs.parameters.find(name);
    if (it == theirs.parameters.end()) {
      found.push_back("parameter '" + name + "' is '" + value + "' here but not set at " + who);
    } else if (it->second != value) {
      found.push_back("parameter '" + name + "' is '" + value + "' here but '" + it->second +
                      "' at " + who);
    }
  }
  for (const auto& [name, value] : theirs.parameters) {
    if (!ours.parameters.contains(name)) {
      found.push_back("parameter '" + name + "' is not set here but '" + value + "' at " + who);
    }
  }
  return found;
}

}  // namespace

Digest parameters_digest(const SessionParams& params) {
  ByteWriter out;
  for (const auto& [name, value] : canonical(params)) {
    out.string(name);
    out.string(value);
  }
  const Bytes encoded = out.take();
  return sha256(encoded);
}

SessionInfo agree_session(Mesh& mesh, const SessionParams& params) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  Hello ours{kProtocolVersion, params.job, canonical(params), {}};
  randombytes_buf(ours.nonce_share.data(), ours.nonce_share.size());

  const std::vector<Bytes> hellos = mesh.broadcast(encode(ours), "session agreement");

  std::vector<std::string> problems;
  Bytes nonce_input;
  for (PartyId party = 0; party < mesh.size(); ++party) {
    const Hello theirs = party == mesh.self() ? ours : decode(hellos[party], mesh.describe(party));
    for (auto& problem : differences(ours, theirs, mesh.describe(party))) {
      problems.push_back(std::move(problem));
    }
    nonce_input.insert(nonce_input.end(), theirs.nonce_share.begin(), theirs.nonce_share.end());
  }
  if (!problems.empty()) {
    std::string message = "the parties disagree on the session, nothing was exchanged: ";
    for (std::size_t i = 0; i < problems.size(); ++i) {
      if (i > 0) message += "; ";
      message += problems[i];
    }
    throw ProtocolError(message);
  }

  SessionInfo info;
  info.job = params.job;
  info.parameters_digest = parameters_digest(params);
  info.nonce = sha256(nonce_input);
  return info;
}

}  // namespace sm::net
