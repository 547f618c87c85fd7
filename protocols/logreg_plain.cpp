#include "protocols/logreg_plain.hpp"

namespace sm::proto {

PlainLogRegModel train_logreg_plain(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                    const LogRegOptions& options,
                                    const std::function<double(double)>& sigmoid) {
  const Eigen::Index d = x.cols();
  PlainLogRegModel model{Eigen::VectorXd::Zero(d + 1), {}};
  Eigen::VectorXd& w = model.weights;
  const double eta = options.learning_rate / static_cast<double>(options.batch_size);
  const auto batches = minibatches(options);
  const std::size_t per_epoch = options.epochs == 0 ? 0 : batches.size() / options.epochs;
  double squared = 0;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const auto& batch = batches[i];
    Eigen::MatrixXd xb(batch.size(), d + 1);
    Eigen::VectorXd yb(batch.size());
    for (std::size_t r = 0; r < batch.size(); ++r) {
      xb.row(static_cast<Eigen::Index>(r)) << x.row(static_cast<Eigen::Index>(batch[r])), 1.0;
      yb(static_cast<Eigen::Index>(r)) = y(static_cast<Eigen::Index>(batch[r]));
    }
    const Eigen::VectorXd e = (xb * w).unaryExpr(sigmoid) - yb;
    squared += e.squaredNorm();
    Eigen::VectorXd decay = options.l2 * w;
    decay(d) = 0;
    w -= eta * (xb.transpose() * e) + eta * decay;
    if ((i + 1) % per_epoch == 0) {
      model.train_mse.push_back(squared / static_cast<double>(per_epoch * options.batch_size));
      squared = 0;
    }
  }
  return model;
}

double accuracy_plain(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                      const Eigen::VectorXd& weights, std::span<const std::size_t> rows) {
  std::size_t correct = 0;
  for (std::size_t r : rows) {
    const auto row = static_cast<Eigen::Index>(r);
    const double z = x.row(row).dot(weights.head(x.cols())) + weights(x.cols());
    correct += (z > 0) == (y(row) == 1);
  }
  return rows.empty() ? 0 : static_cast<double>(correct) / static_cast<double>(rows.size());
}

}  // namespace sm::proto
