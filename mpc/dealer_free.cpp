#include "mpc/dealer_free.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <stdexcept>
#include <string>

#include "mpc/elements.hpp"
#include "mpc/serialize.hpp"
#include "net/errors.hpp"

namespace sm::mpc {

namespace {

template <class F>
F point(std::size_t party) {
  return F(party + 1);
}

// The Lagrange basis of the points xs evaluated at y.
template <class F>
std::vector<F> lagrange_at(std::span<const F> xs, F y) {
  std::vector<F> basis(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    F numerator(1), denominator(1);
    for (std::size_t j = 0; j < xs.size(); ++j) {
      if (j == i) continue;
      numerator *= y - xs[j];
      denominator *= xs[i] - xs[j];
    }
    basis[i] = numerator * inverse(denominator);
  }
  return basis;
}

// out[i] += w * x[i].
template <class F>
void add_scaled(std::span<F> out, F w, std::span<const F> x) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] += w * x[i];
}

// x^(2^k - 1), k >= 1, with k - 1 squarings and about 2 log2(k) multiplications:
// x^(2^(a+b) - 1) = (x^(2^a - 1))^(2^b) x^(2^b - 1).
template <class F>
F power_of_ones(F x, int k) {
  F acc = x;  // x^(2^a - 1)
  int a = 1;
  for (int bit = std::bit_width(static_cast<unsigned>(k)) - 2; bit >= 0; --bit) {
    F doubled = acc;
    for (int i = 0; i < a; ++i) doubled *= doubled;
    acc = doubled * acc;  // a -> 2a
    a *= 2;
    if ((k >> bit) & 1) {
      acc = acc * acc * x;  // a -> a + 1
      a += 1;
    }
  }
  return acc;
}

// (p - 3) / 4 = 2^(kBits - 2) - 1 for p = 2^kBits - 1.
template <class F>
constexpr int kLegendreOnes = F::kBits - 2;

// The number of extraction slots (one sharing per dealer each) for `outputs` outputs.
std::size_t slots_for(std::size_t outputs, std::size_t per_slot) {
  return (outputs + per_slot - 1) / per_slot;
}

std::uint64_t pair_stream(std::uint64_t batch, net::PartyId dealer, net::PartyId receiver) {
  return (batch << 1) | (dealer < receiver ? 0 : 1);
}

}  // namespace

template <class F>
BitsFromSquares<F> bits_from_squares(std::span<const F> r_shares, std::span<const F> squares) {
  if (r_shares.size() != squares.size()) {
    throw std::invalid_argument("bits_from_squares: lengths differ");
  }
  const F half = inverse(F(2));
  BitsFromSquares<F> out;
  out.bits.resize(r_shares.size());
  for (std::size_t i = 0; i < r_shares.size(); ++i) {
    if (squares[i] == F(0)) {
      out.zero_squares.push_back(i);
      continue;
    }
    // r (r^2)^((p-3)/4) = r^((p-1)/2), the Legendre symbol of r: +1 or -1.
    const F inverse_root = power_of_ones(squares[i], kLegendreOnes<F>);
    out.bits[i] = (r_shares[i] * inverse_root + F(1)) * half;
  }
  return out;
}

template <class F>
DealerFreeShamir<F>::DealerFreeShamir(Session& session, std::size_t threshold, int value_bits)
    : session_(session),
      parties_(session.parties()),
      threshold_(threshold),
      value_bits_(value_bits) {
  if (parties_ < 3 || threshold < 1 || 2 * threshold >= parties_) {
    throw std::invalid_argument("DealerFreeShamir needs N >= 3 parties and 1 <= t < N / 2 (N = " +
                                std::to_string(parties_) + ", t = " + std::to_string(threshold) +
                                ")");
  }
  const int log_parties = std::bit_width(parties_);
  if (value_bits < 2 || value_bits + kStatisticalSecurity + log_parties + 2 > F::kBits) {
    throw std::invalid_argument("DealerFreeShamir: value_bits " + std::to_string(value_bits) +
                                " does not fit " + F::kName + " with 40 bits of masking");
  }
  session.prg().private_stream().fill(private_seed_);
  pair_seeds_.resize(parties_);
  for (net::PartyId peer = 0; peer < parties_; ++peer) {
    if (peer != session.self()) session.prg().pairwise_stream(peer).fill(pair_seeds_[peer]);
  }
  random_t_ = make_completion(threshold, false);
  fixed_2t_ = make_completion(2 * threshold - 1, true);
  fixed_t_ = make_completion(threshold - 1, true);

  const std::size_t outputs = parties_ - threshold;
  vandermonde_.assign(outputs, std::vector<F>(parties_));
  for (std::size_t d = 0; d < parties_; ++d) {
    F power(1);
    for (std::size_t k = 0; k < outputs; ++k) {
      vandermonde_[k][d] = power;
      power *= point<F>(d);
    }
  }
  for (std::size_t king = 0; king < parties_; ++king) {
    std::vector<F> xs;
    for (std::size_t j = 0; j <= 2 * threshold; ++j) xs.push_back(point<F>((king + j) % parties_));
    king_weights_.push_back(lagrange_at<F>(xs, F(0)));
  }
}

