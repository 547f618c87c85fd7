#include "tests/apps/pki.hpp"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace sm::test {

namespace fs = std::filesystem;

namespace {

EVP_PKEY* new_key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) throw std::runtime_error("EC key generation failed");
  return key;
}

void write_pem(const fs::path& file, EVP_PKEY* key, X509* cert) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(file.c_str(), "w"), &std::fclose);
  if (!out) throw std::runtime_error("cannot write " + file.string());
  const int ok = key != nullptr
                     ? PEM_write_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                     : PEM_write_X509(out.get(), cert);
  if (ok != 1) throw std::runtime_error("PEM write failed for " + file.string());
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr || X509_add_ext(cert, extension, -1) != 1) {
    throw std::runtime_error(std::string("cannot add extension ") + value);
  }
  X509_EXTENSION_free(extension);
}

X509* make_cert(EVP_PKEY* subject_key, const std::string& cn, long from, long until, X509* issuer) {
  static long serial = 1;
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), from);
  X509_gmtime_adj(X509_getm_notAfter(cert), until);
  X509_set_pubkey(cert, subject_key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  return cert;
}

void sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = (fs::path(base != nullptr ? base : "/tmp") / "sm-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

TestCa::TestCa(fs::path folder, long valid_from_s, long valid_until_s, const std::string& stem)
    : folder_(std::move(folder)) {
  EVP_PKEY* key = new_key();
  X509* cert = make_cert(key, "SecretMesh test CA", valid_from_s, valid_until_s, nullptr);
  add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert, cert, NID_subject_key_identifier, "hash");
  sign(cert, key);
  write_pem(folder_ / (stem + ".key"), key, nullptr);
  write_pem(folder_ / (stem + ".crt"), nullptr, cert);
  key_ = key;
  cert_ = cert;
}

TestCa::~TestCa() {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(key_));
  X509_free(static_cast<X509*>(cert_));
}

void TestCa::issue(const std::string& stem, const CertSpec& spec) const {
  auto* ca_cert = static_cast<X509*>(cert_);
  auto* ca_key = static_cast<EVP_PKEY*>(key_);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(new_key(), &EVP_PKEY_free);
  std::unique_ptr<X509, void (*)(X509*)> cert(
      make_cert(key.get(), spec.common_name, spec.valid_from_s, spec.valid_until_s, ca_cert),
      &X509_free);
  add_extension(cert.get(), ca_cert, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), ca_cert, NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), ca_cert, NID_ext_key_usage, "serverAuth,clientAuth");
  if (!spec.dns_names.empty()) {
    std::string sans;
    for (const auto& name : spec.dns_names) sans += (sans.empty() ? "DNS:" : ",DNS:") + name;
    add_extension(cert.get(), ca_cert, NID_subject_alt_name, sans.c_str());
  }
  sign(cert.get(), ca_key);
  write_pem(folder_ / (stem + ".key"), key.get(), nullptr);
  write_pem(folder_ / (stem + ".crt"), nullptr, cert.get());
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string party_config(std::size_t self, const std::vector<std::uint16_t>& ports,
                         const std::string& extra_top_level) {
  std::ostringstream out;
  out << "id = " << self << "\n"
      << "private_key = \"party" << self << ".key\"\n"
      << "certificate = \"party" << self << ".crt\"\n"
      << "ca_certificate = \"ca.crt\"\n"
      << extra_top_level;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    out << "\n[[party]]\n"
        << "id = " << i << "\n"
        << "name = \"party" << i << "\"\n"
        << "host = \"127.0.0.1\"\n"
        << "port = " << ports[i] << "\n";
  }
  return out.str();
}

}  // namespace sm::test
