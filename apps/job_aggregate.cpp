// The aggregate job: the element-wise sum (or mean) of every party's vector, revealed only to the
// output parties (protocols/aggregate.hpp).
//
// Input: a CSV of numbers (one or more columns, an optional header), read row by row as one
// vector. If every party's cells are integers (and no differential privacy is asked for), the
// sum is exact; otherwise values are encoded in fixed point with as many fractional bits as the
// declared --range leaves room for, and the job reports the resulting error bound.
// Before anything private moves, the parties check that every input is valid and that all have
// the same shape; a problem anywhere ends the run at every party with exit code 3.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "apps/atomic_file.hpp"
#include "apps/csv.hpp"
#include "apps/input_check.hpp"
#include "apps/jobs.hpp"
#include "mpc/session.hpp"
#include "net/errors.hpp"
#include "net/round_budget_mesh.hpp"
#include "protocols/aggregate.hpp"
#include "protocols/discrete_gaussian.hpp"

namespace sm::app {

namespace {

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", value);
  return text;
}

struct LocalInput {
  CsvTable table;
  std::vector<double> values;  // row-major
  bool all_integers = true;
};

LocalInput read_input(const std::string& path, double range) {
  LocalInput input{read_csv(path, HeaderRule::kDetect), {}, true};
  const CsvTable& table = input.table;
  for (std::size_t row = 0; row < table.rows.size(); ++row) {
    for (std::size_t column = 0; column < table.columns(); ++column) {
      const Number number = parse_number(table, row, column);
      double value = 0;
      if (const auto* integer = std::get_if<std::int64_t>(&number)) {
        value = static_cast<double>(*integer);
      } else {
        value = std::get<double>(number);
        input.all_integers = false;
      }
      if (std::fabs(value) > range) {
        throw InputError(table.where(row, column) + ": " + table.rows[row][column] +
                         " is outside the declared range +-" + format_number(range) +
                         " (see --range)");
      }
      input.values.push_back(value);
    }
  }
  return input;
}

class AggregateJob final : public Job {
 public:
  void add_options(CLI::App& command) override {
    command.add_option("--input", input_, "CSV of numbers: one or more columns, optional header.")
        ->required();
    command.add_option("--output", output_,
                       "Where an output party writes the sum (CSV of the input's shape), "
                       "atomically. Required at the output parties.");
    command
        .add_option("--protocol", protocol_,
                    "threshold (Shamir sharing; default for 3 or more parties) or masked "
                    "(pairwise masks, for long vectors and many parties; default for 2).")
        ->check(CLI::IsMember({"threshold", "masked"}));
    command.add_option("--threshold", threshold_,
                       "Shamir degree t: any t parties learn nothing, and t + 1 must remain for "
                       "a result. Default floor((N-1)/2), at least 1.");
    command.add_flag("--mean", mean_,
                     "Reveal the mean over the included parties instead of the sum.");
    command.add_option("--output-to", output_to_,
                       "Comma-separated names or ids of the parties that learn the result "
                       "(default: all). The first one also aggregates.");
    command
        .add_option("--range", range_,
                    "Largest absolute value any input cell may have; decimals get as many "
                    "fractional bits as this range leaves (the error bound is reported).")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command
        .add_option("--dp-epsilon", epsilon_,
                    "Differential privacy: add distributed discrete Gaussian noise so the "
                    "revealed result is (epsilon, delta)-DP with respect to any one party's "
                    "vector. Requires --clip.")
        ->check(CLI::PositiveNumber);
    command.add_option("--dp-delta", delta_, "The delta of --dp-epsilon.")
        ->capture_default_str()
        ->check(CLI::Range(1e-300, 0.5));
    command
        .add_option("--clip", clip_,
                    "With --dp-epsilon: each party scales its vector down to this L2 norm "
                    "if it is longer (the sensitivity).")
        ->check(CLI::PositiveNumber);
    // For the dropout tests only: exit abruptly after this many protocol rounds.
    command.add_option("--exit-after-rounds", exit_after_rounds_)->group("");
  }