template <class F>
typename DealerFreeShamir<F>::Completion DealerFreeShamir<F>::make_completion(std::size_t seeded,
                                                                              bool fixed) const {
  // Free points: [x = 0 if fixed], the dealer (offset 0), then offsets 1..seeded.
  const net::PartyId self = session_.self();
  std::vector<F> xs;
  if (fixed) xs.push_back(F(0));
  for (std::size_t offset = 0; offset <= seeded; ++offset) {
    xs.push_back(point<F>((self + offset) % parties_));
  }
  Completion completion;
  completion.seeded = seeded;
  completion.fixed = fixed;
  for (std::size_t offset = seeded + 1; offset < parties_; ++offset) {
    completion.peers.push_back(lagrange_at<F>(xs, point<F>((self + offset) % parties_)));
  }
  if (!fixed) completion.secret = lagrange_at<F>(xs, F(0));
  return completion;
}

template <class F>
std::size_t DealerFreeShamir<F>::chunk_begin(std::size_t n, std::size_t king) const {
  return static_cast<std::size_t>(static_cast<u128>(king) * n / parties_);
}

template <class F>
typename DealerFreeShamir<F>::Dealt DealerFreeShamir<F>::deal(const Request& request,
                                                              std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  const std::size_t n_parties = parties_;
  const net::PartyId self = mesh.self();
  const std::size_t per_slot = n_parties - threshold_;
  const std::uint64_t batch = batch_++;

  // Sections, in wire and PRG order: random, double low, double high, zeros, bounded.
  constexpr std::size_t kSections = 5;
  const std::array<std::size_t, kSections> counts{
      slots_for(request.random, per_slot), slots_for(request.doubles, per_slot),
      slots_for(request.doubles, per_slot), slots_for(request.zeros, per_slot), request.bounded};
  const std::array<const Completion*, kSections> completion{&random_t_, &random_t_, &fixed_2t_,
                                                            &fixed_2t_, &fixed_t_};
  // Elements a dealer sends to the party at `offset` from it.
  auto sent_to_offset = [&](std::size_t offset) {
    std::size_t total = 0;
    for (std::size_t s = 0; s < kSections; ++s) {
      if (offset > completion[s]->seeded) total += counts[s];
    }
    return total;
  };

  // shares[d][s]: this party's share of dealer d's sharings of section s.
  std::vector<std::array<std::vector<F>, kSections>> shares(n_parties);

  // Deal our own sharings.
  std::vector<std::vector<F>> outgoing(n_parties);
  for (std::size_t offset = 1; offset < n_parties; ++offset) {
    outgoing[(self + offset) % n_parties].reserve(sent_to_offset(offset));
  }
  Prg own(private_seed_, batch);
  std::vector<Prg> to_peer;  // [offset - 1]
  for (std::size_t offset = 1; offset < n_parties; ++offset) {
    const net::PartyId peer = (self + offset) % n_parties;
    to_peer.emplace_back(pair_seeds_[peer], pair_stream(batch, self, peer));
  }
  std::vector<F> double_secrets;
  for (std::size_t s = 0; s < kSections; ++s) {
    const std::size_t count = counts[s];
    if (count == 0) continue;
    const Completion& c = *completion[s];
    // free[0]: the fixed secret (if any); then the dealer's share; then the seeded peers'.
    std::vector<std::vector<F>> free;
    if (c.fixed) {
      if (s == 2) {
        free.push_back(std::move(double_secrets));
      } else if (s == 3) {
        free.emplace_back(count, F(0));
      } else {
        free.push_back(sample_bounded<F>(own, count, request.bounded_bits));
      }
    }
    free.push_back(own.sample<F>(count));
    for (std::size_t offset = 1; offset <= c.seeded; ++offset) {
      free.push_back(to_peer[offset - 1].template sample<F>(count));
    }
    for (std::size_t offset = c.seeded + 1; offset < n_parties; ++offset) {
      const auto& weights = c.peers[offset - c.seeded - 1];
      auto& out = outgoing[(self + offset) % n_parties];
      const std::size_t begin = out.size();
      out.resize(begin + count);
      const std::span<F> target(out.data() + begin, count);
      for (std::size_t q = 0; q < free.size(); ++q) add_scaled<F>(target, weights[q], free[q]);
    }
    if (s == 1) {
      double_secrets.assign(count, F(0));
      for (std::size_t q = 0; q < free.size(); ++q) {
        add_scaled<F>(double_secrets, c.secret[q], free[q]);
      }
    }
    shares[self][s] = std::move(free[c.fixed ? 1 : 0]);
  }

  // Send, and receive the other dealers' sharings.
  std::vector<net::Outgoing> sends;
  std::vector<net::PartyId> receive_from;
  for (std::size_t offset = 1; offset < n_parties; ++offset) {
    const net::PartyId peer = (self + offset) % n_parties;
    if (!outgoing[peer].empty()) sends.push_back({peer, as_bytes<F>(outgoing[peer])});
    // Our offset from dealer `peer` is n - offset.
    if (sent_to_offset(n_parties - offset) > 0) receive_from.push_back(peer);
  }
  const auto received = mesh.round(sends, receive_from, step);
  for (std::size_t offset = 1; offset < n_parties; ++offset) {
    const net::PartyId dealer = (self + offset) % n_parties;
    const std::size_t my_offset = n_parties - offset;
    std::vector<F> message;
    const auto slot = std::find(receive_from.begin(), receive_from.end(), dealer);
    if (slot != receive_from.end()) {
      message = from_bytes<F>(received[slot - receive_from.begin()], sent_to_offset(my_offset),
                              mesh.describe(dealer), step);
    }
    Prg from_dealer(pair_seeds_[dealer], pair_stream(batch, dealer, self));
    std::size_t position = 0;
    for (std::size_t s = 0; s < kSections; ++s) {
      const std::size_t count = counts[s];
      if (count == 0) continue;
      if (my_offset <= completion[s]->seeded) {
        shares[dealer][s] = from_dealer.template sample<F>(count);
      } else {
        shares[dealer][s].assign(message.begin() + position, message.begin() + position + count);
        position += count;
      }
    }
  }

  // Extract: output k of slot j is sum_d M[k][d] share_d[j], stored at k * slots + j.
  auto extract = [&](std::size_t s, std::size_t needed) {
    std::vector<F> out(needed);
    const std::size_t slots = counts[s];
    for (std::size_t k = 0; k < per_slot && k * slots < needed; ++k) {
      const std::size_t length = std::min(slots, needed - k * slots);
      const std::span<F> target(out.data() + k * slots, length);
      for (std::size_t d = 0; d < n_parties; ++d) {
        add_scaled<F>(target, vandermonde_[k][d], std::span<const F>(shares[d][s]).first(length));
      }
    }
    return out;
  };
  Dealt dealt;
  dealt.random = extract(0, request.random);
  dealt.low = extract(1, request.doubles);
  dealt.high = extract(2, request.doubles);
  dealt.zeros = extract(3, request.zeros);
  dealt.bounded.assign(request.bounded, F(0));
  for (std::size_t d = 0; d < n_parties && request.bounded > 0; ++d) {
    add_scaled<F>(dealt.bounded, F(1), shares[d][4]);
  }
  return dealt;
}

