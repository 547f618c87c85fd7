// The party configuration file: a valid file loads completely, and every kind of mistake stops
// loading with a message that names the file, the key and the problem.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <memory>

#include "apps/config.hpp"
#include "net/errors.hpp"
#include "tests/apps/pki.hpp"

using Catch::Matchers::Contains;
using sm::app::load_party_config;
using sm::app::PartyConfig;

namespace {

namespace fs = std::filesystem;

const std::vector<std::uint16_t> kPorts = {7100, 7101, 7102};

// A folder with a CA, three party certificates (CN and DNS SAN "partyI") and party0.toml.
struct Fixture {
  sm::test::TempDir dir;
  sm::test::TestCa ca{dir.path()};
  fs::path file = dir.path() / "party0.toml";

  Fixture() {
    for (int i = 0; i < 3; ++i) {
      const std::string name = "party" + std::to_string(i);
      ca.issue(name, {name, {name}});
    }
    sm::test::write_text(file, sm::test::party_config(0, kPorts));
  }

  // Writes the configuration with `from` replaced by `to` (which must occur in it).
  void edit(const std::string& from, const std::string& to) {
    std::string text = sm::test::read_text(file);
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    sm::test::write_text(file, text);
  }
  void append(const std::string& text) {
    sm::test::write_text(file, sm::test::read_text(file) + text);
  }

  // Loads the configuration, requires a ConfigError, and requires its message to name the file
  // and contain every fragment (the key and the problem).
  void expect_error(std::initializer_list<std::string> fragments) const {
    try {
      load_party_config(file);
      FAIL("loading " << file << " succeeded; expected an error containing " << *fragments.begin());
    } catch (const sm::ConfigError& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK_THAT(message, Contains(file.string()));
      for (const auto& fragment : fragments) CHECK_THAT(message, Contains(fragment));
    }
  }
};

std::string fingerprint_of(const fs::path& certificate) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(certificate.c_str(), "r"),
                                                     &std::fclose);
  REQUIRE(in);
  std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(in.get(), nullptr, nullptr, nullptr),
                                              &X509_free);
  REQUIRE(cert);
  unsigned char digest[32];
  unsigned int length = 0;
  REQUIRE(X509_digest(cert.get(), EVP_sha256(), digest, &length) == 1);
  std::string text = "sha256:";
  char hex[4];
  for (unsigned i = 0; i < length; ++i) {
    std::snprintf(hex, sizeof hex, i + 1 < length ? "%02X:" : "%02X", digest[i]);
    text += hex;
  }
  return text;
}

}  // namespace

TEST_CASE("a valid configuration loads with defaults and resolved paths", "[config]") {
  Fixture f;
  const PartyConfig config = load_party_config(f.file);
  CHECK(config.file == f.file);
  CHECK(config.name == "party0");
  CHECK(config.tls.self == 0);
  REQUIRE(config.tls.parties.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(config.tls.parties[i].id == i);
    CHECK(config.tls.parties[i].name == "party" + std::to_string(i));
    CHECK(config.tls.parties[i].host == "127.0.0.1");
    CHECK(config.tls.parties[i].port == kPorts[i]);
    CHECK_FALSE(config.tls.parties[i].fingerprint);
  }
  CHECK(config.tls.private_key == f.dir.path() / "party0.key");
  CHECK(config.tls.certificate == f.dir.path() / "party0.crt");
  CHECK(config.tls.ca_certificate == f.dir.path() / "ca.crt");
  CHECK(config.tls.connect_timeout == std::chrono::seconds(60));
  CHECK(config.tls.receive_timeout == std::chrono::seconds(60));
  CHECK(config.tls.listen_address == "0.0.0.0");
  CHECK(config.tls.max_frame_bytes == std::size_t{1} << 30);
}

