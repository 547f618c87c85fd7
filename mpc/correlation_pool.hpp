// A CorrelationSource that fetches ahead, for computations that repeat the same requests (the
// iterations of a training loop): one generation round or dealer round trip per many requests
// instead of one per request.
//
// The caller states how many times its requests repeat (`repeats`, e.g. the training's
// iterations: the schedule is public) and calls end_repetition() after each repetition. Every
// request of a kind that what the pool holds cannot cover makes the pool fetch, from the wrapped
// source, what the rest of the repeats will request of that kind, capped at max_elements elements
// of all components together (e.g. 3 per triple; rounded down to a whole number of requests of
// the request's size) and at least what the request lacks; it serves the request and keeps the
// rest for the following requests of the same kind. What the rest will request: (repeats -
// repetitions ended) times the most that one repetition has requested of the kind so far (the
// current one included), minus what the current repetition has requested before this request;
// after the last repetition, only what a request lacks. So when every repetition requests the
// same, the pool fetches exactly what is used, never more; when the sizes vary (comparison trees
// whose nodes shared between thresholds depend on public values), at most the difference from
// the largest repetition, and a repetition larger than all before it only makes the pool fetch
// more. Kinds: triples; truncation masks per frac_bits; bit masks per width;
// window masks per window; switch masks per width; random bits. Matrix triples, masked matrices
// and masked products pass straight through (they are requested once, in whole batches,
// already).
//
// Ordering: the pool's fetches depend only on the requests and the end_repetition() calls, so
// parties that make the same requests in the same order (as every CorrelationSource requires)
// make the same fetches. Security: correlations are independent of each other; serving them in
// another grouping changes nothing. Memory: what a kind's fetch holds until it is used up
// (max_elements). Errors: those of the wrapped source. Not thread-safe; the source must outlive
// the pool.
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

  // Marks the end of one repetition of the requests (no communication).
  void end_repetition() {
    ++repetitions_ended_;
    triples_.end_repetition();
    random_bits_.end_repetition();
    for (auto& [bits, stock] : trunc_) stock.end_repetition();
    for (auto& [width, stock] : bit_masks_) stock.end_repetition();
    for (auto& [window, stock] : window_masks_) stock.end_repetition();
    for (auto& [bits, stock] : switch_masks_) stock.end_repetition();
  }

  Triples<E> triples(std::size_t n) override {
    auto parts = take(triples_, n, 3, [&](std::size_t count) {
      auto t = source_.triples(count);
      return Batch{{std::move(t.a), std::move(t.b), std::move(t.c)}, {}};
    }).parts;
    return {std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
  }

  MatrixTriple<E> matrix_triple(std::size_t rows, std::size_t inner, std::size_t cols) override {
    return source_.matrix_triple(rows, inner, cols);
  }

  TruncMasks<E> trunc_masks(std::size_t n, int frac_bits) override {
    auto parts = take(trunc_.try_emplace(frac_bits, 3).first->second, n, 3, [&](std::size_t count) {
      auto m = source_.trunc_masks(count, frac_bits);
      return Batch{{std::move(m.r), std::move(m.high), std::move(m.msb)}, {}};
    }).parts;
    return {std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
  }

  BitMasks<E> bit_masks(std::size_t n, std::size_t width) override {
    auto parts = take(bit_masks_.try_emplace(width, 2).first->second, n, width + 1,
                      [&](std::size_t count) {
                        auto m = source_.bit_masks(count, width);
                        return Batch{{std::move(m.bits), std::move(m.high)}, {}};
                      }).parts;
    return {width, std::move(parts[0]), std::move(parts[1])};
  }

  std::vector<E> random_bits(std::size_t n) override {
    auto parts = take(random_bits_, n, 1, [&](std::size_t count) {
                   return Batch{{source_.random_bits(count)}, {}};
                 }).parts;
    return std::move(parts[0]);
  }

  WindowMasks<E> window_masks(std::size_t n, int low, std::size_t width) override {
    auto batch = take(window_masks_.try_emplace(std::pair{low, width}, 2, 2).first->second, n,
                      2 + width + window_products<E>(width), [&](std::size_t count) {
                        auto m = source_.window_masks(count, low, width);
                        return Batch{{std::move(m.r), std::move(m.high)},
                                     {std::move(m.bits), std::move(m.products)}};
                      });
    return {low, width, std::move(batch.parts[0]), std::move(batch.bit_parts[0]),
            std::move(batch.bit_parts[1]), std::move(batch.parts[1])};
  }

  SwitchMasks<E> switch_masks(std::size_t n, int bits) override {
    auto batch = take(switch_masks_.try_emplace(bits, 1, 1).first->second, n, 2,
                      [&](std::size_t count) {
                        auto m = source_.switch_masks(count, bits);
                        return Batch{{std::move(m.value_side)}, {std::move(m.bit_side)}};
                      });
    return {std::move(batch.bit_parts[0]), std::move(batch.parts[0])};
  }

  MaskedMatrix<E> masked_matrix(std::size_t rows, std::size_t cols) override {
    return source_.masked_matrix(rows, cols);
  }

  std::vector<MaskedProducts<E>> masked_products(
      const MaskedMatrix<E>& matrix, std::span<const std::vector<std::size_t>> subsets) override {
    return source_.masked_products(matrix, subsets);
  }

 private:
  using Bit = ComparisonBit<E>;
  // The components of a batch of correlations: over E, and over Bit (WindowMasks' bits and
  // products, SwitchMasks' bit side).
  struct Batch {
    std::vector<std::vector<E>> parts;
    std::vector<std::vector<Bit>> bit_parts;
  };

  // The correlations of one kind on hand: component j of correlation i is
  // parts[j][i * stride_j, (i + 1) * stride_j), stride_j = parts[j].size() / count (0 for an
  // empty component), likewise for the Bit components; and how many of the kind the
  // repetitions have requested.
  class Stock {
   public:
    explicit Stock(std::size_t components, std::size_t bit_components = 0)
        : parts_(components), bit_parts_(bit_components) {}

    std::size_t on_hand() const { return count_ - used_; }

    // Counts a request of n in the current repetition; returns the most that one repetition has
    // requested (the current one included) and what the current one requested before.
    std::pair<std::size_t, std::size_t> count_request(std::size_t n) {
      const std::size_t before = current_;
      current_ += n;
      return {std::max(most_, current_), before};
    }

    void end_repetition() {
      most_ = std::max(most_, current_);
      current_ = 0;
    }

    // n correlations, after appending `fetch` fetched from the source (0: none).
    template <class Fetch>
    Batch take(std::size_t n, std::size_t fetch, Fetch&& fetch_from_source) {
      if (fetch > 0) {
        Batch fetched = fetch_from_source(fetch);
        const std::size_t left = count_ - used_;
        parts_.refill(std::move(fetched.parts), fetch, left, used_);
        bit_parts_.refill(std::move(fetched.bit_parts), fetch, left, used_);
        count_ = left + fetch;
        used_ = 0;
      }
      Batch out{parts_.take(n, used_), bit_parts_.take(n, used_)};
      used_ += n;
      return out;
    }

   private:
    // Components over one element type T and their strides.
    template <class T>
    struct Components {
      std::vector<std::vector<T>> parts;
      std::vector<std::size_t> strides;

      explicit Components(std::size_t count) : parts(count), strides(count, 0) {}

      std::vector<std::vector<T>> take(std::size_t n, std::size_t used) const {
        std::vector<std::vector<T>> out(parts.size());
        for (std::size_t j = 0; j < parts.size(); ++j) {
          const auto begin = parts[j].begin() + static_cast<std::ptrdiff_t>(used * strides[j]);
          out[j].assign(begin, begin + static_cast<std::ptrdiff_t>(n * strides[j]));
        }
        return out;
      }

      // The fetched parts are kept as they are when nothing is left (the usual case: fetches of
      // whole multiples of the requests), else appended to the `left` after the `used` first.
      void refill(std::vector<std::vector<T>> fetched, std::size_t fetched_count, std::size_t left,
                  std::size_t used) {
        for (std::size_t j = 0; j < fetched.size(); ++j) {
          auto& part = parts[j];
          const std::size_t stride = fetched[j].size() / fetched_count;
          if (left == 0) {
            part = std::move(fetched[j]);
          } else {
            part.erase(part.begin(), part.begin() + static_cast<std::ptrdiff_t>(used * strides[j]));
            part.insert(part.end(), fetched[j].begin(), fetched[j].end());
          }
          strides[j] = stride;
        }
      }
    };

    Components<E> parts_;
    Components<Bit> bit_parts_;
    std::size_t count_ = 0, used_ = 0;
    std::size_t current_ = 0, most_ = 0;  // requested in this repetition; most in one before
  };

  // n correlations of `per_item` elements from `stock`, fetching first (header comment) when
  // those on hand cannot cover n.
  template <class Fetch>
  Batch take(Stock& stock, std::size_t n, std::size_t per_item, Fetch&& fetch_from_source) {
    const auto [per_repetition, requested_before] = stock.count_request(n);
    const std::size_t on_hand = stock.on_hand();
    std::size_t fetch = 0;
    if (on_hand < n) {
      // No repetition left (more requests than planned): only what the request lacks.
      const std::size_t planned =
          (repeats_ - std::min(repetitions_ended_, repeats_)) * per_repetition;
      const std::size_t rest = std::max(n, planned - std::min(planned, requested_before));
      // A whole number of requests of n, so that same-sized requests leave nothing to copy over.
      const std::size_t cap = std::max<std::size_t>(max_elements_ / per_item / n, 1) * n;
      fetch = std::max(n - on_hand, std::min(rest - on_hand, cap));
    }
    return stock.take(n, fetch, std::forward<Fetch>(fetch_from_source));
  }

  CorrelationSource<E>& source_;
  std::size_t repeats_, max_elements_;
  std::size_t repetitions_ended_ = 0;
  Stock triples_{3}, random_bits_{1};
  std::map<int, Stock> trunc_;
  std::map<std::size_t, Stock> bit_masks_;
  std::map<std::pair<int, std::size_t>, Stock> window_masks_;
  std::map<int, Stock> switch_masks_;
};

}  // namespace sm::mpc
