#include "net/mesh.hpp"

#include <algorithm>
#include <stdexcept>

#include "net/errors.hpp"

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
  dropped_.assign(names_.size(), false);
}

std::string Mesh::describe(PartyId party) const {
  return "party " + std::to_string(party) + " (" + name(party) + ")";
}

void Mesh::check_round(std::span<const Outgoing> sends,
                       std::span<const PartyId> receive_from) const {
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
}

void Mesh::count_round(std::span<const Outgoing> sends, std::span<const PartyId> receive_from,
                       std::span<const std::optional<std::size_t>> received_sizes) {
  ++stats_.rounds;
  for (const auto& message : sends) {
    if (dropped_[message.to]) continue;
    stats_.peers[message.to].bytes_sent += message.size();
    ++stats_.peers[message.to].messages_sent;
  }
  for (std::size_t i = 0; i < receive_from.size(); ++i) {
    if (!received_sizes[i]) continue;
    stats_.peers[receive_from[i]].bytes_received += *received_sizes[i];
    ++stats_.peers[receive_from[i]].messages_received;
  }
}

bool Mesh::begin_ordinary_round(std::span<const Outgoing> sends,
                                std::span<const PartyId> receive_from,
                                std::string_view step) const {
  check_round(sends, receive_from);
  if (sends.empty() && receive_from.empty()) return false;
  for (const auto& message : sends) require_present(message.to, step);
  for (PartyId from : receive_from) require_present(from, step);
  return true;
}

std::vector<Bytes> Mesh::round(std::span<const Outgoing> sends,
                               std::span<const PartyId> receive_from, std::string_view step) {
  if (!begin_ordinary_round(sends, receive_from, step)) return {};
  std::vector<Bytes> received = transfer(sends, receive_from, step);
  std::vector<std::optional<std::size_t>> sizes;
  for (const auto& message : received) sizes.push_back(message.size());
  count_round(sends, receive_from, sizes);
  return received;
}

std::vector<std::size_t> Mesh::round_streamed(std::span<const Outgoing> sends,
                                              std::span<const PartyId> receive_from,
                                              std::span<const std::size_t> expected_bytes,
                                              std::string_view step, const PieceSink& sink) {
  if (expected_bytes.size() != receive_from.size()) {
    throw std::invalid_argument("Mesh::round_streamed: need one expected length per source");
  }
  if (!begin_ordinary_round(sends, receive_from, step)) return {};
  std::vector<std::size_t> lengths =
      transfer_streamed(sends, receive_from, expected_bytes, step, sink);
  const std::vector<std::optional<std::size_t>> sizes(lengths.begin(), lengths.end());
  count_round(sends, receive_from, sizes);
  return lengths;
}

std::vector<std::size_t> Mesh::transfer_streamed(std::span<const Outgoing> sends,
                                                 std::span<const PartyId> receive_from,
                                                 std::span<const std::size_t> expected_bytes,
                                                 std::string_view step, const PieceSink& sink) {
  const std::vector<Bytes> received = transfer(sends, receive_from, step);
  std::vector<std::size_t> lengths;
  for (std::size_t i = 0; i < received.size(); ++i) {
    lengths.push_back(received[i].size());
    if (received[i].size() == expected_bytes[i] && !received[i].empty()) sink(i, 0, received[i]);
  }
  return lengths;
}

void Mesh::send_produced(PartyId to, std::span<std::uint8_t> buffer, std::string_view step,
                         const PieceSource& produce) {
  const Outgoing message{to, buffer};
  if (!begin_ordinary_round({&message, 1}, {}, step)) return;
  transfer_produced(to, buffer, step, produce);
  count_round({&message, 1}, {}, {});
}

void Mesh::produce_all(std::span<std::uint8_t> buffer, const PieceSource& produce) {
  for (std::size_t offset = 0; offset < buffer.size(); offset += kProducedPiece) {
    produce(offset, buffer.subspan(offset, std::min(kProducedPiece, buffer.size() - offset)));
  }
}

void Mesh::transfer_produced(PartyId to, std::span<std::uint8_t> buffer, std::string_view step,
                             const PieceSource& produce) {
  produce_all(buffer, produce);
  const Outgoing message{to, buffer};
  transfer({&message, 1}, {}, step);
}

std::vector<std::optional<Bytes>> Mesh::round_tolerant(std::span<const Outgoing> sends,
                                                       std::span<const PartyId> receive_from,
                                                       std::string_view step) {
  check_round(sends, receive_from);
  if (sends.empty() && receive_from.empty()) return {};
  std::vector<Outgoing> live_sends;
  for (const auto& message : sends) {
    if (!dropped_[message.to]) live_sends.push_back(message);
  }
  std::vector<std::optional<Bytes>> received(receive_from.size());
  std::vector<PartyId> live_sources;
  for (PartyId from : receive_from) {
    if (!dropped_[from]) live_sources.push_back(from);
  }
  auto live_received = transfer_tolerant(live_sends, live_sources, step);
  std::vector<std::optional<std::size_t>> sizes(receive_from.size());
  for (std::size_t i = 0, k = 0; i < receive_from.size(); ++i) {
    if (dropped_[receive_from[i]]) continue;
    received[i] = std::move(live_received[k++]);
    if (received[i]) sizes[i] = received[i]->size();
  }
  count_round(live_sends, receive_from, sizes);
  for (std::size_t i = 0; i < receive_from.size(); ++i) {
    if (!received[i]) dropped_[receive_from[i]] = true;
  }
  return received;
}

void Mesh::require_present(PartyId party, std::string_view step) const {
  if (dropped_[party]) {
    throw NetError(describe(party) + " dropped out earlier in the run; step '" +
                   std::string(step) + "' needs it");
  }
}

std::vector<std::optional<Bytes>> Mesh::transfer_tolerant(std::span<const Outgoing>,
                                                          std::span<const PartyId>,
                                                          std::string_view step) {
  throw NetError("this transport cannot continue without dropped parties (step '" +
                 std::string(step) + "')");
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

std::vector<Bytes> Mesh::all_to_all(ByteView data, std::string_view step) {
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
  return result;
}

std::vector<std::size_t> Mesh::all_to_all_streamed(ByteView data, std::size_t expected_bytes,
                                                   std::string_view step, const PieceSink& sink) {
  return all_to_all_streamed(data, {}, expected_bytes, step, sink);
}

std::vector<std::size_t> Mesh::all_to_all_streamed(ByteView data, ByteView tail,
                                                   std::size_t expected_bytes,
                                                   std::string_view step, const PieceSink& sink) {
  std::vector<Outgoing> sends;
  std::vector<PartyId> peers;
  for (PartyId j = 0; j < size(); ++j) {
    if (j == self_) continue;
    sends.push_back({j, data, tail});
    peers.push_back(j);
  }
  const std::vector<std::size_t> expected(peers.size(), expected_bytes);
  const std::vector<std::size_t> lengths = round_streamed(
      sends, peers, expected, step, [&](std::size_t index, std::size_t offset, ByteView piece) {
        sink(peers[index], offset, piece);
      });
  std::vector<std::size_t> result(size(), 0);
  for (std::size_t i = 0; i < peers.size(); ++i) result[peers[i]] = lengths[i];
  return result;
}

std::vector<Bytes> Mesh::broadcast(ByteView data, std::string_view step) {
  std::vector<Bytes> result = all_to_all(data, step);
  result[self_].assign(data.begin(), data.end());
  return result;
}

}  // namespace sm::net
