#include "protocols/aggregate.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "mpc/linear_combination.hpp"
#include "mpc/mersenne.hpp"
#include "mpc/ring64.hpp"
#include "mpc/serialize.hpp"
#include "mpc/shamir.hpp"
#include "net/errors.hpp"
#include "net/wire.hpp"
#include "protocols/discrete_gaussian.hpp"

namespace sm::proto {

namespace {

using mpc::Fp61;
using mpc::Ring64;
using net::Bytes;
using net::PartyId;

// One flag byte per party.
using PartySet = std::vector<std::uint8_t>;

// Long vectors are processed in chunks of this many elements, so that PRG output and
// intermediate values stay in the cache and no temporary as long as the input is allocated.
constexpr std::size_t kChunk = 4096;

std::vector<PartyId> members(const PartySet& set) {
  std::vector<PartyId> out;
  for (PartyId p = 0; p < set.size(); ++p) {
    if (set[p]) out.push_back(p);
  }
  return out;
}

std::string list_parties(const net::Mesh& mesh, const std::vector<PartyId>& parties) {
  std::string text;
  for (PartyId p : parties) text += (text.empty() ? "" : ", ") + mesh.describe(p);
  return text.empty() ? "none" : text;
}

std::vector<PartyId> peers_of(const net::Mesh& mesh) {
  std::vector<PartyId> peers;
  for (PartyId p = 0; p < mesh.size(); ++p) {
    if (p != mesh.self()) peers.push_back(p);
  }
  return peers;
}

// The leader's decision after the parties reported in: which parties are included and which
// are still present, or why the run cannot go on.
struct Decision {
  bool ok = true;
  std::string reason;
  PartySet included, present;
};

Bytes encode(const Decision& decision) {
  net::ByteWriter out;
  out.u32(decision.ok ? 1 : 0);
  out.string(decision.reason);
  out.bytes(decision.included);
  out.bytes(decision.present);
  return out.take();
}

Decision decode_decision(net::ByteView bytes, std::size_t parties, const std::string& sender) {
  net::ByteReader in(bytes, "aggregation decision from " + sender);
  Decision decision;
  decision.ok = in.u32() == 1;
  decision.reason = in.string();
  const auto included = in.bytes(parties);
  const auto present = in.bytes(parties);
  decision.included.assign(included.begin(), included.end());
  decision.present.assign(present.begin(), present.end());
  in.expect_end();
  return decision;
}

// The leader announces the decision to every present party; the others wait for it. Returns
// the decision at every party, or throws ProtocolError with the leader's reason.
Decision announce(net::Mesh& mesh, PartyId leader, Decision decision, std::string_view step) {
  if (mesh.self() == leader) {
    const Bytes message = encode(decision);
    std::vector<net::Outgoing> sends;
    for (PartyId p : members(decision.present)) {
      if (p != leader) sends.push_back({p, message});
    }
    mesh.round_tolerant(sends, {}, step);
  } else {
    const PartyId from[] = {leader};
    auto received = mesh.round_tolerant({}, from, step);
    if (!received[0]) {
      throw ProtocolError("the aggregation leader " + mesh.describe(leader) +
                          " dropped out; no sum can be produced");
    }
    decision = decode_decision(*received[0], mesh.size(), mesh.describe(leader));
  }
  if (!decision.ok) throw ProtocolError(decision.reason);
  return decision;
}

// The leader's check that enough parties remain.
Decision decide(const net::Mesh& mesh, PartySet included, PartySet present, std::size_t threshold) {
  Decision decision{true, "", std::move(included), std::move(present)};
  const auto remaining = members(decision.present);
  if (remaining.size() < threshold + 1) {
    std::vector<PartyId> gone;
    for (PartyId p = 0; p < mesh.size(); ++p) {
      if (!decision.present[p]) gone.push_back(p);
    }
    decision.ok = false;
    decision.reason = "only " + std::to_string(remaining.size()) +
                      " parties remain but the sum needs " + std::to_string(threshold + 1) +
                      "; dropped out: " + list_parties(mesh, gone);
  }
  return decision;
}

AggregationResult result_from(const Decision& decision) {
  AggregationResult result;
  result.included = members(decision.included);
  for (PartyId p = 0; p < decision.present.size(); ++p) {
    if (!decision.present[p]) result.dropped.push_back(p);
  }
  return result;
}

// ---- threshold ---------------------------------------------------------------------------------

// Who deals which way: dealer a's share for the t parties a + 1 .. a + t (mod N) is the PRG
// expansion of their pairwise seed; its share for the others, a + t + 1 .. a + N - 1, is sent.
bool share_from_prg(PartyId dealer, PartyId holder, std::size_t n, std::size_t threshold) {
  const std::size_t distance = (holder + n - dealer) % n;
  return distance >= 1 && distance <= threshold;
}

// Who sends its share of the sum to output party `output` in the normal case: the t present
// parties after it in ring order (with the output's own share, t + 1: enough, and no more).
// `present` must hold at least t + 1 parties, `output` among them.
std::vector<PartyId> sum_providers(PartyId output, const PartySet& present, std::size_t threshold) {
  std::vector<PartyId> providers;
  const std::size_t n = present.size();
  for (std::size_t step = 1; step < n && providers.size() < threshold; ++step) {
    const PartyId p = (output + step) % n;
    if (present[p]) providers.push_back(p);
  }
  return providers;
}

bool contains(std::span<const PartyId> parties, PartyId party) {
  return std::find(parties.begin(), parties.end(), party) != parties.end();
}

// The pairwise streams of one protocol run: per peer, one stream for the shares the lower-id
// party deals to the higher-id one and one for the other direction. Both parties of a pair take
// them in the same order, so they hold the same streams.
class DealingStreams {
 public:
  explicit DealingStreams(mpc::Session& session) : self_(session.self()) {
    for (PartyId p = 0; p < session.parties(); ++p) {
      if (p == self_) {
        low_to_high_.emplace_back(std::nullopt);
        high_to_low_.emplace_back(std::nullopt);
        continue;
      }
      low_to_high_.emplace_back(session.prg().pairwise_stream(p));
      high_to_low_.emplace_back(session.prg().pairwise_stream(p));
    }
  }

