#include "mpc/degree_reduction.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

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

// Whether v or -v is below 2^32: a cheap weight for linear_combination.
template <class F>
bool is_small(F v) {
  constexpr u128 kSmall = u128{1} << 32;
  return to_unsigned(v) < kSmall || to_unsigned(-v) < kSmall;
}

// sigma as 2^-e m with m small, if there is such an e (for sigma = 3/2 in N = 3: e = 1, m = 3),
// else e = 0 and m = sigma.
template <class F>
std::pair<int, F> split_power_of_two(F sigma) {
  for (int e = 0; e < F::kBits; ++e) {
    const F m = times_power_of_two(sigma, e);
    if (is_small(m)) return {e, m};
  }
  return {0, sigma};
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
  std::vector<Seed> pair_seeds(parties_);  // [peer]; own entry unused
  for (net::PartyId peer = 0; peer < parties_; ++peer) {
    if (peer != self) session.prg().pairwise_stream(peer).fill(pair_seeds[peer]);
  }
  const std::size_t t = threshold;
  // Resharer i's seeded peers (i + k mod N, k = 1..t) at points a_k (ShamirCodec's: party + 1),
  // as signed integers.
  const auto seeded_points = [&](net::PartyId resharer) {
    std::vector<std::int64_t> a;
    for (std::size_t k = 1; k <= t; ++k) {
      a.push_back(static_cast<std::int64_t>((resharer + k) % parties_) + 1);
    }
    return a;
  };
  // c_k = a_k prod_(j != k) (a_k - a_j), the factor of the k-th seeded share.
  const auto seeded_factor = [&](const std::vector<std::int64_t>& a, std::size_t k) {
    F c = F::from_int(a[k]);
    for (std::size_t j = 0; j < a.size(); ++j) {
      if (j != k) c *= F::from_int(a[k] - a[j]);
    }
    return c;
  };
  // As receiver: the factors of the seeded shares from the resharers whose seeded peer we are,
  // and the resharers whose message we receive (we are beyond their seeded peers).
  for (std::size_t k = 1; k <= t; ++k) {
    const net::PartyId resharer = (self + parties_ - k) % parties_;
    if (resharer > 2 * t) continue;
    seeding_resharers_.push_back(resharer);
    seeded_factors_.push_back(seeded_factor(seeded_points(resharer), k - 1));
    from_resharers_.emplace_back(pair_seeds[resharer]);
  }
  for (net::PartyId peer = 0; peer < parties_; ++peer) {
    if (peer != self && peer <= 2 * t && (self + parties_ - peer) % parties_ > t) {
      message_senders_.push_back(peer);
      sender_names_.push_back(session.mesh().describe(peer));
    }
  }
  expected_.resize(message_senders_.size());
  if (!message_senders_.empty()) received_block_.resize(kReceivedBlock);
  points_.resize((self <= 2 * t ? 1 + t : 0) + seeding_resharers_.size());
  if (self > 2 * t) {
    new_share_weights_ = seeded_factors_;
    return;
  }
  for (std::size_t offset = 1; offset <= t; ++offset) {
    to_seeded_.emplace_back(pair_seeds[(self + offset) % parties_]);
  }
  // As resharer: lambda_self of s = sum_(i <= 2t) lambda_i s(x_i), and the polynomial
  // f(x) = sigma P(x) s(x_self) + sum_k W_k(x) w_k (header).
  std::vector<F> holders;
  for (std::size_t i = 0; i <= 2 * t; ++i) holders.push_back(ShamirCodec<F>::point(i));
  const F lambda = lagrange_at<F>(holders, F(0))[self];
  const std::vector<std::int64_t> a = seeded_points(self);
  F product_of_points(1);
  for (const std::int64_t a_k : a) product_of_points *= F::from_int(a_k);
  const auto [shift, multiplier] = split_power_of_two(lambda * inverse(product_of_points));
  prescale_shift_ = shift;
  prescale_general_ = !is_small(multiplier);
  const F term_factor = prescale_general_ ? F(1) : multiplier;
  if (prescale_general_) prescale_multiplier_ = multiplier;
  // Weights of the points [sigma's prescaled share, w_1 .. w_t] for the party at point x.
  const auto weights_at = [&](std::int64_t x) {
    F p(1);
    for (const std::int64_t a_k : a) p *= F::from_int(a_k - x);
    std::vector<F> weights{term_factor * p};
    for (std::size_t k = 0; k < t; ++k) {
      F w = F::from_int(x);
      for (std::size_t j = 0; j < t; ++j) {
        if (j != k) w *= F::from_int(x - a[j]);
      }
      weights.push_back(w);
    }
    return weights;
  };
  own_weights_ = weights_at(static_cast<std::int64_t>(self) + 1);
  new_share_weights_ = own_weights_;
  new_share_weights_.insert(new_share_weights_.end(), seeded_factors_.begin(),
                            seeded_factors_.end());
  for (std::size_t offset = t + 1; offset < parties_; ++offset) {
    const net::PartyId peer = (self + offset) % parties_;
    peer_weights_.push_back(weights_at(static_cast<std::int64_t>(peer) + 1));
    message_peers_.push_back(peer);
  }
  messages_.resize(message_peers_.size());
  sends_.resize(message_peers_.size());
}

