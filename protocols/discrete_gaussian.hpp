// Distributed discrete Gaussian noise for differentially private sums (Kairouz, Liu and Steinke,
// "The Distributed Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation",
// ICML 2021).
//
// Every party adds integer noise drawn from the discrete Gaussian N_Z(0, sigma^2 / N) to its
// (clipped, fixed-point encoded) vector before it is shared, so the revealed sum carries noise
// close to N_Z(0, sigma^2) and no party ever sees the noise-free sum. The sampler is the
// rejection sampler of Canonne, Kamath and Steinke (NeurIPS 2020, Algorithm 3) driven by the
// AES-CTR PRG, evaluated in double precision (not hardened against floating-point timing).
//
// Calibration: the discrete Gaussian with sensitivity Delta (L2, in encoded units) is
// rho-zCDP with rho = Delta^2 / (2 sigma^2) (CKS20, Theorem 14); the sum of the parties'
// independent discrete Gaussians adds at most a term tau (KLS21, Theorem 1), negligible here
// (below 1e-12 once each party's sigma exceeds 2, which calibrated_sigma checks), and rho-zCDP
// implies (rho + 2 sqrt(rho ln(1/delta)), delta)-DP (Bun and Steinke, TCC 2016). Trust model:
// the noise protects the output against everyone who sees it; a coalition of k parties knows
// its own noise, so against it only the other N - k parties' noise counts.
#pragma once

#include <cstdint>
#include <vector>

#include "mpc/prg.hpp"

namespace sm::proto {

struct DpParameters {
  double epsilon = 1.0;
  double delta = 1e-6;
  double l2_sensitivity = 1.0;  // in encoded (integer) units
};

// The total noise standard deviation sigma that makes a sum (epsilon, delta)-DP. Throws
// std::invalid_argument for epsilon <= 0 or delta outside (0, 1).
double calibrated_sigma(const DpParameters& parameters);

// n samples of the discrete Gaussian N_Z(0, sigma^2) (sigma > 0).
std::vector<std::int64_t> sample_discrete_gaussian(mpc::Prg& prg, double sigma, std::size_t n);

}  // namespace sm::proto