  // The stream of the shares that `dealer` deals to `holder`; one of them is this party.
  mpc::Prg& stream(PartyId dealer, PartyId holder) {
    const PartyId peer = dealer == self_ ? holder : dealer;
    return *(dealer < holder ? low_to_high_ : high_to_low_)[peer];
  }

 private:
  PartyId self_;
  std::vector<std::optional<mpc::Prg>> low_to_high_, high_to_low_;
};

// A party's Shamir evaluation point.
Fp61 point(PartyId party) { return mpc::ShamirCodec<Fp61>::point(party); }

// basis[k]: the Lagrange basis of `points` at targets[k] (mpc::lagrange_at), so that
// f(targets[k]) = sum_i basis[k][i] f(points[i]) for every polynomial f of degree below
// points.size().
std::vector<std::vector<Fp61>> lagrange_basis(std::span<const Fp61> points,
                                              std::span<const Fp61> targets) {
  std::vector<std::vector<Fp61>> basis;
  for (Fp61 target : targets) basis.push_back(mpc::lagrange_at(points, target));
  return basis;
}

// out[e] = sum_i coefficients[i] * inputs[i * kChunk + e] for e < out.size() <= kChunk
// (mpc::linear_combination over the chunk's rows).
void combine_rows(std::span<const Fp61> coefficients, std::span<const Fp61> inputs,
                  std::span<Fp61> out) {
  std::vector<const Fp61*> rows;
  for (std::size_t i = 0; i < coefficients.size(); ++i) rows.push_back(&inputs[i * kChunk]);
  mpc::linear_combination<Fp61>(out.data(), out.size(), coefficients, rows);
}

// Peers' messages of field elements are read in place, chunk by chunk, and validated as
// mpc::from_bytes would: check_length() first, then read_elements() per chunk and
// check_canonical() on its result. Both throw ProtocolError naming the sender.
void check_length(net::ByteView bytes, std::size_t count, const std::string& sender) {
  if (bytes.size() != count * Fp61::kBytes) {
    throw ProtocolError("malformed shares from " + sender + ": " + std::to_string(bytes.size()) +
                        " bytes instead of " + std::to_string(count * Fp61::kBytes));
  }
}

// out = elements [start, start + out.size()) of `bytes`; false if one of them is not below p.
bool read_elements(net::ByteView bytes, std::size_t start, std::span<Fp61> out) {
  bool canonical = true;
  for (std::size_t e = 0; e < out.size(); ++e) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + (start + e) * Fp61::kBytes, sizeof word);
    canonical &= word < Fp61::kModulus;
    out[e] = Fp61(word & Fp61::kModulus);
  }
  return canonical;
}

void check_canonical(bool canonical, const std::string& sender) {
  if (!canonical) throw ProtocolError("malformed shares from " + sender + ": not in F_(2^61-1)");
}

// target += the shares a peer sent (`bytes`: target.size() elements).
void add_received(std::span<Fp61> target, net::ByteView bytes, const std::string& sender) {
  check_length(bytes, target.size(), sender);
  std::array<Fp61, kChunk> chunk;
  for (std::size_t start = 0; start < target.size(); start += kChunk) {
    const auto part = std::span(chunk).first(std::min(kChunk, target.size() - start));
    check_canonical(read_elements(bytes, start, part), sender);
    for (std::size_t e = 0; e < part.size(); ++e) target[start + e] += part[e];
  }
}

