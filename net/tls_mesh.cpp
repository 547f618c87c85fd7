#include "net/tls_mesh.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <thread>
#include <utility>  // before Boost.Asio: its C++20 awaitable.hpp uses std::exchange

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "net/errors.hpp"
#include "net/tls_channel.hpp"
#include "net/wire.hpp"

namespace sm::net {

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

constexpr std::uint32_t kMagic = 0x31464d53;  // "SMF1" in little-endian byte order
constexpr std::size_t kHeaderBytes = 24;      // magic u32, kind u32, sequence u64, length u64
constexpr std::uint32_t kWireVersion = 1;
constexpr std::size_t kControlLimit = 4096;    // largest hello, welcome or abort payload
constexpr std::size_t kSmallFrame = 64 << 10;  // payloads up to this size are sent with the header
constexpr std::size_t kChunk = 8 << 20;        // large payloads move in chunks: progress markers
constexpr std::size_t kPiece = 1 << 20;        // received data arrives in pieces of this size
constexpr std::size_t kSparePieces = 16;       // piece buffers kept for reuse
constexpr std::size_t kAbortReasonLimit = 1000;
constexpr auto kHandshakeTimeout = std::chrono::milliseconds(10000);
constexpr auto kFirstRetry = std::chrono::milliseconds(50);
constexpr auto kMaxRetry = std::chrono::milliseconds(1000);
constexpr auto kLinger = std::chrono::seconds(2);
constexpr auto kShutdownTimeout = std::chrono::seconds(1);
constexpr auto kAbortTimeout = std::chrono::milliseconds(500);

enum class Kind : std::uint32_t { kHello = 1, kWelcome = 2, kData = 3, kBye = 4, kAbort = 5 };

using Header = std::array<std::uint8_t, kHeaderBytes>;

Header encode_header(Kind kind, std::uint64_t seq, std::uint64_t length) {
  Header header{};
  auto put = [&](std::size_t offset, std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i)
      header[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
  };
  put(0, kMagic, 4);
  put(4, static_cast<std::uint32_t>(kind), 4);
  put(8, seq, 8);
  put(16, length, 8);
  return header;
}

std::uint64_t get_le(const Header& header, std::size_t offset, int width) {
  std::uint64_t value = 0;
  for (int i = 0; i < width; ++i) value |= std::uint64_t{header[offset + i]} << (8 * i);
  return value;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kHello:
      return "hello";
    case Kind::kWelcome:
      return "welcome";
    case Kind::kData:
      return "data";
    case Kind::kBye:
      return "bye";
    case Kind::kAbort:
      return "abort";
  }
  return "unknown";
}

std::string format_duration(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + " s";
  return std::to_string(duration.count()) + " ms";
}

// Text a peer sent, made safe to print.
std::string printable(ByteView bytes) {
  std::string text;
  for (std::uint8_t byte : bytes.first(std::min(bytes.size(), kAbortReasonLimit))) {
    text.push_back(byte >= 0x20 && byte < 0x7f ? static_cast<char>(byte) : '?');
  }
  return text;
}

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

std::string io_error_text(const ErrorCode& ec) {
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return "the connection ended without a goodbye";
  }
  if (ec == asio::error::connection_reset) return "connection reset";
  return ec.message();
}

// The CN entries and DNS subject alternative names of a certificate, exactly as encoded.
std::vector<std::string> certificate_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type != GEN_DNS) continue;
      const ASN1_STRING* text = name->d.dNSName;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                         static_cast<std::size_t>(ASN1_STRING_length(text)));
    }
    GENERAL_NAMES_free(sans);
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); index >= 0;
       index = X509_NAME_get_index_by_NID(subject, NID_commonName, index)) {
    unsigned char* utf8 = nullptr;
    const int length =
        ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
    if (length < 0) continue;
    names.emplace_back(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
    OPENSSL_free(utf8);
  }
  return names;
}

std::string list_names(const std::vector<std::string>& names) {
  if (names.empty()) return "no name";
  std::string text;
  for (const auto& name : names)
    text += (text.empty() ? "'" : ", '") +
            printable({reinterpret_cast<const std::uint8_t*>(name.data()), name.size()}) + "'";
  return text;
}

std::string hex_fingerprint(const std::array<std::uint8_t, 32>& digest) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string text = "sha256:";
  for (std::size_t i = 0; i < digest.size(); ++i) {
    if (i > 0) text.push_back(':');
    text.push_back(kHex[digest[i] >> 4]);
    text.push_back(kHex[digest[i] & 15]);
  }
  return text;
}

std::array<std::uint8_t, 32> certificate_fingerprint(X509* cert) {
  std::array<std::uint8_t, 32> digest{};
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest.data(), &length) != 1 || length != digest.size()) {
    throw NetError("cannot compute a certificate fingerprint: " + openssl_error());
  }
  return digest;
}

std::vector<std::string> party_names(const TlsConfig& config) {
  if (config.parties.size() < 2) throw ConfigError("the party table needs at least 2 parties");
  if (config.self >= config.parties.size()) {
    throw ConfigError("own id " + std::to_string(config.self) + " is not in the party table");
  }
  std::vector<std::string> names;
  for (std::size_t i = 0; i < config.parties.size(); ++i) {
    const auto& entry = config.parties[i];
    if (entry.id != i)
      throw ConfigError("party table entry " + std::to_string(i) + " has id " +
                        std::to_string(entry.id));
    if (entry.name.empty()) throw ConfigError("party " + std::to_string(i) + " has no name");
    if (std::find(names.begin(), names.end(), entry.name) != names.end()) {
      throw ConfigError("party name '" + entry.name + "' appears twice in the party table");
    }
    names.push_back(entry.name);
  }
  return names;
}

}  // namespace

// One TCP+TLS connection: first an attempt (handshake and hello), then an established channel.
struct Conn {
  Conn(asio::io_context& io, ssl::context& ctx)
      : channel(std::make_shared<TlsChannel>(io, ctx.native_handle())), timer(io) {}

  struct Write {
    Bytes owned;    // the header, followed by the payload when it is small
    ByteView data;  // a large payload, sent after `owned` without copying
    ByteView tail;  // the rest of a large payload that lies in two places (Outgoing::tail)
    // For a message being produced (Mesh::send_produced): how many bytes of `data` are written
    // and may leave; nullptr when all are.
    const std::size_t* ready = nullptr;
    std::function<void(const ErrorCode&)> done;
  };

  std::shared_ptr<TlsChannel> channel;
  asio::steady_timer timer;     // handshake deadline, then linger and shutdown deadlines
  std::string remote;           // "address:port"
  std::optional<PartyId> peer;  // the party dialed, or the one the certificate names
  std::string refusal;          // why our verify callback refused the peer's certificate
  bool timed_out = false;
  bool established = false;
  bool closed = false;
  bool closing = false;  // close(): bye queued

  Header read_header{};
  Kind read_kind = Kind::kData;
  Bytes read_payload;   // a control frame's payload
  Bytes read_piece;     // the piece of a data frame being decrypted
  bool filing = false;  // the data frame being read goes to the peer's inbox (else it is dropped)
  std::uint64_t read_seq = 0;
  bool reading = false;
  bool bye_received = false;

  std::deque<Write> writes;
  bool writing = false;
  std::uint64_t write_seq = 0;
  bool bye_sent = false;
  // The front write has sent all of its produced bytes and waits for more (resume_write).
  bool parked = false;
  std::size_t parked_offset = 0;
};