TEST_CASE("optional keys, any party order and pinned fingerprints are honoured", "[config]") {
  Fixture f;
  const std::string pin1 = fingerprint_of(f.dir.path() / "party1.crt");
  const std::string pin0 = fingerprint_of(f.dir.path() / "party0.crt");
  std::string plain0;  // the same fingerprint without prefix and colons
  for (char c : pin0.substr(7)) {
    if (c != ':') plain0 += c;
  }
  sm::test::write_text(
      f.file,
      "id = 1\n"
      "private_key = \"party1.key\"\n"
      "certificate = \"" +
          (f.dir.path() / "party1.crt").string() +
          "\"\n"
          "ca_certificate = \"./ca.crt\"\n"
          "connect_timeout_s = 2.5\n"
          "receive_timeout_s = 7\n"
          "listen_address = \"127.0.0.1\"\n"
          "max_frame_mib = 64\n"
          "[[party]]\nid = 1\nname = \"party1\"\nhost = \"b.example\"\nport = 1\n"
          "fingerprint = \"" +
          pin1 +
          "\"\n"
          "[[party]]\nid = 0\nname = \"party0\"\nhost = \"a.example\"\nport = 65535\n"
          "fingerprint = \"" +
          plain0 + "\"\n");
  const PartyConfig config = load_party_config(f.file);
  CHECK(config.name == "party1");
  CHECK(config.tls.self == 1);
  REQUIRE(config.tls.parties.size() == 2);
  CHECK(config.tls.parties[0].host == "a.example");
  CHECK(config.tls.parties[0].port == 65535);
  CHECK(config.tls.parties[1].port == 1);
  CHECK(config.tls.parties[0].fingerprint);
  CHECK(config.tls.parties[1].fingerprint);
  CHECK(config.tls.ca_certificate == f.dir.path() / "ca.crt");
  CHECK(config.tls.connect_timeout == std::chrono::milliseconds(2500));
  CHECK(config.tls.receive_timeout == std::chrono::seconds(7));
  CHECK(config.tls.listen_address == "127.0.0.1");
  CHECK(config.tls.max_frame_bytes == std::size_t{64} << 20);
}

TEST_CASE("a certificate naming the party only in its DNS SAN is accepted", "[config]") {
  Fixture f;
  f.ca.issue("party0", {"Hospital A", {"other", "party0"}});
  CHECK(load_party_config(f.file).name == "party0");
}

TEST_CASE("fingerprint syntax", "[config]") {
  std::array<std::uint8_t, 32> digest{};
  const std::string hex64(64, 'a');
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += i == 0 ? "Ab" : ":Ab";
  CHECK(sm::app::parse_fingerprint(hex64, digest));
  CHECK(digest[0] == 0xaa);
  CHECK(sm::app::parse_fingerprint("sha256:" + colons, digest));
  CHECK(digest[31] == 0xab);
  CHECK(sm::app::parse_fingerprint("SHA256:" + hex64, digest));
  CHECK_FALSE(sm::app::parse_fingerprint(hex64.substr(1), digest));
  CHECK_FALSE(sm::app::parse_fingerprint(hex64 + "a", digest));
  CHECK_FALSE(sm::app::parse_fingerprint(std::string(63, 'a') + "g", digest));
  CHECK_FALSE(sm::app::parse_fingerprint("sha1:" + hex64, digest));
  CHECK_FALSE(sm::app::parse_fingerprint(colons.substr(0, 90) + "::" + colons.substr(92), digest));
  CHECK_FALSE(sm::app::parse_fingerprint("", digest));
}

TEST_CASE("unreadable files are named", "[config]") {
  Fixture f;
  SECTION("the configuration file itself") {
    f.file = f.dir.path() / "missing.toml";
    f.expect_error({"cannot read configuration file", "No such file"});
  }
  SECTION("the configuration is a folder") {
    f.file = f.dir.path();
    f.expect_error({"is a directory"});
  }
  SECTION("private key") {
    f.edit("party0.key", "nokey.key");
    f.expect_error({"key 'private_key'", "nokey.key", "No such file"});
  }
  SECTION("certificate") {
    f.edit("party0.crt", "nocert.crt");
    f.expect_error({"key 'certificate'", "nocert.crt", "No such file"});
  }
  SECTION("CA certificate") {
    f.edit("\"ca.crt\"", "\"noca.crt\"");
    f.expect_error({"key 'ca_certificate'", "noca.crt", "No such file"});
  }
  SECTION("a file that is not PEM") {
    sm::test::write_text(f.dir.path() / "garbage.crt", "not a certificate\n");
    f.edit("party0.crt", "garbage.crt");
    f.expect_error({"key 'certificate'", "garbage.crt", "does not hold a PEM certificate"});
  }
  SECTION("a key that is not PEM") {
    f.edit("party0.key", "party0.crt");
    f.expect_error({"key 'private_key'", "party0.crt", "does not hold an unencrypted PEM"});
  }
}