// The sum from its shares (shares[i] from holders[i], at least t + 1): interpolated at 0 from the
// first t + 1, after checking that every other share lies on the same polynomial of degree t.
std::vector<std::int64_t> reconstruct_sum(const net::Mesh& mesh, std::size_t threshold,
                                          std::span<const PartyId> holders,
                                          std::span<const net::ByteView> shares, std::size_t d) {
  const std::size_t base = threshold + 1;
  for (std::size_t h = 0; h < holders.size(); ++h)
    check_length(shares[h], d, mesh.describe(holders[h]));
  std::vector<Fp61> points, targets{Fp61(0)};
  for (std::size_t h = 0; h < holders.size(); ++h) {
    (h < base ? points : targets).push_back(point(holders[h]));
  }
  const auto basis = lagrange_basis(points, targets);
  std::vector<std::int64_t> out(d);
  std::vector<Fp61> known(base * kChunk);  // per chunk: the first t + 1 holders' shares
  std::array<Fp61, kChunk> value, other;
  for (std::size_t start = 0; start < d; start += kChunk) {
    const std::size_t count = std::min(kChunk, d - start);
    for (std::size_t h = 0; h < base; ++h) {
      check_canonical(read_elements(shares[h], start, std::span(known).subspan(h * kChunk, count)),
                      mesh.describe(holders[h]));
    }
    for (std::size_t h = base; h < holders.size(); ++h) {
      const auto expected = std::span(value).first(count), got = std::span(other).first(count);
      check_canonical(read_elements(shares[h], start, got), mesh.describe(holders[h]));
      combine_rows(basis[h - base + 1], known, expected);
      for (std::size_t e = 0; e < count; ++e) {
        if (expected[e] == got[e]) continue;
        throw ProtocolError(
            "inconsistent shares of the sum at element " + std::to_string(start + e) +
            ": the share of " + mesh.describe(holders[h]) +
            " does not lie on the polynomial of degree " + std::to_string(threshold) +
            " through the shares of " + mesh.describe(holders[0]) + " .. " +
            mesh.describe(holders[threshold]) + " (one of them is wrong); the run is aborted");
      }
    }
    combine_rows(basis[0], known, std::span(value).first(count));
    for (std::size_t e = 0; e < count; ++e) out[start + e] = value[e].to_int();
  }
  return out;
}

// out = the next out.size() <= kChunk elements of a dealing stream, from 8 keystream bytes each
// (a Ring64 sample; Prg::sample_into<Fp61> spends 16, twice the AES work): the word's low 61
// bits, p itself mapped to 0, as in Fp61::from_random_bits, so uniform up to statistical distance
// 2^-61 per element. Dealer and holder both draw through this function.
void sample_shares(mpc::Prg& prg, std::span<Fp61> out) {
  std::array<Ring64, kChunk> words;
  const auto part = std::span(words).first(out.size());
  prg.sample_into<Ring64>(part);
  for (std::size_t e = 0; e < out.size(); ++e) out[e] = Fp61::from_random_bits(part[e].value(), 0);
}

// target += the next target.size() elements of a dealing stream.
void add_expansion(std::span<Fp61> target, mpc::Prg& prg) {
  std::array<Fp61, kChunk> chunk;
  for (std::size_t start = 0; start < target.size(); start += kChunk) {
    const auto part = std::span(chunk).first(std::min(kChunk, target.size() - start));
    sample_shares(prg, part);
    for (std::size_t e = 0; e < part.size(); ++e) target[start + e] += part[e];
  }
}