// A data message from a peer, filed piece by piece as it arrives. A message of up to kPiece
// bytes is one piece of its exact size; a larger one arrives in reused buffers of kPiece bytes.
struct Incoming {
  std::uint64_t size = 0;     // announced length
  std::uint64_t arrived = 0;  // bytes filed so far
  std::deque<Bytes> pieces;   // filed and not yet taken by the caller
  bool complete() const { return arrived == size; }
};

// The mesh's state and I/O. It has no thread of its own: every function below runs on the
// caller's thread, the socket work as Boost.Asio handlers run from the calls that wait (see
// run_io_until), so nothing here needs a lock.
class TlsMesh::Engine {
 public:
  Engine(const TlsConfig& config, sm::Logger& log, const Mesh& mesh);
  ~Engine();

  void establish();
  // One round (see Mesh::round). When `tolerant`, a peer that is gone, leaves or stays silent
  // yields nullopt instead of failing the run, and from then on the failure of a peer no longer
  // tears the mesh down: only rounds that need that peer fail (see TlsMesh::transfer_tolerant).
  std::vector<std::optional<Bytes>> transfer(std::span<const Outgoing> sends,
                                             std::span<const PartyId> receive_from,
                                             std::string_view step, bool tolerant);
  // One ordinary round whose messages go to `sink` piece by piece (see Mesh::round_streamed).
  std::vector<std::size_t> transfer_streamed(std::span<const Outgoing> sends,
                                             std::span<const PartyId> receive_from,
                                             std::span<const std::size_t> expected_bytes,
                                             std::string_view step, const PieceSink& sink);
  // One produced send (see Mesh::send_produced).
  void transfer_produced(PartyId to, std::span<std::uint8_t> buffer, std::string_view step,
                         const PieceSource& produce);
  void close();
  void expect_dropouts() { tolerant_ = true; }

 private:
  // How a round hands over its messages: whole (nullptr) or streamed to a sink.
  struct Streaming {
    std::span<const std::size_t> expected_bytes;
    const PieceSink* sink;
  };
  // The one message of a round that the caller produces while it is sent.
  struct Production {
    std::span<std::uint8_t> buffer;
    const PieceSource* produce;
    std::size_t* ready;  // the bytes produced so far (Conn::Write::ready)
  };
  struct PeerState {
    std::deque<Incoming> inbox;
    bool connected = false;
    bool bye = false;
    std::optional<std::string> gone;  // why the peer dropped out (dropout-tolerant runs only)
    std::size_t writes_pending = 0;
    Clock::time_point rx_activity{};
    Clock::time_point tx_activity{};
  };
  // The first failure; `peer` is set when a peer caused it (the message then names the step).
  struct Failure {
    std::optional<PartyId> peer;
    std::string detail;
  };
  using ReadDone = std::function<void(const ErrorCode&, const std::string& malformed)>;
  using WriteDone = std::function<void(const ErrorCode&)>;

  void load_credentials();
  void listen();
  std::chrono::milliseconds handshake_timeout() const;

  // Runs the I/O on the caller's thread: waits for socket events, timers and queued completions
  // until at least one handler has run or `deadline` has passed. Returns false when nothing at
  // all is pending (no read, write, timer or lookup), so that only time can change the state. An
  // exception from a handler fails the run, as a peer's failure would.
  bool run_io_until(Clock::time_point deadline);
  // Runs the I/O until `done()` holds, `deadline` passes or nothing is pending.
  template <typename Done>
  void run_io_while_not(const Done& done, Clock::time_point deadline);

  // Handlers.
  std::shared_ptr<Conn> make_conn();
  void accept_next();
  void on_accepted(const std::shared_ptr<Conn>& conn);
  void on_server_handshake(const std::shared_ptr<Conn>& conn);
  void on_hello(const std::shared_ptr<Conn>& conn, PartyId peer);
  void refuse(const std::shared_ptr<Conn>& conn, const std::string& reason);
  void dial(PartyId peer);
  void on_dialed(const std::shared_ptr<Conn>& conn);
  void on_welcome(const std::shared_ptr<Conn>& conn);
  void dial_failed(const std::shared_ptr<Conn>& conn, const std::string& reason, bool warn);
  bool verify_peer(Conn& conn, bool preverified, X509_STORE_CTX* store);
  std::optional<std::string> check_fingerprint(Conn& conn, PartyId peer);
  std::string handshake_failure(const Conn& conn, const ErrorCode& ec) const;
  void arm_handshake_timer(const std::shared_ptr<Conn>& conn);
  void register_link(const std::shared_ptr<Conn>& conn, PartyId peer);
  void read_frame(const std::shared_ptr<Conn>& conn, ReadDone done);
  void read_payload(const std::shared_ptr<Conn>& conn, std::size_t offset, ReadDone done);
  void read_data(const std::shared_ptr<Conn>& conn, std::uint64_t length, ReadDone done);
  void read_data_piece(const std::shared_ptr<Conn>& conn, std::uint64_t length,
                       std::uint64_t offset, ReadDone done);
  void read_next(const std::shared_ptr<Conn>& conn);
  void on_frame(const std::shared_ptr<Conn>& conn, const ErrorCode& ec,
                const std::string& malformed);
  // The payload is `payload` followed by `tail`. `ready`: see Conn::Write; a produced payload
  // (which has no tail) always takes the large-payload path.
  void enqueue(const std::shared_ptr<Conn>& conn, Kind kind, ByteView payload, WriteDone done,
               const std::size_t* ready = nullptr, ByteView tail = {});
  void start_write(const std::shared_ptr<Conn>& conn);
  void write_body(const std::shared_ptr<Conn>& conn, std::size_t offset, const ErrorCode& ec);
  void send_data(const Outgoing& message, const std::size_t* ready);
  void resume_write(PartyId peer);
  // Whether the produced message to `peer` has left up to the bytes produced so far.
  bool caught_up(PartyId peer) const;
  void on_data_written(PartyId peer, const ErrorCode& ec);
  void note_activity(const Conn& conn, bool received);
  void peer_failed(PartyId peer, const std::string& detail);
  void teardown(const std::string& reason);
  void goodbye_all();
  void maybe_finish(const std::shared_ptr<Conn>& conn);
  void close_conn(const std::shared_ptr<Conn>& conn);

  // A buffer for the next piece of a data message of `length` bytes, and the return of a
  // consumed piece.
  Bytes take_piece(std::uint64_t length, std::size_t size);
  void release_piece(Bytes piece);

  // The common loop of transfer(), transfer_streamed() and transfer_produced(): whole messages
  // come back (as Incoming, each in one piece) unless `streaming` is set, when each message goes
  // to the sink and only its length comes back. With `production`, sends[0] is the produced
  // message: each piece is produced once the one before it has left.
  std::vector<std::optional<Incoming>> exchange(std::span<const Outgoing> sends,
                                                std::span<const PartyId> receive_from,
                                                std::string_view step, bool tolerant,
                                                const Streaming* streaming,
                                                const Production* production = nullptr);
  // Ends the run as fail() does, without throwing.
  void abandon(const std::string& message);
  [[noreturn]] void fail(const std::string& message);
  std::string failure_message(const Failure& failure, std::string_view step) const;
  void stop_io();

  const TlsConfig config_;
  sm::Logger& log_;
  const Mesh& mesh_;

  asio::io_context io_;  // first: destroyed after every I/O object below
  ssl::context ctx_;
  tcp::acceptor acceptor_;

