// Private set intersection among N >= 2 parties: the items every party holds, or only how many
// there are, or the sum of one party's numeric payload over them, without revealing anything else
// about the sets (beyond their sizes).
//
// Protocol (semi-honest; Diffie-Hellman PSI on Curve25519 with X25519 blinding through libsodium
// and an Elligator 2 hash to the curve (psi_group.hpp), made N-party with a zero sharing keyed by
// the tags and an oblivious key-value store, in the spirit of Kolesnikov, Matania, Pinkas,
// Rosulek, Trieu, "Practical multi-party private set intersection from symmetric-key techniques",
// CCS 2017, and of the OKVS of PaXoS, EUROCRYPT 2020):
//
//   1. Tags (N rounds). H(x) = elligator2(the first 32 bytes of SHA-512("SecretMesh PSI v2
//      X25519" || domain || x)), a Curve25519 u-coordinate, where domain is the caller's nonce
//      plus 32 bytes of the session's common randomness. Every party j draws a secret 32-byte
//      scalar k_j. Each party blinds its own H(x) with k_j (X25519(k_j, .)), shuffles them and
//      sends them around the ring j -> j+1 -> ... -> j-1 -> j; each hop blinds every element
//      with its scalar and passes them on in the order received. All N sets travel at once, so
//      round r moves every set one hop. At the end party j holds, in its own secret order, the
//      tags T(x) = the u-coordinate of [c_0 ... c_(N-1)] H(x) of its items, c_j the clamped k_j:
//      X25519's multiplications commute, so every party's tag of a common item is the same.
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
// Sum mode (psi_sum(), on a secret-sharing engine), in the spirit of Ion et al., "On deploying
// secure computing: private intersection-sum-with-cardinality", EuroS&P 2020 (Google's Private
// Join and Compute), made N-party and with the sum computed by the engine instead of additively
// homomorphic encryption. One party h, the payload holder, has an integer payload per item. The
// decoder L ("leader" above) is the first output party other than h, or else the lowest id other
// than h; the last hop of L's set shuffles it once more, as in cardinality mode. After step 4:
//   5. h encodes {digest(T) -> payload(T)} for its tags into an additive OKVS P over the engine's
//      element type E (Z_2^64 or F_(2^127-1)): the same 3-hash garbled cuckoo table, peeled, with
//      sum(P at T's 3 cells) = payload(T) and the unpeeled cells 0 (psi_okvs.hpp). Its hash seed
//      and size m are public: h sends them to every party (1 round, 16 bytes). A peeling failure
//      (probability O(1/m) per seed) is retried with a fresh seed, the table growing 5 % every 8
//      failures; only the seed that worked is sent.
//   6. L computes R, of length m, the sum over its common tags T of T's row (1 at its 3 cells).
//   7. h inputs P and L inputs R into the engine; the engine computes <R, P>, which is the sum of
//      payload(T) over the common tags, and opens it to the output parties only.
// Payloads are int64 whose absolute values add up to less than kPsiSumLimit = 2^63 (checked at
// h), so the sum over any intersection is exact in both engines; callers scale decimals to
// integers first (the psi job: by 10^D, D the most digits after the point in the column).
//
// What it reveals, and to whom (no collusion):
//   - every party: every party's set size (the ring messages and OKVS are sized by it);
//   - intersection: the output parties learn the intersection; the other parties nothing else;
//   - cardinality: the output parties learn the size of the intersection, nothing else;
//   - align: every party learns which of its own items are common (so the intersection) and a
//     common order of them; output_parties must be empty;
//   - sum: the output parties learn the sum; L also learns the size of the intersection (which
//     of its tags are common, but not which items: its tags come back reshuffled), and nothing
//     else; nobody learns the intersection or any single payload (P and R are secret-shared; the
//     engine's own security model applies: any N-1 parties for the additive engine with a
//     non-colluding dealer, t < N/2 for Shamir). The public seed of P says only that h's
//     digests peel under it.
// Collusion: the coalition of all parties but one, h, including the leader, knows every pairwise
// key of h, so it can compute z_h itself and test the leader's items against X_h alone: it learns
// X_leader ∩ X_h rather than only the N-party intersection. With two or more parties outside a
// coalition, z_h stays pseudo-random to it. Coalitions without the leader see only blinded
// elements, and their outputs.
// Why blinded elements hide the items: after its first blinding an element lies in the subgroup of
// prime order l = 2^252 + ... of Curve25519 (X25519 clamps every scalar to a multiple of 8, which
// clears the cofactor; Bernstein, "Curve25519: new Diffie-Hellman speed records", PKC 2006; RFC
// 7748), and a u-coordinate identifies a point up to sign, which every scalar multiplication
// preserves. Under the decisional Diffie-Hellman assumption in that subgroup (with X25519's
// clamped exponents, as in every X25519 key exchange), and with H a random oracle (Elligator 2 of
// a hash, Bernstein, Hamburg, Krasnova, Lange, CCS 2013; RFC 9380), elements blinded by a key a
// coalition does not know are indistinguishable from random subgroup elements: the argument of
// Huberman, Franklin, Hogg, "Enhancing privacy and trust in electronic communities", EC 1999, and
// of Ion et al. above.

