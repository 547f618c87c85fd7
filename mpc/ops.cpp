#include "mpc/ops.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace sm::mpc {

namespace {

// rank[m]: the position of subset m (two or more bits) among a group's products (WindowMasks),
// for groups of 3 (m < 8) and of 4 bits alike.
constexpr std::array<std::size_t, 16> kProductRank = {0, 0, 0, 0, 0, 1, 2, 3,
                                                      0, 4, 5, 6, 7, 8, 9, 10};

// 1 where bit `b` of `c` is set, as an element.
template <class E>
std::vector<E> bit_column(std::span<const u128> c, int b) {
  std::vector<E> out(c.size());
  for (std::size_t k = 0; k < c.size(); ++k) out[k] = E((c[k] >> b) & 1);
  return out;
}

// Engines that open degree-2t sharings (ShamirEngine): comparison_tree's root masks.
template <class En>
concept OpensDegree2t = requires(En& engine, const typename En::Shares& x, std::string_view step) {
  engine.open_degree_2t(x, step);
};

}  // namespace

template <Engine En>
typename En::Shares mul(En& engine, const typename En::Shares& x, const typename En::Shares& y,
                        std::string_view step) {
  if constexpr (MultipliesWithoutTriples<En>) {
    return engine.mul(x, y, step);
  } else {
    return mul_with(engine, x, y, engine.correlations().triples(x.size()), step);
  }
}

template <Engine En>
typename En::Shares mul_with(En& engine, const typename En::Shares& x, const typename En::Shares& y,
                             Triples<typename En::Element> triples, std::string_view step) {
  // AdditiveEngine has its own: it forms the products within the streamed opening.
  if constexpr (requires { engine.mul_with(x, y, std::move(triples), step); }) {
    return engine.mul_with(x, y, std::move(triples), step);
  }
  using E = typename En::Element;
  const std::size_t n = x.size();
  if (y.size() != n || triples.a.size() != n) throw std::invalid_argument("mul: lengths differ");
  // Open d = x - a and e = y - b in one round.
  std::vector<E> masked(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    masked[i] = x.values[i] - triples.a[i];
    masked[n + i] = y.values[i] - triples.b[i];
  }
  std::vector<E> opened = engine.open(typename En::Shares{std::move(masked)}, step);
  // xy = c + d b + e a + d e; the public d e takes d's place in `opened`.
  std::vector<E> z(n);
  for (std::size_t i = 0; i < n; ++i) {
    const E d = opened[i], e = opened[n + i];
    z[i] = triples.c[i] + d * triples.b[i] + e * triples.a[i];
    opened[i] = d * e;
  }
  return engine.add_public(typename En::Shares{std::move(z)},
                           std::span<const E>(opened.data(), n));
}

