// LocalDealerUnsafe: correlated randomness computed inside every party from one common seed.
//
// UNSAFE, for unit tests and in-process benchmarks only: every party expands the same seed, so
// each could compute every other party's shares. It needs no communication and gives every
// party consistent shares as long as all parties request the same batches in the same order.
// Shares are additive over Z_2^64 (E = Ring64) or Shamir of degree `threshold` (fields).
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "mpc/correlations.hpp"
#include "mpc/prg.hpp"
#include "mpc/shamir.hpp"
#include "net/mesh.hpp"

namespace sm::mpc {

template <class E>
class LocalDealerUnsafe final : public CorrelationSource<E> {
 public:
  // `threshold` is the Shamir degree (ignored for Ring64); `value_bits` sizes the field masks
  // (see TruncMasks and BitMasks).
  LocalDealerUnsafe(const Seed& common_seed, net::PartyId self, std::size_t parties,
                    std::size_t threshold = 1, int value_bits = 64);

  Triples<E> triples(std::size_t n) override;
  MatrixTriple<E> matrix_triple(std::size_t rows, std::size_t inner, std::size_t cols) override;
  TruncMasks<E> trunc_masks(std::size_t n, int frac_bits) override;
  BitMasks<E> bit_masks(std::size_t n, std::size_t width) override;
  std::vector<E> random_bits(std::size_t n) override;
  // std::invalid_argument for a bad window.
  WindowMasks<E> window_masks(std::size_t n, int low, std::size_t width) override;
  // rho is one value uniform in [0, 2^bits) (not a sum over the parties). Fp127 only (the
  // interface's default elsewhere); std::invalid_argument for bits outside 41..60 - bit_width(N).
  SwitchMasks<E> switch_masks(std::size_t n, int bits) override;
  // Keeps every U in the clear (ids are indices into that list), so that it can derive z and zt.
  MaskedMatrix<E> masked_matrix(std::size_t rows, std::size_t cols) override;
  std::vector<MaskedProducts<E>> masked_products(
      const MaskedMatrix<E>& matrix, std::span<const std::vector<std::size_t>> subsets) override;

 private:
  using Bit = ComparisonBit<E>;

  // This party's shares of `secrets`.
  std::vector<E> split(const std::vector<E>& secrets);
  // This party's shares of `secrets` over Bit (as split where Bit is E), at degree 2t if
  // `double_degree` (fields only).
  std::vector<Bit> split_bits(const std::vector<Bit>& secrets, bool double_degree = false);

  Prg prg_;
  net::PartyId self_;
  std::size_t parties_;
  std::size_t threshold_;
  std::optional<ShamirCodec<E>> codec_;  // fields only
  int value_bits_;
  std::vector<std::vector<E>> matrices_;  // every U handed out, in the clear
};

}  // namespace sm::mpc
