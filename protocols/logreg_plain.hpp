// Plaintext logistic regression in double precision with Eigen, with exactly the mini-batches and
// update rule of train_logreg (protocols/logreg.hpp): the reference that tests and
// `mpc-bench lr` compare the secure training with. It sees all data in the clear, so it is never
// part of a party's data path.
#pragma once

#include <Eigen/Dense>
#include <functional>
#include <span>
#include <vector>

#include "protocols/logreg.hpp"

namespace sm::proto {

struct PlainLogRegModel {
  Eigen::VectorXd weights;        // features + 1 (bias last)
  std::vector<double> train_mse;  // per epoch, as EpochStats::train_mse: over the epoch's batches
};

// Mini-batch gradient descent on x (rows x features, the global row order of the layout) and
// labels y in {0, 1}: for each batch of minibatches(options), with s = sigmoid(X_B w),
//   w -= (learning_rate / B) (X_B^T (s - y_B) + l2 w)   (no L2 on the bias).
// `sigmoid` is the function to train with (e.g. sigmoid_approx of options.sigmoid).
PlainLogRegModel train_logreg_plain(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                    const LogRegOptions& options,
                                    const std::function<double(double)>& sigmoid);

// The fraction of `rows` whose label the weights (bias last) predict: [x w + b > 0] == y.
double accuracy_plain(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                      const Eigen::VectorXd& weights, std::span<const std::size_t> rows);

}  // namespace sm::proto
