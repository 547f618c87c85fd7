// Shamir secret sharing over a prime field F (Fp61 or Fp127), threshold t < N/2.
//
// Party i (0-based) holds the evaluation at x = i + 1 of a random polynomial of degree t whose
// constant term is the secret; any t shares are uniformly distributed and reveal nothing, and
// any t + 1 reconstruct. ShamirCodec precomputes the Lagrange coefficients for one (N, t), so
// sharing costs N * t multiplications per secret and reconstruction t + 1.
//
// Consistency: reconstruct_checked() takes all N shares, interpolates from the first t + 1 and
// checks that every other share lies on the same degree-t polynomial; it throws ProtocolError
// naming the first party whose share does not. Cost per secret: (t + 1) multiplications to
// reconstruct and (t + 1) more for each of the N - t - 1 checked shares, in one pass over the
// shares (reconstruct_checked_block works on views, so an opening needs no copy of them).
//
// Thread-safe after construction (all methods are const).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "mpc/prg.hpp"

namespace sm::mpc {

// basis[i]: the Lagrange basis polynomial of points[i] over all of `points`, evaluated at x, so
// that f(x) = sum_i basis[i] f(points[i]) for every polynomial f of degree below points.size().
// The points must be distinct. Cost: points.size()^2 multiplications and points.size() inversions.
template <class F>
std::vector<F> lagrange_at(std::span<const F> points, F x);

template <class F>
class ShamirCodec {
 public:
  // Throws std::invalid_argument unless 1 <= degree < parties.
  ShamirCodec(std::size_t parties, std::size_t degree);

  std::size_t parties() const { return parties_; }
  std::size_t degree() const { return degree_; }
  // The evaluation point of a party: party + 1.
  static F point(std::size_t party) { return F(party + 1); }

  // Shares of each secret under a fresh random polynomial of degree degree(); returns
  // shares[party][k], the share of secrets[k] held by `party`.
  std::vector<std::vector<F>> share(std::span<const F> secrets, Prg& randomness) const;

  // The secrets from the shares of parties 0..degree() (shares[party][k]); extra parties ignored.
  std::vector<F> reconstruct(std::span<const std::vector<F>> shares) const;

  // The secrets from all parties' shares, after checking that each element's shares lie on one
  // polynomial of degree degree(). `party_names[i]` names party i in the error.
  std::vector<F> reconstruct_checked(std::span<const std::vector<F>> shares,
                                     std::span<const std::string> party_names) const;
  // The same for one block of secrets, on views: shares[party] holds every party's shares of
  // out.size() secrets. `out` may be one of the shares' spans (each secret's shares are read
  // before it is written). `first` is the block's position in the whole vector, for errors.
  void reconstruct_checked_block(std::span<const std::span<const F>> shares, std::span<F> out,
                                 std::span<const std::string> party_names,
                                 std::size_t first) const;

  // The secrets from the shares of a subset of parties (shares[i] is held by holders[i], at
  // least degree() + 1 of them): interpolated from the first degree() + 1, after checking that
  // the others lie on the same polynomial. For runs where some parties dropped out.
  std::vector<F> reconstruct_from(std::span<const std::size_t> holders,
                                  std::span<const std::vector<F>> shares,
                                  std::span<const std::string> party_names) const;

 private:
  // How to interpolate from a set of holders: the Lagrange basis of the first degree() + 1
  // holders' points at 0 and at every further holder's point.
  struct Plan {
    std::vector<std::size_t> holders;
    std::vector<F> at_zero;                 // [degree + 1]
    std::vector<std::vector<F>> at_others;  // [holder index - degree - 1][i]
  };
  Plan make_plan(std::span<const std::size_t> holders) const;
  std::vector<F> interpolate_checked(const Plan& plan, std::span<const std::vector<F>> shares,
                                     std::span<const std::string> party_names) const;
  void interpolate_checked_block(const Plan& plan, std::span<const std::span<const F>> shares,
                                 std::span<F> out, std::span<const std::string> party_names,
                                 std::size_t first) const;

  std::size_t parties_;
  std::size_t degree_;
  Plan all_parties_;  // holders 0 .. parties - 1
};

}  // namespace sm::mpc