template <class F>
std::vector<F> DealerFreeShamir<F>::open_via_kings(std::span<const F> shares,
                                                   std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  const net::PartyId self = mesh.self();
  const std::size_t n = shares.size();
  const std::size_t helpers = 2 * threshold_;
  auto chunk = [&](std::size_t king) {
    const std::size_t begin = chunk_begin(n, king);
    return shares.subspan(begin, chunk_begin(n, king + 1) - begin);
  };

  // Round 1: party k + j (j = 1..2t) sends its shares of chunk k to king k.
  std::vector<net::Outgoing> sends;
  for (std::size_t j = 1; j <= helpers; ++j) {
    const net::PartyId king = (self + parties_ - j) % parties_;
    const auto part = chunk(king);
    if (!part.empty()) sends.push_back({king, as_bytes<F>(part)});
  }
  const auto mine = chunk(self);
  std::vector<net::PartyId> helper_ids;
  if (!mine.empty()) {
    for (std::size_t j = 1; j <= helpers; ++j) helper_ids.push_back((self + j) % parties_);
  }
  const auto from_helpers = mesh.round(sends, helper_ids, step);
  std::vector<F> opened_mine(mine.size());
  if (!mine.empty()) {
    const auto& weights = king_weights_[self];
    add_scaled<F>(opened_mine, weights[0], mine);
    for (std::size_t j = 1; j <= helpers; ++j) {
      const auto theirs =
          from_bytes<F>(from_helpers[j - 1], mine.size(), mesh.describe(helper_ids[j - 1]), step);
      add_scaled<F>(opened_mine, weights[j], theirs);
    }
  }

  // Round 2: every king sends its opened chunk to everybody.
  sends.clear();
  std::vector<net::PartyId> kings;
  for (net::PartyId peer = 0; peer < parties_; ++peer) {
    if (peer == self) continue;
    if (!opened_mine.empty()) sends.push_back({peer, as_bytes<F>(opened_mine)});
    if (!chunk(peer).empty()) kings.push_back(peer);
  }
  const auto from_kings = mesh.round(sends, kings, step);
  std::vector<F> opened(n);
  std::copy(opened_mine.begin(), opened_mine.end(), opened.begin() + chunk_begin(n, self));
  for (std::size_t i = 0; i < kings.size(); ++i) {
    const auto values =
        from_bytes<F>(from_kings[i], chunk(kings[i]).size(), mesh.describe(kings[i]), step);
    std::copy(values.begin(), values.end(), opened.begin() + chunk_begin(n, kings[i]));
  }
  return opened;
}

