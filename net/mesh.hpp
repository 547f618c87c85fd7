// The N-party mesh: the byte link every protocol talks through.
//
// A Mesh connects this party with every other party of a run. Its API is blocking and works on
// whole buffers; one call is one communication round in which this party sends any number of
// messages and receives any number of messages, all concurrently, so no message size or order
// can deadlock. The base class counts, identically for every transport, the payload bytes and
// messages sent to and received from each peer and the number of rounds.
//
// Transports: TlsMesh (net/tls_mesh.hpp; TLS 1.3 over TCP between processes) and LocalMesh
// (net/local_mesh.hpp; in memory, N parties as threads of one process, for tests).
//
// Errors: every receive has a deadline. A peer that disconnects, stays silent past the deadline
// or sends a malformed frame makes the call throw NetError naming the peer (name and id) and the
// step; the mesh then closes all its channels, so the other parties fail fast too. After an error
// every further call throws.
//
// Thread-safety: one thread (the protocol's) calls a Mesh; it is not safe to call it from two
// threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sm::net {

// A party's 0-based position in the configuration's party table. A peer's id is established by
// its certificate during the TLS handshake, never by bytes it sends.
using PartyId = std::size_t;
using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

struct PeerStats {
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
};

// Counters of payload bytes (frame headers and TLS overhead excluded) and rounds.
struct MeshStats {
  std::vector<PeerStats> peers;  // indexed by PartyId; this party's own entry stays zero
  std::uint64_t rounds = 0;

  std::uint64_t bytes_sent() const;
  std::uint64_t bytes_received() const;
  // The counts accumulated since `earlier` (a snapshot of the same mesh).
  MeshStats since(const MeshStats& earlier) const;
};

// One message to send in a round: the bytes of `data` followed by those of `tail` (empty unless
// the caller's message lies in two buffers). Both must stay valid until the round returns; every
// transport sends them as one message.
struct Outgoing {
  PartyId to;
  ByteView data;
  ByteView tail = {};
  std::size_t size() const { return data.size() + tail.size(); }
};

// The consumer of a streamed round's messages (Mesh::round_streamed): called on the caller's
// thread with consecutive pieces of the message from receive_from[index], `offset` bytes into
// it; every piece but a message's last is a multiple of 4096 bytes long, so pieces never split
// an element of 8 or 16 bytes. It should record a problem and report it after the round rather
// than throw: an exception from it ends the round and fails the mesh, as a network error would.
using PieceSink = std::function<void(std::size_t index, std::size_t offset, ByteView piece)>;

// The producer of a message that is sent while it is written (Mesh::send_produced): called on the
// caller's thread to write the consecutive pieces of the message, front to back; `offset` bytes
// into the message, `piece` is Mesh::kProducedPiece bytes long except for the message's last.
using PieceSource = std::function<void(std::size_t offset, std::span<std::uint8_t> piece)>;

class Mesh {
 public:
  // The pieces in which send_produced() asks for a message.
  static constexpr std::size_t kProducedPiece = std::size_t{1} << 20;

  virtual ~Mesh() = default;
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  PartyId self() const { return self_; }
  std::size_t size() const { return names_.size(); }
  const std::string& name(PartyId party) const { return names_.at(party); }
  // "party 2 (hospital-c)": how errors and logs name a party.
  std::string describe(PartyId party) const;

  // One round: sends every message of `sends` and receives one message from each party of
  // `receive_from`, concurrently; returns the received messages in the order of `receive_from`.
  // `step` names the protocol step in errors ("open(x-a,y-b)"). A round with neither sends nor
  // receives is not counted. Throws NetError on a peer failure or deadline.
  std::vector<Bytes> round(std::span<const Outgoing> sends, std::span<const PartyId> receive_from,
                           std::string_view step);

  // Convenience rounds built on round().
  void send(PartyId to, ByteView data, std::string_view step);
  Bytes recv(PartyId from, std::string_view step);
  // Sends outgoing[j] to every party j != self (outgoing.size() == size()) and receives one
  // message from each; result[self()] is empty.
  std::vector<Bytes> exchange_all(std::span<const Bytes> outgoing, std::string_view step);
  // Sends the same message to every other party and receives one from each; result[self()] is
  // empty. The engines' openings use it: they read their own share where it lies.
  std::vector<Bytes> all_to_all(ByteView data, std::string_view step);
  // all_to_all() with result[self()] a copy of `data`.
  std::vector<Bytes> broadcast(ByteView data, std::string_view step);

