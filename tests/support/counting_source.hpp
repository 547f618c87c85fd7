// Test support: a CorrelationSource that passes every request to the source it wraps and counts
// the calls and, per kind, the correlations asked for (a triple, a mask, a bit each count 1).
//
//   CountingSource<E> counting(engine.correlations());
//   auto pooled = engine.with_correlations(counting);  ... counting.counts.window_masks ...
#pragma once

#include <cstddef>
#include <map>

#include "mpc/correlations.hpp"

namespace sm::test {

struct SourceCounts {
  std::size_t calls = 0;
  std::size_t triples = 0, bit_masks = 0, random_bits = 0, window_masks = 0, switch_masks = 0;
  std::map<int, std::size_t> trunc_masks;  // per frac_bits
};

template <class E>
class CountingSource final : public mpc::CorrelationSource<E> {
 public:
  explicit CountingSource(mpc::CorrelationSource<E>& source) : source_(source) {}
  SourceCounts counts;

  mpc::Triples<E> triples(std::size_t n) override {
    count(counts.triples, n);
    return source_.triples(n);
  }
  mpc::MatrixTriple<E> matrix_triple(std::size_t r, std::size_t i, std::size_t c) override {
    ++counts.calls;
    return source_.matrix_triple(r, i, c);
  }
  mpc::TruncMasks<E> trunc_masks(std::size_t n, int frac_bits) override {
    count(counts.trunc_masks[frac_bits], n);
    return source_.trunc_masks(n, frac_bits);
  }
  mpc::BitMasks<E> bit_masks(std::size_t n, std::size_t width) override {
    count(counts.bit_masks, n);
    return source_.bit_masks(n, width);
  }
  std::vector<E> random_bits(std::size_t n) override {
    count(counts.random_bits, n);
    return source_.random_bits(n);
  }
  mpc::WindowMasks<E> window_masks(std::size_t n, int low, std::size_t width) override {
    count(counts.window_masks, n);
    return source_.window_masks(n, low, width);
  }
  mpc::SwitchMasks<E> switch_masks(std::size_t n, int bits) override {
    count(counts.switch_masks, n);
    return source_.switch_masks(n, bits);
  }
  mpc::MaskedMatrix<E> masked_matrix(std::size_t r, std::size_t c) override {
    ++counts.calls;
    return source_.masked_matrix(r, c);
  }
  std::vector<mpc::MaskedProducts<E>> masked_products(
      const mpc::MaskedMatrix<E>& m, std::span<const std::vector<std::size_t>> s) override {
    ++counts.calls;
    return source_.masked_products(m, s);
  }

 private:
  void count(std::size_t& kind, std::size_t n) {
    ++counts.calls;
    kind += n;
  }

  mpc::CorrelationSource<E>& source_;
};

}  // namespace sm::test
