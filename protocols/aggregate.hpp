// Secure aggregation: the element-wise sum of N parties' integer vectors, revealed only to the
// output parties, tolerant of parties that drop out.
//
// Inputs are int64 vectors of one length d (apps/ encodes decimals in fixed point first); every
// |value| must stay below max_abs_input(N) so that the sum cannot wrap (InputError otherwise).
// Two protocols, both semi-honest:
//
// Threshold (Shamir over F_(2^61-1), degree t): every party shares its vector; each party adds
// the shares it holds; each output party reconstructs the sum from t + 1 sum shares. Sharing is
// PRG-compressed: a degree-t polynomial is fixed by the secret and its values at t points, so
// dealer a takes its shares for the t parties a + 1 .. a + t (mod N) from the PRG streams it
// shares pairwise with each of them (mpc::PrgState; 8 keystream bytes per element), which expand
// them on their own, and computes and sends only the shares of the other N - 1 - t parties (the
// t PRG holders get an empty message, so every party hears from every dealer in the first
// round). Any t parties together learn nothing beyond the sum: the PRG shares are uniform and
// independent (seeds only the dealer and that holder know), and with the secret fixed, any t
// evaluations at nonzero points are an invertible affine image of them, so any t shares are
// uniform, as with random coefficients. A dealer counts once its first-round messages reached
// every remaining party, so a party that drops out after its shares went out is still counted;
// up to N - t - 1 parties may drop out, at any step.
// Reconstruction: output party o gets the sum shares of its providers, the t parties present
// after it in ring order (o + 1, o + 2, ... skipping those that dropped out), and none from the
// others, so each party sends its sum share only to the outputs it provides for. Then o tells
// every other present party (its reserves) whether it still needs their share; only if a
// provider dropped out do the reserves send theirs, in a sixth round. With exactly t + 1 shares
// (the normal case) a wrong share cannot be detected and gives a wrong sum; when more arrive
// (after a fallback) the opener checks that all lie on one polynomial of degree t and throws
// ProtocolError naming the first one that does not.
// Rounds: 5 (share; report who sent to the leader; leader announces the included set; sum
// shares to the outputs; requests), 6 where a provider dropped out; a party takes part only in
// those where it sends or receives. Bytes per party without dropouts, 8 per element:
// d (N - 1 - t) elements of shares, plus d per output it provides for (t when every party is an
// output; expansion N - 1 then); plus N bytes to the leader, or from the leader 8 + 2 N bytes to
// each other party; plus, at an output party, 1 byte to each of its N - 1 - t reserves. A
// fallback costs each reserve d elements per output that asked.
//
// Masked (Bonawitz et al., CCS 2017, run among the parties with the first output party as the
// aggregator): each party other than the aggregator derives a pairwise mask seed with every other
// such party from X25519 key agreement (libsodium), adds the PRG expansions of the pairwise masks
// (which cancel in the sum) and of a private self-mask to its vector in Z_2^64, and sends only
// that masked vector to the aggregator. The aggregator adds its own vector unmasked and takes no
// part in the masking: a mask shared with it would hide nothing from it, and no other party sees
// a masked vector, so leaving it out changes no party's view, and the masks cost (N - 1) N
// expansions of d elements in all instead of N (N + 1). The X25519 secret key and the self-mask
// seed are Shamir-shared (degree t) up front, so that the aggregator can remove the masks of a
// party that drops out before sending (its pairwise masks, from its reconstructed key) and of one
// that sends and then drops out (its self-mask): the sum covers exactly the parties whose masked
// vector reached the aggregator. Every honest party reveals, per other party, either its
// self-mask share or its key share, never both, so no single vector is ever unmasked.
// Rounds: 5 (keys and shares; masked vectors; included set; unmasking shares; result), 4 at a
// party that is not an output. Bytes per party other than the aggregator without dropouts:
// 8 d + N (the masked vector and whose keys it used) + 16 + 4 N + 24 (N - 2) (its self-mask seed
// and the self-mask shares it holds) to the aggregator, 96 (public key, shares of key and seed)
// to every other party: expansion ~1. The aggregator sends 8 + 2 N bytes (the included set) to
// every other party and 8 d to every other output party.
//
// In both, fewer than t + 1 remaining parties, or the aggregator (leader) dropping out, end the
// run at every remaining party with ProtocolError naming the parties that dropped.
//
// Differential privacy: with noise_sigma > 0 every party adds discrete Gaussian noise of
// standard deviation noise_sigma / sqrt(N) to its vector before anything leaves it
// (protocols/discrete_gaussian.hpp), so the revealed sum carries noise of standard deviation
// noise_sigma (less if parties dropped out before sending).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "mpc/session.hpp"
#include "net/mesh.hpp"

namespace sm::proto {

enum class AggregationProtocol { kThreshold, kMasked };

struct AggregationOptions {
  AggregationProtocol protocol = AggregationProtocol::kThreshold;
  // Shamir degree t: any t parties learn nothing; t + 1 must remain. 1 <= t < N.
  std::size_t threshold = 1;
  // Who learns the sum (the first one is the leader / aggregator); empty means every party.
  std::vector<net::PartyId> output_parties;
  double noise_sigma = 0;  // total discrete Gaussian noise, in input units; 0 for none
};

struct AggregationResult {
  std::optional<std::vector<std::int64_t>> sum;  // at the output parties only
  std::vector<net::PartyId> included;            // whose vectors the sum covers
  // Who dropped out during the run: the parties the leader found missing, and (threshold) those
  // this party saw drop out during reconstruction.
  std::vector<net::PartyId> dropped;
};

// The largest |value| (input plus noise) a party may contribute with N parties.
std::int64_t max_abs_input(std::size_t parties);

// Runs the chosen protocol; every party calls it with its vector (all of one length).
AggregationResult secure_sum(mpc::Session& session, std::span<const std::int64_t> input,
                             const AggregationOptions& options);

}  // namespace sm::proto
