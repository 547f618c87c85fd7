#include "protocols/psi.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <thread>
#include <unordered_set>

#include "mpc/additive_engine.hpp"
#include "mpc/ops.hpp"
#include "mpc/shamir_engine.hpp"
#include "net/errors.hpp"
#include "net/wire.hpp"
#include "protocols/psi_group.hpp"
#include "protocols/psi_okvs.hpp"

namespace sm::proto {

namespace {

using net::Bytes;
using net::PartyId;

constexpr std::size_t kPoint = kGroupElementBytes;    // 32
constexpr std::size_t kBatch = std::size_t{1} << 14;  // items per thread per progress report
constexpr std::size_t kHashBatch = 256;               // items sharing one field inversion
constexpr std::string_view kDomain = "SecretMesh PSI v2 X25519";

// Runs body(begin, end) over [0, n) on `threads` threads, in batches of kBatch items per thread,
// reporting progress after each batch; rethrows the first failure.
template <class Body>
void parallel_for(std::size_t n, std::size_t threads, const PsiOptions& options,
                  std::string_view step, Body body) {
  for (std::size_t start = 0; start < n;) {
    const std::size_t end = std::min(n, start + kBatch * threads);
    const std::size_t share = (end - start + threads - 1) / threads;
    std::vector<std::exception_ptr> errors(threads);
    std::vector<std::thread> workers;
    for (std::size_t t = 1; t < threads; ++t) {
      const std::size_t b = std::min(end, start + t * share);
      const std::size_t e = std::min(end, b + share);
      if (b >= e) break;
      workers.emplace_back([&, t, b, e] {
        try {
          body(b, e);
        } catch (...) {
          errors[t] = std::current_exception();
        }
      });
    }
    try {
      body(start, std::min(end, start + share));
    } catch (...) {
      errors[0] = std::current_exception();
    }
    for (auto& worker : workers) worker.join();
    for (const auto& error : errors) {
      if (error) std::rethrow_exception(error);
    }
    start = end;
    if (options.progress) options.progress(step, start, n);
  }
}

// A uniform index in [0, bound) from the private stream (rejection sampling).
std::size_t uniform_below(mpc::Prg& prg, std::size_t bound) {
  const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % bound);
  for (;;) {
    std::uint64_t value;
    prg.fill(std::span(reinterpret_cast<std::uint8_t*>(&value), sizeof value));
    if (value < limit) return static_cast<std::size_t>(value % bound);
  }
}

// A uniformly random permutation (Fisher-Yates).
std::vector<std::size_t> random_permutation(std::size_t n, mpc::Prg& prg) {
  std::vector<std::size_t> perm(n);
  for (std::size_t i = 0; i < n; ++i) perm[i] = i;
  for (std::size_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[uniform_below(prg, i)]);
  return perm;
}

// Checks that `set`, from `sender`, holds whole elements (and `expected` of them, unless
// SIZE_MAX); returns how many.
std::size_t element_count(const Bytes& set, std::size_t expected, const std::string& sender,
                          std::string_view what) {
  if (set.size() % kPoint != 0 || (expected != SIZE_MAX && set.size() / kPoint != expected)) {
    throw ProtocolError("malformed " + std::string(what) + " from " + sender + ": " +
                        std::to_string(set.size()) + " bytes");
  }
  return set.size() / kPoint;
}

// Blinds every element of `set` (32 bytes each) with `key` in place; ProtocolError naming
// `sender`, whose elements they are, for an element blind() refuses.
void blind_set(Bytes& set, const GroupScalar& key, std::size_t threads, const PsiOptions& options,
               std::string_view step, const std::string& sender) {
  std::atomic<bool> invalid{false};
  parallel_for(set.size() / kPoint, threads, options, step,
               [&](std::size_t begin, std::size_t end) {
                 GroupElement element;
                 for (std::size_t i = begin; i < end; ++i) {
                   std::memcpy(element.data(), set.data() + i * kPoint, kPoint);
                   if (!blind(element, key)) invalid = true;
                   std::memcpy(set.data() + i * kPoint, element.data(), kPoint);
                 }
               });
  if (invalid) {
    throw ProtocolError("a blinded set from " + sender +
                        " holds an element that is not a canonical Curve25519 u-coordinate or "
                        "has small order (X25519 gave all zeros)");
  }
}

// BLAKE2b-128 of every tag: the OKVS keys and the zero sharing's PRF inputs.
std::vector<Block> digests(const Bytes& tags, std::size_t threads, const PsiOptions& options) {
  std::vector<Block> out(tags.size() / kPoint);
  parallel_for(out.size(), threads, options, "digesting tags",
               [&](std::size_t begin, std::size_t end) {
                 for (std::size_t i = begin; i < end; ++i) {
                   crypto_generichash(out[i].data(), out[i].size(), tags.data() + i * kPoint,
                                      kPoint, nullptr, 0);
                 }
               });
  return out;
}

// z_self(T) = XOR over peers l of AES_(s_self,l)(digest(T)).
std::vector<Block> zero_shares(const std::vector<Block>& keys, const std::vector<Block>& pairwise,
                               PartyId self) {
  std::vector<Block> out(keys.size(), Block{});
  std::vector<Block> encrypted(keys.size());
  for (PartyId l = 0; l < pairwise.size(); ++l) {
    if (l == self || keys.empty()) continue;
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                        &EVP_CIPHER_CTX_free);
    int length = 0;
    const std::size_t total = keys.size() * sizeof(Block);
    std::size_t done = 0;
    bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ecb(), nullptr, pairwise[l].data(),
                                        nullptr) == 1;
    ok = ok && EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1;
    constexpr std::size_t kChunk = std::size_t{1} << 24;
    while (ok && done < total) {
      const std::size_t count = std::min(kChunk, total - done);
      ok = EVP_EncryptUpdate(ctx.get(), encrypted.front().data() + done, &length,
                             keys.front().data() + done, static_cast<int>(count)) == 1 &&
           static_cast<std::size_t>(length) == count;
      done += count;
    }
    if (!ok) throw std::runtime_error("AES-128-ECB failed in the PSI zero sharing");
    for (std::size_t i = 0; i < keys.size(); ++i) {
      for (std::size_t b = 0; b < sizeof(Block); ++b) out[i][b] ^= encrypted[i][b];
    }
  }
  return out;
}