  std::vector<std::shared_ptr<Conn>> links_;  // by PartyId
  std::set<std::shared_ptr<Conn>> attempts_;
  std::vector<std::unique_ptr<asio::steady_timer>> retry_timers_;
  std::vector<std::chrono::milliseconds> backoff_;
  bool tearing_down_ = false;
  bool closing_all_ = false;

  std::vector<PeerState> peers_;
  std::vector<std::string> last_dial_error_;
  std::size_t connected_ = 0;
  std::size_t open_links_ = 0;
  std::optional<Failure> failure_;
  std::vector<Bytes> spare_pieces_;  // consumed piece buffers (kPiece bytes), for reuse
  bool tolerant_ = false;  // set by the first tolerant round or expect_dropouts(); a peer failure
                           // then drops it
  std::string final_message_;  // the error already thrown to the caller
  bool closed_ = false;
};

TlsMesh::Engine::Engine(const TlsConfig& config, sm::Logger& log, const Mesh& mesh)
    : config_(config),
      log_(log),
      mesh_(mesh),
      io_(1),  // run by one thread at a time: Asio may skip some of its cross-thread wake-ups
      ctx_(ssl::context::tls),
      acceptor_(io_),
      links_(config.parties.size()),
      peers_(config.parties.size()),
      last_dial_error_(config.parties.size(), "no attempt finished yet") {
  load_credentials();
  listen();
  for (std::size_t i = 0; i < config_.parties.size(); ++i) {
    retry_timers_.push_back(std::make_unique<asio::steady_timer>(io_));
  }
  backoff_.assign(config_.parties.size(), kFirstRetry);
}

TlsMesh::Engine::~Engine() { close(); }

