#include "mpc/ops.hpp"

#include <bit>
#include <stdexcept>
#include <string>

namespace sm::mpc {

namespace {

// 1 where bit `b` of `c` is set, as an element.
template <class E>
std::vector<E> bit_column(std::span<const u128> c, int b) {
  std::vector<E> out(c.size());
  for (std::size_t k = 0; k < c.size(); ++k) out[k] = E((c[k] >> b) & 1);
  return out;
}

}  // namespace

template <Engine En>
typename En::Shares mul(En& engine, const typename En::Shares& x, const typename En::Shares& y,
                        std::string_view step) {
  return mul_with(engine, x, y, engine.correlations().triples(x.size()), step);
}

template <Engine En>
typename En::Shares mul_with(En& engine, const typename En::Shares& x, const typename En::Shares& y,
                             const Triples<typename En::Element>& triples, std::string_view step) {
  using E = typename En::Element;
  const std::size_t n = x.size();
  if (y.size() != n || triples.a.size() != n) throw std::invalid_argument("mul: lengths differ");
  // Open d = x - a and e = y - b in one round.
  std::vector<E> masked(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    masked[i] = x.values[i] - triples.a[i];
    masked[n + i] = y.values[i] - triples.b[i];
  }
  const auto opened = engine.open(typename En::Shares{std::move(masked)}, step);
  // xy = c + d b + e a + d e.
  std::vector<E> z(n), de(n);
  for (std::size_t i = 0; i < n; ++i) {
    const E d = opened[i], e = opened[n + i];
    z[i] = triples.c[i] + d * triples.b[i] + e * triples.a[i];
    de[i] = d * e;
  }
  return engine.add_public(typename En::Shares{std::move(z)}, de);
}

template <Engine En>
typename En::Shares matmul(En& engine, const typename En::Shares& a, const typename En::Shares& b,
                           std::size_t rows, std::size_t inner, std::size_t cols,
                           std::string_view step) {
  return matmul_with(engine, a, b, engine.correlations().matrix_triple(rows, inner, cols), step);
}

template <Engine En>
typename En::Shares matmul_with(En& engine, const typename En::Shares& a,
                                const typename En::Shares& b,
                                const MatrixTriple<typename En::Element>& triple,
                                std::string_view step) {
  using E = typename En::Element;
  const std::size_t rows = triple.rows, inner = triple.inner, cols = triple.cols;
  if (a.size() != rows * inner || b.size() != inner * cols) {
    throw std::invalid_argument("matmul: shapes do not match the matrix triple");
  }
  std::vector<E> masked(rows * inner + inner * cols);
  for (std::size_t i = 0; i < rows * inner; ++i) masked[i] = a.values[i] - triple.a[i];
  for (std::size_t i = 0; i < inner * cols; ++i) {
    masked[rows * inner + i] = b.values[i] - triple.b[i];
  }
  const auto opened = engine.open(typename En::Shares{std::move(masked)}, step);
  const std::span<const E> d(opened.data(), rows * inner);
  const std::span<const E> e(opened.data() + rows * inner, inner * cols);
  // AB = C + D V + U E + D E, with D = A - U and E = B - V public.
  std::vector<E> result = triple.c;
  const auto dv = matmul_plain<E>(d, triple.b, rows, inner, cols);
  const auto ue = matmul_plain<E>(triple.a, e, rows, inner, cols);
  for (std::size_t i = 0; i < result.size(); ++i) result[i] += dv[i] + ue[i];
  return engine.add_public(typename En::Shares{std::move(result)},
                           matmul_plain<E>(d, e, rows, inner, cols));
}

template <Engine En>
typename En::Shares dot(En& engine, const typename En::Shares& x, const typename En::Shares& y,
                        std::string_view step) {
  return matmul(engine, x, y, 1, x.size(), 1, step);
}

template <Engine En>
typename En::Shares fixed_mul(En& engine, const typename En::Shares& x,
                              const typename En::Shares& y, std::string_view step) {
  return engine.trunc(mul(engine, x, y, step), engine.session().fixed().frac_bits, step);
}

template <Engine En>
typename En::Shares bit_xor(En& engine, const typename En::Shares& a, const typename En::Shares& b,
                            std::string_view step) {
  using E = typename En::Element;
  const auto ab = mul(engine, a, b, step);
  return sub(add(a, b), scale(ab, E(2)));
}

template <Engine En>
typename En::Shares bit_less_than(En& engine, std::span<const u128> c,
                                  const typename En::Shares& bits, std::size_t width,
                                  std::string_view step) {
  using E = typename En::Element;
  using Shares = typename En::Shares;
  const std::size_t n = c.size();
  if (bits.size() != n * width) throw std::invalid_argument("bit_less_than: bits do not match");
  // prefix[k * width + j]: OR of the bits where c and r differ, from the top bit down to bit
  // width-1-j. Start with the differences e = c XOR r (linear, c being public).
  std::vector<E> diff(n * width), public_diff(n * width);
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t j = 0; j < width; ++j) {
      const std::size_t bit = width - 1 - j;
      const bool c_bit = (c[k] >> bit) & 1;
      diff[k * width + j] = c_bit ? -bits.values[k * width + bit] : bits.values[k * width + bit];
      public_diff[k * width + j] = E(c_bit ? 1 : 0);
    }
  }
  Shares prefix = engine.add_public(Shares{std::move(diff)}, public_diff);

  // Sklansky prefix-OR: at level s, every position in the upper half of a block of 2s ORs in
  // the last position of the lower half. OR(a, b) = a + b - ab.
  for (std::size_t s = 1; s < width; s *= 2) {
    std::vector<std::size_t> targets, sources;
    for (std::size_t j = 0; j < width; ++j) {
      if (j & s) {
        targets.push_back(j);
        sources.push_back((j & ~(2 * s - 1)) + s - 1);
      }
    }
    Shares x, y;
    x.values.reserve(n * targets.size());
    y.values.reserve(n * targets.size());
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t t = 0; t < targets.size(); ++t) {
        x.values.push_back(prefix.values[k * width + targets[t]]);
        y.values.push_back(prefix.values[k * width + sources[t]]);
      }
    }
    const Shares xy = mul(engine, x, y, step);
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t t = 0; t < targets.size(); ++t) {
        const std::size_t i = k * targets.size() + t;
        prefix.values[k * width + targets[t]] = x.values[i] + y.values[i] - xy.values[i];
      }
    }
  }

  // The first difference from the top is at j where prefix steps from 0 to 1; there r's bit is
  // the opposite of c's, so [c < r] = sum_j (prefix_j - prefix_{j-1}) (1 - c_bit(j)).
  std::vector<E> result(n);
  for (std::size_t k = 0; k < n; ++k) {
    E sum(0);
    for (std::size_t j = 0; j < width; ++j) {
      const std::size_t bit = width - 1 - j;
      if ((c[k] >> bit) & 1) continue;
      sum += prefix.values[k * width + j];
      if (j > 0) sum -= prefix.values[k * width + j - 1];
    }
    result[k] = sum;
  }
  return Shares{std::move(result)};
}