void validate(const mpc::Session& session, const PsiOptions& options) {
  const std::size_t n = session.parties();
  if (n < 2) throw ConfigError("private set intersection needs at least 2 parties");
  std::vector<bool> seen(n, false);
  for (PartyId p : options.output_parties) {
    if (p >= n || seen[p]) {
      throw ConfigError("PSI output parties must be distinct ids below " + std::to_string(n));
    }
    seen[p] = true;
  }
  if (options.mode == PsiMode::kAlign && !options.output_parties.empty()) {
    throw ConfigError(
        "PSI align mode gives every party its aligned rows; it takes no output "
        "parties");
  }
}

std::vector<PartyId> output_parties(const PsiOptions& options, std::size_t n) {
  if (!options.output_parties.empty()) return options.output_parties;
  std::vector<PartyId> all(n);
  for (PartyId p = 0; p < n; ++p) all[p] = p;
  return all;
}

Bytes encode_items(const std::vector<std::string>& items) {
  net::ByteWriter out;
  out.u64(items.size());
  for (const auto& item : items) out.string(item);
  return out.take();
}

std::vector<std::string> decode_items(const Bytes& bytes, const std::string& sender) {
  net::ByteReader in(bytes, "PSI result from " + sender);
  const std::uint64_t count = in.u64();
  if (count > bytes.size() / 4) throw ProtocolError("malformed PSI result from " + sender);
  std::vector<std::string> items(count);
  for (auto& item : items) item = in.string();
  in.expect_end();
  return items;
}