template <class F>
std::vector<F> DegreeReduction<F>::reduce(std::vector<F> shares, std::string_view step) {
  const std::size_t n = shares.size(), t = threshold_;
  if (n == 0) return {};
  net::Mesh& mesh = session_.mesh();
  const net::PartyId self = mesh.self();
  const std::uint64_t batch = batch_++;
  const bool resharer = self <= 2 * t;

  // Our new share before the messages: as a resharer, from the prescaled degree-2t share and the
  // t values drawn for the seeded peers, and as a seeded peer, from the values drawn for us (one
  // linear combination, in place of the degree-2t share); the messages likewise, chunk by chunk.
  std::vector<F> out = std::move(shares);
  for (std::size_t k = 0; k < to_seeded_.size(); ++k) {
    to_seeded_[k].restart(pair_stream(batch, self, (self + k + 1) % parties_));
  }
  for (std::size_t k = 0; k < from_resharers_.size(); ++k) {
    from_resharers_[k].restart(pair_stream(batch, seeding_resharers_[k], self));
  }
  // This call's messages: the kept buffers, or fresh ones above kRetainedElements.
  std::vector<std::vector<F>> large_messages(n > kRetainedElements ? messages_.size() : 0);
  std::vector<std::vector<F>>& buffers = large_messages.empty() ? messages_ : large_messages;
  for (auto& message : buffers) {
    if (message.size() < n) message.resize(n);
  }
  const std::size_t drawn = to_seeded_.size() + from_resharers_.size();
  const std::size_t block = std::min(kChunk, n);
  if (seeded_.size() < drawn * block) seeded_.resize(drawn * block);
  for (std::size_t begin = 0; begin < n; begin += kChunk) {
    const std::size_t length = std::min(kChunk, n - begin);
    F* const chunk = out.data() + begin;
    std::size_t point = 0;
    if (resharer) {
      if (prescale_general_) {
        for (std::size_t i = 0; i < length; ++i) chunk[i] *= prescale_multiplier_;
      } else if (prescale_shift_ != 0) {
        const int shift = F::kBits - prescale_shift_;
        for (std::size_t i = 0; i < length; ++i) chunk[i] = times_power_of_two(chunk[i], shift);
      }
      points_[point++] = chunk;
    }
    for (std::size_t k = 0; k < drawn; ++k) {
      const std::span<F> values = std::span<F>(seeded_).subspan(k * block, length);
      sample_elements<F>(k < to_seeded_.size() ? to_seeded_[k]
                                               : from_resharers_[k - to_seeded_.size()],
                         values);
      points_[point++] = values.data();
    }
    const std::span<const F* const> resharer_points(points_.data(), resharer ? t + 1 : 0);
    for (std::size_t k = 0; k < buffers.size(); ++k) {
      linear_combination<F>(buffers[k].data() + begin, length, peer_weights_[k], resharer_points);
    }
    linear_combination<F>(chunk, length, new_share_weights_, points_);
  }

  // The resharers' messages are added as they are decrypted (no buffer of their size); a
  // malformed one is reported after the round, which every party completes.
  for (std::size_t k = 0; k < buffers.size(); ++k) {
    sends_[k] = {message_peers_[k], as_bytes<F>(std::span<const F>(buffers[k]).first(n))};
  }
  std::fill(expected_.begin(), expected_.end(), n * F::kBytes);
  std::exception_ptr error;
  const auto lengths = mesh.round_streamed(
      sends_, message_senders_, expected_, step,
      [&](std::size_t index, std::size_t offset, net::ByteView piece) {
        if (error) return;
        try {
          const std::size_t first = offset / F::kBytes, count = piece.size() / F::kBytes;
          for (std::size_t done = 0; done < count; done += kReceivedBlock) {
            const std::size_t size = std::min(kReceivedBlock, count - done);
            const std::span<F> block = std::span<F>(received_block_).first(size);
            load_from_bytes<F>(piece, done, block, sender_names_[index], step);
            F* sum = out.data() + first + done;
            for (std::size_t i = 0; i < size; ++i) sum[i] += block[i];
          }
        } catch (...) {
          error = std::current_exception();
        }
      });
  for (std::size_t i = 0; i < message_senders_.size(); ++i) {
    check_message_length<F>(lengths[i], n, sender_names_[i], step);
  }
  if (error) std::rethrow_exception(error);
  return out;
}