// Cost per party, with n_j the size of party j's set and n = sum n_j: rounds N + 2 (N + 1
// without an output step when the leader is the only output party); bytes sent 32 n (every set
// passes each party once) plus, at non-leaders, 16 (1.3 n_j + 12) + 16 for the OKVS. Group
// operations: n_j hashes to the curve and n X25519 scalar multiplications, spread over `threads`
// threads (mpc-bench psi: X25519 about 28,000 per second per core, the hash about 135,000).
// Memory, per element, besides the items themselves: 8 bytes of the own shuffle, the set in
// transit (32 bytes, held twice while it is sent: the set received and the set being sent), the
// own tags (32), then their digests and zero shares (32) and the OKVS and its peeling scratch
// (about 75; the leader keeps every other party's OKVS, 21 per element of theirs). Sets are
// processed whole, not streamed in batches: one message per set and hop (32 bytes per element:
// 320 MB for 10^7, under the mesh's 1 GiB frame limit, net/tls_config.hpp). mpc-bench psi (N = 2,
// both parties in one process, ids of 14 bytes included) measured a peak resident set of 91 MiB
// at 2^18 and 313 MiB at 2^20 ids per party: about 155 bytes per id per party (the increase
// between the two), so about 1.5 GB per party for 10^7 ids.
// Parties compute in lock step, one set per round: a receive waits while the peer blinds a set,
// so the mesh's receive deadline must exceed the longest blinding step.
// Sum mode, after steps 1-4 (N + 1 rounds): 1 round for P's layout (16 bytes from h to each
// party), two engine inputs of m = |P| (about 1.3 n_h) elements, one dot product of length m (1
// round, 2m elements to each peer, and a 1 x m by m x 1 matrix triple from the engine's
// correlation source: one correction element from the dealer, O(m) elements dealer-free) and the
// opening (1 round when every party is an output party, else 1 per output party); see
// mpc/engine.hpp and mpc/ops.hpp.
//
// Errors: InputError if `items` contains a duplicate (callers deduplicate first), or, in sum mode
// at h, if the payloads do not match the items or exceed kPsiSumLimit; ProtocolError for a
// malformed message, naming the peer that sent it (an element that is not a canonical
// u-coordinate, or of small order, on which X25519 gives all zeros; a set of the wrong length; a
// malformed OKVS); NetError from the mesh.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpc/engine.hpp"
#include "mpc/session.hpp"
#include "net/mesh.hpp"

namespace sm::proto {

enum class PsiMode { kIntersection, kCardinality, kAlign, kSum };

// Sum mode: the payloads' absolute values must add up to less than this (2^63).
inline constexpr std::uint64_t kPsiSumLimit = std::uint64_t{1} << 63;

struct PsiOptions {
  PsiMode mode = PsiMode::kIntersection;
  // Who learns the result (the first one is the leader, except in sum mode: see above); empty
  // means every party.
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
  // sum: at the output parties, the sum of the payloads over the intersection.
  std::optional<std::int64_t> sum;
  std::vector<std::size_t> set_sizes;  // every party's set size, indexed by party
};

// Runs the protocol; every party calls it with its own distinct items and the same options
// (mode intersection, cardinality or align).
PsiResult psi(mpc::Session& session, std::span<const std::string> items, const PsiOptions& options);

// Sum mode: every party calls it with its engine (AdditiveEngine or ShamirEngine<Fp127>), its own
// distinct items, the same holder and the same options (mode kSum). `payloads` is read at
// `holder` only, one per item. In the result only set_sizes and, at the output parties, sum are
// set.
template <mpc::Engine En>
PsiResult psi_sum(En& engine, std::span<const std::string> items,
                  std::span<const std::int64_t> payloads, net::PartyId holder,
                  const PsiOptions& options);

}  // namespace sm::proto