void TlsMesh::Engine::load_credentials() {
  SSL_CTX* native = ctx_.native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION);
  SSL_CTX_clear_mode(native, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_num_tickets(native, 0);
  if (SSL_CTX_set_ciphersuites(
          native, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") !=
      1) {
    throw NetError("cannot configure the TLS 1.3 cipher suites: " + openssl_error());
  }
  const auto check_file = [](const std::filesystem::path& path, const char* what) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      throw ConfigError("cannot read the " + std::string(what) + " file " + path.string() +
                        ": no such file");
    }
  };
  check_file(config_.certificate, "certificate");
  check_file(config_.private_key, "private key");
  check_file(config_.ca_certificate, "CA certificate");
  if (SSL_CTX_use_certificate_chain_file(native, config_.certificate.c_str()) != 1) {
    throw ConfigError("cannot load the certificate file " + config_.certificate.string() + ": " +
                      openssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(native, config_.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw ConfigError("cannot load the private key file " + config_.private_key.string() + ": " +
                      openssl_error());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw ConfigError("the private key file " + config_.private_key.string() +
                      " does not match the certificate file " + config_.certificate.string());
  }
  if (SSL_CTX_load_verify_locations(native, config_.ca_certificate.c_str(), nullptr) != 1) {
    throw ConfigError("cannot load the CA certificate file " + config_.ca_certificate.string() +
                      ": " + openssl_error());
  }
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
}

void TlsMesh::Engine::listen() {
  const auto& own = config_.parties[config_.self];
  const std::string where = config_.listen_address + ":" + std::to_string(own.port);
  ErrorCode ec;
  const auto address = asio::ip::make_address(config_.listen_address, ec);
  if (ec) throw ConfigError("listen address '" + config_.listen_address + "' is not an IP address");
  const tcp::endpoint endpoint(address, own.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw NetError("cannot listen on " + where + ": " + ec.message());
}

std::chrono::milliseconds TlsMesh::Engine::handshake_timeout() const {
  return std::min<std::chrono::milliseconds>(kHandshakeTimeout, config_.connect_timeout);
}

void TlsMesh::Engine::establish() {
  const auto deadline = Clock::now() + config_.connect_timeout;
  if (config_.self + 1 < config_.parties.size()) {
    accept_next();
  } else {
    acceptor_.close();
  }
  for (PartyId peer = 0; peer < config_.self; ++peer) dial(peer);
  log_.info("listening on " + config_.listen_address + ":" +
            std::to_string(config_.parties[config_.self].port) + ", connecting to " +
            std::to_string(config_.parties.size() - 1) + " parties");

  const std::size_t wanted = config_.parties.size() - 1;
  run_io_while_not([&] { return connected_ == wanted || failure_.has_value(); }, deadline);
  if (connected_ == wanted) {  // a failure since then is reported by the first round
    log_.info("connected to all " + std::to_string(wanted) + " parties");
    return;
  }
  if (failure_) fail(failure_message(*failure_, "connection setup"));
  std::string missing;
  for (PartyId peer = 0; peer < config_.parties.size(); ++peer) {
    if (peer == config_.self || peers_[peer].connected) continue;
    const auto& entry = config_.parties[peer];
    missing += missing.empty() ? "" : "; ";
    if (peer < config_.self) {
      missing += mesh_.describe(peer) + " at " + entry.host + ":" + std::to_string(entry.port) +
                 " could not be reached (last attempt: " + last_dial_error_[peer] + ")";
    } else {
      missing += mesh_.describe(peer) + " never connected to us";
    }
  }
  fail("could not connect within " + format_duration(config_.connect_timeout) + ": " + missing);
}

bool TlsMesh::Engine::run_io_until(Clock::time_point deadline) {
  if (io_.stopped()) io_.restart();  // run_one_until() stops the context when it runs dry
  try {
    if (io_.run_one_until(deadline) > 0) return true;
  } catch (const std::exception& e) {
    const std::string reason = std::string("network I/O failed: ") + e.what();
    if (!failure_) failure_ = Failure{std::nullopt, reason};
    teardown(reason);
    return true;
  }
  return !io_.stopped();
}

template <typename Done>
void TlsMesh::Engine::run_io_while_not(const Done& done, Clock::time_point deadline) {
  while (!done() && Clock::now() < deadline && run_io_until(deadline)) {
  }
}

std::shared_ptr<Conn> TlsMesh::Engine::make_conn() { return std::make_shared<Conn>(io_, ctx_); }

// ---- Accepting side ----------------------------------------------------------------------

void TlsMesh::Engine::accept_next() {
  auto conn = make_conn();
  acceptor_.async_accept(conn->channel->socket(), [this, conn](const ErrorCode& ec) {
    if (!acceptor_.is_open() || tearing_down_ || closing_all_) return;
    if (ec) {
      log_.warn("accepting a connection failed: " + ec.message());
    } else {
      on_accepted(conn);
    }
    accept_next();
  });
}

void TlsMesh::Engine::on_accepted(const std::shared_ptr<Conn>& conn) {
  ErrorCode ec;
  const auto endpoint = conn->channel->socket().remote_endpoint(ec);
  conn->remote = ec ? "an unknown address"
                    : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  conn->channel->socket().set_option(tcp::no_delay(true), ec);
  attempts_.insert(conn);
  arm_handshake_timer(conn);
  conn->channel->set_verify([this, raw = conn.get()](bool ok, X509_STORE_CTX* store) {
    return verify_peer(*raw, ok, store);
  });
  conn->channel->async_handshake(true, [this, conn](const ErrorCode& ec) {
    if (ec) return refuse(conn, handshake_failure(*conn, ec));
    on_server_handshake(conn);
  });
}

void TlsMesh::Engine::on_server_handshake(const std::shared_ptr<Conn>& conn) {
  X509* cert = SSL_get0_peer_certificate(conn->channel->native_handle());
  if (cert == nullptr) return refuse(conn, "it presented no certificate");
  const auto names = certificate_names(cert);
  std::optional<PartyId> peer;
  for (const auto& entry : config_.parties) {
    if (std::find(names.begin(), names.end(), entry.name) == names.end()) continue;
    if (peer)
      return refuse(conn, "its certificate names several parties (" + list_names(names) + ")");
    peer = entry.id;
  }
  if (!peer) {
    return refuse(conn, "its certificate names " + list_names(names) + ", no party of ours");
  }
  if (auto mismatch = check_fingerprint(*conn, *peer)) return refuse(conn, *mismatch);
  if (*peer == config_.self) return refuse(conn, "it presented our own certificate");
  if (*peer < config_.self) {
    return refuse(conn, "its certificate names " + mesh_.describe(*peer) +
                            ", which has a lower id: we dial it, it must not dial us");
  }
  if (links_[*peer]) return refuse(conn, mesh_.describe(*peer) + " is already connected");
  read_frame(conn, [this, conn, peer = *peer](const ErrorCode& ec, const std::string& malformed) {
    if (!malformed.empty()) return refuse(conn, "it sent a malformed hello: " + malformed);
    if (ec) return refuse(conn, handshake_failure(*conn, ec));
    on_hello(conn, peer);
  });
}

void TlsMesh::Engine::on_hello(const std::shared_ptr<Conn>& conn, PartyId peer) {
  if (conn->read_kind != Kind::kHello) {
    return refuse(conn, "it sent a frame other than hello first");
  }
  std::uint32_t version = 0;
  std::uint64_t claimed = 0;
  std::uint64_t target = 0;
  try {
    ByteReader reader(conn->read_payload, "hello");
    version = reader.u32();
    claimed = reader.u64();
    target = reader.u64();
    reader.expect_end();
  } catch (const ProtocolError& e) {
    return refuse(conn, e.what());
  }
  if (version != kWireVersion) {
    return refuse(conn, "it speaks wire version " + std::to_string(version) + ", we speak " +
                            std::to_string(kWireVersion));
  }
  if (claimed != peer) {
    return refuse(conn, "its certificate names " + mesh_.describe(peer) +
                            " but it claims to be party " + std::to_string(claimed));
  }
  if (target != config_.self) {
    return refuse(conn, "it believes it dialed party " + std::to_string(target) + ", but we are " +
                            mesh_.describe(config_.self));
  }
  if (links_[peer]) return refuse(conn, mesh_.describe(peer) + " is already connected");
  register_link(conn, peer);
  ByteWriter welcome;
  welcome.u32(kWireVersion);
  welcome.u64(config_.self);
  welcome.u64(peer);
  const Bytes payload = welcome.take();
  enqueue(conn, Kind::kWelcome, payload, [this, peer](const ErrorCode& ec) {
    if (ec && !tearing_down_ && !closing_all_) {
      peer_failed(peer, "disconnected while joining (" + io_error_text(ec) + ")");
    }
  });
}

void TlsMesh::Engine::refuse(const std::shared_ptr<Conn>& conn, const std::string& reason) {
  attempts_.erase(conn);
  close_conn(conn);
  if (tearing_down_ || closing_all_) return;
  log_.warn("refused connection from " + conn->remote + ": " + reason);
}

// ---- Dialing side ------------------------------------------------------------------------

void TlsMesh::Engine::dial(PartyId peer) {
  if (tearing_down_ || closing_all_ || links_[peer]) return;
  auto conn = make_conn();
  conn->peer = peer;
  attempts_.insert(conn);
  const auto& entry = config_.parties[peer];
  conn->remote = entry.host + ":" + std::to_string(entry.port);
  auto resolver = std::make_shared<tcp::resolver>(io_);
  resolver->async_resolve(
      entry.host, std::to_string(entry.port),
      [this, conn, resolver](const ErrorCode& ec, const tcp::resolver::results_type& results) {
        if (conn->closed) return;
        if (ec) return dial_failed(conn, "cannot resolve the host: " + ec.message(), true);
        asio::async_connect(conn->channel->socket(), results,
                            [this, conn](const ErrorCode& ec, const tcp::endpoint&) {
                              if (conn->closed) return;
                              if (ec) return dial_failed(conn, ec.message(), false);
                              on_dialed(conn);
                            });
      });
}

void TlsMesh::Engine::on_dialed(const std::shared_ptr<Conn>& conn) {
  ErrorCode ignored;
  conn->channel->socket().set_option(tcp::no_delay(true), ignored);
  arm_handshake_timer(conn);
  conn->channel->set_verify([this, raw = conn.get()](bool ok, X509_STORE_CTX* store) {
    return verify_peer(*raw, ok, store);
  });
  conn->channel->async_handshake(false, [this, conn](const ErrorCode& ec) {
    if (ec) return dial_failed(conn, handshake_failure(*conn, ec), true);
    if (auto mismatch = check_fingerprint(*conn, *conn->peer)) {
      return dial_failed(conn, *mismatch, true);
    }
    ByteWriter hello;
    hello.u32(kWireVersion);
    hello.u64(config_.self);
    hello.u64(*conn->peer);
    const Bytes payload = hello.take();
    enqueue(conn, Kind::kHello, payload, [](const ErrorCode&) {});
    read_frame(conn, [this, conn](const ErrorCode& ec, const std::string& malformed) {
      if (!malformed.empty()) return dial_failed(conn, "malformed welcome: " + malformed, true);
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated ||
          ec == asio::error::connection_reset) {
        return dial_failed(conn, "it closed the connection instead of welcoming us (see its log)",
                           true);
      }
      if (ec) return dial_failed(conn, handshake_failure(*conn, ec), true);
      on_welcome(conn);
    });
  });
}

void TlsMesh::Engine::on_welcome(const std::shared_ptr<Conn>& conn) {
  const PartyId peer = *conn->peer;
  if (conn->read_kind != Kind::kWelcome) {
    return dial_failed(conn, "it sent a frame other than welcome", true);
  }
  try {
    ByteReader reader(conn->read_payload, "welcome");
    const std::uint32_t version = reader.u32();
    const std::uint64_t from = reader.u64();
    const std::uint64_t to = reader.u64();
    reader.expect_end();
    if (version != kWireVersion || from != peer || to != config_.self) {
      return dial_failed(conn,
                         "its welcome does not match (version " + std::to_string(version) +
                             ", from " + std::to_string(from) + ", to " + std::to_string(to) + ")",
                         true);
    }
  } catch (const ProtocolError& e) {
    return dial_failed(conn, e.what(), true);
  }
  register_link(conn, peer);
}

void TlsMesh::Engine::dial_failed(const std::shared_ptr<Conn>& conn, const std::string& reason,
                                  bool warn) {
  const PartyId peer = *conn->peer;
  attempts_.erase(conn);
  close_conn(conn);
  if (tearing_down_ || closing_all_) return;
  last_dial_error_[peer] = reason;
  const std::string message = "could not connect to " + mesh_.describe(peer) + " at " +
                              conn->remote + ": " + reason + "; retrying";
  if (warn) {
    log_.warn(message);
  } else {
    log_.debug(message);
  }
  auto& timer = *retry_timers_[peer];
  timer.expires_after(backoff_[peer]);
  backoff_[peer] = std::min(backoff_[peer] * 2, kMaxRetry);
  timer.async_wait([this, peer](const ErrorCode& ec) {
    if (!ec) dial(peer);
  });
}

// ---- Authentication helpers ----------------------------------------------------------------

bool TlsMesh::Engine::verify_peer(Conn& conn, bool preverified, X509_STORE_CTX* store) {
  if (!preverified) {
    if (conn.refusal.empty()) {
      conn.refusal = std::string("its certificate does not verify against our CA (") +
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)) + ")";
    }
    return false;
  }
  if (X509_STORE_CTX_get_error_depth(store) != 0) return true;
  const auto names = certificate_names(X509_STORE_CTX_get_current_cert(store));
  const auto named = [&](const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  if (conn.peer) {  // dialing: the certificate must name the party we dialed
    const auto& expected = config_.parties[*conn.peer].name;
    if (named(expected)) return true;
    conn.refusal = "its certificate names " + list_names(names) + ", not '" + expected + "'";
    return false;
  }
  for (const auto& entry : config_.parties) {
    if (named(entry.name)) return true;
  }
  conn.refusal = "its certificate names " + list_names(names) + ", no party of ours";
  return false;
}

