#include "protocols/psi_okvs.hpp"

#include <cstring>

#include "net/errors.hpp"
#include "net/wire.hpp"

namespace sm::proto {

namespace {

constexpr int kMaxAttempts = 64;

__extension__ using Wide = unsigned __int128;

std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t value;
  std::memcpy(&value, p, 8);
  return value;
}

// murmur3's 64-bit finaliser: a bijective mixer.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// The key's cell in each third of the table (so the 3 cells are distinct).
std::array<std::size_t, 3> positions(const Block& key, std::uint64_t seed, std::size_t cells) {
  const std::uint64_t lo = load64(key.data());
  const std::uint64_t hi = load64(key.data() + 8);
  const std::size_t third = cells / 3;
  std::array<std::size_t, 3> out;
  for (std::size_t s = 0; s < 3; ++s) {
    const std::uint64_t h =
        mix(lo ^ mix(hi + seed + 0x9e3779b97f4a7c15ULL * (s + 1)) ^ (seed << (8 * s + 1)));
    out[s] = s * third + static_cast<std::size_t>((static_cast<Wide>(h) * third) >> 64);
  }
  return out;
}

void xor_into(Block& out, const Block& in) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] ^= in[i];
}

// One peeling attempt; the order in which keys were peeled and each key's free cell, or empty
// if the hypergraph has a 2-core.
bool peel(std::span<const Block> keys, std::uint64_t seed, std::size_t cells,
          std::vector<std::array<std::size_t, 3>>& where,
          std::vector<std::pair<std::uint32_t, std::uint32_t>>& order) {
  const std::size_t n = keys.size();
  where.resize(n);
  std::vector<std::uint32_t> count(cells, 0);
  std::vector<std::uint32_t> members(cells, 0);  // XOR of the indices of the keys in the cell
  for (std::size_t k = 0; k < n; ++k) {
    where[k] = positions(keys[k], seed, cells);
    for (std::size_t c : where[k]) {
      ++count[c];
      members[c] ^= static_cast<std::uint32_t>(k);
    }
  }
  std::vector<std::uint32_t> queue;
  for (std::size_t c = 0; c < cells; ++c) {
    if (count[c] == 1) queue.push_back(static_cast<std::uint32_t>(c));
  }
  order.clear();
  order.reserve(n);
  while (!queue.empty()) {
    const std::uint32_t c = queue.back();
    queue.pop_back();
    if (count[c] != 1) continue;
    const std::uint32_t k = members[c];
    order.emplace_back(k, c);
    for (std::size_t d : where[k]) {
      --count[d];
      members[d] ^= k;
      if (count[d] == 1) queue.push_back(static_cast<std::uint32_t>(d));
    }
  }
  return order.size() == n;
}

}  // namespace

std::size_t okvs_cells(std::size_t n) {
  const std::size_t wanted = n + (3 * n + 9) / 10 + 12;
  return 3 * ((wanted + 2) / 3);
}

Block Okvs::decode(const Block& key) const {
  Block out{};
  for (std::size_t c : positions(key, seed, cells.size())) xor_into(out, cells[c]);
  return out;
}

net::Bytes Okvs::serialize() const {
  net::ByteWriter out;
  out.u64(seed);
  out.u64(cells.size());
  for (const Block& cell : cells) out.bytes(cell);
  return out.take();
}

Okvs Okvs::deserialize(net::ByteView bytes, std::size_t max_cells, const std::string& sender) {
  net::ByteReader in(bytes, "key-value store from " + sender);
  Okvs table;
  table.seed = in.u64();
  const std::uint64_t count = in.u64();
  if (count < 3 || count % 3 != 0 || count > max_cells) {
    throw ProtocolError("malformed key-value store from " + sender + ": " + std::to_string(count) +
                        " cells");
  }
  const net::ByteView data = in.bytes(count * sizeof(Block));
  in.expect_end();
  table.cells.resize(count);
  std::memcpy(table.cells.data(), data.data(), data.size());
  return table;
}

Okvs okvs_encode(std::span<const Block> keys, std::span<const Block> values, mpc::Prg& randomness) {
  if (keys.size() != values.size() || keys.size() >= (std::size_t{1} << 32)) {
    throw ProtocolError("okvs_encode: keys and values differ in number or are too many");
  }
  std::vector<std::array<std::size_t, 3>> where;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> order;
  std::size_t cells = okvs_cells(keys.size());
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0 && attempt % 8 == 0) cells = 3 * ((cells + cells / 20 + 2) / 3);
    Okvs table;
    randomness.fill(std::span(reinterpret_cast<std::uint8_t*>(&table.seed), sizeof table.seed));
    if (!peel(keys, table.seed, cells, where, order)) continue;
    table.cells.resize(cells);
    randomness.fill(std::span(table.cells.front().data(), cells * sizeof(Block)));
    // Reverse peeling order: a key's free cell is touched by no key assigned before it.
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const auto [k, free] = *it;
      Block value = values[k];
      for (std::size_t c : where[k]) {
        if (c != free) xor_into(value, table.cells[c]);
      }
      table.cells[free] = value;
    }
    return table;
  }
  throw ProtocolError("okvs_encode: peeling failed " + std::to_string(kMaxAttempts) +
                      " times (duplicate keys?)");
}

}  // namespace sm::proto
