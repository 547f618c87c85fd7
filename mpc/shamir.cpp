#include "mpc/shamir.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include "mpc/linear_combination.hpp"
#include "mpc/mersenne.hpp"
#include "net/errors.hpp"

namespace sm::mpc {

namespace {

// Secrets reconstructed (and checked) at a time: the expected shares of one block stay in cache.
constexpr std::size_t kCheckBlock = 256;

}  // namespace

template <class F>
std::vector<F> lagrange_at(std::span<const F> points, F x) {
  std::vector<F> basis(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    F numerator(1), denominator(1);
    for (std::size_t j = 0; j < points.size(); ++j) {
      if (j == i) continue;
      numerator *= x - points[j];
      denominator *= points[i] - points[j];
    }
    basis[i] = numerator * inverse(denominator);
  }
  return basis;
}

template std::vector<Fp61> lagrange_at(std::span<const Fp61>, Fp61);
template std::vector<Fp127> lagrange_at(std::span<const Fp127>, Fp127);

template <class F>
ShamirCodec<F>::ShamirCodec(std::size_t parties, std::size_t degree)
    : parties_(parties), degree_(degree) {
  if (degree < 1 || degree >= parties) {
    throw std::invalid_argument("Shamir sharing needs 1 <= degree < parties (degree " +
                                std::to_string(degree) + ", " + std::to_string(parties) +
                                " parties)");
  }
  std::vector<std::size_t> everyone(parties);
  for (std::size_t i = 0; i < parties; ++i) everyone[i] = i;
  all_parties_ = make_plan(everyone);
}

template <class F>
typename ShamirCodec<F>::Plan ShamirCodec<F>::make_plan(
    std::span<const std::size_t> holders) const {
  if (holders.size() < degree_ + 1) {
    throw std::invalid_argument("Shamir reconstruction needs " + std::to_string(degree_ + 1) +
                                " shares, got " + std::to_string(holders.size()));
  }
  Plan plan;
  plan.holders.assign(holders.begin(), holders.end());
  std::vector<F> points;
  for (std::size_t i = 0; i <= degree_; ++i) points.push_back(point(holders[i]));
  plan.at_zero = lagrange_at<F>(points, F(0));
  for (std::size_t i = degree_ + 1; i < holders.size(); ++i) {
    plan.at_others.push_back(lagrange_at<F>(points, point(holders[i])));
  }
  return plan;
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
    const F lambda = all_parties_.at_zero[i];
    const auto& column = shares[i];
    for (std::size_t k = 0; k < count; ++k) secrets[k] += lambda * column[k];
  }
  return secrets;
}

template <class F>
void ShamirCodec<F>::interpolate_checked_block(const Plan& plan,
                                               std::span<const std::span<const F>> shares,
                                               std::span<F> out,
                                               std::span<const std::string> party_names,
                                               std::size_t first) const {
  const std::size_t count = out.size();
  if (shares.size() != plan.holders.size()) throw std::invalid_argument("one share per holder");
  for (const auto& column : shares) {
    if (column.size() != count) throw std::invalid_argument("Shamir shares of unequal length");
  }
  // The first checked holder (and its first element) whose share is off the polynomial is
  // recorded during the single pass: `out` may alias the shares, so each block's checks come
  // before its secrets are written, and there is no second look.
  const std::size_t checked = plan.holders.size() - degree_ - 1;
  std::size_t bad_holder = checked, bad_element = 0;
  std::vector<const F*> basis_points(degree_ + 1);
  std::array<F, kCheckBlock> expected;
  for (std::size_t begin = 0; begin < count; begin += kCheckBlock) {
    const std::size_t size = std::min(kCheckBlock, count - begin);
    for (std::size_t i = 0; i <= degree_; ++i) basis_points[i] = shares[i].data() + begin;
    for (std::size_t c = 0; c < checked; ++c) {
      linear_combination<F>(expected.data(), size, plan.at_others[c], basis_points);
      const F* actual = shares[degree_ + 1 + c].data() + begin;
      for (std::size_t k = 0; k < size; ++k) {
        if (!(expected[k] == actual[k]) && c < bad_holder) {
          bad_holder = c;
          bad_element = begin + k;
        }
      }
    }
    linear_combination<F>(out.data() + begin, size, plan.at_zero, basis_points);
  }
  if (bad_holder == checked) return;
  throw ProtocolError(
      "inconsistent Shamir shares at element " + std::to_string(first + bad_element) +
      ": the share of " + party_names[plan.holders[degree_ + 1 + bad_holder]] +
      " does not lie on the polynomial of degree " + std::to_string(degree_) +
      " through the shares of " + party_names[plan.holders[0]] + " .. " +
      party_names[plan.holders[degree_]] + " (one of them is wrong); the run is aborted");
}

template <class F>
std::vector<F> ShamirCodec<F>::interpolate_checked(const Plan& plan,
                                                   std::span<const std::vector<F>> shares,
                                                   std::span<const std::string> party_names) const {
  if (shares.empty()) throw std::invalid_argument("one share per holder");
  std::vector<std::span<const F>> views(shares.begin(), shares.end());
  std::vector<F> secrets(shares[0].size());
  interpolate_checked_block(plan, views, secrets, party_names, 0);
  return secrets;
}

template <class F>
std::vector<F> ShamirCodec<F>::reconstruct_checked(std::span<const std::vector<F>> shares,
                                                   std::span<const std::string> party_names) const {
  if (shares.size() != parties_) throw std::invalid_argument("need every party's Shamir share");
  return interpolate_checked(all_parties_, shares, party_names);
}

template <class F>
void ShamirCodec<F>::reconstruct_checked_block(std::span<const std::span<const F>> shares,
                                               std::span<F> out,
                                               std::span<const std::string> party_names,
                                               std::size_t first) const {
  if (shares.size() != parties_) throw std::invalid_argument("need every party's Shamir share");
  interpolate_checked_block(all_parties_, shares, out, party_names, first);
}

template <class F>
std::vector<F> ShamirCodec<F>::reconstruct_from(std::span<const std::size_t> holders,
                                                std::span<const std::vector<F>> shares,
                                                std::span<const std::string> party_names) const {
  return interpolate_checked(make_plan(holders), shares, party_names);
}

template class ShamirCodec<Fp61>;
template class ShamirCodec<Fp127>;

}  // namespace sm::mpc