std::optional<std::string> TlsMesh::Engine::check_fingerprint(Conn& conn, PartyId peer) {
  const auto& pinned = config_.parties[peer].fingerprint;
  if (!pinned) return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(conn.channel->native_handle());
  if (cert == nullptr) return "it presented no certificate";
  const auto actual = certificate_fingerprint(cert);
  if (actual == *pinned) return std::nullopt;
  return "its certificate for " + mesh_.describe(peer) + " has fingerprint " +
         hex_fingerprint(actual) + ", but the configuration pins " + hex_fingerprint(*pinned);
}

std::string TlsMesh::Engine::handshake_failure(const Conn& conn, const ErrorCode& ec) const {
  if (conn.timed_out) {
    return "no TLS handshake and hello within " + format_duration(handshake_timeout());
  }
  if (!conn.refusal.empty()) return conn.refusal;
  if (ec.category() == asio::error::get_ssl_category())
    return "TLS handshake failed: " + ec.message();
  return io_error_text(ec);
}

void TlsMesh::Engine::arm_handshake_timer(const std::shared_ptr<Conn>& conn) {
  conn->timer.expires_after(handshake_timeout());
  conn->timer.async_wait([this, conn](const ErrorCode& ec) {
    if (ec || conn->established || conn->closed) return;
    conn->timed_out = true;
    close_conn(conn);
  });
}

void TlsMesh::Engine::register_link(const std::shared_ptr<Conn>& conn, PartyId peer) {
  attempts_.erase(conn);
  conn->timer.cancel();
  conn->established = true;
  conn->peer = peer;
  links_[peer] = conn;
  bool accepted_all = true;
  for (PartyId other = config_.self + 1; other < config_.parties.size(); ++other) {
    accepted_all = accepted_all && links_[other] != nullptr;
  }
  if (accepted_all) {
    ErrorCode ignored;
    acceptor_.close(ignored);
  }
  peers_[peer].connected = true;
  ++connected_;
  ++open_links_;
  log_.debug("connected to " + mesh_.describe(peer) + " (" + conn->remote + ")");
  read_next(conn);
}

// ---- Frames ------------------------------------------------------------------------------

void TlsMesh::Engine::read_frame(const std::shared_ptr<Conn>& conn, ReadDone done) {
  conn->reading = true;
  conn->channel->async_read(
      conn->read_header.data(), conn->read_header.size(),
      [this, conn, done = std::move(done)](const ErrorCode& ec) mutable {
        if (ec) {
          conn->reading = false;
          return done(ec, "");
        }
        const Header& header = conn->read_header;
        const auto kind = static_cast<Kind>(get_le(header, 4, 4));
        const std::uint64_t seq = get_le(header, 8, 8);
        const std::uint64_t length = get_le(header, 16, 8);
        std::string malformed;
        std::uint64_t limit = kControlLimit;
        if (kind == Kind::kData) limit = config_.max_frame_bytes;
        if (kind == Kind::kBye) limit = 0;
        if (get_le(header, 0, 4) != kMagic) {
          malformed = "the bytes are not a SecretMesh frame (bad magic)";
        } else if (kind < Kind::kHello || kind > Kind::kAbort) {
          malformed = "unknown frame kind " + std::to_string(get_le(header, 4, 4));
        } else if (seq != conn->read_seq) {
          malformed = "frame number " + std::to_string(seq) + " where " +
                      std::to_string(conn->read_seq) + " was expected (the stream is out of step)";
        } else if (length > limit) {
          malformed = "it announced a " + std::string(kind_name(kind)) + " frame of " +
                      std::to_string(length) + " bytes, more than the limit of " +
                      std::to_string(limit) + " bytes";
        }
        if (!malformed.empty()) {
          conn->reading = false;
          return done(ec, malformed);
        }
        ++conn->read_seq;
        conn->read_kind = kind;
        if (kind == Kind::kData && conn->established)
          return read_data(conn, length, std::move(done));
        conn->read_payload = Bytes(static_cast<std::size_t>(length));
        read_payload(conn, 0, std::move(done));
      });
}

void TlsMesh::Engine::read_payload(const std::shared_ptr<Conn>& conn, std::size_t offset,
                                   ReadDone done) {
  if (offset == conn->read_payload.size()) {
    conn->reading = false;
    return done(ErrorCode(), "");
  }
  if (offset > 0) note_activity(*conn, true);
  const std::size_t size = std::min(kChunk, conn->read_payload.size() - offset);
  conn->channel->async_read(
      conn->read_payload.data() + offset, size,
      [this, conn, offset, size, done = std::move(done)](const ErrorCode& ec) mutable {
        if (ec) {
          conn->reading = false;
          return done(ec, "");
        }
        read_payload(conn, offset + size, std::move(done));
      });
}

void TlsMesh::Engine::read_data(const std::shared_ptr<Conn>& conn, std::uint64_t length,
                                ReadDone done) {
  // Data that arrives while we say goodbye or tear down is read and dropped (see on_frame).
  conn->filing = !conn->closed && !conn->closing && !tearing_down_;
  if (conn->filing) {
    auto& peer = peers_[*conn->peer];
    peer.inbox.push_back(Incoming{length, 0, {}});
    peer.rx_activity = Clock::now();
  }
  read_data_piece(conn, length, 0, std::move(done));
}

void TlsMesh::Engine::read_data_piece(const std::shared_ptr<Conn>& conn, std::uint64_t length,
                                      std::uint64_t offset, ReadDone done) {
  if (offset == length) {
    conn->reading = false;
    return done(ErrorCode(), "");
  }
  const auto size = static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, length - offset));
  conn->read_piece = take_piece(length, size);
  conn->channel->async_read(
      conn->read_piece.data(), size,
      [this, conn, length, offset, size, done = std::move(done)](const ErrorCode& ec) mutable {
        if (ec) {
          release_piece(std::move(conn->read_piece));
          conn->reading = false;
          return done(ec, "");
        }
        if (!conn->filing) {
          release_piece(std::move(conn->read_piece));
        } else {
          auto& peer = peers_[*conn->peer];
          Incoming& message = peer.inbox.back();  // a channel files one frame at a time
          message.pieces.push_back(std::move(conn->read_piece));
          message.arrived += size;
          peer.rx_activity = Clock::now();
        }
        read_data_piece(conn, length, offset + size, std::move(done));
      });
}

Bytes TlsMesh::Engine::take_piece(std::uint64_t length, std::size_t size) {
  if (length <= kPiece) return Bytes(size);
  Bytes piece;
  if (!spare_pieces_.empty()) {
    piece = std::move(spare_pieces_.back());
    spare_pieces_.pop_back();
  }
  piece.resize(size);  // spares keep kPiece bytes: shrinking touches nothing
  return piece;
}