AggregationResult threshold_sum(mpc::Session& session, std::span<const std::int64_t> values,
                                std::size_t threshold, const std::vector<PartyId>& outputs) {
  net::Mesh& mesh = session.mesh();
  const std::size_t n = mesh.size(), d = values.size();
  const PartyId self = mesh.self(), leader = outputs.front();
  const auto peers = peers_of(mesh);
  DealingStreams streams(session);

  // Our polynomial: the secret at 0 and PRG values at the t parties after us fix it; evaluate it
  // at our own point and at the parties we send to, chunk by chunk.
  std::vector<PartyId> prg_holders, targets{self};
  std::vector<Fp61> points{Fp61(0)};
  for (PartyId p : peers) {
    if (share_from_prg(self, p, n, threshold)) {
      prg_holders.push_back(p);
      points.push_back(point(p));
    } else {
      targets.push_back(p);
    }
  }
  std::vector<Fp61> target_points;
  for (PartyId p : targets) target_points.push_back(point(p));
  const auto basis = lagrange_basis(points, target_points);
  std::vector<std::vector<Fp61>> shares(targets.size(), std::vector<Fp61>(d));
  std::vector<Fp61> known(points.size() * kChunk);  // per chunk: the secrets, then PRG values
  for (std::size_t start = 0; start < d; start += kChunk) {
    const std::size_t count = std::min(kChunk, d - start);
    for (std::size_t e = 0; e < count; ++e) known[e] = Fp61::from_int(values[start + e]);
    for (std::size_t i = 0; i < prg_holders.size(); ++i) {
      sample_shares(streams.stream(self, prg_holders[i]),
                    std::span(known).subspan((i + 1) * kChunk, count));
    }
    for (std::size_t k = 0; k < targets.size(); ++k) {
      combine_rows(basis[k], known, std::span(shares[k]).subspan(start, count));
    }
  }

  // Round 1: every party sends every other party its share, or an empty message where the
  // share is a PRG expansion (so that no party leaves the round before all have entered it, and
  // a party holds a dealer's share exactly when the dealer's message arrived).
  std::vector<net::Outgoing> sends;
  for (std::size_t k = 1; k < targets.size(); ++k) {
    sends.push_back({targets[k], mpc::as_bytes<Fp61>(shares[k])});
  }
  for (PartyId p : prg_holders) sends.push_back({p, {}});
  const auto dealt = mesh.round_tolerant(sends, peers, "aggregate: shares");
  PartySet holding(n, 0);
  holding[self] = 1;
  for (std::size_t k = 0; k < peers.size(); ++k) holding[peers[k]] = dealt[k].has_value();

  // Round 2: every party tells the leader whose shares it holds.
  Decision decision;
  if (self == leader) {
    const auto reports = mesh.round_tolerant({}, peers, "aggregate: report");
    PartySet included = holding, present(n, 0);
    present[self] = 1;
    for (std::size_t k = 0; k < peers.size(); ++k) {
      if (!reports[k] || reports[k]->size() != n) continue;
      present[peers[k]] = 1;
      for (PartyId p = 0; p < n; ++p) included[p] &= (*reports[k])[p];
    }
    decision = decide(mesh, std::move(included), std::move(present), threshold);
  } else {
    const net::Outgoing report{leader, holding};
    mesh.round_tolerant({&report, 1}, {}, "aggregate: report");
  }
  // Round 3: the leader announces the included set.
  decision = announce(mesh, leader, std::move(decision), "aggregate: included set");
  AggregationResult result = result_from(decision);

  // Our share of the sum: the shares of every included dealer.
  std::vector<Fp61> sum_share =
      decision.included[self] ? std::move(shares[0]) : std::vector<Fp61>(d);
  shares.clear();
  for (std::size_t k = 0; k < peers.size(); ++k) {
    const PartyId dealer = peers[k];
    if (!decision.included[dealer]) continue;
    if (!dealt[k]) throw ProtocolError("the leader included a party whose shares never arrived");
    if (share_from_prg(dealer, self, n, threshold)) {
      check_length(*dealt[k], 0, mesh.describe(dealer));
      add_expansion(sum_share, streams.stream(dealer, self));
    } else {
      add_received(sum_share, *dealt[k], mesh.describe(dealer));
    }
  }
  const net::ByteView own_bytes = mpc::as_bytes<Fp61>(sum_share);

  // Round 4: every present party sends its sum share to the present output parties it provides
  // for; each output party hears from its providers.
  const bool is_output = contains(outputs, self);
  std::vector<PartyId> provided_to, askers;  // other present outputs: we provide for them, or not
  for (PartyId o : outputs) {
    if (o == self || !decision.present[o]) continue;
    (contains(sum_providers(o, decision.present, threshold), self) ? provided_to : askers)
        .push_back(o);
  }
  sends.clear();
  for (PartyId o : provided_to) sends.push_back({o, own_bytes});
  std::vector<PartyId> providers, reserves;  // the other present parties: our providers, or not
  if (is_output) {
    providers = sum_providers(self, decision.present, threshold);
    for (PartyId p : members(decision.present)) {
      if (p != self && !contains(providers, p)) reserves.push_back(p);
    }
  }
  const auto provided = mesh.round_tolerant(sends, providers, "aggregate: sum shares");
  std::vector<PartyId> holders{self};
  std::vector<net::ByteView> sum_shares{own_bytes};
  for (std::size_t k = 0; k < providers.size(); ++k) {
    if (!provided[k]) continue;
    holders.push_back(providers[k]);
    sum_shares.push_back(*provided[k]);
  }

  // Round 5: every output party tells each present party that is not its provider whether it
  // needs that party's sum share after all (a provider dropped out): one byte, 1 or 0.
  const bool short_of_shares = is_output && holders.size() < threshold + 1;
  const Bytes request{static_cast<std::uint8_t>(short_of_shares ? 1 : 0)};
  sends.clear();
  for (PartyId p : reserves) sends.push_back({p, request});
  const auto requests = mesh.round_tolerant(sends, askers, "aggregate: share requests");

  // Round 6, only where a request was made: the reserves send their sum shares to the output
  // parties that asked. An output party that asked checks the extra shares on reconstruction.
  sends.clear();
  for (std::size_t k = 0; k < askers.size(); ++k) {
    if (!requests[k]) continue;
    const Bytes& asked = *requests[k];
    if (asked.size() != 1 || asked[0] > 1) {
      throw ProtocolError("malformed share request from " + mesh.describe(askers[k]));
    }
    if (asked[0] == 1) sends.push_back({askers[k], own_bytes});
  }
  std::vector<PartyId> fallback_sources;
  if (short_of_shares) fallback_sources = reserves;
  const auto fallback =
      mesh.round_tolerant(sends, fallback_sources, "aggregate: sum shares (fallback)");
  for (PartyId p : peers) {
    if (decision.present[p] && mesh.dropped(p)) result.dropped.push_back(p);
  }
  std::sort(result.dropped.begin(), result.dropped.end());
  if (!is_output) return result;
  for (std::size_t k = 0; k < fallback_sources.size(); ++k) {
    if (!fallback[k]) continue;
    holders.push_back(fallback_sources[k]);
    sum_shares.push_back(*fallback[k]);
  }
  if (holders.size() < threshold + 1) {
    throw ProtocolError("only " + std::to_string(holders.size()) +
                        " shares of the sum arrived but " + std::to_string(threshold + 1) +
                        " are needed; parties dropped out at the last step");
  }
  result.sum = reconstruct_sum(mesh, threshold, holders, sum_shares, d);
  return result;
}

