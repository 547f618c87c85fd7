#include <algorithm>
#include "apps/config.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <toml++/toml.h>
#include <boost/asio/ip/address.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>

#include "net/errors.hpp"

namespace sm::app {

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kMaxTimeoutSeconds = 7 * 24 * 3600;
constexpr std::int64_t kMaxFrameMib = 4095;  // frames carry a 32-bit length

const std::set<std::string, std::less<>> kTopKeys = {"id",
                                                     "private_key",
                                                     "certificate",
                                                     "ca_certificate",
                                                     "connect_timeout_s",
                                                     "receive_timeout_s",
                                                     "listen_address",
                                                     "max_frame_mib",
                                                     "party"};
const std::set<std::string, std::less<>> kPartyKeys = {"id",   "name",        "host",
                                                        "port", "fingerprint", "role"};

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// Reads a whole file; on failure returns nullopt and sets `problem`.
std::optional<std::string> read_file(const fs::path& path, std::string& problem) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    problem = "is a directory";
    return std::nullopt;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    problem = std::strerror(errno);
    return std::nullopt;
  }
  std::string content;
  char buffer[8192];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    content.append(buffer, count);
  }
  if (std::ferror(file.get())) {
    problem = std::strerror(errno);
    return std::nullopt;
  }
  return content;
}

std::string asn1_time_text(const ASN1_TIME* time) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), time) != 1) return "?";
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

// Validates one TOML document and builds the configuration. Every failure goes through fail(),
// which names the file, the key and, where known, the line.
class Loader {
 public:
  explicit Loader(fs::path file) : file_(std::move(file)) {}

  PartyConfig load() {
    std::string problem;
    const auto text = read_file(file_, problem);
    if (!text) {
      throw ConfigError(file_.string() + ": cannot read configuration file: " + problem);
    }
    toml::table root;
    try {
      root = toml::parse(*text, file_.string());
    } catch (const toml::parse_error& e) {
      const auto& begin = e.source().begin;
      throw ConfigError(file_.string() + ":" + std::to_string(begin.line) + ":" +
                        std::to_string(begin.column) +
                        ": TOML syntax error: " + std::string(e.description()));
    }

    reject_unknown_keys(root, kTopKeys, "");
    PartyConfig config;
    config.file = file_;
    net::TlsConfig& tls = config.tls;
    const std::int64_t self = integer(root, "id", "", true).value();
    tls.private_key = path(root, "private_key");
    tls.certificate = path(root, "certificate");
    tls.ca_certificate = path(root, "ca_certificate");
    if (auto seconds = timeout(root, "connect_timeout_s")) tls.connect_timeout = *seconds;
    if (auto seconds = timeout(root, "receive_timeout_s")) tls.receive_timeout = *seconds;
    if (const toml::node* node = root.get("listen_address")) {
      tls.listen_address = string(*node, "listen_address");
      boost::system::error_code ec;
      boost::asio::ip::make_address(tls.listen_address, ec);
      if (ec) fail("listen_address", node, "'" + tls.listen_address + "' is not an IP address");
    }
    if (auto mib = integer(root, "max_frame_mib", "", false)) {
      if (*mib < 1 || *mib > kMaxFrameMib) {
        fail("max_frame_mib", root.get("max_frame_mib"),
             std::to_string(*mib) + " is out of range (1.." + std::to_string(kMaxFrameMib) + ")");
      }
      tls.max_frame_bytes = static_cast<std::size_t>(*mib) << 20;
    }

    tls.parties = parties(root);
    if (self < 0 || static_cast<std::size_t>(self) >= tls.parties.size()) {
      fail("id", root.get("id"),
           "this party's id " + std::to_string(self) + " is not in the [[party]] table (ids 0.." +
               std::to_string(tls.parties.size() - 1) + ")");
    }
    tls.self = static_cast<net::PartyId>(self);
    config.name = tls.parties[tls.self].name;
    config.dealer = dealer(root);

    check_key_material(root, tls);
    return config;
  }

 private:
  [[noreturn]] void fail(std::string_view key, const toml::node* at,
                         const std::string& problem) const {
    std::string where = file_.string();
    if (at != nullptr && at->source().begin.line > 0) {
      where += ":" + std::to_string(at->source().begin.line);
    }
    throw ConfigError(where + ": key '" + std::string(key) + "': " + problem);
  }

  void reject_unknown_keys(const toml::table& table,
                           const std::set<std::string, std::less<>>& known,
                           const std::string& prefix) const {
    for (const auto& [key, node] : table) {
      if (!known.contains(key.str())) {
        std::string list;
        for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
        fail(prefix + std::string(key.str()), &node, "unknown key (known keys: " + list + ")");
      }
    }
  }

