// The predict job: applies a train-lr model (each party's model file) to the parties' rows and
// gives the probabilities and labels to one party only (--output-to).
//
// Each party standardises its columns with its model file's means and scales and inputs them;
// the weights enter as public values (model revealed to all), as the owner's input (revealed to
// one party) or as the parties' stored shares (kept secret; same scheme and parties needed).
// The output party learns the logit z of every row (it computes 1 / (1 + e^-z) exactly and the
// label z > 0); nothing else is opened. Vertical: rows matched by id as in train-lr; horizontal:
// party 0's rows first, the others' rows named "party<P>:row<R>" in the output.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>

#include "apps/atomic_file.hpp"
#include "apps/engine_setup.hpp"
#include "apps/input_check.hpp"
#include "apps/jobs.hpp"
#include "apps/logreg_io.hpp"
#include "mpc/ops.hpp"
#include "protocols/logreg.hpp"

namespace sm::app {

namespace {

class PredictJob final : public Job {
 public:
  void add_options(CLI::App& command) override {
    command.add_option("--model", model_path_, "This party's model file from train-lr.")
        ->required();
    command.add_option("--input", input_, "This party's CSV with the model's columns.")->required();
    command.add_option("--output", output_, "Where the output party writes id,probability,label.");
    command
        .add_option("--output-to", output_to_,
                    "The party (name or id) that learns the predictions.")
        ->capture_default_str();
    command.add_option("--scheme", scheme_,
                       "shamir or additive; must match the model's for shares.");
  }

  void run(JobContext& context) override {
    const PartyConfig& config = context.config();
    std::optional<net::PartyId> target;
    for (const auto& party : config.tls.parties) {
      if (party.name == output_to_ || std::to_string(party.id) == output_to_) target = party.id;
    }
    if (!target) throw ConfigError("--output-to: no party named or numbered '" + output_to_ + "'");
    if (*target == config.tls.self && output_.empty()) {
      throw ConfigError("--output is required at the output party");
    }
    nlohmann::json model;
    {
      std::ifstream in(model_path_);
      if (!in) throw ConfigError("cannot read the model file " + model_path_);
      try {
        in >> model;
      } catch (const nlohmann::json::exception& e) {
        throw ConfigError(model_path_ + ": not a model file (" + e.what() + ")");
      }
    }
    if (model.value("format", "") != "secretmesh-logreg/1") {
      throw ConfigError(model_path_ + ": not a secretmesh-logreg/1 model file");
    }
    std::optional<AtomicFile> output;
    if (*target == config.tls.self) output.emplace(output_);
    const std::string scheme =
        scheme_.empty() ? model.value("scheme", default_scheme(config)) : scheme_;
    run_with_engine(context, scheme, {"predict", {{"output-to", std::to_string(*target)}}},
                    mpc::FixedPoint{}, [&](auto& engine, net::Mesh& mesh) {
                      predict(context, engine, mesh, model, *target, scheme, output);
                    });
    context.finish();
  }