// ---- masked ------------------------------------------------------------------------------------

constexpr std::size_t kChunkBytes = 7;  // 56 bits fit below 2^61 - 1
constexpr std::size_t kKeyBytes = crypto_scalarmult_BYTES;
constexpr std::size_t kKeyChunks = (kKeyBytes + kChunkBytes - 1) / kChunkBytes;
constexpr std::size_t kSeedChunks = (sizeof(mpc::Seed) + kChunkBytes - 1) / kChunkBytes;
constexpr std::size_t kSecretChunks = kKeyChunks + kSeedChunks;  // a party's shared secrets

std::vector<Fp61> pack(net::ByteView bytes) {
  std::vector<Fp61> out;
  for (std::size_t at = 0; at < bytes.size(); at += kChunkBytes) {
    std::uint64_t word = 0;
    for (std::size_t b = 0; b < kChunkBytes && at + b < bytes.size(); ++b) {
      word |= std::uint64_t{bytes[at + b]} << (8 * b);
    }
    out.push_back(Fp61(word));
  }
  return out;
}

// Inverse of pack(); throws ProtocolError when a reconstructed chunk is out of range.
Bytes unpack(std::span<const Fp61> chunks, std::size_t size) {
  Bytes out(size);
  for (std::size_t c = 0; c < chunks.size(); ++c) {
    const std::uint64_t word = chunks[c].value();
    if (word >> (8 * kChunkBytes)) throw ProtocolError("a reconstructed mask seed is malformed");
    for (std::size_t b = 0; b < kChunkBytes && c * kChunkBytes + b < size; ++b) {
      out[c * kChunkBytes + b] = static_cast<std::uint8_t>(word >> (8 * b));
    }
  }
  return out;
}

using PublicKey = std::array<std::uint8_t, crypto_scalarmult_BYTES>;
using SecretKey = std::array<std::uint8_t, crypto_scalarmult_SCALARBYTES>;

// The pairwise mask seed of parties a and b: BLAKE2b of their X25519 shared secret, both public
// keys and the run nonce.
mpc::Seed pair_seed(const SecretKey& mine, const PublicKey& theirs, const PublicKey& low,
                    const PublicKey& high, net::ByteView nonce) {
  std::array<std::uint8_t, crypto_scalarmult_BYTES> shared{};
  if (crypto_scalarmult(shared.data(), mine.data(), theirs.data()) != 0) {
    throw ProtocolError("a party's X25519 public key is invalid");
  }
  crypto_generichash_state state;
  mpc::Seed seed{};
  crypto_generichash_init(&state, nullptr, 0, seed.size());
  crypto_generichash_update(&state, shared.data(), shared.size());
  crypto_generichash_update(&state, low.data(), low.size());
  crypto_generichash_update(&state, high.data(), high.size());
  crypto_generichash_update(&state, nonce.data(), nonce.size());
  crypto_generichash_final(&state, seed.data(), seed.size());
  return seed;
}

// A PRG expansion over Z_2^64 to add to a vector or subtract from it.
struct Mask {
  mpc::Prg prg;
  bool subtract;
};

// chunk += (or -=) the next chunk.size() <= kChunk elements of every mask.
void apply_masks(std::span<Ring64> chunk, std::vector<Mask>& masks) {
  std::array<Ring64, kChunk> expansion;
  const auto part = std::span(expansion).first(chunk.size());
  for (auto& mask : masks) {
    mask.prg.sample_into<Ring64>(part);
    if (mask.subtract) {
      for (std::size_t e = 0; e < chunk.size(); ++e) chunk[e] -= part[e];
    } else {
      for (std::size_t e = 0; e < chunk.size(); ++e) chunk[e] += part[e];
    }
  }
}

