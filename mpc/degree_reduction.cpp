#include "mpc/degree_reduction.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>

#include "mpc/elements.hpp"
#include "mpc/linear_combination.hpp"
#include "mpc/serialize.hpp"
#include "mpc/shamir.hpp"

namespace sm::mpc {

namespace {

// Secrets processed at a time (keeps the seeded points in cache).
constexpr std::size_t kChunk = 2048;

// The PRG stream of `batch` between a resharer and one of its seeded peers (distinct for the two
// directions of a pair).
std::uint64_t pair_stream(std::uint64_t batch, net::PartyId resharer, net::PartyId receiver) {
  return (batch << 1) | (resharer < receiver ? 0 : 1);
}

}  // namespace

template <class F>
DegreeReduction<F>::DegreeReduction(Session& session, std::size_t threshold)
    : session_(session), parties_(session.parties()), threshold_(threshold) {
  if (threshold < 1 || 2 * threshold >= parties_) {
    throw std::invalid_argument(
        "degree reduction needs 1 <= t < N / 2 (N = " + std::to_string(parties_) +
        ", t = " + std::to_string(threshold) + ")");
  }
  const net::PartyId self = session.self();
  pair_seeds_.resize(parties_);
  for (net::PartyId peer = 0; peer < parties_; ++peer) {
    if (peer != self) session.prg().pairwise_stream(peer).fill(pair_seeds_[peer]);
  }
  if (self > 2 * threshold) return;
  // The term lambda_self s(x_self) of s = sum_{i <= 2t} lambda_i s(x_i), shared with the
  // polynomial through (0, term) and the t seeded peers' points: every share is a Lagrange
  // combination of these free points, lambda folded into the term's weight.
  std::vector<F> holders;
  for (std::size_t i = 0; i <= 2 * threshold; ++i) holders.push_back(ShamirCodec<F>::point(i));
  const F lambda = lagrange_at<F>(holders, F(0))[self];
  std::vector<F> free_points{F(0)};
  for (std::size_t offset = 1; offset <= threshold; ++offset) {
    free_points.push_back(ShamirCodec<F>::point((self + offset) % parties_));
  }
  const auto weights_at = [&](net::PartyId party) {
    std::vector<F> weights = lagrange_at<F>(free_points, ShamirCodec<F>::point(party));
    weights[0] *= lambda;
    return weights;
  };
  own_weights_ = weights_at(self);
  for (std::size_t offset = threshold + 1; offset < parties_; ++offset) {
    peer_weights_.push_back(weights_at((self + offset) % parties_));
  }
}

template <class F>
std::vector<F> DegreeReduction<F>::reduce(std::vector<F> shares, std::string_view step) {
  const std::size_t n = shares.size(), t = threshold_;
  if (n == 0) return {};
  net::Mesh& mesh = session_.mesh();
  const net::PartyId self = mesh.self();
  const std::uint64_t batch = batch_++;
  std::vector<F> seeded(t * kChunk);

  // As a resharer: the messages, then our new share in place of our degree-2t share, chunk by
  // chunk from the free points. Otherwise our new share starts at 0.
  std::vector<F> out = std::move(shares);
  std::vector<std::vector<F>> outgoing(parties_);
  if (self <= 2 * t) {
    std::vector<Prg> to_seeded;  // [offset - 1]
    for (std::size_t offset = 1; offset <= t; ++offset) {
      const net::PartyId peer = (self + offset) % parties_;
      to_seeded.emplace_back(pair_seeds_[peer], pair_stream(batch, self, peer));
    }
    std::vector<F*> messages;  // [offset - t - 1]
    for (std::size_t offset = t + 1; offset < parties_; ++offset) {
      auto& message = outgoing[(self + offset) % parties_];
      message.resize(n);
      messages.push_back(message.data());
    }
    std::vector<const F*> points(t + 1);
    for (std::size_t begin = 0; begin < n; begin += kChunk) {
      const std::size_t length = std::min(kChunk, n - begin);
      points[0] = out.data() + begin;
      for (std::size_t k = 0; k < t; ++k) {
        const std::span<F> values = std::span<F>(seeded).subspan(k * kChunk, length);
        sample_elements<F>(to_seeded[k], values);
        points[k + 1] = values.data();
      }
      for (std::size_t k = 0; k < messages.size(); ++k) {
        linear_combination<F>(messages[k] + begin, length, peer_weights_[k], points);
      }
      linear_combination<F>(out.data() + begin, length, own_weights_, points);
    }
  } else {
    std::fill(out.begin(), out.end(), F(0));
  }

  // The resharers' messages are added as they are decrypted (no buffer of their size); a
  // malformed one is reported after the round, which every party completes.
  std::vector<net::Outgoing> sends;
  std::vector<net::PartyId> receive_from;
  std::vector<std::string> senders;
  for (net::PartyId peer = 0; peer < parties_; ++peer) {
    if (peer == self) continue;
    if (!outgoing[peer].empty()) sends.push_back({peer, as_bytes<F>(outgoing[peer])});
    // From resharer `peer`: a message if we are beyond its seeded peers, else its PRG's share.
    if (peer <= 2 * t && (self + parties_ - peer) % parties_ > t) {
      receive_from.push_back(peer);
      senders.push_back(mesh.describe(peer));
    }
  }
  const std::vector<std::size_t> expected(receive_from.size(), n * F::kBytes);
  std::exception_ptr error;
  const auto lengths = mesh.round_streamed(
      sends, receive_from, expected, step,
      [&](std::size_t index, std::size_t offset, net::ByteView piece) {
        if (error) return;
        try {
          const std::size_t first = offset / F::kBytes, count = piece.size() / F::kBytes;
          constexpr std::size_t kBlock = 512;  // elements loaded at a time (L1-resident)
          F block[kBlock];
          for (std::size_t done = 0; done < count; done += kBlock) {
            const std::size_t size = std::min(kBlock, count - done);
            load_from_bytes<F>(piece, done, std::span<F>(block, size), senders[index], step);
            F* sum = out.data() + first + done;
            for (std::size_t i = 0; i < size; ++i) sum[i] += block[i];
          }
        } catch (...) {
          error = std::current_exception();
        }
      });
  for (std::size_t i = 0; i < receive_from.size(); ++i) {
    check_message_length<F>(lengths[i], n, senders[i], step);
  }
  if (error) std::rethrow_exception(error);
  for (net::PartyId resharer = 0; resharer <= 2 * t; ++resharer) {
    if (resharer == self || (self + parties_ - resharer) % parties_ > t) continue;
    Prg prg(pair_seeds_[resharer], pair_stream(batch, resharer, self));
    for (std::size_t begin = 0; begin < n; begin += kChunk) {
      const std::span<F> values = std::span<F>(seeded).first(std::min(kChunk, n - begin));
      sample_elements<F>(prg, values);
      add_in_place<F>(std::span<F>(out).subspan(begin, values.size()), values);
    }
  }
  return out;
}

template class DegreeReduction<Fp61>;
template class DegreeReduction<Fp127>;

}  // namespace sm::mpc
