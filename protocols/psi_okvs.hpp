// An oblivious key-value store (OKVS) for PSI: a garbled cuckoo table with 3 hash positions per
// key, encoded by peeling (Pinkas, Rosulek, Trieu, Yanai, "PaXoS: fast, maliciously secure
// private set intersection", EUROCRYPT 2020, the 3-hash "garbled cuckoo table" without the
// 2-core solver).
//
// Keys are 16-byte digests (uniformly random-looking: PSI hashes its tags first), values 16-byte
// strings. encode() returns a table of cells such that decode(table, key) — the XOR of the key's 3
// cells — equals the key's value for every encoded key. Cells no key was peeled into are filled
// with fresh random bytes, and peeling assigns each key one free cell, so when the values are
// themselves uniformly random to a holder of the table, the table is uniformly random and decoding
// at any key not encoded gives a value independent of the encoded pairs (the OKVS's obliviousness).
//
// Size: 3 * ceil((1.3 n + 12) / 3) cells of 16 bytes for n keys (about 20.8 bytes per key for
// large n), one u64 hash seed. Peeling a random 3-hypergraph succeeds with high probability above
// 1.23 cells per key; on failure encode() draws a fresh seed, and every 8 failures it enlarges the
// table by 5 %. Encoding: O(n) time, about 60 bytes per key of scratch memory besides the output.
//
// The same layout also carries an additive store over a ring or field (okvs_encode_sum: the sum of
// a key's 3 cells equals its value), which PSI's sum mode secret-shares; decoding is then linear
// in the table, a sum of 3 cells with coefficient 1.
//
// Errors: encode() and okvs_layout() throw ProtocolError if 64 seeds all fail (astronomically
// unlikely for distinct keys; certain for duplicate keys, which callers must not pass);
// decode()/deserialize() throw ProtocolError on a malformed table. Thread-safety: const tables may
// be decoded from several threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mpc/prg.hpp"
#include "net/mesh.hpp"

namespace sm::proto {

using Block = std::array<std::uint8_t, 16>;

struct Okvs {
  std::uint64_t seed = 0;
  std::vector<Block> cells;  // a multiple of 3 cells, at least 3

  // The value stored at `key` (arbitrary for keys that were not encoded).
  Block decode(const Block& key) const;

  // Wire format: u64 seed, u64 cell count, the cells (16 bytes each).
  net::Bytes serialize() const;
  // Parses a table from `sender` (for messages); at most max_cells cells.
  static Okvs deserialize(net::ByteView bytes, std::size_t max_cells, const std::string& sender);
};

// The table size encode() starts with for n keys.
std::size_t okvs_cells(std::size_t n);

// Where n distinct keys go: a hash seed under which their 3-hypergraph peels (drawn from
// `randomness`, retried as described above), the table size, each key's 3 cells, and the peeling
// order as (key, the cell it was peeled into).
struct OkvsLayout {
  std::uint64_t seed = 0;
  std::size_t cells = 0;
  std::vector<std::array<std::size_t, 3>> where;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> order;
};
OkvsLayout okvs_layout(std::span<const Block> keys, mpc::Prg& randomness);

// The 3 cells of `key` in a table of `cells` cells (a multiple of 3) under `seed`: one in each
// third, so they are distinct.
std::array<std::size_t, 3> okvs_positions(const Block& key, std::uint64_t seed, std::size_t cells);

// Encodes keys[i] -> values[i] (keys distinct, keys.size() == values.size()); free cells and the
// hash seeds come from `randomness` (a private stream).
Okvs okvs_encode(std::span<const Block> keys, std::span<const Block> values, mpc::Prg& randomness);

// Assigns the peeled cells of `cells` (layout.cells of them, the others left as they are) so that
// key k's cells combine to values[k], where remove(value, cell) takes one cell's part out of a
// value (XOR for the Block store, subtraction for a ring). Reverse peeling order: a key's free
// cell is touched by no key assigned before it.
template <class V, class Remove>
void okvs_assign(const OkvsLayout& layout, std::span<const V> values, std::vector<V>& cells,
                 Remove remove) {
  for (auto it = layout.order.rbegin(); it != layout.order.rend(); ++it) {
    const auto [k, free] = *it;
    V value = values[k];
    for (std::size_t c : layout.where[k]) {
      if (c != free) remove(value, cells[c]);
    }
    cells[free] = value;
  }
}

// The additive store of values[k] at the keys of `layout` over the ring or field E: the sum of
// key k's 3 cells is values[k]. Cells no key was peeled into are 0: PSI's sum mode secret-shares
// the table, so nobody sees it in the clear.
template <class E>
std::vector<E> okvs_encode_sum(const OkvsLayout& layout, std::span<const E> values) {
  std::vector<E> cells(layout.cells);
  okvs_assign<E>(layout, values, cells, [](E& value, const E& cell) { value -= cell; });
  return cells;
}

}  // namespace sm::proto