TEST_CASE("TOML syntax errors give line and column", "[config]") {
  Fixture f;
  f.edit("port = 7101", "port = = 7101");
  f.expect_error({":16:", "TOML syntax error"});
}

TEST_CASE("missing keys and wrong types", "[config]") {
  Fixture f;
  SECTION("missing certificate") {
    f.edit("certificate = \"party0.crt\"\n", "");
    f.expect_error({"key 'certificate'", "missing"});
  }
  SECTION("missing id") {
    f.edit("id = 0\nprivate_key", "private_key");
    f.expect_error({"key 'id'", "missing"});
  }
  SECTION("missing party table") {
    sm::test::write_text(f.file,
                         "id = 0\nprivate_key = \"party0.key\"\n"
                         "certificate = \"party0.crt\"\nca_certificate = \"ca.crt\"\n");
    f.expect_error({"key 'party'", "missing"});
  }
  SECTION("missing host of a party") {
    f.edit("host = \"127.0.0.1\"\nport = 7102", "port = 7102");
    f.expect_error({"key 'party[2].host'", "missing"});
  }
  SECTION("port as a string") {
    f.edit("port = 7101", "port = \"7101\"");
    f.expect_error({"key 'party[1].port'", "expected an integer, found a string"});
  }
  SECTION("own id as a string") {
    f.edit("id = 0\nprivate_key", "id = \"0\"\nprivate_key");
    f.expect_error({"key 'id'", "expected an integer, found a string"});
  }
  SECTION("timeout as a string") {
    f.edit("ca_certificate = \"ca.crt\"\n",
           "ca_certificate = \"ca.crt\"\nconnect_timeout_s = \"60\"\n");
    f.expect_error({"key 'connect_timeout_s'", "expected a number of seconds, found a string"});
  }
  SECTION("name as an integer") {
    f.edit("name = \"party1\"", "name = 1");
    f.expect_error({"key 'party[1].name'", "expected a string, found an integer"});
  }
  SECTION("empty host") {
    f.edit("host = \"127.0.0.1\"\nport = 7101", "host = \"\"\nport = 7101");
    f.expect_error({"key 'party[1].host'", "must not be empty"});
  }
  SECTION("party as a plain table") {
    sm::test::write_text(f.file,
                         "id = 0\nprivate_key = \"party0.key\"\n"
                         "certificate = \"party0.crt\"\nca_certificate = \"ca.crt\"\n"
                         "[party]\nid = 0\n");
    f.expect_error({"key 'party'", "expected an array of tables"});
  }
}

TEST_CASE("unknown keys are errors, not ignored", "[config]") {
  Fixture f;
  SECTION("top level typo") {
    f.edit("ca_certificate = \"ca.crt\"\n", "ca_certificate = \"ca.crt\"\nrecieve_timeout_s = 5\n");
    f.expect_error({"key 'recieve_timeout_s'", "unknown key", "receive_timeout_s"});
  }
  SECTION("typo inside a party entry") {
    f.edit("host = \"127.0.0.1\"\nport = 7102", "hots = \"127.0.0.1\"\nport = 7102");
    f.expect_error({"key 'party[2].hots'", "unknown key"});
  }
}

TEST_CASE("the party table must be consistent", "[config]") {
  Fixture f;
  SECTION("own id absent from the table") {
    f.edit("id = 0\nprivate_key", "id = 3\nprivate_key");
    f.expect_error({"key 'id'", "id 3 is not in the [[party]] table"});
  }
  SECTION("duplicate id") {
    f.edit("id = 2\nname", "id = 1\nname");
    f.expect_error({"key 'party[2].id'", "duplicate id 1"});
  }
  SECTION("ids not exactly 0..N-1") {
    f.edit("id = 2\nname", "id = 3\nname");
    f.expect_error({"key 'party[2].id'", "id 3 is out of range", "exactly 0..2"});
  }
  SECTION("negative id") {
    f.edit("id = 2\nname", "id = -1\nname");
    f.expect_error({"key 'party[2].id'", "id -1 is out of range"});
  }
  SECTION("duplicate name") {
    f.edit("name = \"party2\"", "name = \"party1\"");
    f.expect_error({"key 'party[2].name'", "duplicate name 'party1'"});
  }
  SECTION("duplicate host:port") {
    f.edit("port = 7102", "port = 7101");
    f.expect_error({"key 'party[2].port'", "duplicate address 127.0.0.1:7101"});
  }
  SECTION("fewer than 2 parties") {
    sm::test::write_text(f.file, sm::test::party_config(0, {7100}));
    f.expect_error({"key 'party'", "at least 2 parties are required, found 1"});
  }
  SECTION("port 0") {
    f.edit("port = 7101", "port = 0");
    f.expect_error({"key 'party[1].port'", "port 0 is out of range (1..65535)"});
  }
  SECTION("port above 65535") {
    f.edit("port = 7101", "port = 70000");
    f.expect_error({"key 'party[1].port'", "port 70000 is out of range"});
  }
  SECTION("bad fingerprint syntax") {
    f.edit("port = 7101", "port = 7101\nfingerprint = \"sha256:12:34\"");
    f.expect_error({"key 'party[1].fingerprint'", "is not a SHA-256 fingerprint"});
  }
}