template <Engine En>
typename En::Shares matmul(En& engine, const typename En::Shares& a, const typename En::Shares& b,
                           std::size_t rows, std::size_t inner, std::size_t cols,
                           std::string_view step) {
  if constexpr (MultipliesWithoutTriples<En>) {
    return engine.matmul(a, b, rows, inner, cols, step);
  } else {
    return matmul_with(engine, a, b, engine.correlations().matrix_triple(rows, inner, cols), step);
  }
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
typename En::Shares trunc_sum_of_products(En& engine, const typename En::Shares& x,
                                          const typename En::Shares& y,
                                          const typename En::Shares& c, int bits,
                                          std::string_view step) {
  if constexpr (TruncatesSumsOfProducts<En>) {
    return engine.trunc_sum_of_products(x, y, c, bits, step);
  } else {
    const std::size_t n = c.size(), pieces = product_pieces(x.size(), y.size(), n);
    const auto products = mul(engine, x, y, step);
    auto sum = c;
    for (std::size_t k = 0; k < pieces; ++k) sum = add(sum, slice(products, k * n, n));
    return engine.trunc(sum, bits, step);
  }
}

template <Engine En>
typename En::Shares bit_xor(En& engine, const typename En::Shares& a, const typename En::Shares& b,
                            std::string_view step) {
  using E = typename En::Element;
  const auto ab = mul(engine, a, b, step);
  return sub(add(a, b), scale(ab, E(2)));
}

template <Engine En>
ComparisonTree<typename En::Shares> comparison_tree(En& engine, std::span<const u128> c,
                                                    const typename En::Shares& bits,
                                                    std::size_t width,
                                                    const typename En::Shares* top,
                                                    std::string_view step,
                                                    const typename En::Shares* group_products,
                                                    const typename En::Shares* root_masks) {
  using E = typename En::Element;
  using Shares = typename En::Shares;
  const std::size_t n = c.size();
  if (root_masks != nullptr &&
      (!OpensDegree2t<En> || top != nullptr || root_masks->size() != n)) {
    throw std::invalid_argument(
        "comparison_tree: root masks need an engine that opens degree-2t sharings, no top bits "
        "and one mask per element");
  }
  // The result from the root's lt (and tl): with root masks, lt + mask opened.
  const auto finish = [&](Shares root_lt, Shares root_tl) -> ComparisonTree<Shares> {
    if constexpr (OpensDegree2t<En>) {
      if (root_masks != nullptr) {
        return {{}, {}, engine.open_degree_2t(add(root_lt, *root_masks), step)};
      }
    }
    return {std::move(root_lt), std::move(root_tl), {}};
  };
  if (width == 0) {
    if (bits.size() != 0) throw std::invalid_argument("bit_less_than: bits do not match");
    return finish(engine.constant(std::vector<E>(n, E(0))), {});
  }
  // c[k] is compared with mask k mod masks.
  const std::size_t masks = bits.size() / width;
  if (bits.size() % width != 0 || (masks == 0 ? n != 0 : n % masks != 0)) {
    throw std::invalid_argument("bit_less_than: bits do not match");
  }
  if (top != nullptr && (width % 2 == 0 || top->size() != n)) {
    throw std::invalid_argument(
        "comparison_tree: a top bit needs an odd width and one per element");
  }
  // A node covers a run of bits and holds lt = [c < r] and eq = [c == r] on that run; the node
  // above a high run H and a low run L has lt = lt_H + eq_H lt_L (the two terms exclude each
  // other) and eq = eq_H eq_L. Node j of a level covers bits [j s, j s + s) of each element
  // (s = 2^level, or G 2^(level - 2) from group products of G-bit groups); nodes[k * count + j]
  // are element k's. With a top bit t, the topmost node T of
  // every level also carries tq = t eq_T and tl = t lt_T: one level up they become tq eq_L and
  // tl + tq lt_L, two more products per element (one at the root, where tq is not needed).
  // Leaves, linear in r's bits because c is public: lt = (1 - c_i) r_i, eq = c_i ? r_i : 1 - r_i.
  const auto bit = [&](std::size_t k, std::size_t i) { return static_cast<bool>((c[k] >> i) & 1); };
  const auto r = [&](std::size_t k, std::size_t i) {
    return bits.values[(k % masks) * width + i];
  };
  const E one(1), zero(0);
  // eq of leaf i as a + s r_i: (a, s) = (0, 1) if c_i else (1, -1).
  const auto leaf_a = [&](bool c_bit) { return c_bit ? zero : one; };
  const auto leaf_s = [&](bool c_bit) { return c_bit ? one : -one; };

  Shares lt, eq, tq, tl;
  std::size_t count = 0, span = 0;  // nodes per element and bits per node, of the current level
  if (group_products != nullptr) {
    // Level 2 without communication. The group's bits (with t for the topmost) and their
    // products give every indicator J[v] = [the group's bits, t as bit `run`, equal v] as a
    // signed sum of them (the superset Moebius transform: b 2^(b-1) subtractions for b bits with
    // t), once per
    // mask and group; then, for c's bits u over the run, eq = J[u] and lt = sum_(v > u) J[v]
    // (a suffix sum), summed over t = 0, 1 for the topmost, where also tq = J[u + T] and
    // tl = sum_(v > u) J[v + T], T = 2^run. Only J[0] has a public part (1): eq's, where u = 0.
    const std::size_t window = width + (top != nullptr ? 1 : 0);
    const std::size_t per_mask = window_products<E>(window);
    if (window % 2 != 0 || group_products->size() != masks * per_mask) {
      throw std::invalid_argument("comparison_tree: group products do not match the bits");
    }
    // Groups of G bits over the window; with a top bit, the topmost group holds it (after the
    // group's run of 0 to G bits of r).
    const std::size_t group_bits = window_group_bits<E>(window);
    const std::size_t per_group = (std::size_t{1} << group_bits) - group_bits - 1;
    count = (window + group_bits - 1) / group_bits;
    span = group_bits;
    lt.values.resize(n * count);
    eq.values.resize(n * count);
    std::vector<E> eq_public(n * count);
    if (top != nullptr) {
      tq.values.resize(n);
      tl.values.resize(n);
    }
    std::array<E, 16> indicator, eq_of, lt_of, tq_of, tl_of;  // by pattern
    for (std::size_t mask = 0; mask < masks; ++mask) {
      for (std::size_t g = 0; g < count; ++g) {
        const std::size_t first = group_bits * g;
        const std::size_t run = std::min(group_bits, width - first);
        const bool has_top = top != nullptr && g + 1 == count;
        const unsigned patterns = 1u << (run + (has_top ? 1 : 0)), runs = 1u << run;
        const E* products = group_products->values.data() + mask * per_mask + per_group * g;
        indicator[0] = E(0);  // the monomial 1, public: left out
        for (unsigned m = 1; m < patterns; ++m) {
          if (std::popcount(m) >= 2) {
            indicator[m] = products[kProductRank[m]];
          } else {
            const auto l = static_cast<std::size_t>(std::countr_zero(m));
            indicator[m] = l == run ? top->values[mask] : bits.values[mask * width + first + l];
          }
        }
        for (unsigned bit = 1; bit < patterns; bit <<= 1) {
          for (unsigned m = 0; m < patterns; ++m) {
            if ((m & bit) == 0) indicator[m] -= indicator[m | bit];
          }
        }
        E above(0), top_above(0);  // suffix sums over v > u
        for (unsigned u = runs; u-- > 0;) {
          const E with_top = has_top ? indicator[u + runs] : E(0);
          eq_of[u] = indicator[u] + with_top;
          lt_of[u] = above;
          tq_of[u] = with_top;
          tl_of[u] = top_above;
          above += eq_of[u];
          top_above += with_top;
        }
        for (std::size_t k = mask; k < n; k += masks) {
          const auto u = static_cast<unsigned>((c[k] >> first) & (runs - 1));
          const std::size_t node = k * count + g;
          lt.values[node] = lt_of[u];
          eq.values[node] = eq_of[u];
          if (u == 0) eq_public[node] = E(1);
          if (has_top) {
            tq.values[k] = tq_of[u];
            tl.values[k] = tl_of[u];
          }
        }
      }
    }
    eq = engine.add_public(std::move(eq), eq_public);
  } else {
    // Level 1 from pairs of leaves needs one product per pair, r_H r_L, since eq = eq_H eq_L and
    // eq_H lt_L both expand to it (once per mask: it does not depend on c); with a top bit, also
    // t r_(width-1) for the lone top leaf.
    count = (width + 1) / 2;
    span = 2;
    const std::size_t pairs1 = width / 2;
    Shares products;
    if (pairs1 > 0 || top != nullptr) {
      Shares high, low;
      for (std::size_t k = 0; k < masks; ++k) {
        for (std::size_t j = 0; j < pairs1; ++j) {
          high.values.push_back(r(k, 2 * j + 1));
          low.values.push_back(r(k, 2 * j));
        }
      }
      if (top != nullptr) {
        for (std::size_t k = 0; k < n; ++k) {
          high.values.push_back(top->values[k]);
          low.values.push_back(r(k, width - 1));
        }
      }
      products = mul(engine, high, low, step);
    }
    std::vector<E> eq_public(n * count);  // eq's public part (lt has none)
    lt.values.resize(n * count);
    eq.values.resize(n * count);
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t j = 0; j < count; ++j) {
        const std::size_t node = k * count + j, lo = 2 * j;
        const bool c_lo = bit(k, lo);
        if (lo + 1 == width) {  // a lone top leaf
          lt.values[node] = c_lo ? zero : r(k, lo);
          eq.values[node] = leaf_s(c_lo) * r(k, lo);
          eq_public[node] = leaf_a(c_lo);
          continue;
        }
        const bool c_hi = bit(k, lo + 1);
        const E p = products.values[(k % masks) * pairs1 + j];
        const E r_hi = r(k, lo + 1), r_lo = r(k, lo);
        eq.values[node] = leaf_a(c_hi) * leaf_s(c_lo) * r_lo + leaf_a(c_lo) * leaf_s(c_hi) * r_hi +
                          leaf_s(c_hi) * leaf_s(c_lo) * p;
        eq_public[node] = leaf_a(c_hi) * leaf_a(c_lo);
        const E lt_hi = c_hi ? zero : r_hi;
        lt.values[node] = c_lo ? lt_hi : lt_hi + leaf_a(c_hi) * r_lo + leaf_s(c_hi) * p;
      }
    }
    eq = engine.add_public(std::move(eq), eq_public);
    if (top != nullptr) {
      tq.values.resize(n);
      tl.values.resize(n);
      for (std::size_t k = 0; k < n; ++k) {
        const bool c_top = bit(k, width - 1);
        const E p = products.values[masks * pairs1 + k];  // t r_(width-1)
        tq.values[k] = leaf_a(c_top) * top->values[k] + leaf_s(c_top) * p;
        tl.values[k] = c_top ? zero : p;
      }
    }
  }

  // Higher levels: two products per pair (lt needs eq_H lt_L, eq needs eq_H eq_L), one at the
  // root, where eq is not needed. A node's lt and eq depend only on its mask and the bits of c it
  // covers: where values share a mask (without top bits), a node whose run of c's bits equals
  // that of an earlier value with the same mask is copied from it instead of multiplied (c is
  // public, so which nodes are copied reveals nothing; less_than_thresholds' values differ
  // mostly in their low bits).
  // With root masks, every element's root is computed (one mask each) and its lt stays at degree
  // 2t (its products are not reduced).
  const bool share_nodes = top == nullptr && masks < n;
  constexpr std::size_t kComputed = static_cast<std::size_t>(-1);
  while (count > 1) {
    const std::size_t pairs = count / 2, next = (count + 1) / 2;
    const bool root = next == 1;
    const bool open_root = root && root_masks != nullptr;
    const std::size_t per_pair = root ? 1 : 2;
    const std::size_t next_span = 2 * span;
    // source[k * pairs + j]: the earlier value whose pair j is the same, or kComputed.
    std::vector<std::size_t> source(n * pairs, kComputed);
    if (share_nodes && !open_root) {
      const auto run = [&](std::size_t k, std::size_t j) {
        const std::size_t begin = j * next_span;
        return next_span >= 128 ? c[k] >> begin : (c[k] >> begin) & ((u128{1} << next_span) - 1);
      };
      for (std::size_t k = masks; k < n; ++k) {
        for (std::size_t j = 0; j < pairs; ++j) {
          for (std::size_t other = k % masks; other < k; other += masks) {
            if (run(other, j) == run(k, j)) {
              source[k * pairs + j] = other;
              break;
            }
          }
        }
      }
    }
    // With a top bit and an even count, the top node combines with the one below it.
    const bool top_moves = top != nullptr && count % 2 == 0;
    Shares x, y;
    const std::size_t most = (n * pairs + (top_moves ? n : 0)) * per_pair;
    x.values.reserve(most);
    y.values.reserve(most);
    std::vector<std::size_t> position(n * pairs, kComputed);  // of a computed pair in xy
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t j = 0; j < pairs; ++j) {
        if (source[k * pairs + j] != kComputed) continue;
        position[k * pairs + j] = x.values.size();
        const std::size_t hi = k * count + 2 * j + 1, lo = k * count + 2 * j;
        x.values.push_back(eq.values[hi]);
        y.values.push_back(lt.values[lo]);
        if (!root) {
          x.values.push_back(eq.values[hi]);
          y.values.push_back(eq.values[lo]);
        }
      }
    }
    const std::size_t pair_products = x.values.size();
    if (top_moves) {
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t lo = k * count + count - 2;
        x.values.push_back(tq.values[k]);
        y.values.push_back(lt.values[lo]);
        if (!root) {
          x.values.push_back(tq.values[k]);
          y.values.push_back(eq.values[lo]);
        }
      }
    }
    const Shares xy = open_root ? Shares{mul_vec<E>(x.values, y.values)} : mul(engine, x, y, step);
    Shares next_lt, next_eq;
    next_lt.values.resize(n * next);
    next_eq.values.resize(root ? 0 : n * next);
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t j = 0; j < next; ++j) {
        const std::size_t node = k * next + j;
        if (2 * j + 1 == count) {  // a lone top node moves up unchanged
          next_lt.values[node] = lt.values[k * count + 2 * j];
          if (!root) next_eq.values[node] = eq.values[k * count + 2 * j];
          continue;
        }
        if (const std::size_t other = source[k * pairs + j]; other != kComputed) {
          next_lt.values[node] = next_lt.values[other * next + j];
          if (!root) next_eq.values[node] = next_eq.values[other * next + j];
          continue;
        }
        const std::size_t i = position[k * pairs + j];
        next_lt.values[node] = lt.values[k * count + 2 * j + 1] + xy.values[i];
        if (!root) next_eq.values[node] = xy.values[i + 1];
      }
      if (top_moves) {
        const std::size_t i = pair_products + k * per_pair;
        tl.values[k] += xy.values[i];
        if (!root) tq.values[k] = xy.values[i + 1];
      }
    }
    lt = std::move(next_lt);
    eq = std::move(next_eq);
    count = next;
    span = next_span;
  }
  return finish(std::move(lt), std::move(tl));
}

