#include "mpc/local_dealer.hpp"

#include <stdexcept>
#include <string>

#include "mpc/elements.hpp"
#include "mpc/session.hpp"
#include "mpc/window_masks.hpp"

namespace sm::mpc {

namespace {

template <class E>
std::vector<E> random_bit_values(Prg& prg, std::size_t n) {
  return sample_bounded<E>(prg, n, 1);
}

}  // namespace

template <class E>
LocalDealerUnsafe<E>::LocalDealerUnsafe(const Seed& common_seed, net::PartyId self,
                                        std::size_t parties, std::size_t threshold, int value_bits)
    : prg_(common_seed),
      self_(self),
      parties_(parties),
      threshold_(threshold),
      value_bits_(value_bits) {
  if constexpr (!std::is_same_v<E, Ring64>) codec_.emplace(parties, threshold);
}

template <class E>
std::vector<E> LocalDealerUnsafe<E>::split(const std::vector<E>& secrets) {
  if constexpr (std::is_same_v<E, Ring64>) {
    // Every party expands all N-1 pseudo-random shares, so that all parties' PRGs stay at the
    // same position for the next batch.
    std::vector<E> first = secrets, own;
    for (net::PartyId party = 1; party < parties_; ++party) {
      std::vector<E> share = prg_.sample<E>(secrets.size());
      for (std::size_t i = 0; i < secrets.size(); ++i) first[i] -= share[i];
      if (party == self_) own = std::move(share);
    }
    return self_ == 0 ? first : own;  // party 0: the secret minus everybody else's share
  } else {
    return std::move(codec_->share(secrets, prg_)[self_]);
  }
}

template <class E>
std::vector<typename LocalDealerUnsafe<E>::Bit> LocalDealerUnsafe<E>::split_bits(
    const std::vector<Bit>& secrets, bool double_degree) {
  if constexpr (std::is_same_v<Bit, E>) {
    if (!double_degree) return split(secrets);
  }
  if constexpr (std::is_same_v<E, Ring64>) {
    throw std::logic_error("LocalDealerUnsafe: no sharing of degree 2t over Z_2^64");
  } else {
    const ShamirCodec<Bit> codec(parties_, double_degree ? 2 * threshold_ : threshold_);
    return std::move(codec.share(secrets, prg_)[self_]);
  }
}

template <class E>
Triples<E> LocalDealerUnsafe<E>::triples(std::size_t n) {
  const auto a = prg_.sample<E>(n);
  const auto b = prg_.sample<E>(n);
  const auto c = mul_vec<E>(a, b);
  return {split(a), split(b), split(c)};
}

template <class E>
MatrixTriple<E> LocalDealerUnsafe<E>::matrix_triple(std::size_t rows, std::size_t inner,
                                                    std::size_t cols) {
  const auto a = prg_.sample<E>(rows * inner);
  const auto b = prg_.sample<E>(inner * cols);
  const auto c = matmul_plain<E>(a, b, rows, inner, cols);
  return {rows, inner, cols, split(a), split(b), split(c)};
}

template <class E>
TruncMasks<E> LocalDealerUnsafe<E>::trunc_masks(std::size_t n, int frac_bits) {
  TruncMasks<E> masks;
  if constexpr (std::is_same_v<E, Ring64>) {
    const auto r = prg_.sample<E>(n);
    std::vector<E> high(n), msb(n);
    for (std::size_t i = 0; i < n; ++i) {
      high[i] = Ring64((r[i].value() & ~(std::uint64_t{1} << 63)) >> frac_bits);
      msb[i] = Ring64(r[i].value() >> 63);
    }
    masks = {split(r), split(high), split(msb)};
  } else {
    const auto r = sample_bounded<E>(prg_, n, value_bits_ + kStatisticalSecurity);
    std::vector<E> high(n);
    for (std::size_t i = 0; i < n; ++i) high[i] = from_unsigned<E>(to_unsigned(r[i]) >> frac_bits);
    masks = {split(r), split(high), {}};
  }
  return masks;
}

template <class E>
BitMasks<E> LocalDealerUnsafe<E>::bit_masks(std::size_t n, std::size_t width) {
  const auto bits = random_bit_values<E>(prg_, n * width);
  std::vector<E> high = std::is_same_v<E, Ring64>
                            ? std::vector<E>(n)
                            : sample_bounded<E>(prg_, n, kStatisticalSecurity);
  return {width, split(bits), split(high)};
}

template <class E>
std::vector<E> LocalDealerUnsafe<E>::random_bits(std::size_t n) {
  return split(random_bit_values<E>(prg_, n));
}

template <class E>
WindowMasks<E> LocalDealerUnsafe<E>::window_masks(std::size_t n, int low, std::size_t width) {
  std::string problem = window_problem(low, width);
  if (problem.empty() && !kUniformMasks<E> &&
      low + static_cast<std::int64_t>(width) > value_bits_) {
    problem = "window ends above the " + std::to_string(value_bits_) + " value bits";
  }
  if (!problem.empty()) throw std::invalid_argument("window_masks: " + problem);
  std::vector<E> r, high;
  std::vector<Bit> bits(n * width);
  if constexpr (kUniformMasks<E>) {
    r = prg_.sample<E>(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::uint64_t window = r[k].value() >> low;
      for (std::size_t i = 0; i < width; ++i) bits[k * width + i] = Bit((window >> i) & 1);
    }
  } else {
    bits = random_bit_values<Bit>(prg_, n * width);
    high = sample_bounded<E>(prg_, n, kStatisticalSecurity);
    r.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      E value = high[k];
      for (std::size_t i = width; i-- > 0;) value = value + value + E(bits[k * width + i].value());
      r[k] = power_of_two<E>(low) * value;
    }
  }
  std::vector<Bit> products(n * window_products<E>(width));
  derive_group_products<Bit>(bits, width, products);
  return {low, width, split(r), split_bits(bits), split_bits(products), split(high)};
}

