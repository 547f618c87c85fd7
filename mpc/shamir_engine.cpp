#include "mpc/shamir_engine.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "mpc/elements.hpp"
#include "mpc/linear_combination.hpp"
#include "mpc/ops.hpp"
#include "mpc/serialize.hpp"

namespace sm::mpc {

namespace {

// The correlation source of a ShamirEngine that multiplies and opens only (Fp127's bit engine):
// every request is a bug.
template <class E>
class NoCorrelations final : public CorrelationSource<E> {
 public:
  Triples<E> triples(std::size_t) override { fail(); }
  MatrixTriple<E> matrix_triple(std::size_t, std::size_t, std::size_t) override { fail(); }
  TruncMasks<E> trunc_masks(std::size_t, int) override { fail(); }
  BitMasks<E> bit_masks(std::size_t, std::size_t) override { fail(); }
  std::vector<E> random_bits(std::size_t) override { fail(); }
  WindowMasks<E> window_masks(std::size_t, int, std::size_t) override { fail(); }
  MaskedMatrix<E> masked_matrix(std::size_t, std::size_t) override { fail(); }
  std::vector<MaskedProducts<E>> masked_products(
      const MaskedMatrix<E>&, std::span<const std::vector<std::size_t>>) override {
    fail();
  }

 private:
  [[noreturn]] static void fail() {
    throw std::logic_error("a comparison's bit engine draws no correlations");
  }
};

}  // namespace

template <class F>
ShamirEngine<F>::ShamirEngine(Session& session, CorrelationSource<F>& correlations,
                              std::size_t threshold, int value_bits)
    : session_(session),
      correlations_(&correlations),
      codec_(session.parties(), threshold),
      value_bits_(value_bits) {
  if (2 * threshold >= session.parties()) {
    throw std::invalid_argument("Shamir threshold " + std::to_string(threshold) +
                                " needs more than " + std::to_string(2 * threshold) +
                                " parties (honest majority)");
  }
  const int log_parties = std::bit_width(session.parties());
  if (value_bits < 2 || value_bits + kStatisticalSecurity + log_parties + 2 > F::kBits) {
    throw std::invalid_argument("value_bits " + std::to_string(value_bits) + " does not fit " +
                                F::kName + " with 40 bits of statistical masking");
  }
  reduction_ = std::make_shared<DegreeReduction<F>>(session, threshold);
  // senders_zero_sharing's Lagrange weights: of 0 and the fellow senders' points at this party's.
  const std::size_t senders = 2 * threshold + 1;
  const net::PartyId self = session.self();
  std::vector<F> fellows{F(0)};
  for (net::PartyId sender = 0; sender < senders; ++sender) {
    if (sender != self) fellows.push_back(ShamirCodec<F>::point(sender));
  }
  if (self < senders) zero_sharing_weights_ = lagrange_at<F>(fellows, ShamirCodec<F>::point(self));
  senders_at_zero_ = mpc::senders_at_zero<F>(threshold);
  if constexpr (!std::is_same_v<BitEngine, ShamirEngine>) {
    // Its own reduction's seeds come next from session.prg(), in every party's same order. Its
    // value bits are never used (it multiplies and opens only): the least, so that it fits Fp61
    // for any N that fits this engine.
    static NoCorrelations<ComparisonBit<F>> no_correlations;
    bit_engine_ = std::make_shared<BitEngine>(session, no_correlations, threshold, 2);
  }
}

template <class F>
typename ShamirEngine<F>::BitEngine& ShamirEngine<F>::bit_engine() {
  if constexpr (std::is_same_v<BitEngine, ShamirEngine>) {
    return *this;
  } else {
    return *bit_engine_;
  }
}

template <class F>
std::vector<F> ShamirEngine<F>::open_degree_2t(const Shares& x, std::string_view step) {
  return mpc::open_degree_2t<F>(session_, codec_.degree(), x.values, step, senders_at_zero_);
}

template <class F>
std::vector<std::string> ShamirEngine<F>::party_names() const {
  std::vector<std::string> names;
  for (net::PartyId party = 0; party < session_.parties(); ++party) {
    names.push_back(session_.mesh().describe(party));
  }
  return names;
}

template <class F>
std::optional<typename ShamirEngine<F>::Shares> ShamirEngine<F>::input_if_not_owner(
    net::PartyId owner, std::size_t n, std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  const std::size_t parties = mesh.size(), seeded = codec_.degree();
  if (owner >= parties) {
    throw std::invalid_argument("input '" + std::string(step) + "': no party " +
                                std::to_string(owner) + " among " + std::to_string(parties));
  }
  const std::size_t offset = (mesh.self() + parties - owner) % parties;  // from the owner
  if (offset >= 1 && offset <= seeded) {
    Prg stream = session_.prg().pairwise_stream(owner);
    Shares drawn{std::vector<F>(n)};
    sample_elements<F>(stream, std::span<F>(drawn.values));
    return drawn;
  }
  if (offset > seeded) {
    return Shares{from_bytes<F>(mesh.recv(owner, step), n, mesh.describe(owner), step)};
  }
  return std::nullopt;
}

template <class F>
void ShamirEngine<F>::deal(std::span<const F> values, std::span<F> own_share,
                           std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  const net::PartyId owner = mesh.self();
  const std::size_t parties = mesh.size(), seeded = codec_.degree(), n = values.size();
  // The polynomial through the secret at 0 and the seeded peers' shares, evaluated at the owner
  // and at every other peer.
  std::vector<F> points{F(0)};
  std::vector<Prg> streams;
  for (std::size_t k = 1; k <= seeded; ++k) {
    const net::PartyId peer = (owner + k) % parties;
    points.push_back(ShamirCodec<F>::point(peer));
    streams.push_back(session_.prg().pairwise_stream(peer));
  }
  std::vector<net::PartyId> receivers;
  std::vector<std::vector<F>> receiver_weights, outgoing;
  for (std::size_t k = seeded + 1; k < parties; ++k) {
    receivers.push_back((owner + k) % parties);
    receiver_weights.push_back(lagrange_at<F>(points, ShamirCodec<F>::point(receivers.back())));
    outgoing.emplace_back(n);
  }
  const auto own_weights = lagrange_at<F>(points, ShamirCodec<F>::point(owner));
  // The seeded peers' shares are drawn a chunk at a time, as many elements per PRG call as
  // sample_elements makes when a seeded peer draws all n at once, so both see the same stream.
  constexpr std::size_t kChunk = 4096;
  std::vector<F> drawn(seeded * kChunk);
  std::vector<const F*> sources(seeded + 1);
  for (std::size_t begin = 0; begin < n; begin += kChunk) {
    const std::size_t size = std::min(kChunk, n - begin);
    sources[0] = values.data() + begin;
    for (std::size_t k = 0; k < seeded; ++k) {
      const std::span<F> chunk(drawn.data() + k * kChunk, size);
      sample_elements<F>(streams[k], chunk);
      sources[k + 1] = chunk.data();
    }
    for (std::size_t j = 0; j < receivers.size(); ++j) {
      linear_combination<F>(outgoing[j].data() + begin, size, receiver_weights[j], sources);
    }
    // Last: own_share may be `values`.
    linear_combination<F>(own_share.data() + begin, size, own_weights, sources);
  }
  std::vector<net::Outgoing> sends;
  for (std::size_t j = 0; j < receivers.size(); ++j) {
    sends.push_back({receivers[j], as_bytes<F>(outgoing[j])});
  }
  mesh.round(sends, {}, step);
}

template <class F>
void ShamirEngine<F>::check_input_length(std::size_t given, std::size_t n, std::string_view step) {
  if (given != n) {
    throw std::invalid_argument("input '" + std::string(step) + "': expected " + std::to_string(n) +
                                " values");
  }
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::input(net::PartyId owner,
                                                        std::span<const F> values, std::size_t n,
                                                        std::string_view step) {
  if (auto shares = input_if_not_owner(owner, n, step)) return std::move(*shares);
  check_input_length(values.size(), n, step);
  Shares own{std::vector<F>(n)};
  deal(values, own.values, step);
  return own;
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::input(net::PartyId owner, std::vector<F>&& values,
                                                        std::size_t n, std::string_view step) {
  if (auto shares = input_if_not_owner(owner, n, step)) return std::move(*shares);
  check_input_length(values.size(), n, step);
  Shares own{std::move(values)};
  deal(own.values, own.values, step);
  return own;
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::constant(std::span<const F> values) const {
  return {std::vector<F>(values.begin(), values.end())};
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::add_public(Shares x,
                                                             std::span<const F> values) const {
  add_in_place<F>(x.values, values);
  return x;
}

template <class F>
void ShamirEngine<F>::reconstruct_opened(std::span<const F> own,
                                         std::span<const net::Bytes> received, std::span<F> out,
                                         std::string_view step) const {
  const net::Mesh& mesh = session_.mesh();
  const std::size_t n = own.size(), parties = mesh.size();
  for (net::PartyId peer = 0; peer < parties; ++peer) {
    if (peer != mesh.self()) check_length<F>(received[peer], n, mesh.describe(peer), step);
  }
  // Block by block: the peers' shares are loaded (and checked) into a small buffer, this party's
  // are read where they lie, and the block's secrets go to `out`.
  constexpr std::size_t kBlock = 1024;
  std::vector<F> buffer(parties * kBlock);
  std::vector<std::span<const F>> views(parties);
  const std::vector<std::string> names = party_names();
  for (std::size_t done = 0; done < n; done += kBlock) {
    const std::size_t count = std::min(kBlock, n - done);
    for (net::PartyId party = 0; party < parties; ++party) {
      if (party == mesh.self()) {
        views[party] = own.subspan(done, count);
        continue;
      }
      const std::span<F> block(buffer.data() + party * kBlock, count);
      load_from_bytes<F>(received[party], done, block, names[party], step);
      views[party] = block;
    }
    codec_.reconstruct_checked_block(views, out.subspan(done, count), names, done);
  }
}

template <class F>
std::vector<F> ShamirEngine<F>::open(Shares&& x, std::string_view step) {
  return open(static_cast<const Shares&>(x), step);
}

template <class F>
std::vector<F> ShamirEngine<F>::open(const Shares& x, std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  const std::size_t n = x.size(), parties = mesh.size(), self = mesh.self();
  const std::vector<std::string> names = party_names();
  // staged[peer] holds, from position head[peer] on, the peer's shares of elements from `done`
  // on: the elements that every party has sent are reconstructed at once and dropped, so only the
  // lag between the peers' streams is ever held. An error is kept and thrown after the round,
  // which every party completes as before.
  std::vector<F> secrets(n);
  std::vector<std::vector<F>> staged(parties);
  std::vector<std::size_t> head(parties, 0);
  std::vector<std::span<const F>> views(parties);
  std::size_t done = 0;
  std::exception_ptr error;
  auto reconstruct_ready = [&] {
    std::size_t ready = n;
    for (net::PartyId party = 0; party < parties; ++party) {
      if (party != self) ready = std::min(ready, done + staged[party].size() - head[party]);
    }
    if (ready == done) return;
    const std::size_t count = ready - done;
    for (net::PartyId party = 0; party < parties; ++party) {
      views[party] = party == self ? std::span<const F>(x.values).subspan(done, count)
                                   : std::span<const F>(staged[party]).subspan(head[party], count);
    }
    codec_.reconstruct_checked_block(views, std::span<F>(secrets).subspan(done, count), names,
                                     done);
    for (net::PartyId party = 0; party < parties; ++party) {
      if (party == self) continue;
      auto& queue = staged[party];
      head[party] += count;
      if (2 * head[party] >= queue.size()) {  // moves at most as many elements as were dropped
        queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(head[party]));
        head[party] = 0;
      }
    }
    done = ready;
  };
  const auto lengths = mesh.all_to_all_streamed(
      as_bytes<F>(x.values), n * F::kBytes, step,
      [&](std::size_t peer, std::size_t offset, net::ByteView piece) {
        if (error) return;
        try {
          auto& queue = staged[peer];
          const std::size_t first = offset / F::kBytes, count = piece.size() / F::kBytes;
          const std::size_t old = queue.size();
          queue.resize(old + count);
          std::memcpy(static_cast<void*>(queue.data() + old), piece.data(), count * F::kBytes);
          for (std::size_t i = 0; i < count; ++i) {
            if (!is_canonical(queue[old + i])) throw_not_canonical<F>(first + i, names[peer], step);
          }
          reconstruct_ready();
        } catch (...) {
          error = std::current_exception();
        }
      });
  for (net::PartyId peer = 0; peer < parties; ++peer) {
    if (peer != self) check_message_length<F>(lengths[peer], n, names[peer], step);
  }
  if (error) std::rethrow_exception(error);
  return secrets;
}

template <class F>
std::optional<std::vector<F>> ShamirEngine<F>::open_to(net::PartyId party, const Shares& x,
                                                       std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  if (mesh.self() != party) {
    mesh.send(party, as_bytes<F>(x.values), step);
    return std::nullopt;
  }
  std::vector<net::PartyId> peers;
  for (net::PartyId peer = 0; peer < mesh.size(); ++peer) {
    if (peer != party) peers.push_back(peer);
  }
  auto received = mesh.round({}, peers, step);
  std::vector<net::Bytes> by_party(mesh.size());
  for (std::size_t k = 0; k < peers.size(); ++k) by_party[peers[k]] = std::move(received[k]);
  std::vector<F> secrets(x.size());
  reconstruct_opened(x.values, by_party, secrets, step);
  return secrets;
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::random(std::size_t n, std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  Prg randomness = session_.prg().private_stream();
  const auto contribution = randomness.sample<F>(n);
  const auto shares = codec_.share(contribution, randomness);
  std::vector<net::Bytes> outgoing(mesh.size());
  for (net::PartyId peer = 0; peer < mesh.size(); ++peer) {
    if (peer != mesh.self()) {
      const auto bytes = as_bytes<F>(shares[peer]);
      outgoing[peer].assign(bytes.begin(), bytes.end());
    }
  }
  const auto received = mesh.exchange_all(outgoing, step);
  std::vector<F> sum = shares[mesh.self()];
  for (net::PartyId peer = 0; peer < mesh.size(); ++peer) {
    if (peer == mesh.self()) continue;
    const auto theirs = from_bytes<F>(received[peer], n, mesh.describe(peer), step);
    for (std::size_t i = 0; i < n; ++i) sum[i] += theirs[i];
  }
  return {std::move(sum)};
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::mul(const Shares& x, const Shares& y,
                                                      std::string_view step) {
  return {reduction_->reduce(mul_vec<F>(x.values, y.values), step)};
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::matmul(const Shares& a, const Shares& b,
                                                         std::size_t rows, std::size_t inner,
                                                         std::size_t cols, std::string_view step) {
  return {reduction_->reduce(matmul_plain<F>(a.values, b.values, rows, inner, cols), step)};
}

template <class F>
void ShamirEngine<F>::check_trunc_bits(int bits, std::string_view operation) const {
  if (bits <= 0 || bits >= value_bits_ - 1) {
    throw std::invalid_argument(std::string(operation) + ": bits must be in 1.." +
                                std::to_string(value_bits_ - 2));
  }
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::public_minus_high(std::span<const F> opened,
                                                                    const TruncMasks<F>& masks,
                                                                    int bits) const {
  const std::size_t n = opened.size();
  std::vector<F> public_part(n), result(n);
  const F unshift = power_of_two<F>(value_bits_ - 1 - bits);
  for (std::size_t i = 0; i < n; ++i) {
    public_part[i] = from_unsigned<F>(to_unsigned(opened[i]) >> bits) - unshift;
    result[i] = -masks.high[i];
  }
  return add_public({std::move(result)}, public_part);
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::trunc(const Shares& x, int bits,
                                                        std::string_view step) {
  check_trunc_bits(bits, "trunc");
  const TruncMasks<F> masks = correlations_->trunc_masks(x.size(), bits);
  return public_minus_high(open(trunc_masked(x, masks), step), masks, bits);
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::trunc_masked(const Shares& x,
                                                               const TruncMasks<F>& masks) const {
  // y = x + 2^(k-1) lies in [0, 2^k); c = y + r < p does not wrap and hides y statistically.
  const F offset = power_of_two<F>(value_bits_ - 1);
  Shares masked{std::vector<F>(x.size())};
  for (std::size_t i = 0; i < x.size(); ++i) masked.values[i] = x.values[i] + masks.r[i] + offset;
  return masked;
}

template <class F>
std::vector<F> ShamirEngine<F>::senders_zero_sharing(std::size_t n) {
  const std::size_t senders = 2 * codec_.degree() + 1;
  const net::PartyId self = session_.mesh().self();
  // This party's own sharing: 0 at 0 and the fellow senders' seeded shares fix the polynomial.
  const std::vector<F>& at_self = zero_sharing_weights_;
  std::vector<F> zero(n, F(0)), drawn(n);
  std::size_t fellow = 0;  // at_self[0] weighs the 0 at 0
  // Every pair of senders makes its two streams in the same order: the lower dealer's first.
  for (net::PartyId dealer = 0; dealer < senders; ++dealer) {
    if (dealer != self) {
      Prg stream = session_.prg().pairwise_stream(dealer);  // the dealer's share for this party
      sample_elements<F>(stream, std::span<F>(drawn));
      add_in_place<F>(zero, drawn);
      continue;
    }
    for (net::PartyId peer = 0; peer < senders; ++peer) {
      if (peer == self) continue;
      Prg stream = session_.prg().pairwise_stream(peer);  // this party's share for the peer
      sample_elements<F>(stream, std::span<F>(drawn));
      const F weight = at_self[++fellow];
      for (std::size_t i = 0; i < n; ++i) zero[i] += weight * drawn[i];
    }
  }
  return zero;
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::trunc_sum_of_products(const Shares& x,
                                                                        const Shares& y,
                                                                        const Shares& c, int bits,
                                                                        std::string_view step) {
  const std::size_t n = c.size(), pieces = product_pieces(x.size(), y.size(), n);
  Shares sums{std::vector<F>(n)};
  if (session_.self() < 2 * codec_.degree() + 1) {  // the others' sums are not opened
    for (std::size_t i = 0; i < n; ++i) {
      F sum = c.values[i];
      for (std::size_t k = 0; k < pieces; ++k) sum += x.values[k * n + i] * y.values[k * n + i];
      sums.values[i] = sum;
    }
  }
  return trunc_products(sums, bits, step);
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::trunc_products(const Shares& x, int bits,
                                                                 std::string_view step) {
  check_trunc_bits(bits, "trunc_products");
  const TruncMasks<F> masks = correlations_->trunc_masks(x.size(), bits);
  // As trunc, opened at degree 2t (the others' shares are not opened).
  const Shares masked = session_.self() < 2 * codec_.degree() + 1
                            ? trunc_masked(x, masks)
                            : Shares{std::vector<F>(x.size())};
  return public_minus_high(open_products(masked, step), masks, bits);
}

template <class F>
std::vector<F> ShamirEngine<F>::open_products(const Shares& x, std::string_view step) {
  Shares masked{std::vector<F>(x.size())};
  if (session_.self() < 2 * codec_.degree() + 1) {
    masked.values = senders_zero_sharing(x.size());
    add_in_place<F>(masked.values, x.values);
  }
  return open_degree_2t(masked, step);
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::less_than_zero(const Shares& x,
                                                                 std::string_view step) {
  return less_than_zero(x, step, value_bits_);
}

template <class F>
typename ShamirEngine<F>::Shares ShamirEngine<F>::less_than_zero(const Shares& x,
                                                                 std::string_view step, int bits) {
  if (bits < 2 || bits > value_bits_) {
    throw std::invalid_argument("less_than_zero: bits " + std::to_string(bits) + " outside 2.." +
                                std::to_string(value_bits_));
  }
  // One threshold, 0, with nothing ignored: the shared-mask comparison of mpc/ops.hpp (one
  // opening of x + 2^T + b + 2^T H, then a comparison tree over the T = bits - 1 bits made even,
  // its first two levels from the window masks).
  constexpr std::int64_t kZero[] = {0};
  return less_than_thresholds(*this, x, kZero, bits, 0, step);
}

template class ShamirEngine<Fp61>;
template class ShamirEngine<Fp127>;

}  // namespace sm::mpc
