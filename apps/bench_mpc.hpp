// The party side of mpc-bench's mul, matmul and aggregate suites, and their plaintext baselines.
//
// Each *_party function is what ONE party process runs (apps/bench_support.hpp forks them): it
// builds its own TlsMesh from `config`, sets up the scheme, measures its phases with
// measure_phase() (a barrier round first, not counted) and returns a JSON report:
//   {"party": id, "role": "compute" | "dealer", "phases": {name: PhaseMeasure}, "checked": n,
//    "peak_rss_bytes": the process's peak resident memory}
// where "checked" counts result elements this party compared with the plaintext result after
// the measured phases (mul, matmul: the first 1000 products / 8 rows, opened to every party;
// aggregate: the whole sum, at party 0); a mismatch throws ProtocolError, so a wrong protocol
// never produces a figure. The dealer's report has "dealer" (its DealerStats) instead of phases.
//
// Schemes. kAdditive: AdditiveEngine over Z_2^64 among config.parties.size() - 1 computing
// parties; the LAST party of the table is the dealer (as apps/config.hpp's role = "dealer") and
// runs serve_dealer(); computing parties run the engine over a SubMesh and fetch correlations
// with a DealerClient over the full mesh, whose counters (engine and dealer traffic) are the
// ones reported. kShamir61 / kShamir127: ShamirEngine<Fp61 / Fp127> with DealerFreeShamir among
// all parties of the table (N >= 3, t = (N - 1) / 2); no dealer.
//
// Inputs are pseudo-random, secret-shared by party 0 (x, A) and party 1 (y, B) before the
// measured phases. Phases: "preprocessing" (the correlation source's triples / matrix_triple)
// and "online" (mul_with / matmul_with). Engines that multiply without triples (Shamir: degree
// reduction, mpc::MultipliesWithoutTriples) prepare nothing: "preprocessing" is empty (0) and
// "online" is the whole mul / matmul; mul's "triples" phase then measures the dealer-free
// source's triples(n) apart, for their rate (the multiplication does not use them).
//
// Aggregate: every party holds d pseudo-random int64 values (|v| < 2^20) and the phase "sum"
// runs the chosen protocol; the result is checked at party 0 against the plaintext sum.
// kPlainToLeader is the insecure baseline: every party sends its raw vector (8 bytes per value)
// to party 0, which sums and sends the sum back to every party (2 rounds).
//
// Errors: whatever the mesh, the engine and the dealer throw (NetError, ProtocolError,
// ConfigError), plus ProtocolError for a wrong result.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "mpc/additive_engine.hpp"
#include "mpc/shamir_engine.hpp"
#include "net/tls_config.hpp"

namespace sm::app {

enum class BenchScheme { kAdditive, kShamir61, kShamir127 };

// "additive Z_2^64", "shamir Fp61", "shamir Fp127".
std::string scheme_label(BenchScheme scheme);
// Bytes of one element of the scheme (8, 8, 16).
std::size_t element_bytes(BenchScheme scheme);
// Processes a run needs for `computing` parties: one more (the dealer) for kAdditive.
std::size_t process_count(BenchScheme scheme, std::size_t computing);

// n element-wise multiplications of two shared vectors.
nlohmann::json mul_party(BenchScheme scheme, const net::TlsConfig& config, std::size_t n);

// One (rows x inner)(inner x cols) product of two shared matrices.
nlohmann::json matmul_party(BenchScheme scheme, const net::TlsConfig& config, std::size_t rows,
                            std::size_t inner, std::size_t cols);

// What one party measures on an engine of each scheme: phases(engine, barrier mesh, counted
// mesh) returns the party's JSON report (as mul_party's). A scheme without a function is a
// ConfigError at the party.
struct EnginePhases {
  template <class En>
  using Fn = std::function<nlohmann::json(En&, net::Mesh& barrier, const net::Mesh& counted)>;
  Fn<mpc::AdditiveEngine> additive;
  Fn<mpc::ShamirEngine<mpc::Fp61>> shamir61;
  Fn<mpc::ShamirEngine<mpc::Fp127>> shamir127;
};

// Connects party config.self, sets up `scheme` (see the header comment: the dealer for
// kAdditive, dealer-free Shamir otherwise) and runs the scheme's function of `phases`.
nlohmann::json engine_party(BenchScheme scheme, const net::TlsConfig& config,
                            const EnginePhases& phases);

enum class AggregateMode { kPlainToLeader, kThreshold, kMasked };

std::string aggregate_label(AggregateMode mode);

// One sum of d values per party with `mode` among all parties of the table.
nlohmann::json aggregate_party(AggregateMode mode, const net::TlsConfig& config, std::size_t d);

// Plaintext baselines, in the scheme's element type: the median seconds of a few runs of an
// n-element product of two vectors, and of a (rows x inner)(inner x cols) matmul_plain.
double plain_mul_seconds(BenchScheme scheme, std::size_t n);
double plain_matmul_seconds(BenchScheme scheme, std::size_t rows, std::size_t inner,
                            std::size_t cols);
// The same product of double matrices with Eigen (median seconds).
double eigen_matmul_seconds(std::size_t rows, std::size_t inner, std::size_t cols);

}  // namespace sm::app