// Steps 1-4 with `leader` decoding; with `hide_leader_order`, the last hop of the leader's set
// shuffles it once more, so the leader cannot map its tags back to its items.
struct Core {
  std::vector<std::size_t> perm;    // the own tags' order: tag i is that of items[perm[i]]
  std::vector<Block> keys;          // the digest of every own tag, in tag order
  std::vector<std::size_t> common;  // at the leader: the positions in `keys` of common tags
  std::vector<std::size_t> set_sizes;
};

Core run_core(mpc::Session& session, std::span<const std::string> items, const PsiOptions& options,
              PartyId leader, bool hide_leader_order) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  {
    std::unordered_set<std::string_view> distinct;
    for (const auto& item : items) {
      if (!distinct.insert(item).second) {
        throw InputError("PSI items must be distinct; '" + item + "' appears twice");
      }
    }
  }
  net::Mesh& mesh = session.mesh();
  const std::size_t n = mesh.size();
  const PartyId self = mesh.self();
  const PartyId next = (self + 1) % n;
  const PartyId prev = (self + n - 1) % n;
  const std::size_t threads =
      options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());

  // Randomness: the secret scalar, the shuffles, the pairwise PRF keys, the hash domain.
  GroupScalar key = random_group_scalar();
  mpc::Prg shuffle_prg = session.prg().private_stream();
  std::vector<Block> pairwise(n);
  for (PartyId l = 0; l < n; ++l) {
    if (l != self) session.prg().pairwise_stream(l).fill(pairwise[l]);
  }
  std::array<std::uint8_t, 32> common;
  session.prg().common_stream().fill(common);

  // Step 1: hash, blind and shuffle the own set, then pass every set around the ring.
  crypto_hash_sha512_state prefix;
  crypto_hash_sha512_init(&prefix);
  crypto_hash_sha512_update(&prefix, reinterpret_cast<const unsigned char*>(kDomain.data()),
                            kDomain.size());
  crypto_hash_sha512_update(&prefix, options.nonce.data(), options.nonce.size());
  crypto_hash_sha512_update(&prefix, common.data(), common.size());
  Core core;
  core.perm = random_permutation(items.size(), shuffle_prg);
  const std::vector<std::size_t>& perm = core.perm;
  Bytes current(items.size() * kPoint);
  std::atomic<bool> degenerate{false};
  parallel_for(items.size(), threads, options, "hashing and blinding own items",
               [&](std::size_t begin, std::size_t end) {
                 std::array<unsigned char, crypto_hash_sha512_BYTES> digest;
                 std::vector<FieldBytes> field(kHashBatch);
                 std::vector<GroupElement> hashed(kHashBatch);
                 for (std::size_t start = begin; start < end; start += kHashBatch) {
                   const std::size_t count = std::min(kHashBatch, end - start);
                   for (std::size_t k = 0; k < count; ++k) {
                     crypto_hash_sha512_state state = prefix;
                     const std::string& item = items[perm[start + k]];
                     crypto_hash_sha512_update(
                         &state, reinterpret_cast<const unsigned char*>(item.data()), item.size());
                     crypto_hash_sha512_final(&state, digest.data());
                     std::memcpy(field[k].data(), digest.data(), field[k].size());
                   }
                   elligator2_batch(std::span(field).first(count), std::span(hashed).first(count));
                   for (std::size_t k = 0; k < count; ++k) {
                     if (!blind(hashed[k], key)) degenerate = true;
                     std::memcpy(current.data() + (start + k) * kPoint, hashed[k].data(), kPoint);
                   }
                 }
               });
  if (degenerate) throw ProtocolError("an item hashed to a Curve25519 point of small order");

  core.set_sizes.assign(n, 0);
  core.set_sizes[self] = items.size();
  Bytes tags;
  for (std::size_t r = 1; r <= n; ++r) {
    const Bytes out = std::move(current);
    const net::Outgoing send{next, out};
    const PartyId owner = (self + n - r) % n;
    const std::string step = "psi ring hop " + std::to_string(r);
    current = std::move(mesh.round(std::span(&send, 1), std::span(&prev, 1), step).front());
    if (r == n) {
      element_count(current, items.size(), mesh.describe(prev), "own tags");
      tags = std::move(current);
      break;
    }
    core.set_sizes[owner] = element_count(current, SIZE_MAX, mesh.describe(prev), "blinded set");
    blind_set(current, key, threads, options, "blinding the set of party " + std::to_string(owner),
              mesh.describe(prev));
    if (hide_leader_order && owner == leader && r == n - 1) {
      const auto reshuffle = random_permutation(core.set_sizes[owner], shuffle_prg);
      Bytes shuffled(current.size());
      for (std::size_t i = 0; i < reshuffle.size(); ++i) {
        std::memcpy(shuffled.data() + i * kPoint, current.data() + reshuffle[i] * kPoint, kPoint);
      }
      current = std::move(shuffled);
    }
  }
  sodium_memzero(key.data(), key.size());

  // Steps 2-4: zero shares keyed by the tags; OKVS to the leader; the leader's membership test.
  core.keys = digests(tags, threads, options);
  const std::vector<Block>& keys = core.keys;
  tags.clear();
  tags.shrink_to_fit();
  const std::vector<Block> shares = zero_shares(keys, pairwise, self);
  if (self != leader) {
    const Bytes table = okvs_encode(keys, shares, shuffle_prg).serialize();
    const net::Outgoing send{leader, table};
    mesh.round(std::span(&send, 1), {}, "psi key-value store");
  } else {
    std::vector<PartyId> others;
    for (PartyId p = 0; p < n; ++p) {
      if (p != self) others.push_back(p);
    }
    const auto tables = mesh.round({}, others, "psi key-value store");
    std::vector<Okvs> stores;
    for (std::size_t k = 0; k < others.size(); ++k) {
      const std::size_t limit = 2 * okvs_cells(core.set_sizes[others[k]]) + 3;
      stores.push_back(Okvs::deserialize(tables[k], limit, mesh.describe(others[k])));
    }
    std::vector<std::uint8_t> member(keys.size(), 0);
    parallel_for(keys.size(), threads, options, "testing membership",
                 [&](std::size_t begin, std::size_t end) {
                   for (std::size_t i = begin; i < end; ++i) {
                     Block sum = shares[i];
                     for (const Okvs& store : stores) {
                       const Block value = store.decode(keys[i]);
                       for (std::size_t b = 0; b < sum.size(); ++b) sum[b] ^= value[b];
                     }
                     member[i] = sum == Block{};
                   }
                 });
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (member[i]) core.common.push_back(i);
    }
  }
  return core;
}

}  // namespace

