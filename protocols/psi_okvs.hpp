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
// Errors: encode() throws ProtocolError if 64 seeds all fail (astronomically unlikely for
// distinct keys; certain for duplicate keys, which callers must not pass); decode()/deserialize()
// throw ProtocolError on a malformed table. Thread-safety: const tables may be decoded from
// several threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
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

// Encodes keys[i] -> values[i] (keys distinct, keys.size() == values.size()); free cells and the
// hash seeds come from `randomness` (a private stream).
Okvs okvs_encode(std::span<const Block> keys, std::span<const Block> values, mpc::Prg& randomness);

}  // namespace sm::proto
