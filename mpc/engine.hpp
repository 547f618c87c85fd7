// The engine API: what every protocol is written against, once, for both sharing schemes.
//
// An engine (AdditiveEngine over Z_2^64, ShamirEngine<F> over Fp61 / Fp127) provides the
// scheme-specific operations listed in the `Engine` concept below (and multiplication, where the
// scheme has its own: `MultipliesWithoutTriples`; a truncated sum of products in one round, where
// the scheme can: `TruncatesSumsOfProducts`); the generic operations built on them
// (multiplication, by Beaver triples otherwise, matrix products, fixed point, comparisons) are in
// mpc/ops.hpp.
// Every operation works on whole vectors: its rounds depend only on the operation, never on the
// vector length. Each states its rounds and the elements each party SENDS (N parties,
// n elements; multiply by the element size, 8 or 16 bytes, for bytes).
//
// Shares are plain values: SharedVector<E, Tag> holds this party's share of each element of a
// secret vector; the tag keeps additive and Shamir shares apart at compile time. Protocols never
// look inside; mpc/ code may.
#pragma once

#include <concepts>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mpc/correlations.hpp"
#include "mpc/session.hpp"
#include "net/mesh.hpp"

namespace sm::mpc {

struct AdditiveTag {};
struct ShamirTag {};

template <class E, class Tag>
struct SharedVector {
  using Element = E;
  std::vector<E> values;  // this party's share of each element
  std::size_t size() const { return values.size(); }
};

// clang-format off
template <class En>
concept Engine = requires(En& engine, const typename En::Shares& x,
                          std::span<const typename En::Element> values, net::PartyId party,
                          std::size_t n, int bits, std::string_view step) {
  typename En::Element;
  typename En::Shares;
  { engine.session() } -> std::same_as<Session&>;
  { engine.correlations() } -> std::same_as<CorrelationSource<typename En::Element>&>;
  // The same engine drawing its correlations from another source (e.g. a CorrelationPool).
  { engine.with_correlations(engine.correlations()) } -> std::same_as<En>;
  // Shares of `party`'s private vector of n elements (`values` is read at `party` only).
  { engine.input(party, values, n, step) } -> std::same_as<typename En::Shares>;
  // Shares of a public vector, without communication.
  { engine.constant(values) } -> std::same_as<typename En::Shares>;
  // x + c for a public vector c, without communication.
  { engine.add_public(x, values) } -> std::same_as<typename En::Shares>;
  // The values of x, to every party (1 round).
  { engine.open(x, step) } -> std::same_as<std::vector<typename En::Element>>;
  // The values of x to `party` only; the others get nothing (1 round).
  { engine.open_to(party, x, step) } -> std::same_as<std::optional<std::vector<typename En::Element>>>;
  // Shares of n uniformly random elements.
  { engine.random(n, step) } -> std::same_as<typename En::Shares>;
  // Fixed-point truncation: x / 2^bits, rounded as the engine documents.
  { engine.trunc(x, bits, step) } -> std::same_as<typename En::Shares>;
  // 1 where x < 0 (signed, |x| < 2^(value_bits-1)), else 0.
  { engine.less_than_zero(x, step) } -> std::same_as<typename En::Shares>;
  // The same for inputs known to satisfy |x| < 2^(bits-1), bits <= value_bits: an engine may
  // then compare fewer bits (cheaper); a larger |x| gives a wrong result.
  { engine.less_than_zero(x, step, bits) } -> std::same_as<typename En::Shares>;
  // Signed values must stay below 2^(value_bits - 1) in magnitude for trunc / comparison.
  { engine.value_bits() } -> std::same_as<int>;
};

// Engines that multiply without Beaver triples (ShamirEngine: the product of two degree-t
// sharings is a local degree-2t sharing, reduced in one round) provide mul and matmul, each
// stating its rounds and elements sent. The generic mul, matmul and dot of mpc/ops.hpp call
// them; for other engines (AdditiveEngine) they multiply by Beaver triples from the engine's
// correlation source.
template <class En>
concept MultipliesWithoutTriples =
    Engine<En> && requires(En& engine, const typename En::Shares& x, std::size_t n,
                           std::string_view step) {
  // x[i] y[i] for shares of equal length (std::invalid_argument otherwise).
  { engine.mul(x, x, step) } -> std::same_as<typename En::Shares>;
  // (rows x inner)(inner x cols), row-major (std::invalid_argument on mismatched shapes).
  { engine.matmul(x, x, n, n, n, step) } -> std::same_as<typename En::Shares>;
};

// Engines that open a sum of products for truncation in one round (ShamirEngine: the local
// products are a degree-2t sharing, opened with a fresh degree-2t sharing of 0 added) provide
// trunc_sum_of_products, stating its rounds and elements sent; the generic one of mpc/ops.hpp
// calls it, and multiplies, sums and truncates (2 rounds) for other engines.
template <class En>
concept TruncatesSumsOfProducts =
    Engine<En> && requires(En& engine, const typename En::Shares& x, int bits,
                           std::string_view step) {
  // trunc(sum_k x[k n + i] y[k n + i] + c[i], bits) for n = c.size() (here x, y, c = x).
  { engine.trunc_sum_of_products(x, x, x, bits, step) } -> std::same_as<typename En::Shares>;
};

// Engines that open and truncate degree-2t sharings, such as the local products of two shared
// vectors or matrices, without reducing them first (ShamirEngine: parties 0..2t open them with
// a fresh degree-2t sharing of 0 added) provide open_products and trunc_products, each stating
// its rounds and elements sent.
template <class En>
concept OpensProducts =
    Engine<En> && requires(En& engine, const typename En::Shares& x, int bits,
                           std::string_view step) {
  // The secrets of x, given at degree 2t.
  { engine.open_products(x, step) } -> std::same_as<std::vector<typename En::Element>>;
  // trunc(x, bits) as a degree-t sharing, x given at degree 2t.
  { engine.trunc_products(x, bits, step) } -> std::same_as<typename En::Shares>;
};
// clang-format on

// The K of trunc_sum_of_products: x and y hold K n shares each, for n = c.size()
// (std::invalid_argument otherwise).
inline std::size_t product_pieces(std::size_t x_size, std::size_t y_size, std::size_t n) {
  if (x_size != y_size || (n == 0 ? x_size != 0 : x_size % n != 0)) {
    throw std::invalid_argument("trunc_sum_of_products: x and y must hold K x " +
                                std::to_string(n) + " shares each");
  }
  return n == 0 ? 0 : x_size / n;
}

}  // namespace sm::mpc
