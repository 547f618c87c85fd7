#include "net/sub_mesh.hpp"

#include <algorithm>
#include <string>

#include "net/errors.hpp"

namespace sm::net {

namespace {

std::vector<std::string> member_names(const Mesh& parent, std::span<const PartyId> members) {
  std::vector<std::string> names;
  names.reserve(members.size());
  for (PartyId id : members) names.push_back(parent.name(id));
  return names;
}

// Validates `members` and returns the parent's position among them.
PartyId own_position(const Mesh& parent, std::span<const PartyId> members) {
  for (std::size_t k = 0; k < members.size(); ++k) {
    if (members[k] >= parent.size()) {
      throw ConfigError("sub-mesh: party id " + std::to_string(members[k]) +
                        " is outside the party table (" + std::to_string(parent.size()) +
                        " parties)");
    }
    if (std::find(members.begin(), members.begin() + k, members[k]) != members.begin() + k) {
      throw ConfigError("sub-mesh: " + parent.describe(members[k]) + " is listed twice");
    }
  }
  const auto self = std::find(members.begin(), members.end(), parent.self());
  if (self == members.end()) {
    throw ConfigError("sub-mesh: this party, " + parent.describe(parent.self()) +
                      ", is not among the members");
  }
  return static_cast<PartyId>(self - members.begin());
}

}  // namespace

SubMesh::SubMesh(Mesh& parent, std::span<const PartyId> members)
    : SubMesh(parent, std::vector<PartyId>(members.begin(), members.end()),
              own_position(parent, members)) {}

SubMesh::SubMesh(Mesh& parent, std::vector<PartyId> members, PartyId self)
    : Mesh(self, member_names(parent, members)), parent_(parent), members_(std::move(members)) {}

void SubMesh::close() { closed_ = true; }

void SubMesh::check_open(std::string_view step) const {
  if (closed_) {
    throw NetError("sub-mesh of " + describe(self()) + " used after close() in step '" +
                   std::string(step) + "'");
  }
}

std::vector<Outgoing> SubMesh::to_parent(std::span<const Outgoing> sends) const {
  std::vector<Outgoing> parent_sends;
  parent_sends.reserve(sends.size());
  for (const auto& message : sends)
    parent_sends.push_back({members_[message.to], message.data, message.tail});
  return parent_sends;
}

std::vector<PartyId> SubMesh::to_parent(std::span<const PartyId> parties) const {
  std::vector<PartyId> parent_ids;
  parent_ids.reserve(parties.size());
  for (PartyId party : parties) parent_ids.push_back(members_[party]);
  return parent_ids;
}

std::vector<Bytes> SubMesh::transfer(std::span<const Outgoing> sends,
                                     std::span<const PartyId> receive_from, std::string_view step) {
  check_open(step);
  return parent_.round(to_parent(sends), to_parent(receive_from), step);
}

std::vector<std::size_t> SubMesh::transfer_streamed(std::span<const Outgoing> sends,
                                                    std::span<const PartyId> receive_from,
                                                    std::span<const std::size_t> expected_bytes,
                                                    std::string_view step, const PieceSink& sink) {
  check_open(step);
  return parent_.round_streamed(to_parent(sends), to_parent(receive_from), expected_bytes, step,
                                sink);
}

void SubMesh::transfer_produced(PartyId to, std::span<std::uint8_t> buffer, std::string_view step,
                                const PieceSource& produce) {
  check_open(step);
  parent_.send_produced(parent_id(to), buffer, step, produce);
}

std::vector<std::optional<Bytes>> SubMesh::transfer_tolerant(std::span<const Outgoing> sends,
                                                             std::span<const PartyId> receive_from,
                                                             std::string_view step) {
  check_open(step);
  return parent_.round_tolerant(to_parent(sends), to_parent(receive_from), step);
}

}  // namespace sm::net
