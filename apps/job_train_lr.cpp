// The train-lr job: joint logistic regression (protocols/logreg.hpp) on data split vertically
// (columns, rows matched by id, one party holds the label) or horizontally (rows).
//
// Each party reads and checks its CSV; the parties then compare, in one round, row counts,
// digests of their ids (vertical without --align), feature names (horizontal) and who holds a
// label; any problem ends the run at every party with exit code 3 before training. Vertical with
// --align: instead of comparing id digests, the parties run PSI in align mode (protocols/psi.hpp)
// on their ids over the training session (the computing parties only, never the dealer), and
// each keeps only its rows of the common ids; an empty intersection is an input error (exit code
// 3). Vertical rows are then ordered by the digests of their ids, so a run with --align trains
// exactly as a run on files that held only the common rows. Standardisation: vertical, each
// party its own columns on the training rows (kept in its model file); horizontal, global means
// and variances from secure aggregation of the training rows' sums and sums of squares. A
// constant column is dropped with a warning. The model (JSON) and its training curve (CSV,
// MODEL.curve.csv) are written atomically.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>

#include "apps/atomic_file.hpp"
#include "apps/engine_setup.hpp"
#include "apps/input_check.hpp"
#include "apps/jobs.hpp"
#include "apps/logreg_io.hpp"
#include "mpc/ops.hpp"
#include "protocols/aggregate.hpp"
#include "protocols/logreg.hpp"
#include "protocols/psi.hpp"

