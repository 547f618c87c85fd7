// Randomness: seeds from libsodium, expanded by a keyed PRG (AES-128 in counter mode through
// OpenSSL, which uses AES-NI).
//
// A Prg's output is a pure function of (seed, stream, position): Prg(seed, stream) yields the
// AES-CTR keystream under key `seed` with the 128-bit counter block (stream, position), so two
// parties holding the same seed produce the same values, and different streams of one seed are
// independent. Sampling consumes 8 bytes per Ring64 element (the element is those keystream
// bytes, little-endian) and 16 bytes per element of the fields (see from_random_bits), so the
// position after sampling n elements is known without looking at their values.
//
// PrgState holds a session's seeds: a private seed, one seed per peer shared only with that peer
// (used for pseudo-random zero sharings and compressed input sharing), and one seed common to all
// parties (public randomness, e.g. mini-batch order). Each hands out fresh streams on request.
//
// Not thread-safe: one Prg or PrgState per thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "mpc/ring64.hpp"
#include "net/mesh.hpp"

namespace sm::mpc {

using Seed = std::array<std::uint8_t, 16>;

// A fresh secret seed from the operating system (libsodium's randombytes_buf).
Seed random_seed();

class Prg {
 public:
  explicit Prg(const Seed& seed, std::uint64_t stream = 0);
  ~Prg();
  Prg(Prg&&) noexcept;
  Prg& operator=(Prg&&) noexcept;

  // Moves to the start of stream `stream` of the same seed, as Prg(seed, stream) would begin,
  // keeping the key schedule: for callers that draw from many streams of one seed.
  void restart(std::uint64_t stream);

  // Fills `out` with the next keystream bytes.
  void fill(std::span<std::uint8_t> out);

  // The next n uniformly random elements (statistically uniform for the fields: see each
  // element type's from_random_bits).
  template <class E>
  std::vector<E> sample(std::size_t n) {
    std::vector<E> out(n);
    sample_into(std::span<E>(out));
    return out;
  }
  template <class E>
  void sample_into(std::span<E> out) {
    if constexpr (std::is_same_v<E, Ring64>) {
      fill_bytes(std::as_writable_bytes(out));  // every 64-bit word is a uniform element
    } else {
      constexpr std::size_t kChunk = 4096;
      std::array<std::uint64_t, 2 * kChunk> words;
      for (std::size_t done = 0; done < out.size();) {
        const std::size_t count = std::min(kChunk, out.size() - done);
        fill_bytes(std::as_writable_bytes(std::span(words.data(), 2 * count)));
        for (std::size_t i = 0; i < count; ++i) {
          out[done + i] = E::from_random_bits(words[2 * i], words[2 * i + 1]);
        }
        done += count;
      }
    }
  }

 private:
  void fill_bytes(std::span<std::byte> out);
  struct Cipher;
  std::unique_ptr<Cipher> cipher_;
};

class PrgState {
 public:
  // Establishes the seeds with one round over `mesh`: each party sends every higher-numbered
  // party a fresh pairwise seed, and every party a contribution to the common seed.
  // Cost: 1 round; 16 bytes to each peer, plus 16 more to each higher-numbered peer.
  static PrgState establish(net::Mesh& mesh);
  // Seeds derived deterministically from `master` (for reproducible tests): party i's private
  // seed, the pair (i, j)'s seed and the common seed are functions of master.
  static PrgState from_master_seed(const Seed& master, net::PartyId self, std::size_t parties);

  // Fresh streams; each call returns a stream never handed out before by this state. Parties
  // that make the same sequence of calls for a shared seed get the same streams.
  Prg private_stream();
  Prg pairwise_stream(net::PartyId peer);
  Prg common_stream();

 private:
  PrgState(Seed private_seed, std::vector<Seed> pairwise, Seed common, net::PartyId self);
  Seed private_seed_;
  std::vector<Seed> pairwise_;  // pairwise_[self] unused
  Seed common_;
  net::PartyId self_;
  std::uint64_t private_counter_ = 0;
  std::vector<std::uint64_t> pairwise_counters_;
  std::uint64_t common_counter_ = 0;
};

}  // namespace sm::mpc