  // round() for messages that the receiver reads once, front to back: the message from
  // receive_from[i], if it has exactly expected_bytes[i] bytes, is handed to `sink` in
  // consecutive pieces while the rest is still arriving, instead of being returned; a message of
  // another length is received and dropped unseen. Returns the received messages' lengths (the
  // caller reports a wrong one). Same rounds, byte counts, deadlines and errors as round().
  // TlsMesh decrypts into a few reused piece buffers, so a large message never occupies fresh
  // memory of its full size and its consumption begins while the rest is still arriving; the
  // other transports hand over each whole message as one piece.
  std::vector<std::size_t> round_streamed(std::span<const Outgoing> sends,
                                          std::span<const PartyId> receive_from,
                                          std::span<const std::size_t> expected_bytes,
                                          std::string_view step, const PieceSink& sink);
  // all_to_all() streamed: sends `data` to every other party and streams the message of
  // `expected_bytes` from each to `sink`, whose `index` is then the sender's PartyId. Returns the
  // received lengths by PartyId (result[self()] is 0).
  std::vector<std::size_t> all_to_all_streamed(ByteView data, std::size_t expected_bytes,
                                               std::string_view step, const PieceSink& sink);
  // The same for a message in two places: `data`, then `tail` (see Outgoing).
  std::vector<std::size_t> all_to_all_streamed(ByteView data, ByteView tail,
                                               std::size_t expected_bytes, std::string_view step,
                                               const PieceSink& sink);

  // send() of a message that the caller writes while it goes out: `produce` fills `buffer` piece
  // by piece (see PieceSource), and each piece may leave as soon as `produce` returns, so the
  // receiver takes in one piece while the next is written. `buffer` must stay valid until the
  // call returns. Same round, byte counts, deadlines and errors as send(); an exception from
  // `produce` fails the mesh, as a network error would, and is rethrown. TlsMesh sends each
  // piece before it asks for the next; the other transports have the whole message produced,
  // then send it.
  void send_produced(PartyId to, std::span<std::uint8_t> buffer, std::string_view step,
                     const PieceSource& produce);

  // Like round(), but tolerates peers that drop out: a peer that has disconnected, failed or
  // stays silent past the receive deadline does not fail the run; its message is missing
  // (nullopt) and it is marked dropped for the rest of the run. Sends to dropped peers are
  // skipped. For protocols that survive dropouts (secure aggregation); round() still fails on a
  // dropped peer.
  std::vector<std::optional<Bytes>> round_tolerant(std::span<const Outgoing> sends,
                                                   std::span<const PartyId> receive_from,
                                                   std::string_view step);
  bool dropped(PartyId party) const { return dropped_.at(party); }
  // Tolerates dropouts from now on, as the first round_tolerant() would: a peer that leaves is
  // marked dropped instead of ending the run at once, and only a round that still needs it fails.
  // Call it before the first round of a protocol that survives dropouts, so that a peer leaving
  // right after a round that this party has not finished yet (its message already here) does not
  // end the run. Transports without dropout support ignore it (their tolerant rounds throw).
  virtual void expect_dropouts() {}

  const MeshStats& stats() const { return stats_; }

  // Ends the run cleanly on this side: tells the peers, then closes every channel. Idempotent.
  // Peers that are still waiting on this party fail with a NetError naming it.
  virtual void close() = 0;

 protected:
  Mesh(PartyId self, std::vector<std::string> names);

  // The transport's round: same contract as round(), without the accounting.
  virtual std::vector<Bytes> transfer(std::span<const Outgoing> sends,
                                      std::span<const PartyId> receive_from,
                                      std::string_view step) = 0;
  // The transport's streamed round: same contract as round_streamed(), without the accounting.
  // This default runs transfer() and hands over each whole message as one piece.
  virtual std::vector<std::size_t> transfer_streamed(std::span<const Outgoing> sends,
                                                     std::span<const PartyId> receive_from,
                                                     std::span<const std::size_t> expected_bytes,
                                                     std::string_view step, const PieceSink& sink);
  // The transport's produced send: same contract as send_produced(), without the accounting.
  // This default produces the whole message, then runs transfer().
  virtual void transfer_produced(PartyId to, std::span<std::uint8_t> buffer, std::string_view step,
                                 const PieceSource& produce);
  // Calls `produce` for every piece of `buffer`, in order.
  static void produce_all(std::span<std::uint8_t> buffer, const PieceSource& produce);
  // The transport's tolerant round: same contract as round_tolerant(), without the accounting.
  // Transports without dropout support keep this default, which throws NetError.
  virtual std::vector<std::optional<Bytes>> transfer_tolerant(
      std::span<const Outgoing> sends, std::span<const PartyId> receive_from,
      std::string_view step);

 private:
  void require_present(PartyId party, std::string_view step) const;
  void check_round(std::span<const Outgoing> sends, std::span<const PartyId> receive_from) const;
  // The checks of an ordinary (not dropout-tolerant) round; false when it moves nothing at all.
  bool begin_ordinary_round(std::span<const Outgoing> sends, std::span<const PartyId> receive_from,
                            std::string_view step) const;
  void count_round(std::span<const Outgoing> sends, std::span<const PartyId> receive_from,
                   std::span<const std::optional<std::size_t>> received_sizes);

  PartyId self_;
  std::vector<std::string> names_;
  MeshStats stats_;
  std::vector<bool> dropped_;
};

}  // namespace sm::net
