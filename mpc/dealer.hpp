// The dealer for the additive engine: a process that is not a computing party, reached over the
// same mesh, that hands out correlated randomness (Beaver triples, matrix triples, truncation
// masks, comparison masks and window masks, random bits) seed-compressed.
//
// Deployment. The configuration's party table lists the dealer as one more party; the computing
// parties and the dealer all join one mesh (`full_mesh`, e.g. a TlsMesh). The dealer runs
// serve_dealer(); each computing party builds a DealerClient over the full mesh and runs its
// engine over net::SubMesh(full_mesh, compute_parties). "Party i" below is the i-th entry of
// `compute_parties` (its position, not its id in the full mesh); party 0 is the first entry.
//
// Protocol (seed compression, as in MP-SPDZ and CrypTen's trusted third party):
//   set-up   1 round: the dealer draws a fresh 16-byte seed s_i for every computing party i
//            (libsodium) and sends it to that party alone; in the same round party 0 sends the
//            dealer a hello naming the compute parties, which the dealer checks against its own.
//   batch k  Every correlation is a list of components: random ones (a and b of a triple, A and B
//            of a matrix triple, r of a truncation mask), uniform in Z_2^64, and derived ones
//            (c = ab, C = AB, high and msb of r, the random bits), computed by the dealer from
//            the random values and its private PRG. Component j of batch k uses stream
//            (k << 4) | j of each seed. Parties i >= 1 expand their shares of every component
//            from PRG(s_i) without any message; party 0 expands its shares of the random
//            components from PRG(s_0) and, for the derived components, receives from the dealer
//            the correction  value - sum_{i >= 1} share_i.  Only party 0 talks to the dealer:
//            1 round (request out, corrections back), its request is 32 bytes (masked products:
//            plus 8 per subset and per row), the reply is 8 bytes per derived element:
//              triples(n)                 n           (c)
//              matrix_triple(r, m, c)     r * c       (C; the dealer computes AB, O(r m c))
//              trunc_masks(n, f)          2n          (high, msb)
//              bit_masks(n, w)            n * w       (the bits; high is the trivial sharing of 0)
//              random_bits(n)             n
//              window_masks(n, low, w)    n (w + P)   (the window's bits and their group
//                                                      products in groups of 4,
//                                                      P = 11 w / 4 about; r is random)
//              masked_matrix(r, c)        0           (U is random; the dealer keeps it, in
//                                                      memory until "done", to derive products)
//              masked_products(U, Bs)     sum |B| + c (z = U_B v, zt = U_B^T vt per subset; the
//                                                      request carries the subsets' rows, 8
//                                                      bytes per row: the public mini-batches)
//            Parties i >= 1 receive exactly 16 bytes from the dealer in a whole run and send it
//            nothing. Empty batches (n = 0) cost nothing and are not numbered.
//            Pipelined: the dealer computes the corrections piece by piece while they are sent
//            (net::Mesh::send_produced; for triples a, b and c = ab too, so a batch needs no
//            dealer memory beyond the reply), and party 0 takes them piece by piece as they are
//            decrypted (net::Mesh::round_streamed) and expands its shares of the random
//            components in step, so the dealer's work, the transfer and party 0's expansion
//            overlap.
//   finish   party 0 sends "done"; serve_dealer() returns.
// Dealer compute per batch: N PRG expansions of each random element, N-1 of each derived one,
// plus the derivation (O(n), or O(r m c) for a matrix triple). Measured (N = 3, 2^20-triple
// batches, the "dealer throughput" test, in memory): about 86 million triples per CPU-second of
// the dealer's thread.
// Every party must request the same batches in the same order (as for any CorrelationSource);
// parties i >= 1 learn of a mismatch only through wrong results, party 0 and the dealer through
// ProtocolError only if the request itself is malformed.
//
// Security: semi-honest, static corruption. The dealer learns nothing of the parties' data (it
// never sees a message of the computation). Any coalition of computing parties that excludes
// the dealer learns nothing beyond its own shares: parties i >= 1 see only their seeds, and
// party 0's corrections are masked by the other parties' seeds. A dealer that colludes with a
// computing party breaks privacy: the dealer is trusted not to collude (the additive engine's
// model, see DESIGN.md).
//
// Errors: a malformed or unexpected request (unknown kind, bad sizes, a batch above
// kMaxDealerBatchElements, a hello that disagrees) makes the dealer throw ProtocolError; a
// malformed reply makes party 0 throw ProtocolError; a dealer that fails, disconnects or goes
// silent makes party 0 (and, during set-up, every party) throw the mesh's NetError, which names
// the dealer and the step ("dealer: triples"). Bad arguments (a dealer among the compute
// parties, ids outside the table, fewer than 2 compute parties, a constructor called by the
// dealer) throw ConfigError; bad batch parameters (frac_bits outside 0..63, width outside
// 1..64, a window outside 64 bits or of odd width, more than kMaxDealerBatchElements elements)
// throw std::invalid_argument at every caller before anything is sent.
//
// The dealer waits for each request with the mesh's receive deadline: a computation that works
// locally longer than that between two batches must raise the mesh's receive timeout.
//
// Threads: a DealerClient is used by one thread, like the mesh it talks through; it must not be
// used concurrently with other users of the same mesh (e.g. the engine's SubMesh): the engine
// calls it between its own rounds, which is the intended use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "mpc/correlations.hpp"
#include "mpc/prg.hpp"
#include "mpc/ring64.hpp"
#include "net/mesh.hpp"