void TlsMesh::Engine::release_piece(Bytes piece) {
  if (piece.capacity() < kPiece) return;  // a small message's own buffer
  piece.resize(kPiece);
  if (spare_pieces_.size() < kSparePieces) spare_pieces_.push_back(std::move(piece));
}

void TlsMesh::Engine::read_next(const std::shared_ptr<Conn>& conn) {
  read_frame(conn, [this, conn](const ErrorCode& ec, const std::string& malformed) {
    on_frame(conn, ec, malformed);
  });
}

void TlsMesh::Engine::on_frame(const std::shared_ptr<Conn>& conn, const ErrorCode& ec,
                               const std::string& malformed) {
  if (conn->closed) return;
  const bool intact = !ec && malformed.empty();
  if (tearing_down_) {  // drain until the peer closes, so our abort is not lost to a reset
    return intact ? read_next(conn) : close_conn(conn);
  }
  const PartyId peer = *conn->peer;
  if (conn->closing) {  // we are saying goodbye: late data is dropped, a bye lets us shut down
    if (intact && conn->read_kind == Kind::kData) return read_next(conn);
    if (intact && conn->read_kind == Kind::kBye) {
      conn->bye_received = true;
      return maybe_finish(conn);
    }
    return close_conn(conn);
  }
  if (!malformed.empty()) return peer_failed(peer, "sent a malformed frame: " + malformed);
  if (ec) return peer_failed(peer, "disconnected (" + io_error_text(ec) + ")");
  const Kind kind = conn->read_kind;
  switch (kind) {
    case Kind::kData:  // filed piece by piece as it arrived (read_data)
      return read_next(conn);
    case Kind::kBye: {
      conn->bye_received = true;
      peers_[peer].bye = true;
      return;
    }
    case Kind::kAbort:
      return peer_failed(peer, "aborted the run: " + printable(conn->read_payload));
    case Kind::kHello:
    case Kind::kWelcome:
      break;
  }
  peer_failed(peer, std::string("sent an unexpected ") + kind_name(kind) + " frame");
}

void TlsMesh::Engine::enqueue(const std::shared_ptr<Conn>& conn, Kind kind, ByteView payload,
                              WriteDone done, const std::size_t* ready, ByteView tail) {
  if (conn->closed) return done(asio::error::operation_aborted);
  const std::size_t length = payload.size() + tail.size();
  const Header header = encode_header(kind, conn->write_seq++, length);
  Conn::Write write;
  write.ready = ready;
  const bool small = length <= kSmallFrame && ready == nullptr;
  write.owned.reserve(kHeaderBytes + (small ? length : 0));
  write.owned.assign(header.begin(), header.end());
  if (small) {
    write.owned.insert(write.owned.end(), payload.begin(), payload.end());
    write.owned.insert(write.owned.end(), tail.begin(), tail.end());
  } else {
    write.data = payload;
    write.tail = tail;
  }
  write.done = std::move(done);
  conn->writes.push_back(std::move(write));
  start_write(conn);
}

void TlsMesh::Engine::start_write(const std::shared_ptr<Conn>& conn) {
  if (conn->writing || conn->writes.empty()) return;
  conn->writing = true;
  const Bytes& owned = conn->writes.front().owned;
  conn->channel->async_write(owned.data(), owned.size(),
                             [this, conn](const ErrorCode& ec) { write_body(conn, 0, ec); });
}

void TlsMesh::Engine::write_body(const std::shared_ptr<Conn>& conn, std::size_t offset,
                                 const ErrorCode& ec) {
  // `offset` counts the bytes of the payload (data, then tail) written so far.
  const Conn::Write& write = conn->writes.front();
  const std::size_t length = write.data.size() + write.tail.size();
  if (!ec && offset < length) {
    if (offset > 0) note_activity(*conn, false);
    const std::size_t available = write.ready == nullptr ? length : *write.ready;
    if (available <= offset) {  // the rest is still being produced
      conn->parked = true;
      conn->parked_offset = offset;
      return;
    }
    const ByteView rest = offset < write.data.size()
                              ? write.data.subspan(offset)
                              : write.tail.subspan(offset - write.data.size());
    const std::size_t size = std::min({kChunk, available - offset, rest.size()});
    conn->channel->async_write(rest.data(), size, [this, conn, offset, size](const ErrorCode& ec) {
      write_body(conn, offset + size, ec);
    });
    return;
  }
  std::deque<Conn::Write> finished;
  if (ec) {
    finished.swap(conn->writes);
  } else {
    finished.push_back(std::move(conn->writes.front()));
    conn->writes.pop_front();
  }
  conn->writing = false;
  for (auto& write : finished) write.done(ec);
  if (!ec) start_write(conn);
}

void TlsMesh::Engine::send_data(const Outgoing& message, const std::size_t* ready) {
  const auto& conn = links_[message.to];
  WriteDone done = [this, peer = message.to](const ErrorCode& ec) { on_data_written(peer, ec); };
  if (!conn || tearing_down_) return done(asio::error::operation_aborted);
  enqueue(conn, Kind::kData, message.data, std::move(done), ready, message.tail);
}

void TlsMesh::Engine::resume_write(PartyId peer) {
  const auto& conn = links_[peer];
  if (!conn || conn->closed || !conn->parked) return;
  conn->parked = false;
  write_body(conn, conn->parked_offset, ErrorCode());
}

bool TlsMesh::Engine::caught_up(PartyId peer) const {
  const auto& conn = links_[peer];
  return conn == nullptr || conn->closed || conn->parked;
}

void TlsMesh::Engine::on_data_written(PartyId peer, const ErrorCode& ec) {
  auto& state = peers_[peer];
  --state.writes_pending;
  state.tx_activity = Clock::now();
  if (ec && !tearing_down_ && !closing_all_) {
    peer_failed(peer, "disconnected while we were sending (" + io_error_text(ec) + ")");
  }
}

void TlsMesh::Engine::note_activity(const Conn& conn, bool received) {
  if (!conn.established) return;
  auto& state = peers_[*conn.peer];
  (received ? state.rx_activity : state.tx_activity) = Clock::now();
}

// ---- Failure and closing ------------------------------------------------------

void TlsMesh::Engine::peer_failed(PartyId peer, const std::string& detail) {
  if (tearing_down_) return;
  if (closing_all_) return close_conn(links_[peer]);
  if (tolerant_) {
    if (peers_[peer].gone) return;  // already dropped; its closing socket reports again
    peers_[peer].gone = detail;
    log_.warn(mesh_.describe(peer) + " " + detail + "; continuing without it");
    return close_conn(links_[peer]);
  }
  if (!failure_) failure_ = Failure{peer, detail};
  log_.warn(mesh_.describe(peer) + " " + detail);
  teardown(mesh_.describe(peer) + " " + detail);
}

void TlsMesh::Engine::teardown(const std::string& reason) {
  if (tearing_down_) return;
  tearing_down_ = true;
  ErrorCode ignored;
  acceptor_.close(ignored);
  for (auto& timer : retry_timers_) timer->cancel();
  for (const auto& attempt : attempts_) close_conn(attempt);
  attempts_.clear();
  std::string message = reason.substr(0, kAbortReasonLimit);
  const Bytes payload(message.begin(), message.end());
  for (const auto& conn : links_) {
    if (!conn || conn->closed) continue;
    if (conn->writing) {  // a frame is half sent: the abort could not follow it
      close_conn(conn);
      continue;
    }
    // The socket stays open until the peer closes or the timer fires: closing it at once could
    // reset the connection before the peer has read the abort.
    enqueue(conn, Kind::kAbort, payload, [this, conn](const ErrorCode& ec) {
      if (ec) close_conn(conn);
    });
    conn->timer.expires_after(kAbortTimeout);
    conn->timer.async_wait([this, conn](const ErrorCode& ec) {
      if (!ec) close_conn(conn);
    });
  }
}

