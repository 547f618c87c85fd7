#include "mpc/dealer_free.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <stdexcept>
#include <string>
#include <utility>

#include "mpc/elements.hpp"
#include "mpc/linear_combination.hpp"
#include "mpc/serialize.hpp"
#include "mpc/shamir.hpp"
#include "mpc/window_masks.hpp"
#include "net/errors.hpp"

namespace sm::mpc {

namespace {

// Slots processed at a time while dealing and extracting (keeps the working set in cache).
constexpr std::size_t kChunk = 2048;

// Values uniform in [0, 2^bits), bits <= 127: one 64-bit PRG word each for bits <= 64, else two.
template <class F>
void sample_bounded_into(Prg& prg, std::span<F> out, int bits) {
  std::array<std::uint64_t, 2 * kChunk> words;
  const u128 mask = (u128{1} << bits) - 1;
  const std::size_t per_value = bits <= 64 ? 1 : 2;
  for (std::size_t done = 0; done < out.size();) {
    const std::size_t count = std::min(kChunk, out.size() - done);
    prg.fill({reinterpret_cast<std::uint8_t*>(words.data()), count * per_value * 8});
    for (std::size_t i = 0; i < count; ++i) {
      const u128 word = per_value == 1 ? u128{words[i]}
                                       : words[2 * i] | (u128{words[2 * i + 1]} << 64);
      out[done + i] = from_unsigned<F>(word & mask);
    }
    done += count;
  }
}

// The number of extraction slots (one sharing per dealer each) for `outputs` outputs.
std::size_t slots_for(std::size_t outputs, std::size_t per_slot) {
  return (outputs + per_slot - 1) / per_slot;
}

std::uint64_t pair_stream(std::uint64_t batch, net::PartyId dealer, net::PartyId receiver) {
  return (batch << 1) | (dealer < receiver ? 0 : 1);
}

}  // namespace

template <class F>
DealerFreeShamir<F>::DealerFreeShamir(Session& session, std::size_t threshold, int value_bits)
    : session_(session),
      parties_(session.parties()),
      threshold_(threshold),
      value_bits_(value_bits),
      reduction_(session, threshold) {
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
  bit_pair_seeds_.resize(parties_);
  for (net::PartyId peer = 0; peer < parties_; ++peer) {
    if (peer == session.self()) continue;
    session.prg().pairwise_stream(peer).fill(pair_seeds_[peer]);
    session.prg().pairwise_stream(peer).fill(bit_pair_seeds_[peer]);
  }
  degree_t_ = make_completion(threshold);
  degree_2t_ = make_completion(2 * threshold);

  const std::size_t outputs = parties_ - threshold;
  vandermonde_.assign(outputs, std::vector<F>(parties_));
  for (std::size_t d = 0; d < parties_; ++d) {
    F power(1);
    for (std::size_t k = 0; k < outputs; ++k) {
      vandermonde_[k][d] = power;
      power *= ShamirCodec<F>::point(d);
    }
  }
  // The bit source's value bits are never used (it makes bits, products and switch masks only).
  if constexpr (!std::is_same_v<Bit, F>) {
    bit_source_ = std::make_unique<DealerFreeShamir<Bit>>(session, threshold, 2);
  }
}

template <class F>
typename DealerFreeShamir<F>::Completion DealerFreeShamir<F>::make_completion(
    std::size_t degree) const {
  const net::PartyId self = session_.self();
  // ShamirCodec's point of the party at `offset` from `dealer`, as a signed integer.
  const auto point = [&](std::size_t dealer, std::size_t offset) {
    return static_cast<std::int64_t>((dealer + offset) % parties_) + 1;
  };
  // Dealer d's seeded points a_1 .. a_degree, P(x) = prod_k (a_k - x) and
  // W_k(x) = x prod_(j != k) (x - a_j) (header).
  const auto seeded_points = [&](std::size_t dealer) {
    std::vector<std::int64_t> a;
    for (std::size_t k = 1; k <= degree; ++k) a.push_back(point(dealer, k));
    return a;
  };
  const auto lead_weight = [](const std::vector<std::int64_t>& a, std::int64_t x) {
    F p(1);
    for (const std::int64_t a_k : a) p *= F::from_int(a_k - x);
    return p;
  };
  const auto seeded_weight = [](const std::vector<std::int64_t>& a, std::size_t k,
                                std::int64_t x) {
    F w = F::from_int(x);
    for (std::size_t j = 0; j < a.size(); ++j) {
      if (j != k) w *= F::from_int(x - a[j]);
    }
    return w;
  };
  const std::vector<std::int64_t> a = seeded_points(self);
  const auto weights_at = [&](std::int64_t x) {
    std::vector<F> weights{lead_weight(a, x)};
    for (std::size_t k = 0; k < degree; ++k) weights.push_back(seeded_weight(a, k, x));
    return weights;
  };
  Completion completion;
  completion.degree = degree;
  completion.secret_factor = lead_weight(a, 0);
  completion.lead_of_secret = inverse(completion.secret_factor);
  completion.own = weights_at(point(self, 0));
  for (std::size_t offset = degree + 1; offset < parties_; ++offset) {
    completion.peers.push_back(weights_at(point(self, offset)));
  }
  // As a seeded peer (offset k from the dealer): the share is c_k w_k, c_k = W_k(a_k).
  completion.seeded_factor.assign(parties_, F(1));
  for (std::size_t k = 1; k <= degree; ++k) {
    const net::PartyId dealer = (self + parties_ - k) % parties_;
    const std::vector<std::int64_t> dealer_points = seeded_points(dealer);
    completion.seeded_factor[dealer] =
        seeded_weight(dealer_points, k - 1, dealer_points[k - 1]);
  }
  return completion;
}

template <class F>
typename DealerFreeShamir<F>::Dealt DealerFreeShamir<F>::deal(const Request& request,
                                                              std::string_view step) {
  net::Mesh& mesh = session_.mesh();
  const std::size_t n_parties = parties_;
  const net::PartyId self = mesh.self();
  const std::size_t per_slot = n_parties - threshold_;
  const std::uint64_t batch = batch_++;

  // Sections, in wire and PRG order: random, double low, double high, dealer bits, bounded,
  // bounded shifted (the same secrets >> bounded_shift, if bounded_shift > 0), the caller's
  // terms, summed terms, summed terms of degree 2t. The first two have random secrets, the
  // others fixed ones.
  constexpr std::size_t kSections = 9;
  const std::array<std::size_t, kSections> counts{slots_for(request.random, per_slot),
                                                  slots_for(request.doubles, per_slot),
                                                  slots_for(request.doubles, per_slot),
                                                  request.dealer_bits,
                                                  request.bounded,
                                                  request.bounded_shift > 0 ? request.bounded : 0,
                                                  request.terms.size(),
                                                  request.summed_terms.size(),
                                                  request.summed_terms_2t.size()};
  const std::array<const Completion*, kSections> completion{
      &degree_t_, &degree_t_, &degree_2t_, &degree_t_, &degree_t_,
      &degree_t_, &degree_t_, &degree_t_,  &degree_2t_};
  // Elements a dealer sends to the party at `offset` from it.
  auto sent_to_offset = [&](std::size_t offset) {
    std::size_t total = 0;
    for (std::size_t s = 0; s < kSections; ++s) {
      if (offset > completion[s]->degree) total += counts[s];
    }
    return total;
  };

  // Deal our own sharings, kChunk slots at a time so the free points stay in cache.
  std::array<std::vector<F>, kSections> own;
  std::vector<std::vector<F>> outgoing(n_parties);
  for (std::size_t offset = 1; offset < n_parties; ++offset) {
    outgoing[(self + offset) % n_parties].reserve(sent_to_offset(offset));
  }
  Prg own_prg(private_seed_, batch);
  std::vector<Prg> to_peer;  // [offset - 1]
  for (std::size_t offset = 1; offset < n_parties; ++offset) {
    const net::PartyId peer = (self + offset) % n_parties;
    to_peer.emplace_back(pair_seeds_[peer], pair_stream(batch, self, peer));
  }
  std::vector<std::vector<F>> scratch(n_parties, std::vector<F>(kChunk));  // [0]: the leads
  std::vector<F> double_leads, bounded_secrets;
  // A double sharing's high lead: its secret r P_t(0) (the low sharing's) times 1 / P_2t(0).
  const F double_ratio = degree_t_.secret_factor * degree_2t_.lead_of_secret;
  std::vector<const F*> points;
  std::vector<F*> targets;
  for (std::size_t s = 0; s < kSections; ++s) {
    const std::size_t count = counts[s];
    if (count == 0) continue;
    const Completion& c = *completion[s];
    own[s].resize(count);
    targets.clear();
    for (std::size_t offset = c.degree + 1; offset < n_parties; ++offset) {
      auto& out = outgoing[(self + offset) % n_parties];
      out.resize(out.size() + count);
      targets.push_back(out.data() + out.size() - count);
    }
    if (s == 1) double_leads.resize(count);
    if (s == 4) bounded_secrets.resize(count);
    for (std::size_t begin = 0; begin < count; begin += kChunk) {
      const std::size_t length = std::min(kChunk, count - begin);
      // The free points: the lead (a private draw, or the fixed secret times 1 / P(0)), then the
      // seeded peers' values.
      const std::span<F> lead = std::span<F>(scratch[0]).first(length);
      if (s == 0) {
        sample_elements<F>(own_prg, lead);
      } else if (s == 1) {
        sample_elements<F>(own_prg, lead);
        std::copy(lead.begin(), lead.end(), double_leads.begin() + begin);
      } else if (s == 2) {
        for (std::size_t i = 0; i < length; ++i) lead[i] = double_leads[begin + i] * double_ratio;
      } else {
        if (s == 3) sample_bounded_into<F>(own_prg, lead, 1);
        if (s == 4) {
          const auto secrets = std::span<F>(bounded_secrets).subspan(begin, length);
          sample_bounded_into<F>(own_prg, secrets, request.bounded_bits);
          std::copy(secrets.begin(), secrets.end(), lead.begin());
        }
        if (s == 5) {
          for (std::size_t i = 0; i < length; ++i) {
            lead[i] =
                from_unsigned<F>(to_unsigned(bounded_secrets[begin + i]) >> request.bounded_shift);
          }
        }
        if (s == 6) std::copy_n(request.terms.begin() + begin, length, lead.begin());
        if (s == 7) std::copy_n(request.summed_terms.begin() + begin, length, lead.begin());
        if (s == 8) std::copy_n(request.summed_terms_2t.begin() + begin, length, lead.begin());
        for (F& value : lead) value *= c.lead_of_secret;
      }
      points.assign(1, lead.data());
      for (std::size_t offset = 1; offset <= c.degree; ++offset) {
        sample_elements<F>(to_peer[offset - 1], std::span<F>(scratch[offset]).first(length));
        points.push_back(scratch[offset].data());
      }
      linear_combination<F>(own[s].data() + begin, length, c.own, points);
      for (std::size_t t = 0; t < targets.size(); ++t) {
        linear_combination<F>(targets[t] + begin, length, c.peers[t], points);
      }
    }
  }

  // Send, and receive the other dealers' sharings.
  std::vector<net::Outgoing> sends;
  std::vector<net::PartyId> receive_from;
  for (std::size_t offset = 1; offset < n_parties; ++offset) {
    const net::PartyId peer = (self + offset) % n_parties;
    if (!outgoing[peer].empty()) sends.push_back({peer, as_bytes<F>(outgoing[peer])});
    // Our offset from dealer `peer` is N - offset.
    if (sent_to_offset(n_parties - offset) > 0) receive_from.push_back(peer);
  }
  const auto received = mesh.round(sends, receive_from, step);
  std::vector<std::vector<F>> messages(n_parties);
  for (std::size_t i = 0; i < receive_from.size(); ++i) {
    const net::PartyId dealer = receive_from[i];
    messages[dealer] =
        from_bytes<F>(received[i], sent_to_offset((self + n_parties - dealer) % n_parties),
                      mesh.describe(dealer), step);
  }
  std::vector<Prg> from_dealer;
  for (net::PartyId dealer = 0; dealer < n_parties; ++dealer) {
    // Our own entry is a placeholder, never sampled.
    from_dealer.emplace_back(pair_seeds_[dealer], pair_stream(batch, dealer, self));
  }

  // Extract: output k of slot j is sum_d M[k][d] share_d[j], stored at k * slots + j; the
  // bounded sections just sum the dealers' shares, and the dealer bits keep every dealer's
  // apart (M the identity: dealer d's at d * count). A seeded share is c_k times the value
  // drawn from the seed: c_k joins M's column.
  std::vector<std::size_t> position(n_parties, 0);  // read position in each dealer's message
  const std::vector<std::vector<F>> sum_row{std::vector<F>(n_parties, F(1))};
  std::vector<std::vector<F>> unit_rows(n_parties, std::vector<F>(n_parties, F(0)));
  for (std::size_t d = 0; d < n_parties; ++d) unit_rows[d][d] = F(1);
  auto extract = [&](std::size_t s, std::size_t needed) {
    std::vector<F> out(needed);
    const std::size_t slots = counts[s];
    if (slots == 0) return out;
    const std::size_t degree = completion[s]->degree;
    const auto seeded = [&](net::PartyId dealer) {
      const std::size_t offset = (self + n_parties - dealer) % n_parties;
      return offset != 0 && offset <= degree;
    };
    std::vector<std::vector<F>> rows = s == 3 || s == 6 ? unit_rows
                                       : s >= 4         ? sum_row
                                                        : vandermonde_;
    for (auto& row : rows) {
      for (net::PartyId dealer = 0; dealer < n_parties; ++dealer) {
        if (seeded(dealer)) row[dealer] *= completion[s]->seeded_factor[dealer];
      }
    }
    std::vector<const F*> shares(n_parties);
    for (std::size_t begin = 0; begin < slots; begin += kChunk) {
      const std::size_t length = std::min(kChunk, slots - begin);
      for (net::PartyId dealer = 0; dealer < n_parties; ++dealer) {
        if (dealer == self) {
          shares[dealer] = own[s].data() + begin;
        } else if (seeded(dealer)) {
          sample_elements<F>(from_dealer[dealer], std::span<F>(scratch[dealer]).first(length));
          shares[dealer] = scratch[dealer].data();
        } else {
          shares[dealer] = messages[dealer].data() + position[dealer] + begin;
        }
      }
      for (std::size_t k = 0; k < rows.size() && k * slots + begin < needed; ++k) {
        const std::size_t usable = std::min(length, needed - k * slots - begin);
        linear_combination<F>(out.data() + k * slots + begin, usable, rows[k], shares);
      }
    }
    for (net::PartyId dealer = 0; dealer < n_parties; ++dealer) {
      if (dealer != self && !seeded(dealer)) position[dealer] += slots;
    }
    return out;
  };
  Dealt dealt;
  dealt.random = extract(0, request.random);
  dealt.low = extract(1, request.doubles);
  dealt.high = extract(2, request.doubles);
  dealt.dealer_bits = extract(3, n_parties * request.dealer_bits);
  dealt.bounded = extract(4, request.bounded);
  dealt.shifted = extract(5, counts[5]);
  dealt.terms = extract(6, n_parties * counts[6]);
  dealt.summed = extract(7, counts[7]);
  dealt.summed_2t = extract(8, counts[8]);
  return dealt;
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
  Dealt dealt = deal({.random = 2 * n}, "dealer-free triples: deal");
  Triples<F> out;
  out.b.assign(dealt.random.begin() + n, dealt.random.end());
  out.a = std::move(dealt.random);
  out.a.resize(n);
  std::vector<F> product(n);  // [ab]_2t
  for (std::size_t i = 0; i < n; ++i) product[i] = out.a[i] * out.b[i];
  out.c = reduction_.reduce(std::move(product), "dealer-free triples: reshare ab");
  return out;
}

template <class F>
MatrixTriple<F> DealerFreeShamir<F>::matrix_triple(std::size_t rows, std::size_t inner,
                                                   std::size_t cols) {
  MatrixTriple<F> out{rows, inner, cols, {}, {}, {}};
  const std::size_t a_size = rows * inner, b_size = inner * cols, c_size = rows * cols;
  if (a_size + b_size + c_size == 0) return out;
  Dealt dealt = deal({.random = a_size + b_size}, "dealer-free matrix triple: deal");
  out.a.assign(dealt.random.begin(), dealt.random.begin() + a_size);
  out.b.assign(dealt.random.begin() + a_size, dealt.random.end());
  if (c_size == 0) return out;
  out.c = reduction_.reduce(matmul_plain<F>(out.a, out.b, rows, inner, cols),
                            "dealer-free matrix triple: reshare AB");
  return out;
}

template <class F>
typename DealerFreeShamir<F>::BitsAndBounded DealerFreeShamir<F>::bits_and_bounded(
    std::size_t bits, std::size_t bounded, int bounded_bits) {
  BitsAndBounded out;
  if (bits + bounded == 0) return out;
  if (parties_ == 3) return three_party_bits_and_bounded(bits, bounded, bounded_bits);
  // Bit i XORs the t + 1 dealer bits q = i (t + 1) + j, j <= t: dealer q mod N's number q / N,
  // so t + 1 consecutive (distinct) dealers, and every dealer deals about the same number.
  const std::size_t inputs = threshold_ + 1;
  const std::size_t per_dealer = (inputs * bits + parties_ - 1) / parties_;
  Dealt dealt = deal({.bounded = bounded, .bounded_bits = bounded_bits, .dealer_bits = per_dealer},
                     "dealer-free bits: deal");
  out.bounded = std::move(dealt.bounded);
  if (bits == 0) return out;
  std::vector<std::vector<F>> level(inputs, std::vector<F>(bits));
  for (std::size_t i = 0; i < bits; ++i) {
    for (std::size_t j = 0; j < inputs; ++j) {
      const std::size_t q = i * inputs + j;
      level[j][i] = dealt.dealer_bits[(q % parties_) * per_dealer + q / parties_];
    }
  }
  // XOR tree, a XOR b = a + b - 2ab: the products of a level at degree 2t, reduced to degree t
  // (as for triples).
  while (level.size() > 1) {
    const std::size_t pairs = level.size() / 2;
    std::vector<F> products(pairs * bits);
    for (std::size_t p = 0; p < pairs; ++p) {
      const std::vector<F>& x = level[2 * p];
      const std::vector<F>& y = level[2 * p + 1];
      for (std::size_t i = 0; i < bits; ++i) products[p * bits + i] = x[i] * y[i];
    }
    products = reduction_.reduce(std::move(products), "dealer-free bits: reshare products");
    std::vector<std::vector<F>> next;
    for (std::size_t p = 0; p < pairs; ++p) {
      std::vector<F> x = std::move(level[2 * p]);
      const std::vector<F>& y = level[2 * p + 1];
      for (std::size_t i = 0; i < bits; ++i) {
        const F product = products[p * bits + i];
        x[i] += y[i] - product - product;
      }
      next.push_back(std::move(x));
    }
    if (level.size() % 2 == 1) next.push_back(std::move(level.back()));
    level = std::move(next);
  }
  out.bits = std::move(level[0]);
  return out;
}

template <class F>
typename DealerFreeShamir<F>::BitsAndBounded DealerFreeShamir<F>::three_party_bits_and_bounded(
    std::size_t bits, std::size_t bounded, int bounded_bits) {
  // Segment k (bits k m .. k m + m - 1) has gamma dealt by party k and beta drawn by the other
  // two, a and b (header): in the segment, x_p = p + 1 and beta's sharing is beta (x_k - x) / x_k.
  constexpr std::size_t kParties = 3;
  const net::PartyId self = session_.self();
  const std::size_t m = (bits + kParties - 1) / kParties;
  Dealt dealt = deal({.bounded = bounded, .bounded_bits = bounded_bits, .dealer_bits = m},
                     "dealer-free bits: deal gamma");
  BitsAndBounded out;
  out.bounded = std::move(dealt.bounded);
  if (bits == 0) return out;
  const std::vector<F> points{ShamirCodec<F>::point(0), ShamirCodec<F>::point(1),
                              ShamirCodec<F>::point(2)};
  const F lagrange = lagrange_at<F>(points, F(0))[self];
  // Our terms of the products beta gamma, for the segments of k = self + 1 and self + 2 in that
  // order: lambda_self times our share of beta (beta c) times our share of gamma.
  std::vector<F> terms(2 * m);
  std::vector<F> beta_shares(2 * m);
  std::vector<std::uint64_t> beta_words((m + 63) / 64);
  for (std::size_t offset = 1; offset < kParties; ++offset) {
    const net::PartyId k = (self + offset) % kParties;
    const net::PartyId other = (self + 2 * offset) % kParties;  // the third party
    const F c = (points[k] - points[self]) * inverse(points[k]);
    const F term_weight = lagrange * c;
    // beta: drawn from the stream that only we and `other` hold, for this call.
    Prg beta_prg(bit_pair_seeds_[other], batch_);
    beta_prg.fill({reinterpret_cast<std::uint8_t*>(beta_words.data()), beta_words.size() * 8});
    const F* gamma = dealt.dealer_bits.data() + k * m;
    for (std::size_t j = 0; j < m; ++j) {
      const bool beta = (beta_words[j / 64] >> (j % 64)) & 1;
      const std::size_t at = (offset - 1) * m + j;
      beta_shares[at] = beta ? c : F(0);
      terms[at] = beta ? term_weight * gamma[j] : F(0);
    }
  }
  ++batch_;
  // The products at degree t: each of a and b deals its term, k (whose term is 0) nothing.
  const Dealt reduced = deal({.terms = terms}, "dealer-free bits: reshare beta gamma");
  out.bits.resize(kParties * m);
  for (net::PartyId k = 0; k < kParties; ++k) {
    const F* gamma = dealt.dealer_bits.data() + k * m;
    // Dealer d keeps segment k at offset (k - d mod 3) - 1 of its 2m terms.
    const auto dealt_term = [&](net::PartyId d) {
      return reduced.terms.data() + d * 2 * m + ((k + kParties - d) % kParties - 1) * m;
    };
    const F* from_a = dealt_term((k + 1) % kParties);
    const F* from_b = dealt_term((k + 2) % kParties);
    const F* beta = k == self ? nullptr
                              : beta_shares.data() + ((k + kParties - self) % kParties - 1) * m;
    F* bit = out.bits.data() + k * m;
    for (std::size_t j = 0; j < m; ++j) {
      const F product = from_a[j] + from_b[j];
      bit[j] = gamma[j] - product - product;
      if (beta != nullptr) bit[j] += beta[j];
    }
  }
  out.bits.resize(bits);
  return out;
}

template <class F>
std::vector<F> DealerFreeShamir<F>::random_bits(std::size_t n) {
  return bits_and_bounded(n, 0, 0).bits;
}

template <class F>
TruncMasks<F> DealerFreeShamir<F>::trunc_masks(std::size_t n, int frac_bits) {
  const int mask_bits = value_bits_ + kStatisticalSecurity;
  if (frac_bits < 1 || frac_bits >= mask_bits) {
    throw std::invalid_argument("trunc_masks: frac_bits must be in 1.." +
                                std::to_string(mask_bits - 1));
  }
  if (n == 0) return {};
  Dealt dealt = deal({.bounded = n, .bounded_bits = mask_bits, .bounded_shift = frac_bits},
                     "dealer-free trunc masks: deal");
  // high = sum_i (r_i >> f) + delta centres the error of ShamirEngine::trunc (header).
  const F delta(trunc_mask_offset(parties_));
  for (F& h : dealt.shifted) h += delta;
  return {std::move(dealt.bounded), std::move(dealt.shifted), {}};
}

template <class F>
BitMasks<F> DealerFreeShamir<F>::bit_masks(std::size_t n, std::size_t width) {
  BitsAndBounded parts = bits_and_bounded(n * width, n, kStatisticalSecurity);
  return {width, std::move(parts.bits), std::move(parts.bounded)};
}

template <class F>
WindowMasks<F> DealerFreeShamir<F>::window_masks(std::size_t n, int low, std::size_t width) {
  std::string problem = window_problem(low, width);
  if (problem.empty() && low + static_cast<std::int64_t>(width) > value_bits_) {
    problem = "window ends above the " + std::to_string(value_bits_) + " value bits";
  }
  if (!problem.empty()) throw std::invalid_argument("window_masks: " + problem);
  WindowMasks<F> out{low, width, {}, {}, {}, {}};
  if (n == 0) return out;
  // value[k] = sum_i bits[k width + i] 2^i + 2^width high[k], then r = 2^low value.
  std::vector<F> value;
  if constexpr (std::is_same_v<Bit, F>) {
    WindowBits bits = window_bits(n, width, true);
    out.bits = std::move(bits.bits);
    out.products = std::move(bits.products);
    out.high = std::move(bits.high);
    value = out.high;
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t i = width; i-- > 0;) {
        value[k] = value[k] + value[k] + out.bits[k * width + i];
      }
    }
  } else {
    // The bits over Fp61, and the window's value over F from them: its pieces of at most
    // 20 - bit_width(N) bits (sum_i bits 2^i over the piece, local over Fp61), each opened under
    // a switch mask of piece + 40 bits (below Fp61's modulus with N terms) and taken off that
    // mask's F side.
    auto bits = bit_source_->window_bits(n, width, false);
    out.bits = std::move(bits.bits);
    out.products = std::move(bits.products);
    const auto max_piece =
        static_cast<std::size_t>(60 - static_cast<int>(std::bit_width(parties_)) -
                                 kStatisticalSecurity);
    const std::size_t pieces = (width + max_piece - 1) / max_piece;
    const std::size_t piece = (width + pieces - 1) / pieces;
    SwitchAndBounded dealt = switch_and_bounded(
        n * pieces, static_cast<int>(piece) + kStatisticalSecurity, n, kStatisticalSecurity);
    SwitchMasks<F>& masks = dealt.masks;
    out.high = std::move(dealt.bounded);
    std::vector<Bit> masked = std::move(masks.bit_side);  // [piece value + rho]_2t
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t j = 0; j < pieces; ++j) {
        const std::size_t first = j * piece, last = std::min(width, first + piece);
        Bit sum(0);
        for (std::size_t i = last; i-- > first;) sum = sum + sum + out.bits[k * width + i];
        masked[k * pieces + j] += sum;
      }
    }
    const std::vector<Bit> opened =
        open_degree_2t<Bit>(session_, threshold_, masked, "dealer-free window masks: open pieces",
                            senders_at_zero<Bit>(threshold_));
    value = out.high;
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t j = pieces; j-- > 0;) {
        const F piece_value = F(opened[k * pieces + j].value()) - masks.value_side[k * pieces + j];
        const std::size_t first = j * piece, last = std::min(width, first + piece);
        value[k] = value[k] * power_of_two<F>(static_cast<int>(last - first)) + piece_value;
      }
    }
  }
  out.r = std::move(value);
  const F scale = power_of_two<F>(low);
  for (F& r : out.r) r *= scale;
  return out;
}