template <class E>
SwitchMasks<E> LocalDealerUnsafe<E>::switch_masks(std::size_t n, int bits) {
  if constexpr (std::is_same_v<Bit, E>) {
    return CorrelationSource<E>::switch_masks(n, bits);
  } else {
    check_switch_bits(bits, parties_);
    const auto rho = sample_bounded<E>(prg_, n, bits);
    return {split_bits(same_integers<Bit, E>(rho), true), split(rho)};
  }
}

template <class E>
MaskedMatrix<E> LocalDealerUnsafe<E>::masked_matrix(std::size_t rows, std::size_t cols) {
  matrices_.push_back(prg_.sample<E>(rows * cols));
  return {matrices_.size() - 1, rows, cols, split(matrices_.back())};
}

template <class E>
std::vector<MaskedProducts<E>> LocalDealerUnsafe<E>::masked_products(
    const MaskedMatrix<E>& matrix, std::span<const std::vector<std::size_t>> subsets) {
  if (matrix.id >= matrices_.size()) {
    throw std::invalid_argument("masked_products: unknown masked matrix");
  }
  const std::vector<E>& u = matrices_[matrix.id];
  const std::size_t cols = matrix.cols;
  std::vector<MaskedProducts<E>> out;
  for (const auto& rows : subsets) {
    std::vector<E> ub;
    ub.reserve(rows.size() * cols);
    for (std::size_t r : rows) {
      if (r >= matrix.rows) throw std::invalid_argument("masked_products: row outside the matrix");
      ub.insert(ub.end(), u.begin() + static_cast<std::ptrdiff_t>(r * cols),
                u.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols));
    }
    const auto v = prg_.sample<E>(cols);
    const auto vt = prg_.sample<E>(rows.size());
    const auto z = matmul_plain<E>(ub, v, rows.size(), cols, 1);
    const auto zt = matmul_plain<E>(vt, ub, 1, rows.size(), cols);
    out.push_back({split(v), split(z), split(vt), split(zt)});
  }
  return out;
}

template class LocalDealerUnsafe<Ring64>;
template class LocalDealerUnsafe<Fp61>;
template class LocalDealerUnsafe<Fp127>;

}  // namespace sm::mpc
