#include "mpc/dealer.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "mpc/elements.hpp"
#include "mpc/serialize.hpp"
#include "mpc/window_masks.hpp"
#include "net/errors.hpp"
#include "net/log.hpp"

namespace sm::mpc {

namespace {

// ---- the wire ------------------------------------------------------------------------------

// "SMDEALR1": the hello's magic, which is also the protocol's version.
constexpr std::uint64_t kHelloMagic = 0x31524c4145444d53;

enum class Kind : std::uint64_t {
  kTriples = 1,     // p1 = n
  kMatrix = 2,      // p1 = rows, p2 = inner, p3 = cols
  kTrunc = 3,       // p1 = n, p2 = frac_bits
  kBitMasks = 4,    // p1 = n, p2 = width
  kRandomBits = 5,  // p1 = n
  kDone = 6,
  kMaskedMatrix = 7,    // p1 = rows, p2 = cols
  kMaskedProducts = 8,  // p1 = the matrix's batch, p2 = subsets, p3 = their total rows; then
                        // a payload of p2 subset sizes and p3 row indices
  kWindowMasks = 9,     // p1 = n, p2 = low, p3 = width
};

struct Request {
  Kind kind;
  std::uint64_t p1 = 0, p2 = 0, p3 = 0;
};

constexpr std::size_t kRequestBytes = 4 * sizeof(std::uint64_t);

net::Bytes encode_words(std::span<const std::uint64_t> words) {
  net::Bytes bytes(words.size() * sizeof(std::uint64_t));
  if (!words.empty()) std::memcpy(bytes.data(), words.data(), bytes.size());
  return bytes;
}

std::vector<std::uint64_t> decode_words(net::ByteView bytes) {
  std::vector<std::uint64_t> words(bytes.size() / sizeof(std::uint64_t));
  if (!words.empty()) std::memcpy(words.data(), bytes.data(), words.size() * sizeof(std::uint64_t));
  return words;
}

net::Bytes encode(const Request& request) {
  const std::array<std::uint64_t, 4> words{static_cast<std::uint64_t>(request.kind), request.p1,
                                           request.p2, request.p3};
  return encode_words(words);
}

// The hello party 0 sends with the set-up: magic, the number of compute parties, their ids, the
// dealer's id; the dealer checks it against its own view.
net::Bytes encode_hello(std::span<const net::PartyId> compute_parties, net::PartyId dealer) {
  std::vector<std::uint64_t> words{kHelloMagic, compute_parties.size()};
  words.insert(words.end(), compute_parties.begin(), compute_parties.end());
  words.push_back(dealer);
  return encode_words(words);
}

const char* step_name(Kind kind) {
  switch (kind) {
    case Kind::kTriples:
      return "dealer: triples";
    case Kind::kMatrix:
      return "dealer: matrix triple";
    case Kind::kTrunc:
      return "dealer: truncation masks";
    case Kind::kBitMasks:
      return "dealer: bit masks";
    case Kind::kRandomBits:
      return "dealer: random bits";
    case Kind::kDone:
      return "dealer: done";
    case Kind::kMaskedMatrix:
      return "dealer: masked matrix";
    case Kind::kMaskedProducts:
      return "dealer: masked products";
    case Kind::kWindowMasks:
      return "dealer: window masks";
  }
  return "dealer: unknown request";
}

// ---- batches: random components from the seeds, derived ones from the dealer ----------------

// The components of a batch, in stream order: random ones (uniform; every party's share from its
// seed), then derived ones (party 0's share is the dealer's correction).
struct Layout {
  std::vector<std::size_t> random;
  std::vector<std::size_t> derived;