template <class F>
SwitchMasks<F> DealerFreeShamir<F>::switch_masks(std::size_t n, int bits) {
  if constexpr (std::is_same_v<Bit, F>) {
    return CorrelationSource<F>::switch_masks(n, bits);
  } else {
    check_switch_bits(bits, parties_);
    return switch_and_bounded(n, bits, 0, 0).masks;
  }
}

template <class F>
typename DealerFreeShamir<F>::SwitchAndBounded DealerFreeShamir<F>::switch_and_bounded(
    std::size_t n, int bits, std::size_t bounded, int bounded_bits) {
  SwitchAndBounded out;
  if (n + bounded == 0) return out;
  // Our terms of rho, dealt over both fields: at degree 2t over Fp61 (N = 2t + 1: seeded,
  // nothing sent) and at degree t over F, with the bounded values.
  std::vector<F> terms(n);
  Prg own(private_seed_, batch_++);
  sample_bounded_into<F>(own, terms, bits);
  const std::vector<Bit> bit_terms = same_integers<Bit, F>(terms);
  out.masks.bit_side =
      bit_source_->deal({.summed_terms_2t = bit_terms}, "dealer-free switch masks: deal over Fp61")
          .summed_2t;
  Dealt dealt = deal({.bounded = bounded, .bounded_bits = bounded_bits, .summed_terms = terms},
                     "dealer-free switch masks: deal");
  out.masks.value_side = std::move(dealt.summed);
  out.bounded = std::move(dealt.bounded);
  return out;
}