  void run(JobContext& context) override {
    const PartyConfig& config = context.config();
    Logger& log = context.log();
    const std::size_t n = config.tls.parties.size();
    const std::string protocol = protocol_.empty() ? (n >= 3 ? "threshold" : "masked") : protocol_;
    const std::size_t threshold = threshold_ ? *threshold_ : std::max<std::size_t>(1, (n - 1) / 2);
    if (threshold < 1 || threshold >= n) {
      throw ConfigError("--threshold must lie between 1 and " + std::to_string(n - 1));
    }
    const bool dp = epsilon_.has_value();
    if (dp && !clip_) throw ConfigError("--dp-epsilon needs --clip (the L2 norm bound)");
    if (!dp && clip_) throw ConfigError("--clip only applies with --dp-epsilon");
    const OutputParties outputs = output_parties(config, output_to_);
    if (outputs.includes_self && output_.empty()) {
      throw ConfigError("--output is required at an output party");
    }
    std::optional<AtomicFile> output;
    if (outputs.includes_self) output.emplace(output_);
    net::Mesh& mesh = context.connect();
    context.agree({"aggregate",
                   {{"protocol", protocol},
                    {"threshold", std::to_string(threshold)},
                    {"mean", mean_ ? "yes" : "no"},
                    {"output-to", outputs.text},
                    {"range", format_number(range_)},
                    {"dp-epsilon", dp ? format_number(*epsilon_) : "off"},
                    {"dp-delta", dp ? format_number(delta_) : "off"},
                    {"clip", dp ? format_number(*clip_) : "off"}}});

    // Read and check the input, then compare with the other parties.
    InputStatus status;
    std::optional<LocalInput> input;
    {
      const auto phase = context.report().phase("input");
      try {
        input = read_input(input_, range_);
        status.facts = {{"shape", std::to_string(input->table.rows.size()) + " x " +
                                      std::to_string(input->table.columns())},
                        {"integers", input->all_integers ? "yes" : "no"}};
      } catch (const InputError& e) {
        status.error = e.what();
      }
    }
    const auto facts = exchange_input_status(mesh, status);
    require_same(mesh, facts, "shape", "input shapes (rows x columns)");
    bool integers = !dp;
    for (const auto& party : facts) integers = integers && party.at("integers") == "yes";

    // Encoding: exact integers, or fixed point with the bits the range leaves.
    std::vector<double> values = input->values;
    double noise_sigma_real = 0;
    std::size_t clipped = 0;
    if (dp) {
      const double l = std::log(1.0 / delta_);
      const double root = std::sqrt(l + *epsilon_) - std::sqrt(l);
      noise_sigma_real = *clip_ / (std::sqrt(2.0) * root);  // refined below in encoded units
      double norm = 0;
      for (double v : values) norm += v * v;
      norm = std::sqrt(norm);
      if (norm > *clip_) {
        const double factor = *clip_ / norm;
        for (double& v : values) {
          clipped += v != 0;
          v *= factor;
        }
        log.info("clipped: the vector's L2 norm " + format_number(norm) + " exceeds --clip " +
                 format_number(*clip_) + "; " + std::to_string(clipped) + " values scaled by " +
                 format_number(factor));
      }
    }
    const double headroom = range_ + 20 * noise_sigma_real;
    const double limit = static_cast<double>(proto::max_abs_input(n));
    const int frac_bits =
        integers ? 0 : std::clamp(static_cast<int>(std::floor(std::log2(limit / headroom))), 0, 40);
    if (!integers && frac_bits < 8) {
      throw ConfigError("--range " + format_number(range_) +
                        " leaves fewer than 8 fractional bits for " + std::to_string(n) +
                        " parties; declare a smaller range");
    }
    const double scale = std::ldexp(1.0, frac_bits);
    std::vector<std::int64_t> encoded(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      encoded[i] = static_cast<std::int64_t>(std::nearbyint(values[i] * scale));
    }

    proto::AggregationOptions options;
    options.protocol = protocol == "masked" ? proto::AggregationProtocol::kMasked
                                            : proto::AggregationProtocol::kThreshold;
    options.threshold = threshold;
    options.output_parties = outputs.ids;
    if (dp) {
      const double sensitivity = *clip_ * scale + std::sqrt(static_cast<double>(values.size())) / 2;
      options.noise_sigma = proto::calibrated_sigma({*epsilon_, delta_, sensitivity});
      log.info("differential privacy: epsilon " + format_number(*epsilon_) + ", delta " +
               format_number(delta_) + ", total noise standard deviation " +
               format_number(options.noise_sigma / scale) + " (per party " +
               format_number(options.noise_sigma / scale / std::sqrt(static_cast<double>(n))) +
               ")");
    }

    proto::AggregationResult result;
    {
      const auto phase = context.report().phase("aggregate");
      log.info("summing " + std::to_string(encoded.size()) + " values with the " + protocol +
               " protocol (t = " + std::to_string(threshold) + ")");
      // Before the seed set-up: a party may leave right after it while we are still in it.
      mesh.expect_dropouts();
      mpc::PrgState seeds = mpc::PrgState::establish(mesh);
      if (exit_after_rounds_) {
        // As if killed: no goodbye to the peers.
        net::RoundBudgetMesh faulty(mesh, *exit_after_rounds_, [](net::Mesh&) { std::_Exit(137); });
        mpc::Session session(faulty, std::move(seeds));
        result = proto::secure_sum(session, encoded, options);
      } else {
        mpc::Session session(mesh, std::move(seeds));
        result = proto::secure_sum(session, encoded, options);
      }
    }
    for (auto p : result.dropped) log.warn(mesh.describe(p) + " dropped out during the run");

    const double error_bound =
        integers ? 0 : static_cast<double>(result.included.size()) / (2 * scale);
    nlohmann::json summary = {
        {"protocol", protocol},
        {"threshold", threshold},
        {"values", encoded.size()},
        {"included", result.included},
        {"dropped", result.dropped},
        {"exact", integers},
        {"fractional_bits", frac_bits},
        {"error_bound", mean_ ? error_bound / result.included.size() : error_bound},
        {"clipped_values", clipped},
        {"noise_sigma", dp ? options.noise_sigma / scale : 0.0}};
    if (result.sum) {
      write_result(*output, input->table, *result.sum, scale, integers,
                   mean_ ? static_cast<double>(result.included.size()) : 1.0);
      log.info("wrote the " + std::string(mean_ ? "mean" : "sum") + " of " +
               std::to_string(result.included.size()) + " parties' vectors to " + output_ +
               (integers
                    ? " (exact)"
                    : " (error at most " + format_number(summary["error_bound"].get<double>()) +
                          " per value from fixed point)"));
    } else {
      log.info("the result went to the output parties only; nothing is written here");
    }
    context.report().set_result(summary);
    context.finish();
  }