template <Engine En>
typename En::Shares bit_less_than(En& engine, std::span<const u128> c,
                                  const typename En::Shares& bits, std::size_t width,
                                  std::string_view step) {
  return comparison_tree(engine, c, bits, width, nullptr, step).lt;
}

// std::invalid_argument unless 2 <= bits <= value_bits and coarse_bits = 0 or 1 <= coarse_bits
// <= bits - 3 (less_than_thresholds' arguments).
template <Engine En>
void check_comparison_bits(En& engine, int bits, int coarse_bits) {
  if (bits < 2 || bits > engine.value_bits() || coarse_bits < 0 ||
      coarse_bits > std::max(0, bits - 3)) {
    throw std::invalid_argument("less_than_thresholds: bits " + std::to_string(bits) +
                                " outside 2.." + std::to_string(engine.value_bits()) +
                                " or coarse bits " + std::to_string(coarse_bits) + " outside 0.." +
                                std::to_string(std::max(0, bits - 3)));
  }
}

// less_than_thresholds over a prime field (ShamirEngine), below. With `reduced` (engines that
// open products only), x is given at degree 2t and opened as such (open_products), and
// *reduced receives x at degree t: the opened value less the offset and the mask's shares.
template <Engine En>
typename En::Shares field_less_than_thresholds(En& engine, const typename En::Shares& x,
                                               std::span<const std::int64_t> thresholds,
                                               int bits, int coarse_bits, std::string_view step,
                                               typename En::Shares* reduced) {
  using E = typename En::Element;
  using Shares = typename En::Shares;
  const std::size_t n = x.size();
  // The mask of x[i]: R = l + 2^m (b + 2^w H), m = coarse_bits, w the even one of
  // bits - 1 - m and bits - m, T = m + w, with b's w bits shared one by one and with their
  // group products (a field WindowMasks: b, H, r = 2^m (b + 2^w H)) and l = r' - 2^m high' of a
  // truncation mask (|l| < N 2^m; none for m = 0). c = x + 2^T + N 2^m + R is opened once for
  // all thresholds. For threshold a, u = x - a + 2^T (in [N 2^m, 2^(T+1) - N 2^m] within the
  // bound, as T >= bits - 1) and c_a = (c - a) >> m, minus N: c_a = v + b + 2^w H with
  // v = floor((u + l) / 2^m) in [0, 2^(w+1)). Then [x < a] = [v < 2^w] (exactly when
  // |x - a| >= N 2^m) = 1 - floor(v / 2^w) = 1 - floor(c_a / 2^w) + H + [c_a mod 2^w < b]
  // (Catrina and de Hoogh, SCN 2010, on the w bits above m); the comparison tree's first two
  // levels come from the group products.
  const std::size_t parties = engine.session().parties();
  const int m = coarse_bits;
  const int top_bit = (bits - 1 - m) % 2 == 0 ? bits - 1 : bits;  // T = m + w
  const auto width = static_cast<std::size_t>(top_bit - m);
  CorrelationSource<E>& source = engine.correlations();
  WindowMasks<E> masks = source.window_masks(n, m, width);
  std::vector<E> mask_shares = std::move(masks.r);  // R = r + l
  if (m > 0) {
    const E unit = power_of_two<E>(m);
    const TruncMasks<E> low = source.trunc_masks(n, m);
    for (std::size_t i = 0; i < n; ++i) mask_shares[i] += low.r[i] - unit * low.high[i];
  }
  std::vector<E> masked = add_vec<E>(x.values, mask_shares);
  const u128 carry_room = m > 0 ? parties : 0;  // N, so that u + N 2^m + l >= 0
  const E offset = power_of_two<E>(top_bit) + from_unsigned<E>(carry_room << m);
  Shares opened_value = engine.add_public(Shares{std::move(masked)}, std::vector<E>(n, offset));
  std::vector<E> c;
  if (reduced == nullptr) {
    c = engine.open(std::move(opened_value), step);
  } else if constexpr (OpensProducts<En>) {
    c = engine.open_products(opened_value, step);
    // x = c - offset - R at degree t, R's shares as added above.
    reduced->values = std::move(mask_shares);
    for (std::size_t i = 0; i < n; ++i) reduced->values[i] = c[i] - offset - reduced->values[i];
  } else {
    throw std::logic_error("less_than_thresholds: a degree-2t input needs an engine that opens it");
  }
  const std::size_t count = thresholds.size();
  const u128 low_mask = (u128{1} << width) - 1;
  std::vector<u128> c_low(count * n);
  std::vector<E> public_part(count * n);
  for (std::size_t j = 0; j < count; ++j) {
    const auto a = static_cast<u128>(static_cast<i128>(thresholds[j]));
    for (std::size_t i = 0; i < n; ++i) {
      // c - a >= 0 and the subtraction of N cannot wrap within the bound.
      const u128 c_a = ((to_unsigned(c[i]) - a) >> m) - carry_room;
      c_low[j * n + i] = c_a & low_mask;
      public_part[j * n + i] = E(1) - from_unsigned<E>(c_a >> width);
    }
  }
  using Bit = ComparisonBit<E>;
  using BitShares = typename En::BitEngine::Shares;
  const BitShares bit_shares{std::move(masks.bits)}, products{std::move(masks.products)};
  Shares out;
  if constexpr (std::is_same_v<Bit, E>) {
    out = comparison_tree(engine, c_low, bit_shares, width, nullptr, step, &products).lt;
  } else {
    // The tree over Fp61 (the bit engine), its root opened under a switch mask of 41 bits:
    // [lt] = (lt + rho) - [rho] over E.
    SwitchMasks<E> switches = source.switch_masks(count * n, kStatisticalSecurity + 1);
    const BitShares root_masks{std::move(switches.bit_side)};
    const std::vector<Bit> opened = comparison_tree(engine.bit_engine(), c_low, bit_shares,
                                                    width, nullptr, step, &products, &root_masks)
                                        .opened_root;
    out.values = std::move(switches.value_side);
    for (std::size_t k = 0; k < count * n; ++k) {
      out.values[k] = E(opened[k].value()) - out.values[k];
    }
  }
  for (std::size_t j = 0; j < count; ++j) {
    for (std::size_t i = 0; i < n; ++i) out.values[j * n + i] += masks.high[i];
  }
  return engine.add_public(std::move(out), public_part);
}