template <Engine En>
typename En::Shares less_than(En& engine, const typename En::Shares& x,
                              const typename En::Shares& y, std::string_view step) {
  return engine.less_than_zero(sub(x, y), step);
}

template <Engine En>
typename En::Shares greater_than(En& engine, const typename En::Shares& x,
                                 const typename En::Shares& y, std::string_view step) {
  return engine.less_than_zero(sub(y, x), step);
}

template <Engine En>
typename En::Shares select(En& engine, const typename En::Shares& cond,
                           const typename En::Shares& a, const typename En::Shares& b,
                           std::string_view step) {
  return add(b, mul(engine, cond, sub(a, b), step));
}

template <Engine En>
typename En::Shares max(En& engine, const typename En::Shares& x, const typename En::Shares& y,
                        std::string_view step) {
  return select(engine, less_than(engine, x, y, step), y, x, step);
}

template <Engine En>
typename En::Shares clamp(En& engine, const typename En::Shares& x, typename En::Element low,
                          typename En::Element high, std::string_view step) {
  using E = typename En::Element;
  using Shares = typename En::Shares;
  const std::size_t n = x.size();
  // Both comparisons in one call: [x - low < 0] and [high - x < 0]; they never hold together
  // (low <= high), so x + below (low - x) + above (high - x) is the clamped value.
  const Shares below_low = engine.add_public(x, std::vector<E>(n, -low));
  const Shares above_high = engine.add_public(neg(x), std::vector<E>(n, high));
  const Shares flags = engine.less_than_zero(concat(below_low, above_high), step);
  const Shares corrections = mul(engine, flags, concat(neg(below_low), above_high), step);
  return add(add(x, slice(corrections, 0, n)), slice(corrections, n, n));
}

#define SM_INSTANTIATE_OPS(En)                                                                    \
  template En::Shares mul(En&, const En::Shares&, const En::Shares&, std::string_view);           \
  template En::Shares mul_with(En&, const En::Shares&, const En::Shares&,                         \
                               const Triples<En::Element>&, std::string_view);                    \
  template En::Shares matmul(En&, const En::Shares&, const En::Shares&, std::size_t, std::size_t, \
                             std::size_t, std::string_view);                                      \
  template En::Shares matmul_with(En&, const En::Shares&, const En::Shares&,                      \
                                  const MatrixTriple<En::Element>&, std::string_view);            \
  template En::Shares dot(En&, const En::Shares&, const En::Shares&, std::string_view);           \
  template En::Shares fixed_mul(En&, const En::Shares&, const En::Shares&, std::string_view);     \
  template En::Shares bit_xor(En&, const En::Shares&, const En::Shares&, std::string_view);       \
  template En::Shares bit_less_than(En&, std::span<const u128>, const En::Shares&, std::size_t,   \
                                    std::string_view);                                            \
  template En::Shares less_than(En&, const En::Shares&, const En::Shares&, std::string_view);     \
  template En::Shares greater_than(En&, const En::Shares&, const En::Shares&, std::string_view);  \
  template En::Shares select(En&, const En::Shares&, const En::Shares&, const En::Shares&,        \
                             std::string_view);                                                   \
  template En::Shares max(En&, const En::Shares&, const En::Shares&, std::string_view);           \
  template En::Shares clamp(En&, const En::Shares&, En::Element, En::Element, std::string_view);

SM_INSTANTIATE_OPS(AdditiveEngine)
SM_INSTANTIATE_OPS(ShamirEngine<Fp61>)
SM_INSTANTIATE_OPS(ShamirEngine<Fp127>)

#undef SM_INSTANTIATE_OPS

}  // namespace sm::mpc
