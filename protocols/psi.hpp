// Private set intersection among N >= 2 parties: the items every party holds, or only how many
// there are, without revealing anything else about the sets (beyond their sizes).
//
// Protocol (semi-honest; Diffie-Hellman PSI on ristretto255 through libsodium, made N-party with
// a zero sharing keyed by the tags and an oblivious key-value store, in the spirit of Kolesnikov,
// Matania, Pinkas, Rosulek, Trieu, "Practical multi-party private set intersection from
// symmetric-key techniques", CCS 2017, and of the OKVS of PaXoS, EUROCRYPT 2020):
//
//   1. Tags (N rounds). H(x) = ristretto255_from_hash(SHA-512("SecretMesh PSI v1" || domain ||
//      x)), where domain is the caller's nonce plus 32 bytes of the session's common randomness.
//      Every party j draws a secret scalar k_j. Each party raises its own H(x) to k_j, shuffles
//      them and sends them around the ring j -> j+1 -> ... -> j-1 -> j; each hop raises every
//      element to its scalar and passes them on in the order received. All N sets travel at
//      once, so round r moves every set one hop. At the end party j holds, in its own secret
//      order, the tags T(x) = H(x)^(k_0 ... k_(N-1)) of its items.
//   2. Zero sharing. With pairwise keys s_jl (from the Session's pairwise PRG streams), party j
//      computes for each of its tags z_j(T) = XOR over l != j of AES_(s_jl)(BLAKE2b-128(T)), so
//      that the XOR over all parties of z_j(T) is 0 for a tag every party holds.
//   3. Every non-leader party encodes {BLAKE2b-128(T) -> z_j(T)} into an OKVS (psi_okvs.hpp)
//      and sends it to the leader, the first output party (1 round).
//   4. The leader decodes every OKVS at each of its tags and XORs in its own z_0(T): the result
//      is 0 for the items of the intersection, and random otherwise (false positive probability
//      about n N 2^-128).
//   Then, by mode: intersection — the leader sends the common items, sorted bytewise, to the
//   other output parties (1 round); cardinality — the last hop of the leader's set shuffles it
//   once more, so the leader cannot map its tags back to items, and the leader sends only the
//   count (1 round); align — the leader broadcasts the digests of the common tags, sorted
//   bytewise, and every party maps them to its own items (1 round).
//
// What it reveals, and to whom (no collusion):
//   - every party: every party's set size (the ring messages and OKVS are sized by it);
//   - intersection: the output parties learn the intersection; the other parties nothing else;
//   - cardinality: the output parties learn the size of the intersection, nothing else;
//   - align: every party learns which of its own items are common (so the intersection) and a
//     common order of them; output_parties must be empty.
// Collusion: the coalition of all parties but one, h, including the leader, knows every pairwise
// key of h, so it can compute z_h itself and test the leader's items against X_h alone: it learns
// X_leader ∩ X_h rather than only the N-party intersection. With two or more parties outside a
// coalition, z_h stays pseudo-random to it. Coalitions without the leader see only blinded
// elements, and their outputs. Blinded elements are pseudo-random under DDH in
// ristretto255 (random oracle model for H).
//
// Cost per party, with n_j the size of party j's set and n = sum n_j: rounds N + 2 (N + 1
// without an output step when the leader is the only output party); bytes sent 32 n (every set
// passes each party once) plus, at non-leaders, 16 (1.3 n_j + 12) + 16 for the OKVS. Group
// operations: n_j hashes to the group and n scalar multiplications, spread over `threads`
// threads. Memory, per element, besides the items themselves: 8 bytes of the own shuffle, the set
// in transit (32 bytes, held twice while it is sent), the own tags (32), then their digests and
// zero shares (32) and the OKVS and its peeling scratch (about 75; the leader keeps every other
// party's OKVS, 21 per element of theirs). Sets are processed whole (not streamed in batches);
// mpc-bench psi measured a peak of about 150 bytes per item per party, ids included, at 2^20.
// Parties compute in lock step, one set per round: a receive waits while the peer blinds a set,
// so the mesh's receive deadline must exceed the longest blinding step.
//
// Errors: InputError if `items` contains a duplicate (callers deduplicate first); ProtocolError
// for a malformed message (a point that is not a valid ristretto255 encoding, a set of the wrong
// length, a malformed OKVS); NetError from the mesh.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpc/session.hpp"
#include "net/mesh.hpp"

namespace sm::proto {

enum class PsiMode { kIntersection, kCardinality, kAlign };

struct PsiOptions {
  PsiMode mode = PsiMode::kIntersection;
  // Who learns the result (the first one is the leader); empty means every party.
  std::vector<net::PartyId> output_parties;
  // Mixed into the hash to the group, e.g. the run's session nonce (net::SessionInfo::nonce).
  std::array<std::uint8_t, 32> nonce{};
  // Threads for the group operations (0: std::thread::hardware_concurrency()).
  std::size_t threads = 0;
  // Called on the calling thread after each batch of group operations: step ("hashing",
  // "blinding", "blinding the set of party 2"), items done, items in the step.
  std::function<void(std::string_view step, std::size_t done, std::size_t total)> progress;
};

struct PsiResult {
  // intersection: at the output parties, the common items sorted bytewise.
  std::optional<std::vector<std::string>> intersection;
  // The number of common items: at the output parties (every party in align mode).
  std::optional<std::size_t> cardinality;
  // align: at every party, the indices into its `items` of the common items, in the common order.
  std::optional<std::vector<std::size_t>> aligned;
  std::vector<std::size_t> set_sizes;  // every party's set size, indexed by party
};

// Runs the protocol; every party calls it with its own distinct items and the same options.
PsiResult psi(mpc::Session& session, std::span<const std::string> items, const PsiOptions& options);

}  // namespace sm::proto