void TlsMesh::Engine::goodbye_all() {
  closing_all_ = true;
  ErrorCode ignored;
  acceptor_.close(ignored);
  for (auto& timer : retry_timers_) timer->cancel();
  for (const auto& attempt : attempts_) close_conn(attempt);
  attempts_.clear();
  for (const auto& conn : links_) {
    if (!conn || conn->closed) continue;
    conn->closing = true;
    enqueue(conn, Kind::kBye, {}, [this, conn](const ErrorCode& ec) {
      conn->bye_sent = true;
      if (ec) return close_conn(conn);
      maybe_finish(conn);
    });
    conn->timer.expires_after(kLinger);
    conn->timer.async_wait([this, conn](const ErrorCode& ec) {
      if (!ec) close_conn(conn);
    });
  }
}

void TlsMesh::Engine::maybe_finish(const std::shared_ptr<Conn>& conn) {
  if (conn->closed || !conn->bye_sent || conn->reading) return;
  if (!conn->bye_received) {  // the peer ended the stream without a bye: nothing to shut down
    return close_conn(conn);
  }
  conn->timer.expires_after(kShutdownTimeout);
  conn->timer.async_wait([this, conn](const ErrorCode& ec) {
    if (!ec) close_conn(conn);
  });
  conn->channel->async_shutdown([this, conn](const ErrorCode&) { close_conn(conn); });
}

void TlsMesh::Engine::close_conn(const std::shared_ptr<Conn>& conn) {
  if (!conn || conn->closed) return;
  conn->closed = true;
  conn->timer.cancel();
  conn->channel->close();
  if (conn->parked) {  // no socket operation will report the end of this write: report it here
    conn->parked = false;
    asio::post(io_, [this, conn] {
      write_body(conn, conn->parked_offset, asio::error::operation_aborted);
    });
  }
  if (conn->established) --open_links_;
}

// ---- Rounds --------------------------------------------------------------------------------

std::string TlsMesh::Engine::failure_message(const Failure& failure, std::string_view step) const {
  if (!failure.peer) return failure.detail;
  return mesh_.describe(*failure.peer) + " " + failure.detail + " during step '" +
         std::string(step) + "'";
}

void TlsMesh::Engine::fail(const std::string& message) {
  abandon(message);
  throw NetError(message);
}

void TlsMesh::Engine::abandon(const std::string& message) {
  if (!failure_) failure_ = Failure{std::nullopt, message};
  if (final_message_.empty()) final_message_ = message;
  teardown(message);
  // Our queued sends refer to the caller's buffers: run the I/O until it has let go of them, and
  // until the aborts are out (teardown closes every channel within kAbortTimeout).
  run_io_while_not(
      [&] {
        return open_links_ == 0 && std::all_of(peers_.begin(), peers_.end(), [](const auto& peer) {
                 return peer.writes_pending == 0;
               });
      },
      Clock::now() + std::chrono::seconds(10));
}

std::vector<std::optional<Bytes>> TlsMesh::Engine::transfer(
    std::span<const Outgoing> sends, std::span<const PartyId> receive_from, std::string_view step,
    bool tolerant) {
  auto messages = exchange(sends, receive_from, step, tolerant, nullptr);
  // exchange() hands over every message as one piece (none when it is empty).
  std::vector<std::optional<Bytes>> received(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (!messages[i]) continue;
    auto& pieces = messages[i]->pieces;
    received[i] = pieces.empty() ? Bytes{} : std::move(pieces.front());
  }
  return received;
}

std::vector<std::size_t> TlsMesh::Engine::transfer_streamed(
    std::span<const Outgoing> sends, std::span<const PartyId> receive_from,
    std::span<const std::size_t> expected_bytes, std::string_view step, const PieceSink& sink) {
  const Streaming streaming{expected_bytes, &sink};
  const auto messages = exchange(sends, receive_from, step, false, &streaming);
  std::vector<std::size_t> lengths;
  for (const auto& message : messages) lengths.push_back(static_cast<std::size_t>(message->size));
  return lengths;
}

void TlsMesh::Engine::transfer_produced(PartyId to, std::span<std::uint8_t> buffer,
                                        std::string_view step, const PieceSource& produce) {
  const Outgoing message{to, buffer};
  if (buffer.size() <= kSmallFrame) {  // goes out with its header in one record: produce it first
    produce_all(buffer, produce);
    transfer({&message, 1}, {}, step, false);
    return;
  }
  std::size_t ready = 0;
  const Production production{buffer, &produce, &ready};
  exchange({&message, 1}, {}, step, false, nullptr, &production);
}