template <Engine En>
typename En::Shares less_than_thresholds(En& engine, const typename En::Shares& x,
                                         std::span<const std::int64_t> thresholds, int bits,
                                         int coarse_bits, std::string_view step) {
  using E = typename En::Element;
  using Shares = typename En::Shares;
  const std::size_t n = x.size();
  check_comparison_bits(engine, bits, coarse_bits);
  if constexpr (kUniformMasks<E>) {
    // One opening of c = x + R for all thresholds, R uniform in Z_2^64 (WindowMasks) with its bits
    // m .. m + w shared: b (w bits from bit m) and t (bit m + w), w odd (one bit more than bits - 1
    // - m when that is even: the bound then holds a fortiori), with the products of the subsets of
    // each group of them (WindowMasks). For threshold a, y = x - a + 2^(m+w) lies in [0, 2^(m+w+1))
    // within the bound; with C = ((c - a + 2^(m+w)) >> m) mod 2^(w+1), public, and (R >> m) mod
    // 2^(w+1) = b + 2^w t, floor(y / 2^m) = (C - b - 2^w t - beta) mod 2^(w+1), beta in {0, 1} the
    // borrow of the low m bits (0 for m = 0). Its top bit is [x >= a] = C_w XOR t XOR [C mod 2^w <
    // b] except where beta = 1 and floor(y / 2^m) = 2^w - 1, i.e. only for -2^m <= x - a < 0
    // (inside the band). The comparison tree folds t in, its first two levels from the group
    // products: 1 + ceil(log2 w) - 2 rounds.
    const int m = coarse_bits;
    const int top_bit = (bits - 1 - m) % 2 == 1 ? bits - 1 : bits;  // m + w
    const auto width = static_cast<std::size_t>(top_bit - m);
    const WindowMasks<E> masks = engine.correlations().window_masks(n, m, width + 1);
    const auto c = engine.open(add(x, Shares{masks.r}), step);

    // The tree's inputs: b of every value, t for every (threshold, value).
    const std::size_t count = thresholds.size(), stride = width + 1;
    Shares low_bits, top;
    low_bits.values.reserve(n * width);
    top.values.reserve(count * n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto bits_i = masks.bits.begin() + static_cast<std::ptrdiff_t>(i * stride);
      low_bits.values.insert(low_bits.values.end(), bits_i,
                             bits_i + static_cast<std::ptrdiff_t>(width));
    }
    std::vector<u128> c_low(count * n);
    std::vector<bool> c_top(count * n);
    const std::uint64_t low_mask = (std::uint64_t{1} << width) - 1;
    for (std::size_t j = 0; j < count; ++j) {
      const auto offset = (std::uint64_t{1} << top_bit) - static_cast<std::uint64_t>(thresholds[j]);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t shifted = (c[i].value() + offset) >> m;
        c_low[j * n + i] = shifted & low_mask;
        c_top[j * n + i] = (shifted >> width) & 1;
        top.values.push_back(masks.bits[i * stride + width]);
      }
    }
    const Shares products{masks.products};
    const auto tree = comparison_tree(engine, c_low, low_bits, width, &top, step, &products);
    // u = t XOR [C mod 2^w < b]; [x < a] = 1 - (C_w XOR u) = C_w ? u : 1 - u.
    Shares out = sub(add(tree.lt, top), scale(tree.top_lt, E(2)));
    std::vector<E> ones(count * n);
    for (std::size_t k = 0; k < count * n; ++k) {
      if (!c_top[k]) {
        out.values[k] = -out.values[k];
        ones[k] = E(1);
      }
    }
    return engine.add_public(std::move(out), ones);
  } else {
    return field_less_than_thresholds(engine, x, thresholds, bits, coarse_bits, step, nullptr);
  }
}

