// TlsMesh: the Mesh over mutually authenticated TLS 1.3 on TCP, one process per party.
//
// Connecting. connect() listens on parties[self].port and builds the full mesh with one fixed
// rule: a party dials every party with a lower id and accepts every party with a higher id.
// Dials are retried with back-off until config.connect_timeout, so parties may start in any
// order; a party still missing at the deadline makes connect() throw NetError naming it.
//
// Authentication. TLS 1.3 only; both sides present certificates and must chain to
// config.ca_certificate. A peer is accepted only if its certificate names (CN or a DNS SAN,
// compared exactly) the party the table lists for its id and, if PartyEntry::fingerprint is set,
// its DER encoding has that SHA-256. The accepting side derives the peer's id from the
// certificate alone; the dialer's hello must then claim that same id, and only a party that
// should dial us (a higher id) may connect. Anything else (wrong CA, no certificate, unknown or
// mismatching name, wrong direction, duplicate, garbage, a handshake that does not finish within
// 10 s) is refused, logged as a warning with the remote address and the reason, and the mesh
// keeps waiting for the real peer.
//
// Wire format. Every frame is a 24-byte header (magic "SMF1", kind, per-direction sequence
// number, payload length; all little-endian) and its payload. Kinds: hello and welcome (the
// connection check after the handshake), data (one message), bye (clean end) and abort (the
// sender failed; the payload is its reason). A frame with a bad magic, kind or sequence number,
// or a length above config.max_frame_bytes, ends the run before anything is allocated for it.
//
// Running. The mesh has no thread of its own: all socket work runs on the caller's thread, inside
// its calls (connect(), the rounds, close()). A round queues its sends, then runs the I/O until
// they have left and the messages it awaits have arrived (or a deadline passes): sends and
// receives proceed concurrently, so no message size or order can deadlock, and a round costs no
// hand-off between threads. Every channel keeps a read pending, so while the caller waits in a
// round, messages from every peer are filed, piece by piece, into per-peer inboxes in order, and
// a peer that disconnects is noticed at once, even while the caller waits on another peer.
// Between rounds nothing is read: a peer's messages wait in the kernel's socket buffers and are
// filed during our next round (a peer sending more than those buffers hold waits, inside its
// round, until we run ours). A receive fails when its peer has sent nothing for
// config.receive_timeout of our waiting (bytes of a large message still arriving count as
// activity); likewise a send whose peer takes none of our data for that long. Time the caller
// spends between rounds, in a streamed round's sink or in a produced send's producer does not
// count, so a party that computed for longer than the timeout does not find its peers silent.
//
// Errors. A peer that disconnects without a bye, aborts, sends a malformed frame, or stays
// silent past the deadline makes the current (or next) round throw NetError naming the peer and
// the step; the mesh then sends an abort frame to every other peer and closes every channel, so
// they fail fast too: a party that is waiting in a round fails at once, one that is computing
// between rounds when its next round begins. Every later call throws. Loading the key,
// certificate or CA fails with ConfigError naming the file; a port that cannot be bound fails
// with NetError.
//
// Closing. close() sends a bye on every channel, waits briefly (at most ~3 s) for the peers'
// byes, then shuts TLS down and closes the sockets. A peer that has read our bye and later needs
// a message from us fails with "... closed the connection during step ...". The destructor closes.
//
// Thread-safety: as Mesh: one caller thread at a time. Cost: no thread. A received data message
// of up to 1 MiB is decrypted straight into its own buffer; a larger one is decrypted into 1 MiB
// pieces from a small pool of reused buffers (at most 16 kept), filed as they arrive: a streamed
// round (Mesh::round_streamed) hands each piece to its consumer as soon as it is decrypted, and
// an ordinary round joins the pieces into one buffer as they arrive. Sends are not copied (except
// small ones, coalesced with their header into one TLS record); a message in two places
// (Outgoing::tail) is encrypted from both, one after the other, as one frame. A produced send
// (Mesh::send_produced) of more than 64 KiB is queued before its first piece is written; each
// piece is encrypted and handed to the socket as soon as the producer returns it, and the next is
// asked for once it has left, so the receiver decrypts one piece while the next is written.
#pragma once

#include <memory>

#include "net/log.hpp"
#include "net/mesh.hpp"
#include "net/tls_config.hpp"

namespace sm::net {

class TlsMesh final : public Mesh {
 public:
  // Connects to every party of `config` (see above) and returns the ready mesh. `log` must
  // outlive the mesh. Throws ConfigError (key material), NetError (a party missing at the
  // connect deadline, or the port cannot be bound).
  static std::unique_ptr<TlsMesh> connect(const TlsConfig& config, sm::Logger& log);

  ~TlsMesh() override;
  void close() override;
  void expect_dropouts() override;

 protected:
  std::vector<Bytes> transfer(std::span<const Outgoing> sends,
                              std::span<const PartyId> receive_from,
                              std::string_view step) override;
  std::vector<std::size_t> transfer_streamed(std::span<const Outgoing> sends,
                                             std::span<const PartyId> receive_from,
                                             std::span<const std::size_t> expected_bytes,
                                             std::string_view step, const PieceSink& sink) override;
  void transfer_produced(PartyId to, std::span<std::uint8_t> buffer, std::string_view step,
                         const PieceSource& produce) override;
  // Dropout-tolerant rounds (Mesh::round_tolerant). The first one (or expect_dropouts())
  // switches the mesh to tolerating dropouts for the rest of the run: a peer that disconnects,
  // aborts or stays silent is then closed and marked dropped (logged as a warning) instead of
  // ending the run, and only rounds that need it (ordinary ones) fail; a message that arrived
  // before the peer left is still delivered. Before that switch, failures end the run as above.
  std::vector<std::optional<Bytes>> transfer_tolerant(std::span<const Outgoing> sends,
                                                      std::span<const PartyId> receive_from,
                                                      std::string_view step) override;

 private:
  class Engine;  // the I/O machinery (net/tls_mesh.cpp)
  TlsMesh(const TlsConfig& config, sm::Logger& log);

  std::unique_ptr<Engine> engine_;
};

}  // namespace sm::net
