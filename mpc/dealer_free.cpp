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

// Values uniform in [0, 2^bits), bits <= 127.
template <class F>
void sample_bounded_into(Prg& prg, std::span<F> out, int bits) {
  std::array<u128, kChunk> words;
  const u128 mask = (u128{1} << bits) - 1;
  for (std::size_t done = 0; done < out.size();) {
    const std::size_t count = std::min(kChunk, out.size() - done);
    prg.fill({reinterpret_cast<std::uint8_t*>(words.data()), count * sizeof(u128)});
    for (std::size_t i = 0; i < count; ++i) out[done + i] = from_unsigned<F>(words[i] & mask);
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
      power *= ShamirCodec<F>::point(d);
    }
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
    xs.push_back(ShamirCodec<F>::point((self + offset) % parties_));
  }
  Completion completion;
  completion.seeded = seeded;
  completion.fixed = fixed;
  for (std::size_t offset = seeded + 1; offset < parties_; ++offset) {
    completion.peers.push_back(lagrange_at<F>(xs, ShamirCodec<F>::point((self + offset) % parties_)));
  }
  if (!fixed) completion.secret = lagrange_at<F>(xs, F(0));
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
  // bounded shifted (the same secrets >> bounded_shift, if bounded_shift > 0).
  constexpr std::size_t kSections = 6;
  const std::array<std::size_t, kSections> counts{slots_for(request.random, per_slot),
                                                  slots_for(request.doubles, per_slot),
                                                  slots_for(request.doubles, per_slot),
                                                  request.dealer_bits,
                                                  request.bounded,
                                                  request.bounded_shift > 0 ? request.bounded : 0};
  const std::array<const Completion*, kSections> completion{&random_t_, &random_t_, &fixed_2t_,
                                                            &fixed_t_,  &fixed_t_,  &fixed_t_};
  // Elements a dealer sends to the party at `offset` from it.
  auto sent_to_offset = [&](std::size_t offset) {
    std::size_t total = 0;
    for (std::size_t s = 0; s < kSections; ++s) {
      if (offset > completion[s]->seeded) total += counts[s];
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
  std::vector<std::vector<F>> scratch(n_parties + 1, std::vector<F>(kChunk));
  std::vector<F> double_secrets, bounded_secrets;
  std::vector<const F*> points;
  std::vector<F*> targets;
  for (std::size_t s = 0; s < kSections; ++s) {
    const std::size_t count = counts[s];
    if (count == 0) continue;
    const Completion& c = *completion[s];
    own[s].resize(count);
    targets.clear();
    for (std::size_t offset = c.seeded + 1; offset < n_parties; ++offset) {
      auto& out = outgoing[(self + offset) % n_parties];
      out.resize(out.size() + count);
      targets.push_back(out.data() + out.size() - count);
    }
    if (s == 1) double_secrets.resize(count);
    if (s == 4) bounded_secrets.resize(count);
    for (std::size_t begin = 0; begin < count; begin += kChunk) {
      const std::size_t length = std::min(kChunk, count - begin);
      // The free points: [the fixed secret], our own share, the seeded peers' shares.
      points.clear();
      if (c.fixed) {
        if (s == 2) {
          points.push_back(double_secrets.data() + begin);
        } else if (s == 3) {
          sample_bounded_into<F>(own_prg, std::span<F>(scratch[n_parties]).first(length), 1);
          points.push_back(scratch[n_parties].data());
        } else if (s == 4) {
          sample_bounded_into<F>(own_prg, std::span<F>(bounded_secrets).subspan(begin, length),
                                 request.bounded_bits);
          points.push_back(bounded_secrets.data() + begin);
        } else if (s == 5) {
          for (std::size_t i = 0; i < length; ++i) {
            scratch[n_parties][i] =
                from_unsigned<F>(to_unsigned(bounded_secrets[begin + i]) >> request.bounded_shift);
          }
          points.push_back(scratch[n_parties].data());
        }
      }
      sample_elements<F>(own_prg, std::span<F>(own[s]).subspan(begin, length));
      points.push_back(own[s].data() + begin);
      for (std::size_t offset = 1; offset <= c.seeded; ++offset) {
        sample_elements<F>(to_peer[offset - 1], std::span<F>(scratch[offset]).first(length));
        points.push_back(scratch[offset].data());
      }
      for (std::size_t t = 0; t < targets.size(); ++t) {
        linear_combination<F>(targets[t] + begin, length, c.peers[t], points);
      }
      if (s == 1) linear_combination<F>(double_secrets.data() + begin, length, c.secret, points);
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
  // apart (M the identity: dealer d's at d * count).
  std::vector<std::size_t> position(n_parties, 0);  // read position in each dealer's message
  const std::vector<std::vector<F>> sum_row{std::vector<F>(n_parties, F(1))};
  std::vector<std::vector<F>> unit_rows(n_parties, std::vector<F>(n_parties, F(0)));
  for (std::size_t d = 0; d < n_parties; ++d) unit_rows[d][d] = F(1);
  auto extract = [&](std::size_t s, std::size_t needed) {
    std::vector<F> out(needed);
    const std::size_t slots = counts[s];
    if (slots == 0) return out;
    const auto& rows = s == 3 ? unit_rows : s >= 4 ? sum_row : vandermonde_;
    std::vector<const F*> shares(n_parties);
    for (std::size_t begin = 0; begin < slots; begin += kChunk) {
      const std::size_t length = std::min(kChunk, slots - begin);
      for (net::PartyId dealer = 0; dealer < n_parties; ++dealer) {
        const std::size_t offset = (self + n_parties - dealer) % n_parties;
        if (dealer == self) {
          shares[dealer] = own[s].data() + begin;
        } else if (offset <= completion[s]->seeded) {
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
      const std::size_t offset = (self + n_parties - dealer) % n_parties;
      if (dealer != self && offset > completion[s]->seeded) position[dealer] += slots;
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
  BitsAndBounded parts = bits_and_bounded(n * width, n, kStatisticalSecurity);
  out.bits = std::move(parts.bits);
  out.high = std::move(parts.bounded);
  out.r.resize(n);
  const F scale = power_of_two<F>(low);
  for (std::size_t k = 0; k < n; ++k) {
    F value = out.high[k];
    for (std::size_t i = width; i-- > 0;) value = value + value + out.bits[k * width + i];
    out.r[k] = scale * value;
  }
  // The group products, two reductions for all masks: the pairs (of every group), then the
  // triples and the quadruple of each group of 4 from the pairs.
  const std::size_t groups = width / 4, pairs = 6 * groups + (width % 4 == 2 ? 1 : 0);
  const auto bit = [&](std::size_t k, std::size_t i) { return out.bits[k * width + i]; };
  std::vector<F> products(n * pairs);  // [b_i b_j]_2t, WindowMasks' order of the pairs
  for (std::size_t k = 0, next = 0; k < n; ++k) {
    for (std::size_t group = 0; group < width; group += 4) {
      const std::size_t group_bits = std::min<std::size_t>(4, width - group);
      for (const unsigned m : group_subsets(group_bits)) {
        if (std::popcount(m) != 2) continue;
        const auto first = static_cast<std::size_t>(std::countr_zero(m));
        const auto second = static_cast<std::size_t>(std::bit_width(m) - 1);
        products[next++] = bit(k, group + first) * bit(k, group + second);
      }
    }
  }
  const std::vector<F> pair_products =
      reduction_.reduce(std::move(products), "dealer-free window masks: pairs");
  // Per group of 4, the pairs in order are 01 02 12 03 13 23 (m = 3 5 6 9 10 12); the others:
  // 012 = 01 b_2, 013 = 01 b_3, 023 = 02 b_3, 123 = 12 b_3, 0123 = 01 23.
  products.assign(n * groups * 5, F(0));
  for (std::size_t k = 0, next = 0; k < n; ++k) {
    for (std::size_t g = 0; g < groups; ++g) {
      const F* pair = pair_products.data() + k * pairs + 6 * g;
      const F b2 = bit(k, 4 * g + 2), b3 = bit(k, 4 * g + 3);
      products[next++] = pair[0] * b2;
      products[next++] = pair[0] * b3;
      products[next++] = pair[1] * b3;
      products[next++] = pair[2] * b3;
      products[next++] = pair[0] * pair[5];
    }
  }
  constexpr std::string_view kHigherStep = "dealer-free window masks: triples and quadruples";
  const std::vector<F> higher =
      groups == 0 ? std::vector<F>{} : reduction_.reduce(std::move(products), kHigherStep);
  // Interleave in WindowMasks' order: m = 3 5 6 [7] 9 10 [11] 12 [13 14 15].
  constexpr std::array<int, 11> kFromHigher = {-1, -1, -1, 0, -1, -1, 1, -1, 2, 3, 4};
  constexpr std::array<int, 11> kFromPairs = {0, 1, 2, -1, 3, 4, -1, 5, -1, -1, -1};
  out.products.resize(n * window_products(width));
  for (std::size_t k = 0, next = 0; k < n; ++k) {
    for (std::size_t g = 0; g < groups; ++g) {
      for (std::size_t rank = 0; rank < 11; ++rank) {
        out.products[next++] =
            kFromPairs[rank] >= 0
                ? pair_products[k * pairs + 6 * g + static_cast<std::size_t>(kFromPairs[rank])]
                : higher[(k * groups + g) * 5 + static_cast<std::size_t>(kFromHigher[rank])];
      }
    }
    if (width % 4 == 2) out.products[next++] = pair_products[k * pairs + 6 * groups];
  }
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