namespace sm {
class Logger;
}

namespace sm::mpc {

// The largest batch, in elements of all its components, the dealer serves in one request
// (2^28 elements: 2 GiB of Ring64 at the dealer). Larger requests are ProtocolError.
inline constexpr std::uint64_t kMaxDealerBatchElements = std::uint64_t{1} << 28;

class DealerClient final : public CorrelationSource<Ring64> {
 public:
  // Receives this party's seed from `dealer` (party 0 also sends its hello): 1 round, 16 bytes
  // in (party 0: plus the hello out). `compute_parties` lists the computing parties' ids in
  // `full_mesh`, in the order that numbers them (the SubMesh's order); full_mesh.self() must
  // be among them. The mesh must outlive the client.
  DealerClient(net::Mesh& full_mesh, net::PartyId dealer,
               std::span<const net::PartyId> compute_parties);
  // Calls finish() if it was not called, unless an exception is unwinding the stack (the
  // dealer then learns of the failure from the mesh); never throws.
  ~DealerClient() override;
  DealerClient(const DealerClient&) = delete;
  DealerClient& operator=(const DealerClient&) = delete;

  Triples<Ring64> triples(std::size_t n) override;
  MatrixTriple<Ring64> matrix_triple(std::size_t rows, std::size_t inner,
                                     std::size_t cols) override;
  TruncMasks<Ring64> trunc_masks(std::size_t n, int frac_bits) override;
  // width in 1..64; high is all zeros (the trivial sharing of 0, as Z_2^64 needs no high part).
  BitMasks<Ring64> bit_masks(std::size_t n, std::size_t width) override;
  std::vector<Ring64> random_bits(std::size_t n) override;
  // low >= 0, width even in 2..64 - low (std::invalid_argument otherwise, before anything is
  // sent).
  WindowMasks<Ring64> window_masks(std::size_t n, int low, std::size_t width) override;
  // id: the batch number of the request that made U (the dealer keeps U under it).
  MaskedMatrix<Ring64> masked_matrix(std::size_t rows, std::size_t cols) override;
  std::vector<MaskedProducts<Ring64>> masked_products(
      const MaskedMatrix<Ring64>& matrix,
      std::span<const std::vector<std::size_t>> subsets) override;

  // Ends the dealer's service: party 0 sends "done" (1 message, no reply awaited); a no-op for
  // the other parties. Idempotent; no batch may be requested afterwards (std::logic_error).
  void finish();

  // This party's position among the compute parties.
  std::size_t index() const { return index_; }
  // Batches requested so far (empty ones not counted).
  std::uint64_t batches() const { return batch_; }

 private:
  // This party's shares of every component of the batch (kind, p1, p2, p3), random components
  // first, then derived ones (see the protocol above). `payload` follows the request (masked
  // products: subset sizes and rows; `masked_cols` is then the masked matrix's columns).
  std::vector<std::vector<Ring64>> fetch(std::uint64_t kind, std::uint64_t p1, std::uint64_t p2,
                                         std::uint64_t p3,
                                         std::span<const std::uint64_t> payload = {},
                                         std::uint64_t masked_cols = 0);

  net::Mesh& mesh_;
  net::PartyId dealer_;
  std::size_t index_;
  Seed seed_;
  std::uint64_t batch_ = 0;
  bool finished_ = false;
  int uncaught_at_construction_;
};

// What serve_dealer() did.
struct DealerStats {
  std::uint64_t batches = 0;          // requests served
  std::uint64_t triples = 0;          // Beaver triples
  std::uint64_t matrix_triples = 0;   // matrix triples (each of any shape)
  std::uint64_t matrix_elements = 0;  // elements of their C = AB
  std::uint64_t trunc_masks = 0;
  std::uint64_t bit_masks = 0;  // masks (each of `width` bits)
  std::uint64_t random_bits = 0;
  std::uint64_t masked_matrices = 0;
  std::uint64_t masked_products = 0;  // row subsets
  std::uint64_t window_masks = 0;
  std::uint64_t bytes_sent = 0;       // payload bytes to all compute parties, seeds included
  std::uint64_t bytes_received = 0;   // payload bytes from party 0
  double seconds = 0;                 // wall time from the seeds to "done"
  double compute_seconds = 0;         // of which expanding seeds and deriving values
};

// Runs the dealer on `full_mesh` for the computing parties `compute_parties` (their ids, in the
// order the DealerClients use) until party 0 says "done". Sends the seeds (1 round), then
// answers party 0's requests one by one. `log`, if given, gets one debug line per batch and an
// info line at the end. Throws ProtocolError on a malformed or unexpected request, NetError if
// party 0 fails or disconnects before "done", ConfigError on bad arguments (this party among the
// compute parties, ids outside the table or repeated, fewer than 2 compute parties).
DealerStats serve_dealer(net::Mesh& full_mesh, std::span<const net::PartyId> compute_parties,
                         Logger* log = nullptr);

}  // namespace sm::mpc