  std::uint64_t total() const {
    std::uint64_t sum = 0;
    for (auto size : random) sum += size;
    for (auto size : derived) sum += size;
    return sum;
  }
  std::uint64_t derived_total() const {
    std::uint64_t sum = 0;
    for (auto size : derived) sum += size;
    return sum;
  }
};

constexpr int kComponentBits = 4;  // at most 16 components per batch

// The PRG stream of component `component` of batch `batch`.
std::uint64_t stream_of(std::uint64_t batch, std::size_t component) {
  return (batch << kComponentBits) | component;
}

// a * b, or nullopt if it exceeds the batch limit (so no product below can overflow).
std::optional<std::uint64_t> bounded_product(std::uint64_t a, std::uint64_t b) {
  if (b != 0 && a > kMaxDealerBatchElements / b) return std::nullopt;
  return a * b;
}

// The layout of a valid request, or a description of what is wrong with it.
struct Checked {
  Layout layout;
  std::string problem;
};

// `masked_cols`: the columns of the masked matrix a kMaskedProducts request names.
Checked check(const Request& request, std::uint64_t masked_cols = 0) {
  const std::uint64_t limit = kMaxDealerBatchElements;
  auto too_large = [&] {
    return Checked{{}, "batch of more than " + std::to_string(limit) + " elements"};
  };
  auto unused_zero = [&](bool p2, bool p3) {
    return (p2 || request.p2 == 0) && (p3 || request.p3 == 0);
  };
  switch (request.kind) {
    case Kind::kTriples: {
      if (!unused_zero(false, false)) return {{}, "triples take one parameter"};
      if (request.p1 > limit / 3) return too_large();
      const std::size_t n = request.p1;
      return {{{n, n}, {n}}, {}};
    }
    case Kind::kMatrix: {
      const auto a = bounded_product(request.p1, request.p2);
      const auto b = bounded_product(request.p2, request.p3);
      const auto c = bounded_product(request.p1, request.p3);
      if (!a || !b || !c || *a + *b + *c > limit) return too_large();
      return {{{*a, *b}, {*c}}, {}};
    }
    case Kind::kTrunc: {
      if (!unused_zero(true, false)) return {{}, "truncation masks take two parameters"};
      if (request.p2 > 63) return {{}, "frac_bits " + std::to_string(request.p2) + " not in 0..63"};
      if (request.p1 > limit / 3) return too_large();
      const std::size_t n = request.p1;
      return {{{n}, {n, n}}, {}};
    }
    case Kind::kBitMasks: {
      if (!unused_zero(true, false)) return {{}, "bit masks take two parameters"};
      if (request.p2 < 1 || request.p2 > 64) {
        return {{}, "width " + std::to_string(request.p2) + " not in 1..64"};
      }
      const auto bits = bounded_product(request.p1, request.p2);
      if (!bits) return too_large();
      return {{{}, {*bits}}, {}};
    }
    case Kind::kRandomBits: {
      if (!unused_zero(false, false)) return {{}, "random bits take one parameter"};
      if (request.p1 > limit) return too_large();
      return {{{}, {request.p1}}, {}};
    }
    case Kind::kDone:
      if (request.p1 != 0 || !unused_zero(false, false)) return {{}, "done takes no parameters"};
      return {};
    case Kind::kMaskedMatrix: {
      if (!unused_zero(true, false)) return {{}, "a masked matrix takes two parameters"};
      const auto u = bounded_product(request.p1, request.p2);
      if (!u) return too_large();
      return {{{*u}, {}}, {}};
    }
    case Kind::kMaskedProducts: {
      const auto v = bounded_product(request.p2, masked_cols);
      if (!v || request.p2 > limit || request.p3 > limit || 2 * (*v + request.p3) > limit) {
        return too_large();
      }
      return {{{*v, request.p3}, {request.p3, *v}}, {}};
    }
    case Kind::kWindowMasks: {
      if (const std::string problem = window_problem(static_cast<std::int64_t>(request.p2),
                                                     request.p3);
          !problem.empty()) {
        return {{}, problem};
      }
      const auto bits = bounded_product(request.p1, request.p3);
      const auto products = bounded_product(request.p1, window_products<Ring64>(request.p3));
      if (!bits || !products || *bits + *products + request.p1 > limit) return too_large();
      return {{{request.p1}, {*bits, *products}}, {}};
    }
  }
  return {{}, "unknown request kind " + std::to_string(static_cast<std::uint64_t>(request.kind))};
}

// Uniform bits (0 or 1) from `prg`, one keystream bit each.
void sample_bits(Prg& prg, std::span<Ring64> out) {
  constexpr std::size_t kChunkBytes = 4096;
  std::array<std::uint8_t, kChunkBytes> bytes;
  for (std::size_t done = 0; done < out.size();) {
    const std::size_t count = std::min(kChunkBytes * 8, out.size() - done);
    prg.fill(std::span(bytes.data(), (count + 7) / 8));
    for (std::size_t k = 0; k < count; ++k) {
      out[done + k] = Ring64((bytes[k / 8] >> (k % 8)) & 1u);
    }
    done += count;
  }
}

// The derived components' plaintext values from the random components' plaintext values and
// the dealer's private PRG: the only part of the dealer that depends on the kind.
void derive(const Request& request, std::span<const std::span<Ring64>> random, Prg& dealer_private,
            std::span<const std::span<Ring64>> derived) {
  switch (request.kind) {
    case Kind::kTriples: {
      const Ring64* a = random[0].data();
      const Ring64* b = random[1].data();
      Ring64* c = derived[0].data();
      for (std::size_t i = 0; i < derived[0].size(); ++i) c[i] = a[i] * b[i];
      return;
    }
    case Kind::kMatrix: {
      const auto product =
          matmul_plain<Ring64>(random[0], random[1], request.p1, request.p2, request.p3);
      std::copy(product.begin(), product.end(), derived[0].begin());
      return;
    }
    case Kind::kTrunc: {
      const int frac_bits = static_cast<int>(request.p2);
      const auto r = random[0];
      const auto high = derived[0];
      const auto msb = derived[1];
      for (std::size_t i = 0; i < r.size(); ++i) {
        const std::uint64_t v = r[i].value();
        high[i] = Ring64((v & ~(std::uint64_t{1} << 63)) >> frac_bits);
        msb[i] = Ring64(v >> 63);
      }
      return;
    }
    case Kind::kBitMasks:
    case Kind::kRandomBits:
      sample_bits(dealer_private, derived[0]);
      return;
    case Kind::kWindowMasks:
      derive_window_bits(random[0], static_cast<int>(request.p2), request.p3, derived[0],
                         derived[1]);
      return;
    case Kind::kDone:
    case Kind::kMaskedMatrix:
    case Kind::kMaskedProducts:  // derived in derive_masked_products
      return;
  }
}

// A masked matrix as the dealer keeps it: U in the clear.
struct StoredMatrix {
  std::uint64_t rows = 0, cols = 0;
  std::vector<Ring64> u;
};

// The subsets of a kMaskedProducts payload (p2 sizes, then p3 row indices), or a description
// of what is wrong with it.
struct Subsets {
  std::vector<std::vector<std::size_t>> rows;
  std::string problem;
};

Subsets parse_subsets(const Request& request, std::span<const std::uint64_t> payload,
                      std::uint64_t matrix_rows) {
  Subsets out;
  if (request.p2 > payload.size() || request.p3 != payload.size() - request.p2) {
    out.problem = "the payload does not match the subset counts";
    return out;
  }
  std::size_t next = request.p2;
  for (std::uint64_t k = 0; k < request.p2; ++k) {
    const std::uint64_t size = payload[k];
    if (size > payload.size() - next) {
      out.problem = "subset sizes exceed the row indices";
      return out;
    }
    std::vector<std::size_t> rows(payload.begin() + static_cast<std::ptrdiff_t>(next),
                                  payload.begin() + static_cast<std::ptrdiff_t>(next + size));
    for (std::size_t r : rows) {
      if (r >= matrix_rows) {
        out.problem = "row " + std::to_string(r) + " outside the masked matrix";
        return out;
      }
    }
    out.rows.push_back(std::move(rows));
    next += size;
  }
  if (next != payload.size()) out.problem = "subset sizes do not add up to the row indices";
  return out;
}

// z = U_B v and zt = U_B^T vt for every subset (v, vt, z, zt concatenated over the subsets).
void derive_masked_products(const StoredMatrix& matrix,
                            std::span<const std::vector<std::size_t>> subsets,
                            std::span<const std::span<Ring64>> random,
                            std::span<const std::span<Ring64>> derived) {
  const std::size_t cols = matrix.cols;
  std::size_t row_offset = 0;
  for (std::size_t k = 0; k < subsets.size(); ++k) {
    const Ring64* v = random[0].data() + k * cols;
    Ring64* zt = derived[1].data() + k * cols;
    std::fill(zt, zt + cols, Ring64(0));
    for (std::size_t i = 0; i < subsets[k].size(); ++i) {
      const Ring64* u_row = matrix.u.data() + subsets[k][i] * cols;
      const Ring64 vt = random[1][row_offset + i];
      Ring64 z(0);
      for (std::size_t j = 0; j < cols; ++j) {
        z += u_row[j] * v[j];
        zt[j] += u_row[j] * vt;
      }
      derived[0][row_offset + i] = z;
    }
    row_offset += subsets[k].size();
  }
}

// The sum over some parties' seeds of their shares of one component (one PRG stream each),
// expanded on demand, front to back, chunk by chunk so the keystream stays in the first-level
// cache.
class ShareSum {
 public:
  ShareSum(std::span<const Seed> seeds, std::uint64_t stream) {
    prgs_.reserve(seeds.size());
    for (const Seed& seed : seeds) prgs_.emplace_back(seed, stream);
  }
  // out = the next out.size() elements of the sum.
  void sum_into(std::span<Ring64> out) { combine(out, true); }
  // out -= the next out.size() elements of the sum.
  void subtract_from(std::span<Ring64> out) { combine(out, false); }

