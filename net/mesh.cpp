#include "net/mesh.hpp"

#include <stdexcept>

namespace sm::net {

std::uint64_t MeshStats::bytes_sent() const {
  std::uint64_t total = 0;
  for (const auto& peer : peers) total += peer.bytes_sent;
  return total;
}

std::uint64_t MeshStats::bytes_received() const {
  std::uint64_t total = 0;
  for (const auto& peer : peers) total += peer.bytes_received;
  return total;
}

MeshStats MeshStats::since(const MeshStats& earlier) const {
  MeshStats delta = *this;
  for (std::size_t i = 0; i < delta.peers.size() && i < earlier.peers.size(); ++i) {
    delta.peers[i].bytes_sent -= earlier.peers[i].bytes_sent;
    delta.peers[i].bytes_received -= earlier.peers[i].bytes_received;
    delta.peers[i].messages_sent -= earlier.peers[i].messages_sent;
    delta.peers[i].messages_received -= earlier.peers[i].messages_received;
  }
  delta.rounds -= earlier.rounds;
  return delta;
}

Mesh::Mesh(PartyId self, std::vector<std::string> names) : self_(self), names_(std::move(names)) {
  if (self_ >= names_.size()) throw std::invalid_argument("Mesh: own id outside the party table");
  stats_.peers.resize(names_.size());
}

std::string Mesh::describe(PartyId party) const {
  return "party " + std::to_string(party) + " (" + name(party) + ")";
}

std::vector<Bytes> Mesh::round(std::span<const Outgoing> sends,
                               std::span<const PartyId> receive_from, std::string_view step) {
  for (const auto& message : sends) {
    if (message.to >= size() || message.to == self_) {
      throw std::invalid_argument("Mesh::round: bad destination " + std::to_string(message.to));
    }
  }
  for (PartyId from : receive_from) {
    if (from >= size() || from == self_) {
      throw std::invalid_argument("Mesh::round: bad source " + std::to_string(from));
    }
  }
  if (sends.empty() && receive_from.empty()) return {};

  std::vector<Bytes> received = transfer(sends, receive_from, step);
  ++stats_.rounds;
  for (const auto& message : sends) {
    stats_.peers[message.to].bytes_sent += message.data.size();
    ++stats_.peers[message.to].messages_sent;
  }
  for (std::size_t i = 0; i < receive_from.size(); ++i) {
    stats_.peers[receive_from[i]].bytes_received += received[i].size();
    ++stats_.peers[receive_from[i]].messages_received;
  }
  return received;
}

void Mesh::send(PartyId to, ByteView data, std::string_view step) {
  const Outgoing message{to, data};
  round({&message, 1}, {}, step);
}

Bytes Mesh::recv(PartyId from, std::string_view step) {
  return std::move(round({}, {&from, 1}, step).front());
}

std::vector<Bytes> Mesh::exchange_all(std::span<const Bytes> outgoing, std::string_view step) {
  if (outgoing.size() != size()) {
    throw std::invalid_argument("Mesh::exchange_all: need one message per party");
  }
  std::vector<Outgoing> sends;
  std::vector<PartyId> peers;
  for (PartyId j = 0; j < size(); ++j) {
    if (j == self_) continue;
    sends.push_back({j, outgoing[j]});
    peers.push_back(j);
  }
  std::vector<Bytes> received = round(sends, peers, step);
  std::vector<Bytes> result(size());
  for (std::size_t i = 0; i < peers.size(); ++i) result[peers[i]] = std::move(received[i]);
  return result;
}

std::vector<Bytes> Mesh::broadcast(ByteView data, std::string_view step) {
  std::vector<Outgoing> sends;
  std::vector<PartyId> peers;
  for (PartyId j = 0; j < size(); ++j) {
    if (j == self_) continue;
    sends.push_back({j, data});
    peers.push_back(j);
  }
  std::vector<Bytes> received = round(sends, peers, step);
  std::vector<Bytes> result(size());
  for (std::size_t i = 0; i < peers.size(); ++i) result[peers[i]] = std::move(received[i]);
  result[self_].assign(data.begin(), data.end());
  return result;
}

}  // namespace sm::net