namespace sm::app {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

mpc::Seed seed_from(std::uint64_t seed, std::uint8_t purpose) {
  mpc::Seed out{};
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(seed >> (8 * i));
  out[15] = purpose;
  return out;
}

std::string curve_path(const std::string& model) {
  const auto dot = model.rfind(".json");
  return (dot == std::string::npos ? model : model.substr(0, dot)) + ".curve.csv";
}

// Vertical without --align: throws InputError saying which party lacks how many ids unless
// every party's "ids" fact (its sorted id digests, comma-separated) names the same set.
void require_same_ids(const net::Mesh& mesh,
                      const std::vector<std::map<std::string, std::string>>& facts) {
  std::vector<std::set<std::string>> ids(mesh.size());
  for (net::PartyId p = 0; p < mesh.size(); ++p) {
    for (auto& d : split_list(facts[p].at("ids"))) ids[p].insert(d);
  }
  std::set<std::string> all;
  for (const auto& other : ids) all.insert(other.begin(), other.end());
  std::string problems;
  for (net::PartyId p = 0; p < mesh.size(); ++p) {
    std::size_t missing = 0;
    for (const auto& d : all) missing += ids[p].count(d) == 0;
    if (missing > 0) {
      problems += (problems.empty() ? "" : "; ") + mesh.describe(p) + " lacks " +
                  std::to_string(missing) + " ids that other parties have";
    }
  }
  if (!problems.empty()) {
    throw InputError(
        "the parties' id sets differ (vertical partitioning needs the same rows everywhere; "
        "pass --align to train on the ids common to all parties): " +
        problems);
  }
}

class TrainLrJob final : public Job {
 public:
  void add_options(CLI::App& command) override {
    command.add_option("--input", input_, "This party's CSV (header required).")->required();
    command.add_option("--id-column", id_column_, "The row id column.")->capture_default_str();
    command.add_option(
        "--label-column", label_column_,
        "The 0/1 label column (vertical: at exactly one party; horizontal: at all).");
    command.add_option("--partition", partition_, "vertical (columns) or horizontal (rows).")
        ->required()
        ->check(CLI::IsMember({"vertical", "horizontal"}));
    command.add_flag("--align", align_,
                     "Vertical only: train on the ids common to every party, found by private "
                     "set intersection (as psi --mode align) first; without it, every party must "
                     "hold the same ids.");
    command.add_option("--epochs", epochs_)->capture_default_str()->check(CLI::Range(1, 100000));
    command.add_option("--batch-size", batch_)
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 20));
    command.add_option("--learning-rate", learning_rate_)
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command.add_option("--l2", l2_, "L2 penalty (not on the bias).")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    command
        .add_option("--sigmoid", sigmoid_,
                    "piecewise5 (5-piece linear fit, max error 0.0184) or secureml3 "
                    "(clamp(z + 1/2, 0, 1), max error 0.378).")
        ->capture_default_str()
        ->check(CLI::IsMember({"piecewise5", "secureml3"}));
    command.add_option("--test-fraction", test_fraction_, "Held-out fraction of the rows.")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.9));
    command.add_option("--seed", seed_, "Public seed of the split and the mini-batch order.")
        ->capture_default_str();
    command.add_option("--scheme", scheme_, "shamir (dealer-free, N >= 3) or additive (dealer).");
    command
        .add_option("--reveal-model", reveal_,
                    "all (plaintext weights to every party), a party's name or id (to it "
                    "only), or none (each party writes its share).")
        ->capture_default_str();
    command.add_option("--output", output_, "The model file (JSON); the curve goes beside it.")
        ->required();
  }

  void run(JobContext& context) override {
    const PartyConfig& config = context.config();
    const bool vertical = partition_ == "vertical";
    if (align_ && !vertical) {
      throw ConfigError(
          "--align applies to --partition vertical only (horizontal parties hold different "
          "rows, so there is nothing to align)");
    }
    const std::string scheme = scheme_.empty() ? default_scheme(config) : scheme_;
    std::optional<net::PartyId> reveal_to;
    if (reveal_ != "all" && reveal_ != "none") {
      for (const auto& party : config.tls.parties) {
        if (party.name == reveal_ || std::to_string(party.id) == reveal_) reveal_to = party.id;
      }
      if (!reveal_to)
        throw ConfigError("--reveal-model: no party named or numbered '" + reveal_ + "'");
    }
    AtomicFile model_file(output_);
    AtomicFile curve_file(curve_path(output_));

    net::SessionParams params{"train-lr",
                              {{"partition", partition_},
                               {"align", align_ ? "yes" : "no"},
                               {"epochs", std::to_string(epochs_)},
                               {"batch-size", std::to_string(batch_)},
                               {"learning-rate", std::to_string(learning_rate_)},
                               {"l2", std::to_string(l2_)},
                               {"sigmoid", sigmoid_},
                               {"test-fraction", std::to_string(test_fraction_)},
                               {"seed", std::to_string(seed_)},
                               {"reveal-model", reveal_to ? std::to_string(*reveal_to) : reveal_}}};
    run_with_engine(context, scheme, params, mpc::FixedPoint{}, [&](auto& engine, net::Mesh& mesh) {
      train(context, engine, mesh, vertical, scheme, reveal_to, model_file, curve_file);
    });
    context.finish();
  }

 private:
  // PSI in align mode on this party's distinct `ids` over `session` (the computing parties):
  // returns the indices of the ids every party holds and logs how many rows each party keeps.
  // The session's fresh common randomness separates runs, so no nonce is needed. Throws
  // InputError at every party if no id is common to all.
  std::vector<std::size_t> align_rows(JobContext& context, mpc::Session& session,
                                      const std::vector<std::string>& ids) {
    const auto phase = context.report().phase("align");
    proto::PsiOptions options;
    options.mode = proto::PsiMode::kAlign;
    auto next_report = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    options.progress = [&](std::string_view step, std::size_t done, std::size_t total) {
      if (std::chrono::steady_clock::now() < next_report) return;  // every 5 s at most
      next_report = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      context.log().info("--align, " + std::string(step) + ": " + std::to_string(done) + " / " +
                         std::to_string(total));
    };
    context.log().info("aligning " + std::to_string(ids.size()) +
                       " ids with the other parties (private set intersection)");
    proto::PsiResult result = proto::psi(session, ids, options);
    const std::size_t common = result.aligned->size();
    std::string sizes, kept;
    for (net::PartyId p = 0; p < session.parties(); ++p) {
      const std::string party = (p ? ", " : "") + session.mesh().describe(p) + " ";
      sizes += party + std::to_string(result.set_sizes[p]);
      kept += party + std::to_string(common) + " of " + std::to_string(result.set_sizes[p]);
    }
    if (common == 0) {
      throw InputError(
          "--align: no id is common to every party, nothing to train on (ids: " + sizes + ")");
    }
    context.log().info("--align: " + std::to_string(common) +
                       " ids common to every party; rows kept: " + kept);
    return std::move(*result.aligned);
  }

  template <class En>
  void train(JobContext& context, En& engine, net::Mesh& mesh, bool vertical,
             const std::string& scheme, std::optional<net::PartyId> reveal_to,
             AtomicFile& model_file, AtomicFile& curve_file) {
    using E = typename En::Element;
    Logger& log = context.log();
    const net::PartyId self = mesh.self();
    const std::size_t parties = mesh.size();

    // Read and check locally, then compare across parties.
    InputStatus status;
    LrTable table;
    try {
      table = read_lr_table(input_, id_column_, label_column_);
      std::vector<std::string> digests;
      for (const auto& id : table.ids) digests.push_back(id_digest(id));
      std::sort(digests.begin(), digests.end());
      status.facts = {{"rows", std::to_string(table.ids.size())},
                      {"label", label_column_.empty() ? "no" : "yes"},
                      {"features", join(table.names)},
                      {"ids", vertical && !align_ ? join(digests) : ""}};
    } catch (const InputError& e) {
      status.error = e.what();
    }
    const auto facts = exchange_input_status(mesh, status);
    std::vector<net::PartyId> labelled;
    for (net::PartyId p = 0; p < parties; ++p) {
      if (facts[p].at("label") == "yes") labelled.push_back(p);
    }
    if (vertical) {
      if (labelled.empty()) throw InputError("no party has a label column (--label-column)");
      if (labelled.size() > 1) {
        throw InputError("several parties have a label column: " + mesh.describe(labelled[0]) +
                         " and " + mesh.describe(labelled[1]) + "; exactly one may");
      }
      if (!align_) require_same_ids(mesh, facts);
    } else {
      for (net::PartyId p = 0; p < parties; ++p) {
        if (facts[p].at("label") != "yes") {
          throw InputError(mesh.describe(p) +
                           " has no label column; in horizontal mode every "
                           "party needs one (--label-column)");
        }
      }
      require_same(mesh, facts, "features", "feature columns");
    }

    // Global row order (vertical: the rows of the common ids, by id digest) and the split.
    std::vector<std::size_t> order(table.ids.size());
    std::iota(order.begin(), order.end(), 0);
    if (align_) order = align_rows(context, engine.session(), table.ids);
    std::size_t offset = 0, total = order.size();
    proto::LogRegLayout layout;
    layout.partition = vertical ? proto::Partition::kVertical : proto::Partition::kHorizontal;
    if (vertical) {
      std::sort(order.begin(), order.end(),
                [&](auto a, auto b) { return id_digest(table.ids[a]) < id_digest(table.ids[b]); });
      layout.rows = {total};
      layout.label_party = labelled[0];
    } else {
      total = 0;
      for (net::PartyId p = 0; p < parties; ++p) {
        const std::size_t rows = std::stoul(facts[p].at("rows"));
        if (p < self) offset += rows;
        total += rows;
        layout.rows.push_back(rows);
      }
    }
    const auto split = proto::split_rows(total, test_fraction_, seed_from(seed_, 1));
    std::vector<bool> is_train(total, false);
    for (auto r : split.train) is_train[r] = true;

    // Standardisation on the training rows.
    const std::size_t columns = table.names.size();
    std::vector<double> mean(columns), scale(columns);
    std::vector<double> local(2 * columns + 1, 0);
    for (std::size_t i = 0; i < order.size(); ++i) {
      const std::size_t global = vertical ? i : offset + i;
      if (!is_train[global]) continue;
      local[2 * columns] += 1;
      for (std::size_t c = 0; c < columns; ++c) {
        const double v = table.columns[c][order[i]];
        local[c] += v;
        local[columns + c] += v * v;
      }
    }
    if (!vertical) {
      const int frac_bits = 16;
      std::vector<std::int64_t> encoded(local.size());
      for (std::size_t i = 0; i < local.size(); ++i) {
        encoded[i] = std::llround(std::ldexp(local[i], frac_bits));
      }
      proto::AggregationOptions options;
      options.threshold = std::max<std::size_t>(1, (parties - 1) / 2);
      mpc::Session session = mpc::Session::establish(mesh);
      const auto sums = proto::secure_sum(session, encoded, options);
      for (std::size_t i = 0; i < local.size(); ++i) {
        local[i] = std::ldexp(static_cast<double>(sums.sum->at(i)), -frac_bits);
      }
    }
    std::vector<std::size_t> kept;
    for (std::size_t c = 0; c < columns; ++c) {
      const double n = local[2 * columns];
      mean[c] = local[c] / n;
      const double variance = local[columns + c] / n - mean[c] * mean[c];
      scale[c] = variance > 1e-12 * (1 + mean[c] * mean[c]) ? std::sqrt(variance) : 0;
      if (scale[c] == 0) {
        log.warn("column '" + table.names[c] + "' is constant on the training rows; dropped");
      } else {
        kept.push_back(c);
      }
    }
    if (kept.empty()) throw InputError(input_ + ": every feature column is constant");
    // Kept column counts are public (the layout).
    InputStatus kept_status;
    kept_status.facts = {{"kept", std::to_string(kept.size())}};
    const auto kept_facts = exchange_input_status(mesh, kept_status);
    for (net::PartyId p = 0; p < parties; ++p) {
      if (vertical) layout.columns.push_back(std::stoul(kept_facts[p].at("kept")));
    }
    if (!vertical) layout.columns = {kept.size()};

    proto::LogRegData data;
    for (std::size_t i = 0; i < order.size(); ++i) {
      for (auto c : kept)
        data.features.push_back((table.columns[c][order[i]] - mean[c]) / scale[c]);
      if (!table.labels.empty()) data.labels.push_back(table.labels[order[i]]);
    }

    proto::LogRegOptions options;
    options.epochs = epochs_;
    options.batch_size = batch_;
    options.learning_rate = learning_rate_;
    options.l2 = l2_;
    options.sigmoid = proto::parse_sigmoid(sigmoid_);
    options.train_rows = split.train;
    options.test_rows = split.test;
    options.shuffle_seed = seed_from(seed_, 2);
    std::string curve = "epoch,train_mse,test_accuracy\n";
    options.progress = [&](const proto::EpochStats& stats) {
      char line[160];
      std::snprintf(line, sizeof line, "epoch %zu/%zu: training MSE %.5f", stats.epoch, epochs_,
                    stats.train_mse);
      std::string text = line;
      if (stats.test_accuracy) {
        std::snprintf(line, sizeof line, ", test accuracy %.2f%%", 100 * *stats.test_accuracy);
        text += line;
      }
      log.info(text);
      std::snprintf(line, sizeof line, "%zu,%.8f,", stats.epoch, stats.train_mse);
      curve += line;
      if (stats.test_accuracy) {
        std::snprintf(line, sizeof line, "%.6f", *stats.test_accuracy);
        curve += line;
      }
      curve += "\n";
    };
    const auto before = mesh.stats();
    proto::LogRegModel<typename En::Shares> model;
    {
      const auto phase = context.report().phase("train");
      log.info("training on " + std::to_string(split.train.size()) + " rows (" +
               std::to_string(split.test.size()) + " held out), " +
               std::to_string(layout.total_features()) + " features, " + scheme + " scheme");
      model = proto::train_logreg(engine, data, layout, options);
    }

    nlohmann::json json;
    json["format"] = "secretmesh-logreg/1";
    json["partition"] = partition_;
    json["aligned"] = align_;
    json["party"] = self;
    json["parties"] = parties;
    json["scheme"] = scheme;
    json["settings"] = {{"epochs", epochs_},
                        {"batch_size", batch_},
                        {"learning_rate", learning_rate_},
                        {"l2", l2_},
                        {"sigmoid", sigmoid_},
                        {"test_fraction", test_fraction_},
                        {"seed", seed_},
                        {"frac_bits", engine.session().fixed().frac_bits},
                        {"iterations", model.iterations}};
    json["id_column"] = id_column_;
    json["label_party"] = vertical ? static_cast<int>(layout.label_party) : -1;
    json["columns"] = layout.columns;
    // Feature names of every party (public), standardisation of this party's (vertical) or of
    // all (horizontal) columns.
    nlohmann::json features = nlohmann::json::array();
    std::vector<std::string> kept_names;
    for (auto c : kept) {
      kept_names.push_back(table.names[c]);
      features.push_back({{"name", table.names[c]},
                          {"party", vertical ? static_cast<int>(self) : -1},
                          {"mean", mean[c]},
                          {"scale", scale[c]}});
    }
    json["features"] = features;
    const auto& fixed = engine.session().fixed();
    if (reveal_ == "none") {
      nlohmann::json shares = nlohmann::json::array();
      for (const auto& v : model.weights.values) shares.push_back(element_hex(v));
      json["weight_shares"] = shares;
    } else if (reveal_to) {
      const auto opened = engine.open_to(*reveal_to, model.weights, "train-lr: reveal model");
      json["weights_at"] = *reveal_to;
      if (opened) json["weights"] = mpc::decode_fixed<E>(fixed, *opened);
    } else {
      json["weights"] =
          mpc::decode_fixed<E>(fixed, engine.open(model.weights, "train-lr: reveal model"));
    }
    const auto after = mesh.stats();
    const double iterations = static_cast<double>(std::max<std::size_t>(1, model.iterations));
    nlohmann::json summary = {
        {"iterations", model.iterations},
        {"rounds", after.rounds - before.rounds},
        {"bytes_sent", after.bytes_sent() - before.bytes_sent()},
        {"bytes_sent_per_iteration",
         static_cast<double>(after.bytes_sent() - before.bytes_sent()) / iterations},
        {"final_train_mse", model.curve.empty() ? 0.0 : model.curve.back().train_mse}};
    if (!model.curve.empty() && model.curve.back().test_accuracy) {
      summary["final_test_accuracy"] = *model.curve.back().test_accuracy;
    }
    json["training"] = summary;
    context.report().set_result(summary);
    model_file.write(json.dump(2) + "\n");
    curve_file.write(curve);
    model_file.commit();
    curve_file.commit();
    log.info("wrote the model to " + output_ + " and the training curve to " + curve_path(output_));
  }

  std::string input_, id_column_ = "id", label_column_, partition_, sigmoid_ = "piecewise5";
  std::string scheme_, reveal_ = "all", output_;
  std::size_t epochs_ = 10, batch_ = 32;
  double learning_rate_ = 1.0, l2_ = 0, test_fraction_ = 0;
  std::uint64_t seed_ = 1;
  bool align_ = false;
};

}  // namespace

std::unique_ptr<Job> make_train_lr_job() { return std::make_unique<TrainLrJob>(); }

}  // namespace sm::app