 private:
  void combine(std::span<Ring64> out, bool sum) {
    std::array<Ring64, kChunk> share;
    for (std::size_t done = 0; done < out.size(); done += kChunk) {
      const std::size_t count = std::min(kChunk, out.size() - done);
      Ring64* target = out.data() + done;
      for (std::size_t p = 0; p < prgs_.size(); ++p) {
        if (sum && p == 0) {
          prgs_[p].sample_into(std::span(target, count));
          continue;
        }
        prgs_[p].sample_into(std::span(share.data(), count));
        if (sum) {
          for (std::size_t i = 0; i < count; ++i) target[i] += share[i];
        } else {
          for (std::size_t i = 0; i < count; ++i) target[i] -= share[i];
        }
      }
    }
  }

  static constexpr std::size_t kChunk = 2048;
  std::vector<Prg> prgs_;
};

// Party 0's corrections of a batch, produced piece by piece while they are sent
// (net::Mesh::send_produced): each derived value minus the other parties' shares of it.
// Triples are element-wise, so their a, b and c = ab are computed piece by piece too; for the
// other kinds the derived values are in `reply` before the first piece is asked for.
class CorrectionProducer {
 public:
  CorrectionProducer(const Request& request, const Layout& layout, std::span<const Seed> seeds,
                     std::uint64_t batch, std::span<Ring64> reply)
      : reply_(reply) {
    const std::span<const Seed> others = seeds.subspan(1);
    for (std::size_t d = 0; d < layout.derived.size(); ++d) {
      others_.emplace_back(others, stream_of(batch, layout.random.size() + d));
      ends_.push_back((d == 0 ? 0 : ends_.back()) + layout.derived[d]);
    }
    if (request.kind == Kind::kTriples) {
      for (std::size_t j = 0; j < 2; ++j) triple_operands_.emplace_back(seeds, stream_of(batch, j));
    }
  }