template <Engine En>
  requires OpensProducts<En>
ThresholdsOfProducts<typename En::Shares> less_than_thresholds_of_products(
    En& engine, const typename En::Shares& x, std::span<const std::int64_t> thresholds, int bits,
    int coarse_bits, std::string_view step) {
  check_comparison_bits(engine, bits, coarse_bits);
  ThresholdsOfProducts<typename En::Shares> out;
  out.below =
      field_less_than_thresholds(engine, x, thresholds, bits, coarse_bits, step, &out.value);
  return out;
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
  template En::Shares mul_with(En&, const En::Shares&, const En::Shares&, Triples<En::Element>,   \
                               std::string_view);                                                 \
  template En::Shares matmul(En&, const En::Shares&, const En::Shares&, std::size_t, std::size_t, \
                             std::size_t, std::string_view);                                      \
  template En::Shares matmul_with(En&, const En::Shares&, const En::Shares&,                      \
                                  const MatrixTriple<En::Element>&, std::string_view);            \
  template En::Shares dot(En&, const En::Shares&, const En::Shares&, std::string_view);           \
  template En::Shares fixed_mul(En&, const En::Shares&, const En::Shares&, std::string_view);     \
  template En::Shares trunc_sum_of_products(En&, const En::Shares&, const En::Shares&,            \
                                            const En::Shares&, int, std::string_view);            \
  template En::Shares bit_xor(En&, const En::Shares&, const En::Shares&, std::string_view);       \
  template En::Shares bit_less_than(En&, std::span<const u128>, const En::Shares&, std::size_t,   \
                                    std::string_view);                                            \
  template ComparisonTree<En::Shares> comparison_tree(                                            \
      En&, std::span<const u128>, const En::Shares&, std::size_t, const En::Shares*,              \
      std::string_view, const En::Shares*, const En::Shares*);                                    \
  template En::Shares less_than_thresholds(En&, const En::Shares&, std::span<const std::int64_t>, \
                                           int, int, std::string_view);                          \
  template En::Shares less_than(En&, const En::Shares&, const En::Shares&, std::string_view);     \
  template En::Shares greater_than(En&, const En::Shares&, const En::Shares&, std::string_view);  \
  template En::Shares select(En&, const En::Shares&, const En::Shares&, const En::Shares&,        \
                             std::string_view);                                                   \
  template En::Shares max(En&, const En::Shares&, const En::Shares&, std::string_view);           \
  template En::Shares clamp(En&, const En::Shares&, En::Element, En::Element, std::string_view);

SM_INSTANTIATE_OPS(AdditiveEngine)
SM_INSTANTIATE_OPS(ShamirEngine<Fp61>)
SM_INSTANTIATE_OPS(ShamirEngine<Fp127>)

#define SM_INSTANTIATE_OPS_OF_PRODUCTS(En)                                                    \
  template ThresholdsOfProducts<En::Shares> less_than_thresholds_of_products(                 \
      En&, const En::Shares&, std::span<const std::int64_t>, int, int, std::string_view);

SM_INSTANTIATE_OPS_OF_PRODUCTS(ShamirEngine<Fp61>)
SM_INSTANTIATE_OPS_OF_PRODUCTS(ShamirEngine<Fp127>)

#undef SM_INSTANTIATE_OPS_OF_PRODUCTS

#undef SM_INSTANTIATE_OPS

}  // namespace sm::mpc
