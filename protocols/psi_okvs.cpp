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

}  // namespace

std::array<std::size_t, 3> okvs_positions(const Block& key, std::uint64_t seed, std::size_t cells) {
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

namespace {

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
    where[k] = okvs_positions(keys[k], seed, cells);
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
  for (std::size_t c : okvs_positions(key, seed, cells.size())) xor_into(out, cells[c]);
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

OkvsLayout okvs_layout(std::span<const Block> keys, mpc::Prg& randomness) {
  if (keys.size() >= (std::size_t{1} << 32)) throw ProtocolError("okvs: too many keys");
  OkvsLayout layout;
  layout.cells = okvs_cells(keys.size());
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0 && attempt % 8 == 0) {
      layout.cells = 3 * ((layout.cells + layout.cells / 20 + 2) / 3);
    }
    randomness.fill(std::span(reinterpret_cast<std::uint8_t*>(&layout.seed), sizeof layout.seed));
    if (peel(keys, layout.seed, layout.cells, layout.where, layout.order)) return layout;
  }
  throw ProtocolError("okvs: peeling failed " + std::to_string(kMaxAttempts) +
                      " times (duplicate keys?)");
}

Okvs okvs_encode(std::span<const Block> keys, std::span<const Block> values, mpc::Prg& randomness) {
  if (keys.size() != values.size()) {
    throw ProtocolError("okvs_encode: keys and values differ in number");
  }
  const OkvsLayout layout = okvs_layout(keys, randomness);
  Okvs table;
  table.seed = layout.seed;
  table.cells.resize(layout.cells);
  randomness.fill(std::span(table.cells.front().data(), layout.cells * sizeof(Block)));
  okvs_assign<Block>(layout, values, table.cells, xor_into);
  return table;
}

}  // namespace sm::proto
