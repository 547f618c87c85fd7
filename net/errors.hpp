// Error types of SecretMesh, shared by every layer.
//
// Library code throws these and never exits; each program's main() catches them once and maps
// them to the documented exit codes (see exit_code()). Messages are complete sentences for the
// user: they name the file / line / column, the party (name and id) and the step involved.
#pragma once

#include <stdexcept>
#include <string>

namespace sm {

// Process exit codes, as documented in README.md.
enum class ExitCode : int {
  kOk = 0,
  kInternal = 1,       // a bug: an unexpected exception
  kUsage = 2,          // bad command line or configuration file
  kBadInput = 3,       // bad input data (CSV, model file)
  kNetwork = 4,        // a peer could not be reached, was refused, disconnected or went silent
  kProtocolAbort = 5,  // the parties disagreed (session mismatch) or a consistency check failed
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ExitCode code)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// Bad command line or configuration (file, key, problem).
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message) : Error(message, ExitCode::kUsage) {}
};

// Bad input data (file, line, column, problem).
class InputError : public Error {
 public:
  explicit InputError(const std::string& message) : Error(message, ExitCode::kBadInput) {}
};

// A peer could not be reached, disconnected, went silent or sent a malformed frame.
class NetError : public Error {
 public:
  explicit NetError(const std::string& message) : Error(message, ExitCode::kNetwork) {}
};

// A peer's certificate was refused (wrong CA, wrong name, wrong fingerprint).
class PeerAuthError : public NetError {
 public:
  using NetError::NetError;
};

// The parties disagree (session parameters) or a consistency check failed (e.g. a Shamir
// share that does not lie on the degree-t polynomial).
class ProtocolError : public Error {
 public:
  explicit ProtocolError(const std::string& message) : Error(message, ExitCode::kProtocolAbort) {}
};

}  // namespace sm
