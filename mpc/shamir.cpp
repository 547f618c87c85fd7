#include "mpc/shamir.hpp"

#include <stdexcept>
#include <string>

#include "mpc/mersenne.hpp"
#include "net/errors.hpp"

namespace sm::mpc {

namespace {

// The Lagrange basis polynomials of points 1..m evaluated at x.
template <class F>
std::vector<F> lagrange_at(std::size_t m, F x) {
  std::vector<F> basis(m);
  for (std::size_t i = 0; i < m; ++i) {
    F numerator(1), denominator(1);
    const F xi = ShamirCodec<F>::point(i);
    for (std::size_t j = 0; j < m; ++j) {
      if (j == i) continue;
      const F xj = ShamirCodec<F>::point(j);
      numerator *= x - xj;
      denominator *= xi - xj;
    }
    basis[i] = numerator * inverse(denominator);
  }
  return basis;
}

}  // namespace

template <class F>
ShamirCodec<F>::ShamirCodec(std::size_t parties, std::size_t degree)
    : parties_(parties), degree_(degree) {
  if (degree < 1 || degree >= parties) {
    throw std::invalid_argument("Shamir sharing needs 1 <= degree < parties (degree " +
                                std::to_string(degree) + ", " + std::to_string(parties) +
                                " parties)");
  }
  at_zero_ = lagrange_at(degree + 1, F(0));
  for (std::size_t party = degree + 1; party < parties; ++party) {
    at_others_.push_back(lagrange_at(degree + 1, point(party)));
  }
}

template <class F>
std::vector<std::vector<F>> ShamirCodec<F>::share(std::span<const F> secrets,
                                                  Prg& randomness) const {
  const std::size_t count = secrets.size();
  // coefficients[d][k]: coefficient of x^(d+1) of secret k's polynomial.
  std::vector<std::vector<F>> coefficients(degree_);
  for (auto& row : coefficients) row = randomness.sample<F>(count);
  std::vector<std::vector<F>> shares(parties_, std::vector<F>(count));
  for (std::size_t party = 0; party < parties_; ++party) {
    const F x = point(party);
    auto& out = shares[party];
    for (std::size_t k = 0; k < count; ++k) out[k] = coefficients[degree_ - 1][k];
    for (std::size_t d = degree_ - 1; d-- > 0;) {  // Horner
      for (std::size_t k = 0; k < count; ++k) out[k] = out[k] * x + coefficients[d][k];
    }
    for (std::size_t k = 0; k < count; ++k) out[k] = out[k] * x + secrets[k];
  }
  return shares;
}

template <class F>
std::vector<F> ShamirCodec<F>::reconstruct(std::span<const std::vector<F>> shares) const {
  if (shares.size() < degree_ + 1) throw std::invalid_argument("too few Shamir shares");
  const std::size_t count = shares[0].size();
  std::vector<F> secrets(count);
  for (std::size_t i = 0; i <= degree_; ++i) {
    if (shares[i].size() != count) throw std::invalid_argument("Shamir shares of unequal length");
    const F lambda = at_zero_[i];
    const auto& column = shares[i];
    for (std::size_t k = 0; k < count; ++k) secrets[k] += lambda * column[k];
  }
  return secrets;
}

template <class F>
std::vector<F> ShamirCodec<F>::reconstruct_checked(std::span<const std::vector<F>> shares,
                                                   std::span<const std::string> party_names) const {
  if (shares.size() != parties_) throw std::invalid_argument("need every party's Shamir share");
  const std::size_t count = shares[0].size();
  for (std::size_t party = degree_ + 1; party < parties_; ++party) {
    const auto& basis = at_others_[party - degree_ - 1];
    const auto& actual = shares[party];
    if (actual.size() != count) throw std::invalid_argument("Shamir shares of unequal length");
    for (std::size_t k = 0; k < count; ++k) {
      F expected(0);
      for (std::size_t i = 0; i <= degree_; ++i) expected += basis[i] * shares[i][k];
      if (!(expected == actual[k])) {
        throw ProtocolError("inconsistent Shamir shares at element " + std::to_string(k) +
                            ": the share of " + party_names[party] +
                            " does not lie on the polynomial of degree " +
                            std::to_string(degree_) + " through the shares of " +
                            party_names[0] + " .. " + party_names[degree_] +
                            " (one of them is wrong); the run is aborted");
      }
    }
  }
  return reconstruct(shares);
}

template class ShamirCodec<Fp61>;
template class ShamirCodec<Fp127>;

}  // namespace sm::mpc