PsiResult psi(mpc::Session& session, std::span<const std::string> items,
              const PsiOptions& options) {
  if (options.mode == PsiMode::kSum) {
    throw ConfigError("PSI sum mode computes on an engine: call psi_sum()");
  }
  validate(session, options);
  net::Mesh& mesh = session.mesh();
  const std::size_t n = mesh.size();
  const PartyId self = mesh.self();
  const auto outputs = output_parties(options, n);
  const PartyId leader = outputs.front();
  const bool is_output = std::find(outputs.begin(), outputs.end(), self) != outputs.end();
  const Core core =
      run_core(session, items, options, leader, options.mode == PsiMode::kCardinality);
  const std::vector<std::size_t>& perm = core.perm;
  const std::vector<Block>& keys = core.keys;
  const std::vector<std::size_t>& common_positions = core.common;
  PsiResult result;
  result.set_sizes = core.set_sizes;

  // The output step.
  std::vector<PartyId> receivers;
  for (PartyId p : outputs) {
    if (p != leader) receivers.push_back(p);
  }
  if (options.mode == PsiMode::kAlign) {
    receivers.clear();
    for (PartyId p = 0; p < n; ++p) {
      if (p != leader) receivers.push_back(p);
    }
  }
  Bytes message;
  if (self == leader) {
    if (options.mode == PsiMode::kIntersection) {
      std::vector<std::string> common_items;
      for (std::size_t i : common_positions) common_items.push_back(items[perm[i]]);
      std::sort(common_items.begin(), common_items.end());
      result.cardinality = common_items.size();
      message = encode_items(common_items);
      result.intersection = std::move(common_items);
    } else if (options.mode == PsiMode::kCardinality) {
      result.cardinality = common_positions.size();
      net::ByteWriter out;
      out.u64(common_positions.size());
      message = out.take();
    } else {
      std::vector<Block> common_keys;
      for (std::size_t i : common_positions) common_keys.push_back(keys[i]);
      std::sort(common_keys.begin(), common_keys.end());
      message.resize(common_keys.size() * sizeof(Block));
      if (!common_keys.empty()) std::memcpy(message.data(), common_keys.data(), message.size());
    }
    std::vector<net::Outgoing> sends;
    for (PartyId p : receivers) sends.push_back({p, message});
    mesh.round(sends, {}, "psi result");
  } else if (std::find(receivers.begin(), receivers.end(), self) != receivers.end()) {
    message = std::move(mesh.round({}, std::span(&leader, 1), "psi result").front());
    const std::string sender = mesh.describe(leader);
    if (options.mode == PsiMode::kIntersection) {
      result.intersection = decode_items(message, sender);
      result.cardinality = result.intersection->size();
    } else if (options.mode == PsiMode::kCardinality) {
      net::ByteReader in(message, "PSI cardinality from " + sender);
      result.cardinality = in.u64();
      in.expect_end();
    }
  }
  if (options.mode == PsiMode::kAlign) {
    if (message.size() % sizeof(Block) != 0) {
      throw ProtocolError("malformed PSI alignment from " + mesh.describe(leader));
    }
    std::vector<std::pair<Block, std::size_t>> index(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) index[i] = {keys[i], perm[i]};
    std::sort(index.begin(), index.end());
    std::vector<std::size_t> aligned;
    for (std::size_t offset = 0; offset < message.size(); offset += sizeof(Block)) {
      Block key_of_row;
      std::memcpy(key_of_row.data(), message.data() + offset, sizeof(Block));
      const auto it = std::lower_bound(index.begin(), index.end(),
                                       std::pair<Block, std::size_t>{key_of_row, 0});
      if (it == index.end() || it->first != key_of_row) {
        throw ProtocolError("the PSI alignment from " + mesh.describe(leader) +
                            " names a tag this party does not hold");
      }
      aligned.push_back(it->second);
    }
    result.cardinality = aligned.size();
    result.aligned = std::move(aligned);
  }
  if (!is_output) result.cardinality.reset();
  return result;
}