 private:
  static void write_result(AtomicFile& file, const CsvTable& table,
                           const std::vector<std::int64_t>& sum, double scale, bool integers,
                           double divisor) {
    std::string out;
    for (std::size_t c = 0; c < table.header.size(); ++c) out += (c ? "," : "") + table.header[c];
    if (!table.header.empty()) out += "\n";
    const std::size_t columns = table.columns();
    char cell[40];
    for (std::size_t i = 0; i < sum.size(); ++i) {
      if (integers && divisor == 1.0) {
        std::snprintf(cell, sizeof cell, "%lld", static_cast<long long>(sum[i]));
      } else {
        std::snprintf(cell, sizeof cell, "%.12g", static_cast<double>(sum[i]) / scale / divisor);
      }
      out += cell;
      out += (i + 1) % columns == 0 ? "\n" : ",";
    }
    file.write(out);
    file.commit();
  }

  std::string input_, output_, protocol_, output_to_;
  std::optional<std::size_t> threshold_;
  bool mean_ = false;
  double range_ = 1e6;
  std::optional<double> epsilon_;
  double delta_ = 1e-6;
  std::optional<double> clip_;
  std::optional<std::size_t> exit_after_rounds_;
};

}  // namespace

std::unique_ptr<Job> make_aggregate_job() { return std::make_unique<AggregateJob>(); }

}  // namespace sm::app
