// SubMesh: a view of a parent Mesh restricted to some of its parties.
//
// The members are given as parent ids; inside the SubMesh they are renumbered 0..m-1 in the
// order given (member k of the list is party k) and keep their names, so errors and logs still
// name the real organisation. Use: the computing parties of a dealer-assisted run all join one
// mesh with the dealer, and run the engine over the SubMesh of the computing parties, while the
// DealerClient (mpc/dealer.hpp) talks to the dealer over the parent.
//
// Every round is forwarded to the parent as one round with the ids translated, so both meshes
// count it: the SubMesh's stats() cover the traffic among the members made through it, the
// parent's cover everything. Streamed rounds and produced sends go through the parent's.
// Tolerant rounds (round_tolerant) are forwarded as tolerant rounds of the parent, so a member
// that drops out is marked dropped in both meshes. Errors are the parent's (NetError naming the
// peer by its parent id and name). No thread, no buffer: a SubMesh costs nothing beyond the
// parent's round.
//
// Closing: the parent owns the channels, and other users of the parent (the dealer link) may
// still need them, so close() only ends this view: later rounds through it throw NetError, and
// the parent stays open. Close the parent to end the run. Idempotent.
//
// Lifetime and threads: the parent must outlive the SubMesh. As for any Mesh, one thread at a
// time calls the SubMesh, and not concurrently with other calls on the parent.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "net/mesh.hpp"

namespace sm::net {

class SubMesh final : public Mesh {
 public:
  // `members`: distinct parent ids, including the parent's own id. Throws ConfigError otherwise.
  SubMesh(Mesh& parent, std::span<const PartyId> members);

  Mesh& parent() { return parent_; }
  // The parent id of member `party` (a SubMesh id).
  PartyId parent_id(PartyId party) const { return members_.at(party); }

  void close() override;

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
  std::vector<std::optional<Bytes>> transfer_tolerant(std::span<const Outgoing> sends,
                                                      std::span<const PartyId> receive_from,
                                                      std::string_view step) override;

 private:
  void check_open(std::string_view step) const;
  std::vector<Outgoing> to_parent(std::span<const Outgoing> sends) const;
  std::vector<PartyId> to_parent(std::span<const PartyId> parties) const;

  SubMesh(Mesh& parent, std::vector<PartyId> members, PartyId self);

  Mesh& parent_;
  std::vector<PartyId> members_;  // members_[k] = parent id of party k
  bool closed_ = false;
};

}  // namespace sm::net