template <class F>
std::vector<F> senders_at_zero(std::size_t threshold) {
  std::vector<F> points;
  for (std::size_t sender = 0; sender <= 2 * threshold; ++sender) {
    points.push_back(ShamirCodec<F>::point(sender));
  }
  return lagrange_at<F>(points, F(0));
}

template <class F>
std::vector<F> open_degree_2t(Session& session, std::size_t threshold, std::span<const F> shares,
                              std::string_view step, std::span<const F> weights) {
  net::Mesh& mesh = session.mesh();
  const std::size_t n = shares.size(), senders = 2 * threshold + 1;
  const net::PartyId self = mesh.self();
  std::vector<net::Outgoing> sends;
  if (self < senders) {
    for (net::PartyId peer = 0; peer < mesh.size(); ++peer) {
      if (peer != self) sends.push_back({peer, as_bytes<F>(shares)});
    }
  }
  std::vector<net::PartyId> from;
  for (net::PartyId sender = 0; sender < senders; ++sender) {
    if (sender != self) from.push_back(sender);
  }
  const auto received = mesh.round(sends, from, step);
  std::vector<std::vector<F>> theirs;
  theirs.reserve(senders);  // the pointers below stay valid
  std::vector<const F*> sender_shares;
  for (std::size_t k = 0, sender = 0; sender < senders; ++sender) {
    if (sender == self) {
      sender_shares.push_back(shares.data());
      continue;
    }
    theirs.push_back(from_bytes<F>(received[k++], n, mesh.describe(sender), step));
    sender_shares.push_back(theirs.back().data());
  }
  std::vector<F> opened(n);
  linear_combination<F>(opened.data(), n, weights, sender_shares);
  return opened;
}

template class DegreeReduction<Fp61>;
template class DegreeReduction<Fp127>;
template std::vector<Fp61> open_degree_2t(Session&, std::size_t, std::span<const Fp61>,
                                          std::string_view, std::span<const Fp61>);
template std::vector<Fp127> open_degree_2t(Session&, std::size_t, std::span<const Fp127>,
                                           std::string_view, std::span<const Fp127>);
template std::vector<Fp61> senders_at_zero(std::size_t);
template std::vector<Fp127> senders_at_zero(std::size_t);

}  // namespace sm::mpc