std::vector<std::optional<Incoming>> TlsMesh::Engine::exchange(
    std::span<const Outgoing> sends, std::span<const PartyId> receive_from, std::string_view step,
    bool tolerant, const Streaming* streaming, const Production* production) {
  if (!final_message_.empty()) {
    throw NetError("the network failed earlier: " + final_message_);
  }
  if (closed_) throw NetError("the mesh was closed before step '" + std::string(step) + "'");
  if (failure_) fail(failure_message(*failure_, step));
  if (tolerant) tolerant_ = true;
  const std::string step_text(step);
  // A peer that has left: tolerated (skipped) in a tolerant round, else the end of the run.
  auto left = [&](PartyId peer) -> bool {
    const auto& state = peers_[peer];
    if (!state.gone && !state.bye) return false;
    if (tolerant) return true;
    fail(mesh_.describe(peer) +
         (state.gone ? " dropped out earlier (" + *state.gone + ")"
                     : std::string(" closed the connection")) +
         " during step '" + step_text + "'");
  };
  std::vector<Outgoing> live_sends;
  for (const auto& message : sends) {
    if (left(message.to)) continue;
    if (message.size() > config_.max_frame_bytes) {
      fail("a message of " + std::to_string(message.size()) + " bytes for " +
           mesh_.describe(message.to) + " exceeds the frame limit of " +
           std::to_string(config_.max_frame_bytes) + " bytes during step '" + step_text + "'");
    }
    live_sends.push_back(message);
  }
  for (const auto& message : live_sends) ++peers_[message.to].writes_pending;
  for (const auto& message : live_sends) {
    send_data(message, production == nullptr ? nullptr : production->ready);
  }

  // The deadlines count only time spent waiting on the peers: from here, and again after each
  // piece that the caller's sink consumed or its producer wrote.
  auto waiting_since = Clock::now();
  const auto timeout = config_.receive_timeout;
  std::vector<std::optional<Incoming>> received(receive_from.size());
  std::vector<bool> settled(receive_from.size(), false);        // received, or left (tolerant)
  std::vector<std::uint64_t> consumed(receive_from.size(), 0);  // bytes taken piece by piece
  // Messages handed over whole but larger than one piece: joined here as their pieces arrive,
  // so each piece goes back to the pool at once.
  std::vector<Bytes> joined(streaming == nullptr ? receive_from.size() : 0);
  for (;;) {
    if (failure_) fail(failure_message(*failure_, step));
    // The next piece of a produced message, once the last one has left.
    if (production != nullptr && *production->ready < production->buffer.size() &&
        caught_up(sends[0].to)) {
      const std::size_t offset = *production->ready;
      const std::size_t size = std::min(kProducedPiece, production->buffer.size() - offset);
      try {
        (*production->produce)(offset, production->buffer.subspan(offset, size));
      } catch (...) {
        abandon("the message for " + mesh_.describe(sends[0].to) + " in step '" + step_text +
                "' could not be produced");
        throw;
      }
      *production->ready = offset + size;
      resume_write(sends[0].to);
      waiting_since = Clock::now();
      continue;
    }
    bool all_received = true;
    bool took_piece = false;
    for (std::size_t i = 0; i < receive_from.size(); ++i) {
      if (settled[i]) continue;
      // The inbox's front belongs to the first unsettled receive from the same peer.
      bool behind_earlier = false;
      for (std::size_t j = 0; j < i && !behind_earlier; ++j) {
        behind_earlier = !settled[j] && receive_from[j] == receive_from[i];
      }
      if (behind_earlier) {
        all_received = false;
        continue;
      }
      auto& peer = peers_[receive_from[i]];
      const Incoming* front = peer.inbox.empty() ? nullptr : &peer.inbox.front();
      const bool piecewise = front != nullptr && (streaming != nullptr || front->size > kPiece);
      const bool ready =
          front != nullptr && (front->complete() || (piecewise && !front->pieces.empty()));
      if (ready && piecewise) {
        Incoming& message = peer.inbox.front();
        const std::uint64_t size = message.size;
        Bytes piece;
        if (!message.pieces.empty()) {
          piece = std::move(message.pieces.front());
          message.pieces.pop_front();
        }
        const std::uint64_t offset = consumed[i];
        consumed[i] += piece.size();
        const bool last = message.complete() && message.pieces.empty();
        if (last) {
          peer.inbox.pop_front();
          settled[i] = true;
        } else {
          all_received = false;
        }
        took_piece = true;
        try {
          if (streaming == nullptr) {
            if (joined[i].capacity() == 0) joined[i].reserve(static_cast<std::size_t>(size));
            joined[i].insert(joined[i].end(), piece.begin(), piece.end());
          } else if (size == streaming->expected_bytes[i] && !piece.empty()) {
            (*streaming->sink)(i, static_cast<std::size_t>(offset), piece);
          }
        } catch (...) {
          release_piece(std::move(piece));
          abandon("a message received in step '" + step_text + "' could not be consumed");
          throw;
        }
        release_piece(std::move(piece));
        waiting_since = Clock::now();
        if (last) {
          received[i] = Incoming{size, size, {}};
          if (streaming == nullptr) received[i]->pieces.push_back(std::move(joined[i]));
        }
        continue;
      }
      if (ready) {
        received[i] = std::move(peer.inbox.front());
        peer.inbox.pop_front();
        settled[i] = true;
        continue;
      }
      if (left(receive_from[i])) {
        settled[i] = true;
        continue;
      }
      all_received = false;
    }
    bool all_sent = true;
    for (const auto& message : live_sends) {
      all_sent = all_sent && peers_[message.to].writes_pending == 0;
    }
    if (all_received && all_sent) return received;
    if (took_piece) continue;  // more may be waiting: wait only when nothing was there

    const auto now = Clock::now();
    auto wake = Clock::time_point::max();
    for (std::size_t i = 0; i < receive_from.size(); ++i) {
      if (settled[i]) continue;
      const auto last = std::max(waiting_since, peers_[receive_from[i]].rx_activity);
      if (now - last >= timeout) {
        const std::string silence = "sent nothing for " + format_duration(timeout);
        if (!tolerant) {
          fail(mesh_.describe(receive_from[i]) + " " + silence + " during step '" + step_text +
               "'");
        }
        const PartyId silent = receive_from[i];
        peers_[silent].gone = silence;
        settled[i] = true;
        log_.warn(mesh_.describe(silent) + " " + silence + "; continuing without it");
        close_conn(links_[silent]);
        continue;
      }
      wake = std::min(wake, last + timeout);
    }
    for (const auto& message : live_sends) {
      if (peers_[message.to].writes_pending == 0) continue;
      const auto last = std::max(waiting_since, peers_[message.to].tx_activity);
      if (now - last >= timeout) {
        const std::string stall = "took none of our data for " + format_duration(timeout);
        if (!tolerant || peers_[message.to].gone) {
          fail(mesh_.describe(message.to) + " " + stall + " during step '" + step_text + "'");
        }
        const PartyId stalled = message.to;
        peers_[stalled].gone = stall;
        log_.warn(mesh_.describe(stalled) + " " + stall + "; continuing without it");
        close_conn(links_[stalled]);
        continue;
      }
      wake = std::min(wake, last + timeout);
    }
    // Wait for the next socket event or completion, a failure, or a deadline. (With nothing
    // pending at all, which a round that still waits cannot have, only the deadline is left.)
    if (!run_io_until(wake)) std::this_thread::sleep_until(wake);
  }
}

void TlsMesh::Engine::close() {
  if (closed_) return;
  closed_ = true;
  if (!failure_) goodbye_all();
  run_io_while_not([&] { return open_links_ == 0; },
                   Clock::now() + kLinger + kShutdownTimeout + std::chrono::seconds(2));
  stop_io();
}

void TlsMesh::Engine::stop_io() {
  // Close what is left and run the aborted operations' handlers, so that queued writes release
  // their connections (a write holds its connection alive).
  tearing_down_ = true;
  ErrorCode ignored;
  acceptor_.close(ignored);
  for (auto& timer : retry_timers_) timer->cancel();
  for (const auto& conn : links_) close_conn(conn);
  for (const auto& attempt : attempts_) close_conn(attempt);
  attempts_.clear();
  io_.restart();
  while (io_.poll() > 0) {
  }
}

// ---- TlsMesh -------------------------------------------------------------------------------

TlsMesh::TlsMesh(const TlsConfig& config, sm::Logger& log)
    : Mesh(config.self, party_names(config)) {
  engine_ = std::make_unique<Engine>(config, log, *this);
}

std::unique_ptr<TlsMesh> TlsMesh::connect(const TlsConfig& config, sm::Logger& log) {
  std::unique_ptr<TlsMesh> mesh(new TlsMesh(config, log));
  mesh->engine_->establish();
  return mesh;
}

TlsMesh::~TlsMesh() = default;

void TlsMesh::close() { engine_->close(); }

void TlsMesh::expect_dropouts() { engine_->expect_dropouts(); }

std::vector<std::optional<Bytes>> TlsMesh::transfer_tolerant(
    std::span<const Outgoing> sends, std::span<const PartyId> receive_from,
    std::string_view step) {
  return engine_->transfer(sends, receive_from, step, true);
}

std::vector<std::size_t> TlsMesh::transfer_streamed(std::span<const Outgoing> sends,
                                                    std::span<const PartyId> receive_from,
                                                    std::span<const std::size_t> expected_bytes,
                                                    std::string_view step, const PieceSink& sink) {
  return engine_->transfer_streamed(sends, receive_from, expected_bytes, step, sink);
}

void TlsMesh::transfer_produced(PartyId to, std::span<std::uint8_t> buffer, std::string_view step,
                                const PieceSource& produce) {
  engine_->transfer_produced(to, buffer, step, produce);
}

std::vector<Bytes> TlsMesh::transfer(std::span<const Outgoing> sends,
                                     std::span<const PartyId> receive_from, std::string_view step) {
  std::vector<Bytes> received;
  received.reserve(receive_from.size());
  for (auto& message : engine_->transfer(sends, receive_from, step, false)) {
    received.push_back(std::move(*message));
  }
  return received;
}

}  // namespace sm::net