  // Writes the reply's bytes [offset, offset + piece.size()), which lie in `reply` (the send's
  // buffer); pieces come in order.
  void operator()(std::size_t offset, std::span<std::uint8_t> piece) {
    const std::size_t first = offset / Ring64::kBytes;
    const std::size_t end = first + piece.size() / Ring64::kBytes;
    if (!triple_operands_.empty()) multiply(reply_.subspan(first, end - first));
    for (std::size_t d = 0, begin = 0; d < ends_.size(); begin = ends_[d++]) {
      const std::size_t from = std::max(first, begin), to = std::min(end, ends_[d]);
      if (from < to) others_[d].subtract_from(reply_.subspan(from, to - from));
    }
  }

 private:
  // c = ab for the next c.size() triples.
  void multiply(std::span<Ring64> c) {
    constexpr std::size_t kChunk = 2048;
    std::array<Ring64, kChunk> a, b;
    for (std::size_t done = 0; done < c.size(); done += kChunk) {
      const std::size_t count = std::min(kChunk, c.size() - done);
      triple_operands_[0].sum_into(std::span(a.data(), count));
      triple_operands_[1].sum_into(std::span(b.data(), count));
      for (std::size_t i = 0; i < count; ++i) c[done + i] = a[i] * b[i];
    }
  }

