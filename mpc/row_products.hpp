// Local products of a subset of a row-major matrix's rows with a vector: the inner loops of
// logistic regression's products of a mini-batch X_B with the weights and the residuals
// (protocols/logreg.cpp). M has `cols` columns; M_B is the |B| x cols matrix of the rows listed
// in `rows` (in that order, repeats allowed). One of M and x may be shares and the other public,
// or both shares of degree t (the sums are then of degree 2t, to be opened or reduced).
// Fields (Fp61, Fp127): each output is one inner product of a row with x, read in place, or one
// linear combination of the rows (mpc/linear_combination.hpp: one reduction per output instead
// of one per term); Ring64: plain loops (wrap-around needs no reduction). Header-only; M_B x
// allocates nothing, x^T M_B O(|B| + cols) scratch on fields.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

#include "mpc/linear_combination.hpp"
#include "mpc/ring64.hpp"

namespace sm::mpc {

// out[i] += M[rows[i]] . x, for x of cols elements and out of |rows|.
template <class E>
void add_rows_times(std::span<const E> m, std::size_t cols, std::span<const std::size_t> rows,
                    std::span<const E> x, std::span<E> out) {
  if constexpr (std::is_same_v<E, Ring64>) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const E* row = m.data() + rows[i] * cols;
      E sum(0);
      for (std::size_t j = 0; j < cols; ++j) sum += row[j] * x[j];
      out[i] += sum;
    }
  } else {
    // The rows lie anywhere in M (logistic regression's batches: random rows of a matrix larger
    // than the caches): each row is prefetched two rows ahead of its product.
    constexpr std::size_t kAhead = 2, kLine = 64 / sizeof(E);
    const auto prefetch_row = [&](std::size_t i) {
      const E* row = m.data() + rows[i] * cols;
      for (std::size_t j = 0; j < cols; j += kLine) __builtin_prefetch(row + j);
    };
    for (std::size_t i = 0; i < std::min(kAhead, rows.size()); ++i) prefetch_row(i);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (i + kAhead < rows.size()) prefetch_row(i + kAhead);
      out[i] += inner_product<E>(m.data() + rows[i] * cols, x.data(), cols);
    }
  }
}

// out[j] += sum_i x[i] M[rows[i]][j], for x of |rows| elements and out of cols.
template <class E>
void add_rows_transposed_times(std::span<const E> m, std::size_t cols,
                               std::span<const std::size_t> rows, std::span<const E> x,
                               std::span<E> out) {
  if constexpr (std::is_same_v<E, Ring64>) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const E* row = m.data() + rows[i] * cols;
      for (std::size_t j = 0; j < cols; ++j) out[j] += row[j] * x[i];
    }
  } else {
    std::vector<const E*> selected(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) selected[i] = m.data() + rows[i] * cols;
    std::vector<E> sums(cols);
    linear_combination<E>(sums.data(), cols, x, selected);
    for (std::size_t j = 0; j < cols; ++j) out[j] += sums[j];
  }
}

}  // namespace sm::mpc