template <class F>
std::vector<F> DealerFreeShamir<F>::open_to_all(std::span<const F> shares, std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  const net::PartyId self = mesh.self();
  const std::size_t n = shares.size();
  const std::size_t senders = 2 * threshold_ + 1;
  // Chunk k is opened by parties k .. k + 2t; party d's position in that set.
  auto position = [&](net::PartyId party, std::size_t chunk) {
    return (party + parties_ - chunk) % parties_;
  };
  std::vector<F> message;
  for (std::size_t k = 0; k < parties_; ++k) {
    if (position(self, k) < senders) {
      message.insert(message.end(), shares.begin() + chunk_begin(n, k),
                     shares.begin() + chunk_begin(n, k + 1));
    }
  }
  std::vector<net::Outgoing> sends;
  std::vector<net::PartyId> receive_from;
  std::vector<std::size_t> receive_sizes;
  for (net::PartyId peer = 0; peer < parties_; ++peer) {
    if (peer == self) continue;
    if (!message.empty()) sends.push_back({peer, as_bytes<F>(message)});
    std::size_t size = 0;
    for (std::size_t k = 0; k < parties_; ++k) {
      if (position(peer, k) < senders) size += chunk_begin(n, k + 1) - chunk_begin(n, k);
    }
    if (size > 0) {
      receive_from.push_back(peer);
      receive_sizes.push_back(size);
    }
  }
  const auto received = mesh.round(sends, receive_from, step);
  // contributions[party]: that party's shares of the chunks it opens, concatenated.
  std::vector<std::vector<F>> contributions(parties_);
  contributions[self] = std::move(message);
  for (std::size_t i = 0; i < receive_from.size(); ++i) {
    contributions[receive_from[i]] =
        from_bytes<F>(received[i], receive_sizes[i], mesh.describe(receive_from[i]), step);
  }
  std::vector<std::size_t> cursor(parties_, 0);
  std::vector<F> opened(n);
  for (std::size_t k = 0; k < parties_; ++k) {
    const std::size_t begin = chunk_begin(n, k), size = chunk_begin(n, k + 1) - begin;
    const std::span<F> target(opened.data() + begin, size);
    for (std::size_t j = 0; j < senders; ++j) {
      const net::PartyId party = (k + j) % parties_;
      add_scaled<F>(target, king_weights_[k][j],
                    std::span<const F>(contributions[party]).subspan(cursor[party], size));
      cursor[party] += size;
    }
  }
  return opened;
}

template <class F>
DoubleSharings<F> DealerFreeShamir<F>::double_sharings(std::size_t n) {
  if (n == 0) return {};
  Dealt dealt = deal({.doubles = n}, "dealer-free: deal double sharings");
  return {std::move(dealt.low), std::move(dealt.high)};
}

template <class F>
Triples<F> DealerFreeShamir<F>::triples(std::size_t n) {
  if (n == 0) return {};
  Dealt dealt = deal({.random = 2 * n, .doubles = n}, "dealer-free triples: deal");
  Triples<F> out;
  out.a.assign(dealt.random.begin(), dealt.random.begin() + n);
  out.b.assign(dealt.random.begin() + n, dealt.random.end());
  std::vector<F> masked(n);
  for (std::size_t i = 0; i < n; ++i) masked[i] = out.a[i] * out.b[i] + dealt.high[i];
  const auto opened = open_via_kings(masked, "dealer-free triples: open ab+r");
  out.c.resize(n);
  for (std::size_t i = 0; i < n; ++i) out.c[i] = opened[i] - dealt.low[i];
  return out;
}