template <class F>
typename DealerFreeShamir<F>::WindowBits DealerFreeShamir<F>::window_bits(std::size_t n,
                                                                          std::size_t width,
                                                                          bool with_high) {
  WindowBits out;
  BitsAndBounded parts =
      bits_and_bounded(n * width, with_high ? n : 0, with_high ? kStatisticalSecurity : 0);
  out.bits = std::move(parts.bits);
  out.high = std::move(parts.bounded);
  // The group products, two reductions for all masks: the pairs (of every group), then the
  // products of three or four bits from the reduced pairs: b_l b_j b_h = (b_l b_j) b_h for l < j
  // < h (its two lowest bits' pair times its highest bit), b_0 b_1 b_2 b_3 = (b_0 b_1) (b_2 b_3).
  const std::size_t full_group = window_group_bits<F>(width);
  const auto bit = [&](std::size_t k, std::size_t i) { return out.bits[k * width + i]; };
  const auto for_each_group = [&](auto&& visit) {  // visit(k, first bit, subsets of the group)
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t group = 0; group < width; group += full_group) {
        visit(k, group, group_subsets(std::min(full_group, width - group)));
      }
    }
  };
  std::vector<F> products;  // [b_i b_j]_2t, WindowMasks' order of the pairs
  for_each_group([&](std::size_t k, std::size_t first, std::span<const unsigned> subsets) {
    for (const unsigned m : subsets) {
      if (std::popcount(m) != 2) continue;
      products.push_back(bit(k, first + static_cast<std::size_t>(std::countr_zero(m))) *
                         bit(k, first + static_cast<std::size_t>(std::bit_width(m) - 1)));
    }
  });
  const std::vector<F> pair_products =
      reduction_.reduce(std::move(products), "dealer-free window masks: pairs");
  // by_subset[m]: a group's reduced pair (or, after the second round, product) of subset m.
  std::array<F, 16> by_subset{};
  products.clear();
  std::size_t next_pair = 0;
  for_each_group([&](std::size_t k, std::size_t first, std::span<const unsigned> subsets) {
    for (const unsigned m : subsets) {
      if (std::popcount(m) == 2) by_subset[m] = pair_products[next_pair++];
    }
    for (const unsigned m : subsets) {
      if (std::popcount(m) == 3) {
        const unsigned highest = std::bit_floor(m);
        products.push_back(by_subset[m ^ highest] *
                           bit(k, first + static_cast<std::size_t>(std::countr_zero(highest))));
      } else if (std::popcount(m) == 4) {
        products.push_back(by_subset[3] * by_subset[12]);
      }
    }
  });
  constexpr std::string_view kHigherStep = "dealer-free window masks: triples and quadruples";
  const std::vector<F> higher =
      products.empty() ? std::vector<F>{} : reduction_.reduce(std::move(products), kHigherStep);
  // Interleave in WindowMasks' order (increasing m).
  out.products.reserve(n * window_products<F>(width));
  std::size_t next_higher = 0;
  next_pair = 0;
  for_each_group([&](std::size_t, std::size_t, std::span<const unsigned> subsets) {
    for (const unsigned m : subsets) {
      out.products.push_back(std::popcount(m) == 2 ? pair_products[next_pair++]
                                                   : higher[next_higher++]);
    }
  });
  return out;
}

