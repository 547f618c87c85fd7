// The list of mpc-party's jobs, in the order --help shows them.
#pragma once

#include "apps/job.hpp"

namespace sm::app {

std::unique_ptr<Job> make_ping_job();
std::unique_ptr<Job> make_aggregate_job();
std::unique_ptr<Job> make_psi_job();
std::unique_ptr<Job> make_dealer_job();
std::unique_ptr<Job> make_train_lr_job();
std::unique_ptr<Job> make_predict_job();

inline constexpr JobInfo kJobs[] = {
    {"ping",
     "Connectivity and link check: connects to every party over TLS, agrees on the session, "
     "then measures the round-trip time and throughput to each peer and prints a table.",
     &make_ping_job},
    {"aggregate",
     "Secure aggregation: the element-wise sum (or mean) of every party's vector, revealed only "
     "to the output parties; tolerates parties dropping out; optional differential privacy.",
     &make_aggregate_job},
    {"train-lr",
     "Joint logistic regression on data split by columns (vertical) or rows (horizontal): "
     "mini-batch gradient descent on secret-shared weights; writes the model (JSON) and its "
     "training curve.",
     &make_train_lr_job},
    {"predict",
     "Applies a train-lr model to the parties' rows; probabilities and labels go to one party.",
     &make_predict_job},
    {"psi",
     "Private set intersection: the ids common to every party's CSV column (or only their number, "
     "or every party's common rows in one order, or the sum of one party's numeric column over "
     "them), revealed only to the output parties.",
     &make_psi_job},
    {"dealer",
     "Runs the dealer (the configuration's party with role = \"dealer\") for one run of the "
     "computing parties on the additive engine, then exits. It never sees their data.",
     &make_dealer_job},
};

}  // namespace sm::app