namespace {

// Sum mode's decoder: the first output party that does not hold the payloads, else the lowest id
// that does not.
PartyId sum_leader(const std::vector<PartyId>& outputs, PartyId holder) {
  for (PartyId p : outputs) {
    if (p != holder) return p;
  }
  return holder == 0 ? 1 : 0;
}

}  // namespace

template <mpc::Engine En>
PsiResult psi_sum(En& engine, std::span<const std::string> items,
                  std::span<const std::int64_t> payloads, PartyId holder,
                  const PsiOptions& options) {
  using E = typename En::Element;
  mpc::Session& session = engine.session();
  if (options.mode != PsiMode::kSum) throw ConfigError("psi_sum() runs PSI's sum mode only");
  validate(session, options);
  net::Mesh& mesh = session.mesh();
  const std::size_t n = mesh.size();
  const PartyId self = mesh.self();
  if (holder >= n) {
    throw ConfigError("the PSI payload holder must be a party id below " + std::to_string(n));
  }
  if (self == holder) {
    if (payloads.size() != items.size()) {
      throw InputError("PSI sum: " + std::to_string(payloads.size()) + " payloads for " +
                       std::to_string(items.size()) + " items");
    }
    mpc::u128 magnitude = 0;
    for (std::int64_t value : payloads) {
      const auto bits = static_cast<std::uint64_t>(value);
      magnitude += value < 0 ? 0 - bits : bits;
    }
    if (magnitude >= kPsiSumLimit) {
      throw InputError("PSI sum: the payloads' absolute values add up to 2^63 or more");
    }
  }
  const auto outputs = output_parties(options, n);
  const PartyId leader = sum_leader(outputs, holder);
  const Core core = run_core(session, items, options, leader, /*hide_leader_order=*/true);
  PsiResult result;
  result.set_sizes = core.set_sizes;

  // The payload store's layout: the holder's seed and table size, public.
  OkvsLayout layout;
  std::vector<PartyId> others;
  for (PartyId p = 0; p < n; ++p) {
    if (p != holder) others.push_back(p);
  }
  if (self == holder) {
    mpc::Prg randomness = session.prg().private_stream();
    layout = okvs_layout(core.keys, randomness);
    net::ByteWriter out;
    out.u64(layout.seed);
    out.u64(layout.cells);
    const Bytes message = out.take();
    std::vector<net::Outgoing> sends;
    for (PartyId p : others) sends.push_back({p, message});
    mesh.round(sends, {}, "psi sum: payload store layout");
  } else {
    const Bytes message =
        std::move(mesh.round({}, std::span(&holder, 1), "psi sum: payload store layout").front());
    const std::string sender = mesh.describe(holder);
    net::ByteReader in(message, "PSI payload store layout from " + sender);
    layout.seed = in.u64();
    layout.cells = in.u64();
    in.expect_end();
    const std::size_t limit = 2 * okvs_cells(result.set_sizes[holder]) + 3;
    if (layout.cells < 3 || layout.cells % 3 != 0 || layout.cells > limit) {
      throw ProtocolError("malformed PSI payload store layout from " + sender + ": " +
                          std::to_string(layout.cells) + " cells");
    }
  }

  // The holder's store P and the leader's row sum R, both private; then <R, P> on the engine.
  std::vector<E> mine;  // P at the holder, R at the leader, empty elsewhere
  if (self == holder) {
    std::vector<E> values(items.size());
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = E::from_int(payloads[core.perm[i]]);
    mine = okvs_encode_sum<E>(layout, values);
  } else if (self == leader) {
    mine.resize(layout.cells);
    for (std::size_t i : core.common) {
      for (std::size_t c : okvs_positions(core.keys[i], layout.seed, layout.cells)) {
        mine[c] += E::from_int(1);
      }
    }
  }
  const auto store = engine.input(holder, mine, layout.cells, "psi sum: payload store");
  const auto rows = engine.input(leader, mine, layout.cells, "psi sum: common rows");
  const auto sum = mpc::dot(engine, rows, store, "psi sum: dot");

  if (outputs.size() == n) {
    result.sum = engine.open(sum, "psi sum: open").front().to_int();
  } else {
    for (PartyId p : outputs) {
      const auto opened = engine.open_to(p, sum, "psi sum: open");
      if (opened) result.sum = opened->front().to_int();
    }
  }
  return result;
}

template PsiResult psi_sum(mpc::AdditiveEngine&, std::span<const std::string>,
                           std::span<const std::int64_t>, PartyId, const PsiOptions&);
template PsiResult psi_sum(mpc::ShamirEngine<mpc::Fp127>&, std::span<const std::string>,
                           std::span<const std::int64_t>, PartyId, const PsiOptions&);

}  // namespace sm::proto
