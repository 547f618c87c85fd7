// A CorrelationSource that fetches ahead, for computations that repeat the same requests (the
// iterations of a training loop): one generation round or dealer round trip per many requests
// instead of one per request.
//
// Every request of a kind that what the pool holds cannot cover makes the pool fetch
// n * repeats correlations of that kind from the wrapped source (at least n, at most
// max_elements elements of all components together, e.g. 3 per triple), serve n and keep the
// rest for the following requests of the same kind. Kinds: triples; truncation masks per
// frac_bits; bit masks per width; window masks per window; random bits. Matrix triples, masked
// matrices and masked products pass straight through (they are requested once, in whole
// batches, already).
//
// Ordering: the pool's fetches depend only on the requests, so parties that make the same
// requests in the same order (as every CorrelationSource requires) make the same fetches.
// Security: correlations are independent of each other; serving them in another grouping
// changes nothing. Memory: what a kind's fetch holds until it is used up (max_elements).
// Errors: those of the wrapped source. Not thread-safe; the source must outlive the pool.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <utility>
#include <vector>

#include "mpc/correlations.hpp"

namespace sm::mpc {

template <class E>
class CorrelationPool final : public CorrelationSource<E> {
 public:
  static constexpr std::size_t kDefaultMaxElements = std::size_t{1} << 20;

  CorrelationPool(CorrelationSource<E>& source, std::size_t repeats,
                  std::size_t max_elements = kDefaultMaxElements)
      : source_(source), repeats_(std::max<std::size_t>(repeats, 1)), max_elements_(max_elements) {}

  Triples<E> triples(std::size_t n) override {
    auto parts = triples_.take(n, fetch_count(n, 3), [&](std::size_t count) {
      auto t = source_.triples(count);
      return Parts{std::move(t.a), std::move(t.b), std::move(t.c)};
    });
    return {std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
  }

  MatrixTriple<E> matrix_triple(std::size_t rows, std::size_t inner, std::size_t cols) override {
    return source_.matrix_triple(rows, inner, cols);
  }

  TruncMasks<E> trunc_masks(std::size_t n, int frac_bits) override {
    auto parts = trunc_.try_emplace(frac_bits, 3)
                     .first->second.take(n, fetch_count(n, 3), [&](std::size_t count) {
                       auto m = source_.trunc_masks(count, frac_bits);
                       return Parts{std::move(m.r), std::move(m.high), std::move(m.msb)};
                     });
    return {std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
  }

  BitMasks<E> bit_masks(std::size_t n, std::size_t width) override {
    auto parts = bit_masks_.try_emplace(width, 2).first->second.take(
        n, fetch_count(n, width + 1), [&](std::size_t count) {
          auto m = source_.bit_masks(count, width);
          return Parts{std::move(m.bits), std::move(m.high)};
        });
    return {width, std::move(parts[0]), std::move(parts[1])};
  }

  std::vector<E> random_bits(std::size_t n) override {
    auto parts = random_bits_.take(
        n, fetch_count(n, 1), [&](std::size_t count) { return Parts{source_.random_bits(count)}; });
    return std::move(parts[0]);
  }

  WindowMasks<E> window_masks(std::size_t n, int low, std::size_t width) override {
    auto parts = window_masks_.try_emplace(std::pair{low, width}, 4)
                     .first->second.take(n, fetch_count(n, 2 + width + window_products<E>(width)),
                                         [&](std::size_t count) {
                                           auto m = source_.window_masks(count, low, width);
                                           return Parts{std::move(m.r), std::move(m.bits),
                                                        std::move(m.products), std::move(m.high)};
                                         });
    return {low, width, std::move(parts[0]), std::move(parts[1]), std::move(parts[2]),
            std::move(parts[3])};
  }

  MaskedMatrix<E> masked_matrix(std::size_t rows, std::size_t cols) override {
    return source_.masked_matrix(rows, cols);
  }

  std::vector<MaskedProducts<E>> masked_products(
      const MaskedMatrix<E>& matrix, std::span<const std::vector<std::size_t>> subsets) override {
    return source_.masked_products(matrix, subsets);
  }

 private:
  using Parts = std::vector<std::vector<E>>;

  // The correlations of one kind on hand: component j of correlation i is
  // parts[j][i * stride_j, (i + 1) * stride_j), stride_j = parts[j].size() / count (0 for an
  // empty component).
  class Stock {
   public:
    explicit Stock(std::size_t components) : parts_(components), strides_(components, 0) {}

    template <class Fetch>
    Parts take(std::size_t n, std::size_t fetch, Fetch&& fetch_from_source) {
      if (count_ - used_ < n) refill(fetch_from_source(fetch), fetch);
      Parts out(parts_.size());
      for (std::size_t j = 0; j < parts_.size(); ++j) {
        const std::size_t stride = strides_[j];
        const auto begin = parts_[j].begin() + static_cast<std::ptrdiff_t>(used_ * stride);
        out[j].assign(begin, begin + static_cast<std::ptrdiff_t>(n * stride));
      }
      used_ += n;
      return out;
    }

   private:
    // The fetched parts are kept as they are when nothing is left (the usual case: fetches of
    // whole multiples of the requests), else appended to what is left.
    void refill(Parts fetched, std::size_t fetched_count) {
      const std::size_t left = count_ - used_;
      for (std::size_t j = 0; j < fetched.size(); ++j) {
        const std::size_t stride = fetched_count == 0 ? 0 : fetched[j].size() / fetched_count;
        auto& part = parts_[j];
        if (left == 0) {
          part = std::move(fetched[j]);
        } else {
          part.erase(part.begin(),
                     part.begin() + static_cast<std::ptrdiff_t>(used_ * strides_[j]));
          part.insert(part.end(), fetched[j].begin(), fetched[j].end());
        }
        strides_[j] = stride;
      }
      count_ = left + fetched_count;
      used_ = 0;
    }

    Parts parts_;
    std::vector<std::size_t> strides_;
    std::size_t count_ = 0, used_ = 0;
  };

  // How many correlations of `per_item` elements to fetch for a request of n.
  std::size_t fetch_count(std::size_t n, std::size_t per_item) const {
    const std::size_t cap = std::max<std::size_t>(max_elements_ / per_item, 1);
    return std::max(n, std::min(n * repeats_, cap));
  }

  CorrelationSource<E>& source_;
  std::size_t repeats_, max_elements_;
  Stock triples_{3}, random_bits_{1};
  std::map<int, Stock> trunc_;
  std::map<std::size_t, Stock> bit_masks_;
  std::map<std::pair<int, std::size_t>, Stock> window_masks_;
};

}  // namespace sm::mpc