template <class F>
MaskedMatrix<F> DealerFreeShamir<F>::masked_matrix(std::size_t rows, std::size_t cols) {
  MaskedMatrix<F> out{0, rows, cols, {}};
  if (rows * cols == 0) return out;
  out.u = deal({.random = rows * cols}, "dealer-free masked matrix: deal").random;
  return out;
}

template <class F>
std::vector<MaskedProducts<F>> DealerFreeShamir<F>::masked_products(
    const MaskedMatrix<F>& matrix, std::span<const std::vector<std::size_t>> subsets) {
  const std::size_t cols = matrix.cols;
  if (matrix.u.size() != matrix.rows * cols) {
    throw std::invalid_argument("masked_products: the matrix's shares do not match its shape");
  }
  std::size_t total = 0;
  for (const auto& rows : subsets) {
    for (std::size_t r : rows) {
      if (r >= matrix.rows) throw std::invalid_argument("masked_products: row outside the matrix");
    }
    total += rows.size() + cols;
  }
  std::vector<MaskedProducts<F>> out(subsets.size());
  if (total == 0) return out;
  // Per subset, in the dealt vectors: v (cols) then vt (|B|); z (|B|) then zt (cols).
  Dealt dealt = deal({.random = total}, "dealer-free masked products: deal");
  std::vector<F> masked(total);  // [U_B v]_2t, [U_B^T vt]_2t
  for (std::size_t k = 0, offset = 0; k < subsets.size(); ++k) {
    const auto& rows = subsets[k];
    const F* v = dealt.random.data() + offset;
    const F* vt = v + cols;
    F* z = masked.data() + offset;
    F* zt = z + rows.size();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const F* u_row = matrix.u.data() + rows[i] * cols;
      F sum(0);
      for (std::size_t j = 0; j < cols; ++j) {
        sum += u_row[j] * v[j];
        zt[j] += u_row[j] * vt[i];
      }
      z[i] += sum;
    }
    offset += rows.size() + cols;
  }
  const auto reduced =
      reduction_.reduce(std::move(masked), "dealer-free masked products: reshare U_B v");
  for (std::size_t k = 0, offset = 0; k < subsets.size(); ++k) {
    const std::size_t b = subsets[k].size();
    const auto at = [&](const std::vector<F>& from, std::size_t begin, std::size_t count) {
      return std::vector<F>(from.begin() + static_cast<std::ptrdiff_t>(offset + begin),
                            from.begin() + static_cast<std::ptrdiff_t>(offset + begin + count));
    };
    out[k].v = at(dealt.random, 0, cols);
    out[k].vt = at(dealt.random, cols, b);
    out[k].z = at(reduced, 0, b);
    out[k].zt = at(reduced, b, cols);
    offset += b + cols;
  }
  return out;
}

template class DealerFreeShamir<Fp61>;
template class DealerFreeShamir<Fp127>;

}  // namespace sm::mpc