template <class F>
MatrixTriple<F> DealerFreeShamir<F>::matrix_triple(std::size_t rows, std::size_t inner,
                                                   std::size_t cols) {
  MatrixTriple<F> out{rows, inner, cols, {}, {}, {}};
  const std::size_t a_size = rows * inner, b_size = inner * cols, c_size = rows * cols;
  if (a_size + b_size + c_size == 0) return out;
  Dealt dealt =
      deal({.random = a_size + b_size, .doubles = c_size}, "dealer-free matrix triple: deal");
  out.a.assign(dealt.random.begin(), dealt.random.begin() + a_size);
  out.b.assign(dealt.random.begin() + a_size, dealt.random.end());
  if (c_size == 0) return out;
  std::vector<F> masked = matmul_plain<F>(out.a, out.b, rows, inner, cols);
  for (std::size_t i = 0; i < c_size; ++i) masked[i] += dealt.high[i];
  const auto opened = open_via_kings(masked, "dealer-free matrix triple: open AB+R");
  out.c.resize(c_size);
  for (std::size_t i = 0; i < c_size; ++i) out.c[i] = opened[i] - dealt.low[i];
  return out;
}

template <class F>
typename DealerFreeShamir<F>::BitsAndBounded DealerFreeShamir<F>::bits_and_bounded(
    std::size_t bits, std::size_t bounded, int bounded_bits) {
  BitsAndBounded out;
  if (bits + bounded == 0) return out;
  Dealt dealt =
      deal({.random = bits, .zeros = bits, .bounded = bounded, .bounded_bits = bounded_bits},
           "dealer-free bits: deal");
  out.bounded = std::move(dealt.bounded);
  if (bits == 0) return out;
  std::vector<F> squares(bits);
  for (std::size_t i = 0; i < bits; ++i) {
    squares[i] = dealt.random[i] * dealt.random[i] + dealt.zeros[i];
  }
  const auto opened = open_to_all(squares, "dealer-free bits: open r^2");
  auto result = bits_from_squares<F>(dealt.random, opened);
  out.bits = std::move(result.bits);
  if (!result.zero_squares.empty()) {
    const auto replacements = random_bits(result.zero_squares.size());
    for (std::size_t i = 0; i < replacements.size(); ++i) {
      out.bits[result.zero_squares[i]] = replacements[i];
    }
  }
  return out;
}

template <class F>
std::vector<F> DealerFreeShamir<F>::random_bits(std::size_t n) {
  return bits_and_bounded(n, 0, 0).bits;
}

template <class F>
TruncMasks<F> DealerFreeShamir<F>::trunc_masks(std::size_t n, int frac_bits) {
  const int high_bits = value_bits_ + kStatisticalSecurity - frac_bits;
  if (frac_bits < 1 || high_bits < 1) {
    throw std::invalid_argument("trunc_masks: frac_bits must be in 1.." +
                                std::to_string(value_bits_ + kStatisticalSecurity - 1));
  }
  const auto width = static_cast<std::size_t>(frac_bits);
  BitsAndBounded parts = bits_and_bounded(n * width, n, high_bits);
  TruncMasks<F> masks;
  masks.r.resize(n);
  const F scale = power_of_two<F>(frac_bits);
  for (std::size_t k = 0; k < n; ++k) {
    F low(0);
    for (std::size_t i = width; i-- > 0;) low = low + low + parts.bits[k * width + i];
    masks.r[k] = low + scale * parts.bounded[k];
  }
  masks.high = std::move(parts.bounded);
  return masks;
}

template <class F>
BitMasks<F> DealerFreeShamir<F>::bit_masks(std::size_t n, std::size_t width) {
  BitsAndBounded parts = bits_and_bounded(n * width, n, kStatisticalSecurity);
  return {width, std::move(parts.bits), std::move(parts.bounded)};
}

template class DealerFreeShamir<Fp61>;
template class DealerFreeShamir<Fp127>;
template BitsFromSquares<Fp61> bits_from_squares(std::span<const Fp61>, std::span<const Fp61>);
template BitsFromSquares<Fp127> bits_from_squares(std::span<const Fp127>, std::span<const Fp127>);

}  // namespace sm::mpc
