// The dealer job: serves correlated randomness to the computing parties of one run on the
// additive engine (mpc/dealer.hpp), then exits. The dealer is the configuration's party with
// role = "dealer"; it never sees the parties' data, only their requests for batches.
#include "apps/jobs.hpp"
#include "mpc/dealer.hpp"
#include "net/errors.hpp"

namespace sm::app {

namespace {

class DealerJob final : public Job {
 public:
  void add_options(CLI::App& /*command*/) override {}

  void run(JobContext& context) override {
    const PartyConfig& config = context.config();
    if (!config.dealer || *config.dealer != config.tls.self) {
      throw ConfigError(config.file.string() +
                        ": the dealer job runs at the party with role = \"dealer\"");
    }
    net::Mesh& mesh = context.connect(JobContext::Dealer::kInclude);
    const auto computing = config.compute_parties();
    context.log().info("serving correlated randomness to " + std::to_string(computing.size()) +
                       " computing parties");
    const auto phase = context.report().phase("serve");
    const mpc::DealerStats stats = mpc::serve_dealer(mesh, computing, &context.log());
    context.log().info("done: " + std::to_string(stats.batches) + " batches, " +
                       std::to_string(stats.bytes_sent) + " bytes sent");
    context.report().set_result({{"batches", stats.batches}, {"bytes_sent", stats.bytes_sent}});
    context.finish();
  }
};

}  // namespace

std::unique_ptr<Job> make_dealer_job() { return std::make_unique<DealerJob>(); }

}  // namespace sm::app
