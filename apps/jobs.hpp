// The list of mpc-party's jobs, in the order --help shows them.
#pragma once

#include "apps/job.hpp"

namespace sm::app {

std::unique_ptr<Job> make_ping_job();

inline constexpr JobInfo kJobs[] = {
    {"ping",
     "Connectivity and link check: connects to every party over TLS, agrees on the session, "
     "then measures the round-trip time and throughput to each peer and prints a table.",
     &make_ping_job},
};

}  // namespace sm::app