AggregationResult masked_sum(mpc::Session& session, std::span<const std::int64_t> values,
                             std::size_t threshold, const std::vector<PartyId>& outputs) {
  net::Mesh& mesh = session.mesh();
  const std::size_t n = mesh.size(), d = values.size();
  const PartyId self = mesh.self(), leader = outputs.front();
  const mpc::ShamirCodec<Fp61> codec(n, threshold);
  const auto peers = peers_of(mesh);
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");

  // A fresh run nonce for domain separation: the common PRG stream is the same everywhere.
  mpc::Seed nonce{};
  session.prg().common_stream().fill(nonce);

  // Round 1: every party but the aggregator sends every other party its public key and Shamir
  // shares of its secret key and self-mask seed (the aggregator only receives: see the header).
  const bool aggregator = self == leader;
  SecretKey secret_key{};
  PublicKey public_key{};
  mpc::Seed self_seed{};
  std::vector<Bytes> round1(n);
  std::vector<net::Outgoing> sends;
  if (!aggregator) {
    randombytes_buf(secret_key.data(), secret_key.size());
    crypto_scalarmult_base(public_key.data(), secret_key.data());
    self_seed = mpc::random_seed();
    std::vector<Fp61> secrets = pack(secret_key);
    const auto seed_chunks = pack(self_seed);
    secrets.insert(secrets.end(), seed_chunks.begin(), seed_chunks.end());
    mpc::Prg randomness = session.prg().private_stream();
    const auto key_shares = codec.share(secrets, randomness);
    for (PartyId p : peers) {
      round1[p].assign(public_key.begin(), public_key.end());
      const auto share_bytes = mpc::as_bytes<Fp61>(key_shares[p]);
      round1[p].insert(round1[p].end(), share_bytes.begin(), share_bytes.end());
      sends.push_back({p, round1[p]});
    }
  }
  std::vector<PartyId> maskers;  // the parties that send us a key: all peers but the aggregator
  for (PartyId p : peers) {
    if (p != leader) maskers.push_back(p);
  }
  const auto keys_in = mesh.round_tolerant(sends, maskers, "aggregate: keys");
  std::vector<std::optional<PublicKey>> public_keys(n);
  std::vector<std::optional<std::vector<Fp61>>> held(n);  // shares of others' key and seed
  PartySet keyed(n, 0);  // whose keys we hold, ourselves included (the aggregator: none)
  if (!aggregator) {
    public_keys[self] = public_key;
    keyed[self] = 1;
  }
  for (std::size_t k = 0; k < maskers.size(); ++k) {
    if (!keys_in[k]) continue;
    const PartyId p = maskers[k];
    const Bytes& message = *keys_in[k];
    if (message.size() != kKeyBytes + kSecretChunks * Fp61::kBytes) {
      throw ProtocolError("malformed key message from " + mesh.describe(p));
    }
    PublicKey key;
    std::copy_n(message.begin(), kKeyBytes, key.begin());
    public_keys[p] = key;
    held[p] = mpc::from_bytes<Fp61>(net::ByteView(message).subspan(kKeyBytes), kSecretChunks,
                                    mesh.describe(p), "aggregate: keys");
    keyed[p] = 1;
  }

  // Round 2: every other party sends the aggregator its masked vector (and whose keys it used):
  // the key set (n bytes), then y = x + self mask + the pairwise masks, built chunk by chunk.
  Decision decision;
  std::vector<net::ByteView> masked(n);  // the included vectors, as bytes
  std::vector<PartySet> key_sets(n);
  std::vector<std::optional<Bytes>> arrived;
  Bytes own_message;
  if (aggregator) {
    arrived = mesh.round_tolerant({}, peers, "aggregate: masked vectors");
    PartySet present(n, 0);
    present[self] = 1;
    masked[self] = net::ByteView(reinterpret_cast<const std::uint8_t*>(values.data()),
                                 d * sizeof(std::int64_t));
    for (std::size_t k = 0; k < peers.size(); ++k) {
      if (!arrived[k]) continue;
      const PartyId p = peers[k];
      if (arrived[k]->size() != n + d * Ring64::kBytes) {
        throw ProtocolError("malformed masked vector from " + mesh.describe(p));
      }
      key_sets[p].assign(arrived[k]->begin(), arrived[k]->begin() + n);
      masked[p] = net::ByteView(*arrived[k]).subspan(n);
      present[p] = 1;
    }
    // Parties whose vectors arrived must have used each other's keys.
    for (PartyId a : members(present)) {
      for (PartyId b : members(present)) {
        if (a != b && a != leader && b != leader && key_sets[a][b] != key_sets[b][a]) {
          throw ProtocolError(mesh.describe(a) + " and " + mesh.describe(b) +
                              " disagree on whether they exchanged keys; the run is aborted");
        }
      }
    }
    decision = decide(mesh, present, present, threshold);
  } else {
    own_message.reserve(n + d * Ring64::kBytes);  // filled by appending: no zeroing pass
    own_message.insert(own_message.end(), keyed.begin(), keyed.end());
    std::vector<Mask> masks;
    masks.push_back({mpc::Prg(self_seed), false});
    for (PartyId p : maskers) {
      if (!keyed[p]) continue;
      const auto& low = self < p ? public_key : *public_keys[p];
      const auto& high = self < p ? *public_keys[p] : public_key;
      masks.push_back(
          {mpc::Prg(pair_seed(secret_key, *public_keys[p], low, high, nonce)), self > p});
    }
    std::array<Ring64, kChunk> chunk;
    for (std::size_t start = 0; start < d; start += kChunk) {
      const auto part = std::span(chunk).first(std::min(kChunk, d - start));
      for (std::size_t e = 0; e < part.size(); ++e) part[e] = Ring64::from_int(values[start + e]);
      apply_masks(part, masks);
      const net::ByteView bytes = mpc::as_bytes<Ring64>(part);
      own_message.insert(own_message.end(), bytes.begin(), bytes.end());
    }
    const net::Outgoing send{leader, own_message};
    mesh.round_tolerant({&send, 1}, {}, "aggregate: masked vectors");
  }
  // Round 3: the aggregator announces whose vectors arrived.
  decision = announce(mesh, leader, std::move(decision), "aggregate: included set");
  AggregationResult result = result_from(decision);

  // Round 4, to the aggregator: per other party, the self-mask share if its vector arrived, else
  // the key share; and our own self-mask seed in the clear (our vector is included anyway).
  auto unmasking_message = [&] {
    net::ByteWriter out;
    out.bytes(self_seed);
    for (PartyId p = 0; p < n; ++p) {
      if (p == self || !held[p]) {
        out.u32(0);
        continue;
      }
      const bool included = decision.included[p];
      out.u32(included ? 1 : 2);
      const auto& all = *held[p];
      const std::span<const Fp61> part = included ? std::span<const Fp61>(all).subspan(kKeyChunks)
                                                  : std::span<const Fp61>(all).first(kKeyChunks);
      out.bytes(mpc::as_bytes<Fp61>(part));
    }
    return out.take();
  };
  std::optional<std::vector<std::int64_t>> sum;
  if (aggregator) {
    std::vector<PartyId> helpers;
    for (PartyId p : members(decision.present)) {
      if (p != self) helpers.push_back(p);
    }
    const auto answers = mesh.round_tolerant({}, helpers, "aggregate: unmasking shares");
    // shares_of[p] / holders_of[p]: the shares received for p's self-mask or key.
    std::vector<std::vector<std::vector<Fp61>>> shares_of(n);
    std::vector<std::vector<std::size_t>> holders_of(n);
    std::vector<std::optional<mpc::Seed>> self_seeds(n);
    auto file_share = [&](PartyId owner, PartyId holder, std::vector<Fp61> share) {
      shares_of[owner].push_back(std::move(share));
      holders_of[owner].push_back(holder);
    };
    for (PartyId p = 0; p < n; ++p) {
      if (p == self || !held[p]) continue;
      const auto& all = *held[p];
      file_share(p, self,
                 decision.included[p] ? std::vector<Fp61>(all.begin() + kKeyChunks, all.end())
                                      : std::vector<Fp61>(all.begin(), all.begin() + kKeyChunks));
    }
    for (std::size_t k = 0; k < helpers.size(); ++k) {
      if (!answers[k]) continue;
      const PartyId from = helpers[k];
      net::ByteReader in(*answers[k], "unmasking shares from " + mesh.describe(from));
      mpc::Seed seed;
      const auto seed_bytes = in.bytes(seed.size());
      std::copy(seed_bytes.begin(), seed_bytes.end(), seed.begin());
      self_seeds[from] = seed;
      for (PartyId p = 0; p < n; ++p) {
        const std::uint32_t kind = in.u32();
        if (kind == 0) continue;
        const std::size_t count = kind == 1 ? kSeedChunks : kKeyChunks;
        file_share(p, from,
                   mpc::from_bytes<Fp61>(in.bytes(count * Fp61::kBytes), count, mesh.describe(from),
                                         "aggregate: unmasking shares"));
      }
      in.expect_end();
    }
    std::vector<std::string> names;
    for (PartyId p = 0; p < n; ++p) names.push_back(mesh.describe(p));
    auto reconstruct = [&](PartyId owner, std::size_t size) {
      if (holders_of[owner].size() < threshold + 1) {
        throw ProtocolError("too few parties remain to remove the masks of " +
                            mesh.describe(owner) + " (" + std::to_string(holders_of[owner].size()) +
                            " shares, " + std::to_string(threshold + 1) + " needed)");
      }
      return unpack(codec.reconstruct_from(holders_of[owner], shares_of[owner], names), size);
    };

    // The sum: our vector plus the included masked vectors, minus their self masks and minus the
    // pairwise masks they share with parties that dropped before sending.
    std::vector<PartyId> included_maskers;
    for (PartyId u : result.included) {
      if (u != self) included_maskers.push_back(u);
    }
    std::vector<Mask> removals;
    for (PartyId u : included_maskers) {
      if (!self_seeds[u]) {
        const Bytes seed = reconstruct(u, sizeof(mpc::Seed));
        self_seeds[u].emplace();
        std::copy(seed.begin(), seed.end(), self_seeds[u]->begin());
      }
      removals.push_back({mpc::Prg(*self_seeds[u]), true});
    }
    // Pairwise masks between an included party u and a party v that dropped before sending.
    for (PartyId v = 0; v < n; ++v) {
      if (decision.included[v]) continue;
      bool used = false;
      for (PartyId u : included_maskers) used = used || key_sets[u][v];
      if (!used) continue;
      const Bytes key_bytes = reconstruct(v, kKeyBytes);
      SecretKey key;
      std::copy(key_bytes.begin(), key_bytes.end(), key.begin());
      for (PartyId u : included_maskers) {
        if (!key_sets[u][v]) continue;
        const auto& low = u < v ? *public_keys[u] : *public_keys[v];
        const auto& high = u < v ? *public_keys[v] : *public_keys[u];
        removals.push_back({mpc::Prg(pair_seed(key, *public_keys[u], low, high, nonce)), u < v});
      }
    }
    std::vector<std::int64_t> out;
    out.reserve(d);  // filled by appending: no zeroing pass
    std::array<Ring64, kChunk> chunk;
    for (std::size_t start = 0; start < d; start += kChunk) {
      const auto part = std::span(chunk).first(std::min(kChunk, d - start));
      std::fill(part.begin(), part.end(), Ring64(0));
      for (PartyId u : result.included) {
        for (std::size_t e = 0; e < part.size(); ++e) {
          std::uint64_t word;
          std::memcpy(&word, masked[u].data() + (start + e) * Ring64::kBytes, sizeof word);
          part[e] += Ring64(word);
        }
      }
      apply_masks(part, removals);
      for (const Ring64 element : part) out.push_back(element.to_int());
    }
    sum = std::move(out);
  } else {
    const Bytes message = unmasking_message();
    const net::Outgoing send{leader, message};
    mesh.round_tolerant({&send, 1}, {}, "aggregate: unmasking shares");
  }

  // Round 5: the aggregator sends the sum to the other output parties.
  const bool is_output = contains(outputs, self);
  if (aggregator) {
    sends.clear();
    const auto bytes = net::ByteView(reinterpret_cast<const std::uint8_t*>(sum->data()), d * 8);
    for (PartyId p : outputs) {
      if (p != self && decision.present[p]) sends.push_back({p, bytes});
    }
    mesh.round_tolerant(sends, {}, "aggregate: result");
    result.sum = std::move(sum);
  } else if (is_output) {
    const PartyId from[] = {leader};
    const auto received = mesh.round_tolerant({}, from, "aggregate: result");
    if (!received[0]) {
      throw ProtocolError("the aggregator " + mesh.describe(leader) +
                          " dropped out before sending the sum");
    }
    if (received[0]->size() != d * sizeof(std::int64_t)) {
      throw ProtocolError("malformed sum from the aggregator " + mesh.describe(leader));
    }
    std::vector<std::int64_t> out;
    out.reserve(d);  // filled by appending: no zeroing pass
    std::array<std::int64_t, kChunk> words;
    for (std::size_t start = 0; start < d; start += kChunk) {
      const std::size_t count = std::min(kChunk, d - start);
      std::memcpy(words.data(), received[0]->data() + start * sizeof(std::int64_t),
                  count * sizeof(std::int64_t));
      out.insert(out.end(), words.begin(), words.begin() + count);
    }
    result.sum = std::move(out);
  }
  return result;
}

}  // namespace

