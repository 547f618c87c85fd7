#include "protocols/discrete_gaussian.hpp"

#include <cmath>
#include <stdexcept>

namespace sm::proto {

namespace {

// Uniform doubles in [0, 1) and uniform integers from a Prg, buffered.
class Uniform {
 public:
  explicit Uniform(mpc::Prg& prg) : prg_(prg) {}
  std::uint64_t word() {
    if (next_ == buffer_.size()) {
      prg_.fill({reinterpret_cast<std::uint8_t*>(buffer_.data()), buffer_.size() * 8});
      next_ = 0;
    }
    return buffer_[next_++];
  }
  double unit() { return static_cast<double>(word() >> 11) * 0x1.0p-53; }
  bool bernoulli(double p) { return unit() < p; }
  // Uniform in [0, bound), bound > 0 (rejection: no modulo bias).
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    for (;;) {
      const std::uint64_t w = word();
      if (w < limit) return w % bound;
    }
  }

 private:
  mpc::Prg& prg_;
  std::vector<std::uint64_t> buffer_ = std::vector<std::uint64_t>(512);
  std::size_t next_ = buffer_.size();
};

// The discrete Laplace distribution with scale t (CKS20, Algorithm 2).
std::int64_t discrete_laplace(Uniform& uniform, std::uint64_t t) {
  for (;;) {
    const std::uint64_t u = uniform.below(t);
    if (!uniform.bernoulli(std::exp(-static_cast<double>(u) / static_cast<double>(t)))) continue;
    std::uint64_t v = 0;
    while (uniform.bernoulli(std::exp(-1.0))) ++v;
    const std::uint64_t x = u + t * v;
    const bool negative = uniform.bernoulli(0.5);
    if (negative && x == 0) continue;
    return negative ? -static_cast<std::int64_t>(x) : static_cast<std::int64_t>(x);
  }
}

}  // namespace

double calibrated_sigma(const DpParameters& parameters) {
  if (!(parameters.epsilon > 0)) throw std::invalid_argument("epsilon must be positive");
  if (!(parameters.delta > 0 && parameters.delta < 1)) {
    throw std::invalid_argument("delta must lie in (0, 1)");
  }
  if (!(parameters.l2_sensitivity > 0)) throw std::invalid_argument("sensitivity must be positive");
  // The largest rho with rho + 2 sqrt(rho L) <= epsilon, L = ln(1/delta).
  const double l = std::log(1.0 / parameters.delta);
  const double root = std::sqrt(l + parameters.epsilon) - std::sqrt(l);
  const double rho = root * root;
  return parameters.l2_sensitivity / std::sqrt(2.0 * rho);
}

std::vector<std::int64_t> sample_discrete_gaussian(mpc::Prg& prg, double sigma, std::size_t n) {
  if (!(sigma > 0)) throw std::invalid_argument("sigma must be positive");
  Uniform uniform(prg);
  const auto t = static_cast<std::uint64_t>(std::floor(sigma)) + 1;
  const double sigma2 = sigma * sigma;
  std::vector<std::int64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (;;) {
      const std::int64_t y = discrete_laplace(uniform, t);
      const double gap = std::fabs(static_cast<double>(y)) - sigma2 / static_cast<double>(t);
      if (uniform.bernoulli(std::exp(-gap * gap / (2 * sigma2)))) {
        out[i] = y;
        break;
      }
    }
  }
  return out;
}

}  // namespace sm::proto