TEST_CASE("bad values of optional settings", "[config]") {
  Fixture f;
  const std::string anchor = "ca_certificate = \"ca.crt\"\n";
  SECTION("zero timeout") {
    f.edit(anchor, anchor + "receive_timeout_s = 0\n");
    f.expect_error({"key 'receive_timeout_s'", "must be more than 0"});
  }
  SECTION("listen address not an IP address") {
    f.edit(anchor, anchor + "listen_address = \"localhost\"\n");
    f.expect_error({"key 'listen_address'", "is not an IP address"});
  }
  SECTION("frame limit out of range") {
    f.edit(anchor, anchor + "max_frame_mib = 0\n");
    f.expect_error({"key 'max_frame_mib'", "out of range"});
  }
}

TEST_CASE("key material must fit together and be valid now", "[config]") {
  Fixture f;
  SECTION("private key of another certificate") {
    f.edit("party0.key", "party1.key");
    f.expect_error({"key 'private_key'", "party1.key", "does not match the certificate"});
  }
  SECTION("expired certificate") {
    f.ca.issue("party0", {"party0", {"party0"}, -7200, -60});
    f.expect_error({"key 'certificate'", "party0.crt", "has expired"});
  }
  SECTION("certificate not yet valid") {
    f.ca.issue("party0", {"party0", {"party0"}, 3600, 7200});
    f.expect_error({"key 'certificate'", "party0.crt", "is not yet valid"});
  }
  SECTION("expired CA") {
    sm::test::TestCa old_ca(f.dir.path(), -7200, -60, "oldca");
    f.edit("\"ca.crt\"", "\"oldca.crt\"");
    f.expect_error({"key 'ca_certificate'", "oldca.crt", "has expired"});
  }
  SECTION("CA not yet valid") {
    sm::test::TestCa future_ca(f.dir.path(), 3600, 7200, "futureca");
    f.edit("\"ca.crt\"", "\"futureca.crt\"");
    f.expect_error({"key 'ca_certificate'", "futureca.crt", "is not yet valid"});
  }
  SECTION("CA file holding a leaf certificate") {
    f.edit("\"ca.crt\"", "\"party2.crt\"");
    f.expect_error({"key 'ca_certificate'", "party2.crt", "is not a CA certificate"});
  }
  SECTION("certificate from another CA") {
    sm::test::TestCa other(f.dir.path(), -3600, 3600, "otherca");
    f.edit("\"ca.crt\"", "\"otherca.crt\"");
    f.expect_error({"key 'certificate'", "does not verify against the CA", "otherca.crt"});
  }
  SECTION("certificate naming another party") {
    f.edit("party0.key", "party1.key");
    f.edit("party0.crt", "party1.crt");
    f.expect_error({"key 'certificate'", "party1.crt", "does not name this party 'party0'"});
  }
  SECTION("own pinned fingerprint does not match") {
    f.edit("port = 7100", "port = 7100\nfingerprint = \"" + std::string(64, '0') + "\"");
    f.expect_error({"key 'party[0].fingerprint'", "does not have the pinned fingerprint"});
  }
}

TEST_CASE("the configurations written by scripts/gen-certs.sh load", "[config]") {
  sm::test::TempDir dir;
  const std::string command =
      std::string(SM_GEN_CERTS) + " 3 '" + dir.path().string() + "' 2>/dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  for (std::size_t i = 0; i < 3; ++i) {
    const PartyConfig config =
        load_party_config(dir.path() / ("party" + std::to_string(i) + ".toml"));
    CHECK(config.tls.self == i);
    CHECK(config.name == "party" + std::to_string(i));
    CHECK(config.tls.parties.size() == 3);
  }
}