std::int64_t max_abs_input(std::size_t parties) {
  return (std::int64_t{1} << 59) / static_cast<std::int64_t>(std::max<std::size_t>(parties, 1));
}

AggregationResult secure_sum(mpc::Session& session, std::span<const std::int64_t> input,
                             const AggregationOptions& options) {
  net::Mesh& mesh = session.mesh();
  const std::size_t n = mesh.size();
  if (options.threshold < 1 || options.threshold >= n) {
    throw ConfigError("the threshold must lie between 1 and " + std::to_string(n - 1) + " for " +
                      std::to_string(n) + " parties");
  }
  std::vector<PartyId> outputs = options.output_parties;
  if (outputs.empty()) {
    for (PartyId p = 0; p < n; ++p) outputs.push_back(p);
  }
  for (PartyId p : outputs) {
    if (p >= n) throw ConfigError("output party " + std::to_string(p) + " does not exist");
  }

  std::span<const std::int64_t> values = input;
  std::vector<std::int64_t> noisy;
  if (options.noise_sigma > 0) {
    mpc::Prg prg = session.prg().private_stream();
    const double sigma = options.noise_sigma / std::sqrt(static_cast<double>(n));
    noisy = sample_discrete_gaussian(prg, sigma, values.size());
    for (std::size_t i = 0; i < values.size(); ++i) noisy[i] += values[i];
    values = noisy;
  }
  const std::int64_t limit = max_abs_input(n);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] > limit || values[i] < -limit) {
      throw InputError("value " + std::to_string(i) + " (" + std::to_string(values[i]) +
                       " in encoded units, noise included) exceeds the limit +-" +
                       std::to_string(limit) + " for " + std::to_string(n) + " parties");
    }
  }
  return options.protocol == AggregationProtocol::kThreshold
             ? threshold_sum(session, values, options.threshold, outputs)
             : masked_sum(session, values, options.threshold, outputs);
}

}  // namespace sm::proto