  std::optional<std::int64_t> integer(const toml::table& table, std::string_view key,
                                      const std::string& prefix, bool required) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      if (required) fail(prefix + std::string(key), nullptr, "missing (an integer is required)");
      return std::nullopt;
    }
    if (!node->is_integer()) {
      fail(prefix + std::string(key), node, "expected an integer, found " + type_name(*node));
    }
    return node->as_integer()->get();
  }

  std::string string(const toml::node& node, const std::string& key) const {
    if (!node.is_string()) fail(key, &node, "expected a string, found " + type_name(node));
    std::string value = node.as_string()->get();
    if (value.empty()) fail(key, &node, "must not be empty");
    return value;
  }

  std::string required_string(const toml::table& table, std::string_view key,
                              const std::string& prefix) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) fail(prefix + std::string(key), nullptr, "missing (a string is required)");
    return string(*node, prefix + std::string(key));
  }

  // A path, resolved against the folder of the configuration file.
  fs::path path(const toml::table& table, std::string_view key) const {
    const fs::path value = required_string(table, key, "");
    if (value.is_absolute()) return value;
    return (file_.parent_path() / value).lexically_normal();
  }

  std::optional<std::chrono::milliseconds> timeout(const toml::table& table,
                                                   std::string_view key) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return std::nullopt;
    double seconds = 0;
    if (node->is_integer()) {
      seconds = static_cast<double>(node->as_integer()->get());
    } else if (node->is_floating_point()) {
      seconds = node->as_floating_point()->get();
    } else {
      fail(key, node, "expected a number of seconds, found " + type_name(*node));
    }
    if (!(seconds > 0) || seconds > static_cast<double>(kMaxTimeoutSeconds)) {
      fail(key, node,
           "must be more than 0 and at most " + std::to_string(kMaxTimeoutSeconds) + " seconds");
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000 + 0.5));
  }

  // The id of the party whose role is "dealer", if any; every other party computes, and at
  // least 2 must. Runs after parties(), which checked the table's shape.
  std::optional<net::PartyId> dealer(const toml::table& root) const {
    const toml::array& array = *root.get("party")->as_array();
    std::optional<net::PartyId> found;
    for (std::size_t index = 0; index < array.size(); ++index) {
      const toml::table& table = *array.get(index)->as_table();
      const toml::node* role = table.get("role");
      if (role == nullptr) continue;
      const std::string prefix = "party[" + std::to_string(index) + "].";
      const std::string text = string(*role, prefix + "role");
      if (text == "compute") continue;
      if (text != "dealer") {
        fail(prefix + "role", role, "'" + text + "' is not a role (compute or dealer)");
      }
      if (found) fail(prefix + "role", role, "a second dealer; at most one party is the dealer");
      found = static_cast<net::PartyId>(integer(table, "id", prefix, true).value());
      if (*found != array.size() - 1) {
        fail(prefix + "role", role,
             "the dealer must have the highest id (" + std::to_string(array.size() - 1) +
                 "), so that the computing parties are numbered 0.." +
                 std::to_string(array.size() - 2) + " with or without it");
      }
    }
    if (found && array.size() < 3) {
      fail("party", root.get("party"), "with a dealer, at least 2 computing parties are required");
    }
    return found;
  }

  std::vector<net::PartyEntry> parties(const toml::table& root) const {
    const toml::node* node = root.get("party");
    if (node == nullptr) {
      fail("party", nullptr, "missing (a [[party]] entry is required for every party)");
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      fail("party", node, "expected an array of tables ([[party]]), found " + type_name(*node));
    }
    if (array->size() < 2) {
      fail("party", node,
           "at least 2 parties are required, found " + std::to_string(array->size()));
    }
    const std::size_t n = array->size();
    std::vector<std::optional<net::PartyEntry>> by_id(n);
    std::map<std::string, std::size_t> names;
    std::map<std::string, std::size_t> endpoints;
    for (std::size_t index = 0; index < n; ++index) {
      const std::string prefix = "party[" + std::to_string(index) + "].";
      const toml::node& entry_node = *array->get(index);
      const toml::table* table = entry_node.as_table();
      if (table == nullptr) {
        fail("party[" + std::to_string(index) + "]", &entry_node,
             "expected a table, found " + type_name(entry_node));
      }
      reject_unknown_keys(*table, kPartyKeys, prefix);

      const std::int64_t id = integer(*table, "id", prefix, true).value();
      if (id < 0 || static_cast<std::size_t>(id) >= n) {
        fail(prefix + "id", table->get("id"),
             "id " + std::to_string(id) + " is out of range: with " + std::to_string(n) +
                 " parties the ids must be exactly 0.." + std::to_string(n - 1));
      }
      if (by_id[static_cast<std::size_t>(id)]) {
        fail(prefix + "id", table->get("id"), "duplicate id " + std::to_string(id));
      }
      net::PartyEntry entry;
      entry.id = static_cast<net::PartyId>(id);
      entry.name = required_string(*table, "name", prefix);
      if (!names.emplace(entry.name, index).second) {
        fail(prefix + "name", table->get("name"),
             "duplicate name '" + entry.name + "' (also party[" +
                 std::to_string(names[entry.name]) + "])");
      }
      entry.host = required_string(*table, "host", prefix);
      const std::int64_t port = integer(*table, "port", prefix, true).value();
      if (port < 1 || port > 65535) {
        fail(prefix + "port", table->get("port"),
             "port " + std::to_string(port) + " is out of range (1..65535)");
      }
      entry.port = static_cast<std::uint16_t>(port);
      const std::string endpoint = entry.host + ":" + std::to_string(port);
      if (!endpoints.emplace(endpoint, index).second) {
        fail(prefix + "port", table->get("port"),
             "duplicate address " + endpoint + " (also party[" +
                 std::to_string(endpoints[endpoint]) + "])");
      }
      if (const toml::node* pin = table->get("fingerprint")) {
        const std::string text = string(*pin, prefix + "fingerprint");
        std::array<std::uint8_t, 32> digest{};
        if (!parse_fingerprint(text, digest)) {
          fail(prefix + "fingerprint", pin,
               "'" + text +
                   "' is not a SHA-256 fingerprint (64 hex digits, optionally prefixed by "
                   "'sha256:' and with ':' between bytes)");
        }
        entry.fingerprint = digest;
      }
      by_id[entry.id] = std::move(entry);
    }
    std::vector<net::PartyEntry> result;
    result.reserve(n);
    for (auto& entry : by_id) result.push_back(std::move(*entry));
    return result;
  }

  // Loads a PEM file through `reader` (a PEM_read_bio_* function).
  template <class T, class Reader>
  T* load_pem(const toml::table& root, std::string_view key, const fs::path& path, Reader reader,
              std::string_view what) const {
    std::string problem;
    const auto content = read_file(path, problem);
    if (!content) fail(key, root.get(key), "cannot read " + path.string() + ": " + problem);
    BioPtr bio(BIO_new_mem_buf(content->data(), static_cast<int>(content->size())));
    // A failing passphrase callback: never prompt on the terminal for an encrypted key.
    pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
    T* object = bio ? reader(bio.get(), nullptr, no_passphrase, nullptr) : nullptr;
    if (object == nullptr) {
      fail(key, root.get(key), path.string() + " does not hold " + std::string(what));
    }
    return object;
  }

  void check_validity(const toml::table& root, std::string_view key, const fs::path& path,
                      X509* cert) const {
    if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
      fail(key, root.get(key),
           "certificate " + path.string() + " is not yet valid (valid from " +
               asn1_time_text(X509_get0_notBefore(cert)) + ")");
    }
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
      fail(key, root.get(key),
           "certificate " + path.string() + " has expired (valid until " +
               asn1_time_text(X509_get0_notAfter(cert)) + ")");
    }
  }

  void check_key_material(const toml::table& root, const net::TlsConfig& tls) const {
    const net::PartyEntry& own = tls.parties[tls.self];
    KeyPtr key(load_pem<EVP_PKEY>(root, "private_key", tls.private_key, &PEM_read_bio_PrivateKey,
                                  "an unencrypted PEM private key"));
    X509Ptr cert(load_pem<X509>(root, "certificate", tls.certificate, &PEM_read_bio_X509,
                                "a PEM certificate"));
    X509Ptr ca(load_pem<X509>(root, "ca_certificate", tls.ca_certificate, &PEM_read_bio_X509,
                              "a PEM certificate"));

    check_validity(root, "ca_certificate", tls.ca_certificate, ca.get());
    if (X509_check_ca(ca.get()) == 0) {
      fail("ca_certificate", root.get("ca_certificate"),
           tls.ca_certificate.string() + " is not a CA certificate");
    }
    check_validity(root, "certificate", tls.certificate, cert.get());
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
      fail(
          "private_key", root.get("private_key"),
          tls.private_key.string() + " does not match the certificate " + tls.certificate.string());
    }
    if (!names_party(cert.get(), own.name)) {
      fail("certificate", root.get("certificate"),
           "certificate " + tls.certificate.string() + " does not name this party '" + own.name +
               "' (neither its CN nor a DNS subject alternative name is '" + own.name + "')");
    }
    check_chain(root, tls, cert.get(), ca.get());
    if (own.fingerprint) {
      std::array<std::uint8_t, 32> digest{};
      unsigned int length = 0;
      if (X509_digest(cert.get(), EVP_sha256(), digest.data(), &length) != 1 ||
          digest != *own.fingerprint) {
        fail("party[" + std::to_string(tls.self) + "].fingerprint", nullptr,
             "this party's own certificate " + tls.certificate.string() +
                 " does not have the pinned fingerprint");
      }
    }
  }

  void check_chain(const toml::table& root, const net::TlsConfig& tls, X509* cert, X509* ca) const {
    std::unique_ptr<X509_STORE, void (*)(X509_STORE*)> store(X509_STORE_new(), &X509_STORE_free);
    std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> context(X509_STORE_CTX_new(),
                                                                       &X509_STORE_CTX_free);
    if (!store || !context || X509_STORE_add_cert(store.get(), ca) != 1 ||
        X509_STORE_CTX_init(context.get(), store.get(), cert, nullptr) != 1) {
      throw std::runtime_error("OpenSSL could not set up certificate verification");
    }
    if (X509_verify_cert(context.get()) != 1) {
      fail("certificate", root.get("certificate"),
           "certificate " + tls.certificate.string() + " does not verify against the CA " +
               tls.ca_certificate.string() + ": " +
               X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get())));
    }
  }

  // True if the certificate's CN or one of its DNS subject alternative names equals `name`.
  static bool names_party(X509* cert, const std::string& name) {
    const X509_NAME* subject = X509_get_subject_name(cert);
    for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
      const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
      const std::string_view cn(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                                static_cast<std::size_t>(ASN1_STRING_length(value)));
      if (cn == name) return true;
    }
    auto* sans =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    bool found = false;
    for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans) && !found; ++i) {
      const GENERAL_NAME* general = sk_GENERAL_NAME_value(sans, i);
      if (general->type != GEN_DNS) continue;
      const ASN1_STRING* value = general->d.dNSName;
      found = std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                               static_cast<std::size_t>(ASN1_STRING_length(value))) == name;
    }
    GENERAL_NAMES_free(sans);
    return found;
  }

  fs::path file_;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::vector<net::PartyId> parse_party_list(const PartyConfig& config, std::string_view list,
                                           std::string_view option) {
  std::vector<net::PartyId> parties;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string item(list.substr(start, comma - start));
    start = comma + 1;
    const auto it = std::find_if(config.tls.parties.begin(), config.tls.parties.end(),
                                 [&](const net::PartyEntry& party) {
                                   return party.name == item || std::to_string(party.id) == item;
                                 });
    if (it == config.tls.parties.end()) {
      throw ConfigError(std::string(option) + ": no party named or numbered '" + item + "'");
    }
    if (std::find(parties.begin(), parties.end(), it->id) != parties.end()) {
      throw ConfigError(std::string(option) + " names party '" + item + "' twice");
    }
    parties.push_back(it->id);
  }
  return parties;
}

OutputParties output_parties(const PartyConfig& config, std::string_view list) {
  OutputParties outputs;
  if (list.empty()) {
    outputs.text = "all";
    return outputs;
  }
  outputs.ids = parse_party_list(config, list, "--output-to");
  outputs.includes_self =
      std::find(outputs.ids.begin(), outputs.ids.end(), config.tls.self) != outputs.ids.end();
  for (net::PartyId id : outputs.ids) {
    outputs.text += (outputs.text.empty() ? "" : ",") + std::to_string(id);
  }
  return outputs;
}

bool parse_fingerprint(std::string_view text, std::array<std::uint8_t, 32>& out) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.size() >= kPrefix.size()) {
    std::string head(text.substr(0, kPrefix.size()));
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (head == kPrefix) text.remove_prefix(kPrefix.size());
  }
  const bool colons = text.find(':') != std::string_view::npos;
  const std::size_t expected = colons ? 32 * 3 - 1 : 64;
  if (text.size() != expected) return false;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    if (colons && i > 0 && text[pos++] != ':') return false;
    const int high = hex_value(text[pos++]);
    const int low = hex_value(text[pos++]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return true;
}

PartyConfig load_party_config(const std::filesystem::path& file) { return Loader(file).load(); }

}  // namespace sm::app