 private:
  template <class En>
  void predict(JobContext& context, En& engine, net::Mesh& mesh, const nlohmann::json& model,
               net::PartyId target, const std::string& scheme, std::optional<AtomicFile>& output) {
    using E = typename En::Element;
    const net::PartyId self = mesh.self();
    const bool vertical = model.at("partition") == "vertical";
    std::vector<std::string> names;
    std::vector<double> mean, scale;
    for (const auto& f : model.at("features")) {
      names.push_back(f.at("name"));
      mean.push_back(f.at("mean"));
      scale.push_back(f.at("scale"));
    }
    std::string weights_kind = model.contains("weight_shares") ? "shares"
                               : model.contains("weights_at")
                                   ? "at:" + std::to_string(model.at("weights_at").get<int>())
                                   : "public";
    InputStatus status;
    LrTable table;
    try {
      if (weights_kind == "shares" &&
          (model.at("scheme") != scheme || model.at("parties").get<std::size_t>() != mesh.size())) {
        throw InputError(model_path_ + " holds weight shares of a " +
                         model.at("scheme").get<std::string>() +
                         " run; run predict with the same "
                         "scheme and parties");
      }
      table = read_lr_table(input_, model.value("id_column", "id"), "", names);
      std::vector<std::string> digests;
      for (const auto& id : table.ids) digests.push_back(id_digest(id));
      std::sort(digests.begin(), digests.end());
      std::string joined;
      for (const auto& d : digests) joined += d;
      status.facts = {{"rows", std::to_string(table.ids.size())},
                      {"ids", vertical ? joined : ""},
                      {"weights", weights_kind},
                      {"settings", model.at("settings").dump() + model.at("columns").dump()}};
    } catch (const InputError& e) {
      status.error = e.what();
    }
    const auto facts = exchange_input_status(mesh, status);
    require_same(mesh, facts, "settings", "models (training settings and columns)");
    require_same(mesh, facts, "weights", "models' weights (public, at one party, or shares)");
    if (vertical) require_same(mesh, facts, "ids", "id sets (digests of the ids)");

    proto::LogRegLayout layout;
    std::vector<std::size_t> order(table.ids.size());
    std::iota(order.begin(), order.end(), 0);
    std::vector<std::string> row_names;
    if (vertical) {
      layout = {proto::Partition::kVertical,
                {table.ids.size()},
                model.at("columns").get<std::vector<std::size_t>>(),
                0};
      std::sort(order.begin(), order.end(),
                [&](auto a, auto b) { return id_digest(table.ids[a]) < id_digest(table.ids[b]); });
      for (auto i : order) row_names.push_back(table.ids[i]);
    } else {
      layout = {proto::Partition::kHorizontal, {}, {names.size()}, 0};
      for (net::PartyId p = 0; p < mesh.size(); ++p) {
        const std::size_t rows = std::stoul(facts[p].at("rows"));
        layout.rows.push_back(rows);
        for (std::size_t r = 0; r < rows; ++r) {
          row_names.push_back(p == self
                                  ? table.ids[r]
                                  : "party" + std::to_string(p) + ":row" + std::to_string(r + 1));
        }
      }
    }
    proto::LogRegData data;
    for (auto i : order) {
      for (std::size_t c = 0; c < names.size(); ++c) {
        data.features.push_back((table.columns[c][i] - mean[c]) / scale[c]);
      }
    }
    const auto& fixed = engine.session().fixed();
    const std::size_t width = layout.total_features() + 1;
    typename En::Shares weights;
    if (weights_kind == "shares") {
      for (const auto& s : model.at("weight_shares"))
        weights.values.push_back(element_from_hex<E>(s));
    } else {
      std::vector<E> encoded;
      if (model.contains("weights")) {
        encoded = mpc::encode_fixed<E>(fixed, model.at("weights").get<std::vector<double>>());
      }
      if (weights_kind == "public") {
        weights = engine.constant(encoded);
      } else {
        const net::PartyId owner = model.at("weights_at").get<net::PartyId>();
        weights = engine.input(owner, encoded, width, "predict: weights");
      }
    }
    const auto phase = context.report().phase("predict");
    const auto z = proto::logits(engine, data, layout, weights);
    const auto opened = engine.open_to(target, z, "predict: logits");
    if (opened) {
      const auto values = mpc::decode_fixed<E>(fixed, *opened);
      std::string text = "id,probability,label\n";
      char line[64];
      for (std::size_t i = 0; i < values.size(); ++i) {
        std::snprintf(line, sizeof line, ",%.6f,%d\n", 1 / (1 + std::exp(-values[i])),
                      values[i] > 0 ? 1 : 0);
        text += row_names[i] + line;
      }
      output->write(text);
      output->commit();
      context.log().info("wrote " + std::to_string(values.size()) + " predictions to " + output_);
    } else {
      context.log().info("the predictions went to " + mesh.describe(target) + " only");
    }
  }

  std::string model_path_, input_, output_, output_to_ = "0", scheme_;
};

}  // namespace

std::unique_ptr<Job> make_predict_job() { return std::make_unique<PredictJob>(); }

}  // namespace sm::app
