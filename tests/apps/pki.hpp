// Test helpers: a throw-away PKI (CA, party keys and certificates made with OpenSSL's API, with
// any validity window and names) and party configuration files, in a temporary folder that is
// removed afterwards.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/loopback.hpp"

namespace sm::test {

// A fresh folder under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_names;  // subject alternative names
  long valid_from_s = -3600;           // relative to now
  long valid_until_s = 30L * 24 * 3600;
};

// A CA (ca.key, ca.crt in `folder`) that issues party certificates.
class TestCa {
 public:
  // valid_from_s / valid_until_s: the CA certificate's validity window relative to now.
  explicit TestCa(std::filesystem::path folder, long valid_from_s = -3600,
                  long valid_until_s = 365L * 24 * 3600, const std::string& stem = "ca");
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // Writes folder/<stem>.key and folder/<stem>.crt, signed by this CA.
  void issue(const std::string& stem, const CertSpec& spec) const;

 private:
  std::filesystem::path folder_;
  void* key_;   // EVP_PKEY
  void* cert_;  // X509
};

void write_text(const std::filesystem::path& file, const std::string& text);
std::string read_text(const std::filesystem::path& file);

// The party table and the own-party lines of a configuration, for n parties named
// party0..party{n-1} on 127.0.0.1 with the given ports; keys and certificates partyI.key /
// partyI.crt and ca.crt in the same folder.
std::string party_config(std::size_t self, const std::vector<std::uint16_t>& ports,
                         const std::string& extra_top_level = "");



}  // namespace sm::test