  std::span<Ring64> reply_;
  std::vector<ShareSum> others_;   // per derived component: the other parties' shares
  std::vector<std::size_t> ends_;  // per derived component: its end in the reply, in elements
  std::vector<ShareSum> triple_operands_;  // a and b (triples only)
};

// ---- arguments -------------------------------------------------------------------------------

void check_parties(const net::Mesh& mesh, net::PartyId dealer,
                   std::span<const net::PartyId> compute_parties) {
  if (compute_parties.size() < 2) {
    throw ConfigError("dealer: the additive engine needs at least 2 compute parties, got " +
                      std::to_string(compute_parties.size()));
  }
  if (compute_parties.size() >= (std::size_t{1} << 32)) {
    throw ConfigError("dealer: too many compute parties");
  }
  if (dealer >= mesh.size()) {
    throw ConfigError("dealer: dealer id " + std::to_string(dealer) +
                      " is outside the party table (" + std::to_string(mesh.size()) + " parties)");
  }
  for (std::size_t k = 0; k < compute_parties.size(); ++k) {
    const net::PartyId id = compute_parties[k];
    if (id >= mesh.size()) {
      throw ConfigError("dealer: compute party id " + std::to_string(id) +
                        " is outside the party table (" + std::to_string(mesh.size()) +
                        " parties)");
    }
    if (id == dealer) {
      throw ConfigError("dealer: " + mesh.describe(id) + " is both the dealer and a compute party");
    }
    if (std::find(compute_parties.begin(), compute_parties.begin() + k, id) !=
        compute_parties.begin() + k) {
      throw ConfigError("dealer: " + mesh.describe(id) + " is listed twice as a compute party");
    }
  }
}

}  // namespace

// ---- the computing parties' side ---------------------------------------------------------------

DealerClient::DealerClient(net::Mesh& full_mesh, net::PartyId dealer,
                           std::span<const net::PartyId> compute_parties)
    : mesh_(full_mesh), dealer_(dealer), uncaught_at_construction_(std::uncaught_exceptions()) {
  check_parties(mesh_, dealer, compute_parties);
  const auto self = std::find(compute_parties.begin(), compute_parties.end(), mesh_.self());
  if (self == compute_parties.end()) {
    throw ConfigError("dealer: " + mesh_.describe(mesh_.self()) +
                      " builds a DealerClient but is not among the compute parties");
  }
  index_ = static_cast<std::size_t>(self - compute_parties.begin());

  constexpr std::string_view kStep = "dealer: seeds";
  net::Bytes seed_bytes;
  if (index_ == 0) {
    const net::Bytes hello = encode_hello(compute_parties, dealer_);
    const net::Outgoing message{dealer_, hello};
    seed_bytes = std::move(mesh_.round({&message, 1}, {&dealer_, 1}, kStep).front());
  } else {
    seed_bytes = mesh_.recv(dealer_, kStep);
  }
  if (seed_bytes.size() != seed_.size()) {
    throw ProtocolError("malformed message from " + mesh_.describe(dealer_) + " in step '" +
                        std::string(kStep) + "': expected a 16-byte seed, got " +
                        std::to_string(seed_bytes.size()) + " bytes");
  }
  std::copy(seed_bytes.begin(), seed_bytes.end(), seed_.begin());
}

DealerClient::~DealerClient() {
  if (finished_ || std::uncaught_exceptions() != uncaught_at_construction_) return;
  try {
    finish();
  } catch (...) {
    // The destructor must not throw; a dealer that is gone needs no "done".
  }
}

void DealerClient::finish() {
  if (finished_) return;
  finished_ = true;
  if (index_ != 0) return;
  mesh_.send(dealer_, encode(Request{Kind::kDone}), step_name(Kind::kDone));
}

std::vector<std::vector<Ring64>> DealerClient::fetch(std::uint64_t kind, std::uint64_t p1,
                                                     std::uint64_t p2, std::uint64_t p3,
                                                     std::span<const std::uint64_t> payload,
                                                     std::uint64_t masked_cols) {
  const Request request{static_cast<Kind>(kind), p1, p2, p3};
  const std::string_view step = step_name(request.kind);
  if (finished_) throw std::logic_error(std::string(step) + " requested after finish()");
  Checked checked = check(request, masked_cols);
  if (!checked.problem.empty()) {
    throw std::invalid_argument(std::string(step) + ": " + checked.problem);
  }
  const Layout& layout = checked.layout;
  const std::size_t components = layout.random.size() + layout.derived.size();
  std::vector<std::vector<Ring64>> shares(components);
  if (layout.total() == 0) {
    for (std::size_t j = 0; j < layout.derived.size(); ++j) {
      shares[layout.random.size() + j].resize(layout.derived[j]);
    }
    return shares;
  }
  const std::uint64_t batch = batch_++;

  std::vector<Prg> random_streams;
  std::vector<std::size_t> expanded(layout.random.size(), 0);
  for (std::size_t j = 0; j < layout.random.size(); ++j) {
    random_streams.emplace_back(seed_, stream_of(batch, j));
    shares[j].resize(layout.random[j]);
  }
  // This party's shares of the random components up to `numerator / denominator` of each.
  const auto expand_random = [&](std::uint64_t numerator, std::uint64_t denominator) {
    for (std::size_t j = 0; j < layout.random.size(); ++j) {
      const auto upto = static_cast<std::size_t>(layout.random[j] * numerator / denominator);
      if (upto <= expanded[j]) continue;
      random_streams[j].sample_into(
          std::span<Ring64>(shares[j]).subspan(expanded[j], upto - expanded[j]));
      expanded[j] = upto;
    }
  };
  if (index_ == 0) {
    // The corrections, streamed into the derived components as they arrive (the dealer needs
    // the request before it can answer), while the random components expand in step.
    std::vector<std::size_t> derived_ends;
    for (std::size_t d = 0; d < layout.derived.size(); ++d) {
      shares[layout.random.size() + d].resize(layout.derived[d]);
      derived_ends.push_back((d == 0 ? 0 : derived_ends.back()) + layout.derived[d]);
    }
    net::Bytes request_bytes = encode(request);
    const net::Bytes payload_bytes = encode_words(payload);
    request_bytes.insert(request_bytes.end(), payload_bytes.begin(), payload_bytes.end());
    const net::Outgoing message{dealer_, request_bytes};
    const std::size_t reply_bytes = layout.derived_total() * Ring64::kBytes;
    const auto lengths = mesh_.round_streamed(
        {&message, 1}, {&dealer_, 1}, {&reply_bytes, 1}, step,
        [&](std::size_t, std::size_t offset, net::ByteView piece) {
          const std::size_t first = offset / Ring64::kBytes;
          const std::size_t end = first + piece.size() / Ring64::kBytes;
          for (std::size_t d = 0, begin = 0; d < derived_ends.size(); begin = derived_ends[d++]) {
            const std::size_t from = std::max(first, begin), to = std::min(end, derived_ends[d]);
            if (from >= to) continue;
            std::memcpy(shares[layout.random.size() + d].data() + (from - begin),
                        piece.data() + (from - first) * Ring64::kBytes,
                        (to - from) * Ring64::kBytes);
          }
          expand_random(offset + piece.size(), reply_bytes);
        });
    check_message_length<Ring64>(lengths.front(), layout.derived_total(), mesh_.describe(dealer_),
                                 step);
  } else {
    for (std::size_t d = 0; d < layout.derived.size(); ++d) {
      const std::size_t j = layout.random.size() + d;
      shares[j] = Prg(seed_, stream_of(batch, j)).sample<Ring64>(layout.derived[d]);
    }
  }
  expand_random(1, 1);
  return shares;
}

Triples<Ring64> DealerClient::triples(std::size_t n) {
  auto parts = fetch(static_cast<std::uint64_t>(Kind::kTriples), n, 0, 0);
  return {std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
}

MatrixTriple<Ring64> DealerClient::matrix_triple(std::size_t rows, std::size_t inner,
                                                 std::size_t cols) {
  auto parts = fetch(static_cast<std::uint64_t>(Kind::kMatrix), rows, inner, cols);
  return {rows, inner, cols, std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
}

TruncMasks<Ring64> DealerClient::trunc_masks(std::size_t n, int frac_bits) {
  if (frac_bits < 0) throw std::invalid_argument("trunc_masks: frac_bits must be in 0..63");
  auto parts =
      fetch(static_cast<std::uint64_t>(Kind::kTrunc), n, static_cast<std::uint64_t>(frac_bits), 0);
  return {std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
}

BitMasks<Ring64> DealerClient::bit_masks(std::size_t n, std::size_t width) {
  auto parts = fetch(static_cast<std::uint64_t>(Kind::kBitMasks), n, width, 0);
  return {width, std::move(parts[0]), std::vector<Ring64>(n)};
}

WindowMasks<Ring64> DealerClient::window_masks(std::size_t n, int low, std::size_t width) {
  if (low < 0) throw std::invalid_argument("window_masks: " + window_problem(low, width));
  auto parts = fetch(static_cast<std::uint64_t>(Kind::kWindowMasks), n,
                     static_cast<std::uint64_t>(low), width);
  return {low, width, std::move(parts[0]), std::move(parts[1]), std::move(parts[2]), {}};
}

std::vector<Ring64> DealerClient::random_bits(std::size_t n) {
  return std::move(fetch(static_cast<std::uint64_t>(Kind::kRandomBits), n, 0, 0)[0]);
}

MaskedMatrix<Ring64> DealerClient::masked_matrix(std::size_t rows, std::size_t cols) {
  const std::uint64_t id = batch_;
  auto parts = fetch(static_cast<std::uint64_t>(Kind::kMaskedMatrix), rows, cols, 0);
  return {id, rows, cols, std::move(parts[0])};
}

std::vector<MaskedProducts<Ring64>> DealerClient::masked_products(
    const MaskedMatrix<Ring64>& matrix, std::span<const std::vector<std::size_t>> subsets) {
  std::vector<std::uint64_t> payload;
  std::size_t total_rows = 0;
  for (const auto& rows : subsets) {
    payload.push_back(rows.size());
    total_rows += rows.size();
  }
  for (const auto& rows : subsets) {
    for (std::size_t r : rows) {
      if (r >= matrix.rows) throw std::invalid_argument("masked_products: row outside the matrix");
      payload.push_back(r);
    }
  }
  auto parts = fetch(static_cast<std::uint64_t>(Kind::kMaskedProducts), matrix.id, subsets.size(),
                     total_rows, payload, matrix.cols);
  // parts: v, vt (random), z, zt (derived), each concatenated over the subsets.
  const std::size_t cols = matrix.cols;
  std::vector<MaskedProducts<Ring64>> out(subsets.size());
  for (std::size_t k = 0, row_offset = 0; k < subsets.size(); ++k) {
    const std::size_t b = subsets[k].size();
    const auto range = [](const std::vector<Ring64>& from, std::size_t begin, std::size_t count) {
      return std::vector<Ring64>(from.begin() + static_cast<std::ptrdiff_t>(begin),
                                 from.begin() + static_cast<std::ptrdiff_t>(begin + count));
    };
    out[k] = {range(parts[0], k * cols, cols), range(parts[2], row_offset, b),
              range(parts[1], row_offset, b), range(parts[3], k * cols, cols)};
    row_offset += b;
  }
  return out;
}

// ---- the dealer's side -------------------------------------------------------------------------

DealerStats serve_dealer(net::Mesh& full_mesh, std::span<const net::PartyId> compute_parties,
                         Logger* log) {
  net::Mesh& mesh = full_mesh;
  check_parties(mesh, mesh.self(), compute_parties);
  const std::size_t parties = compute_parties.size();
  const net::PartyId party0 = compute_parties[0];
  const auto start = std::chrono::steady_clock::now();
  const net::MeshStats before = mesh.stats();

  // Set-up: a fresh seed to each compute party; party 0's hello in the same round.
  std::vector<Seed> seeds(parties);
  for (auto& seed : seeds) seed = random_seed();
  const Seed private_seed = random_seed();
  std::vector<net::Outgoing> seed_messages;
  for (std::size_t i = 0; i < parties; ++i) {
    seed_messages.push_back({compute_parties[i], net::ByteView(seeds[i].data(), seeds[i].size())});
  }
  const net::Bytes hello =
      std::move(mesh.round(seed_messages, {&party0, 1}, "dealer: seeds").front());
  if (hello != encode_hello(compute_parties, mesh.self())) {
    throw ProtocolError("dealer: " + mesh.describe(party0) +
                        " disagrees about the compute parties or the dealer (or speaks another "
                        "dealer protocol version); check that every party uses the same party "
                        "table");
  }

  DealerStats stats;
  std::vector<Ring64> random_buffer, reply;
  std::map<std::uint64_t, StoredMatrix> matrices;  // by the batch that made them
  for (std::uint64_t batch = 0;; ++batch) {
    const net::Bytes bytes = mesh.recv(party0, "dealer: awaiting a request");
    if (bytes.size() < kRequestBytes || bytes.size() % sizeof(std::uint64_t) != 0) {
      throw ProtocolError("dealer: malformed request from " + mesh.describe(party0) + ": " +
                          std::to_string(bytes.size()) + " bytes, expected " +
                          std::to_string(kRequestBytes));
    }
    const auto words = decode_words(bytes);
    const Request request{static_cast<Kind>(words[0]), words[1], words[2], words[3]};
    const std::span<const std::uint64_t> payload(words.data() + 4, words.size() - 4);
    const StoredMatrix* matrix = nullptr;
    Subsets subsets;
    if (request.kind == Kind::kMaskedProducts) {
      const auto found = matrices.find(request.p1);
      if (found == matrices.end()) {
        throw ProtocolError("dealer: " + mesh.describe(party0) +
                            " requested products of an unknown masked matrix");
      }
      matrix = &found->second;
      subsets = parse_subsets(request, payload, matrix->rows);
      if (!subsets.problem.empty()) {
        throw ProtocolError("dealer: malformed request from " + mesh.describe(party0) + ": " +
                            subsets.problem);
      }
    } else if (!payload.empty()) {
      throw ProtocolError("dealer: malformed request from " + mesh.describe(party0) + ": " +
                          std::to_string(bytes.size()) + " bytes, expected " +
                          std::to_string(kRequestBytes));
    }
    Checked checked = check(request, matrix != nullptr ? matrix->cols : 0);
    if (!checked.problem.empty()) {
      throw ProtocolError("dealer: malformed request from " + mesh.describe(party0) + ": " +
                          checked.problem);
    }
    if (request.kind == Kind::kDone) break;
    const Layout& layout = checked.layout;
    if (layout.total() == 0) {
      throw ProtocolError("dealer: " + mesh.describe(party0) +
                          " requested an empty batch, which is never sent");
    }

    // The random components' values: the sum of every party's share (for triples, computed
    // piece by piece as the reply is produced). The derived values are computed in the reply,
    // and each becomes party 0's correction once the other parties' shares are subtracted, piece
    // by piece while the reply is sent. The buffers keep their capacity from batch to batch.
    const auto compute_start = std::chrono::steady_clock::now();
    reply.resize(layout.derived_total());
    if (request.kind != Kind::kTriples) {
      std::size_t random_total = 0;
      for (auto size : layout.random) random_total += size;
      random_buffer.resize(random_total);
      std::vector<std::span<Ring64>> random, derived;
      for (std::size_t j = 0, offset = 0; j < layout.random.size(); offset += layout.random[j++]) {
        random.emplace_back(random_buffer.data() + offset, layout.random[j]);
        ShareSum(seeds, stream_of(batch, j)).sum_into(random.back());
      }
      for (std::size_t d = 0, offset = 0; d < layout.derived.size();
           offset += layout.derived[d++]) {
        derived.emplace_back(reply.data() + offset, layout.derived[d]);
      }
      Prg dealer_private(private_seed, batch);
      derive(request, random, dealer_private, derived);
      if (request.kind == Kind::kMaskedProducts) {
        derive_masked_products(*matrix, subsets.rows, random, derived);
      } else if (request.kind == Kind::kMaskedMatrix) {
        matrices[batch] = {request.p1, request.p2, {random[0].begin(), random[0].end()}};
      }
    }
    auto compute = std::chrono::steady_clock::now() - compute_start;
    CorrectionProducer corrections(request, layout, seeds, batch, reply);
    const auto reply_bytes = std::as_writable_bytes(std::span<Ring64>(reply));
    mesh.send_produced(party0,
                       std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(reply_bytes.data()),
                                               reply_bytes.size()),
                       step_name(request.kind),
                       [&](std::size_t offset, std::span<std::uint8_t> piece) {
                         const auto piece_start = std::chrono::steady_clock::now();
                         corrections(offset, piece);
                         compute += std::chrono::steady_clock::now() - piece_start;
                       });
    stats.compute_seconds += std::chrono::duration<double>(compute).count();

    ++stats.batches;
    switch (request.kind) {
      case Kind::kTriples:
        stats.triples += request.p1;
        break;
      case Kind::kMatrix:
        ++stats.matrix_triples;
        stats.matrix_elements += request.p1 * request.p3;
        break;
      case Kind::kTrunc:
        stats.trunc_masks += request.p1;
        break;
      case Kind::kBitMasks:
        stats.bit_masks += request.p1;
        break;
      case Kind::kRandomBits:
        stats.random_bits += request.p1;
        break;
      case Kind::kMaskedMatrix:
        ++stats.masked_matrices;
        break;
      case Kind::kMaskedProducts:
        stats.masked_products += request.p2;
        break;
      case Kind::kWindowMasks:
        stats.window_masks += request.p1;
        break;
      case Kind::kDone:
        break;
    }
    if (log != nullptr) {
      log->debug(std::string(step_name(request.kind)) + ": batch " + std::to_string(batch) + ", " +
                 std::to_string(layout.total()) + " elements, " +
                 std::to_string(reply.size() * Ring64::kBytes) + " bytes to " +
                 mesh.describe(party0));
    }
  }

  const net::MeshStats used = mesh.stats().since(before);
  stats.bytes_sent = used.bytes_sent();
  stats.bytes_received = used.bytes_received();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (log != nullptr) {
    log->info("dealer done: " + std::to_string(stats.batches) + " batches (" +
              std::to_string(stats.triples) + " triples, " + std::to_string(stats.matrix_triples) +
              " matrix triples, " + std::to_string(stats.trunc_masks) + " truncation masks, " +
              std::to_string(stats.bit_masks) + " bit masks, " + std::to_string(stats.random_bits) +
              " random bits, " + std::to_string(stats.window_masks) + " window masks), " +
              std::to_string(stats.bytes_sent) + " bytes sent, " +
              std::to_string(stats.bytes_received) + " received");
  }
  return stats;
}

}  // namespace sm::mpc
