// The psi job: private set intersection of the ids in one column of every party's CSV
// (protocols/psi.hpp).
//
// Ids are compared as exact byte strings after trimming surrounding whitespace; an empty id is an
// input error; duplicates within one file are removed (the first row is kept) with a warning that
// counts them; a file with a header and no rows is an empty set. Before anything private moves,
// the parties check every input (a missing column lists the available ones); a problem anywhere
// ends the run at every party with exit code 3 and no output.
//
// Outputs (CSV, written atomically): intersection — the column's header, then the common ids
// sorted bytewise, at the output parties; cardinality — "count" and the number, at the output
// parties; align — at every party, its input's header and its common rows in the common order.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "apps/atomic_file.hpp"
#include "apps/csv.hpp"
#include "apps/input_check.hpp"
#include "apps/jobs.hpp"
#include "mpc/session.hpp"
#include "net/errors.hpp"
#include "protocols/psi.hpp"

namespace sm::app {

namespace {

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// A CSV field, quoted when it must be (RFC 4180) or when whitespace at its ends would be trimmed.
std::string csv_field(const std::string& text) {
  const bool quote = text.find_first_of(",\"\r\n") != std::string::npos ||
                     (!text.empty() && (std::isspace(static_cast<unsigned char>(text.front())) ||
                                        std::isspace(static_cast<unsigned char>(text.back()))));
  if (!quote) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_row(const std::vector<std::string>& cells) {
  std::string out;
  for (std::size_t c = 0; c < cells.size(); ++c) out += (c ? "," : "") + csv_field(cells[c]);
  return out + "\n";
}

struct LocalInput {
  CsvTable table;
  std::vector<std::string> ids;   // distinct, in file order
  std::vector<std::size_t> rows;  // the table row of each id
  std::size_t duplicates = 0;
};

LocalInput read_input(const std::string& path, const std::string& column) {
  LocalInput input{read_csv(path, HeaderRule::kRequired, EmptyRule::kAllow), {}, {}, 0};
  const std::size_t index = input.table.column_index(column);
  std::unordered_map<std::string, std::size_t> seen;
  for (std::size_t row = 0; row < input.table.rows.size(); ++row) {
    std::string id = trim(input.table.rows[row][index]);
    if (id.empty()) throw InputError(input.table.where(row, index) + ": the id is empty");
    if (seen.emplace(id, row).second) {
      input.ids.push_back(std::move(id));
      input.rows.push_back(row);
    } else {
      ++input.duplicates;
    }
  }
  return input;
}

class PsiJob final : public Job {
 public:
  void add_options(CLI::App& command) override {
    command.add_option("--input", input_, "CSV with a header; one column holds the ids.")
        ->required();
    command.add_option("--column", column_, "The column of --input that holds the ids.")
        ->required();
    command.add_option("--output", output_,
                       "Where this party writes its result (CSV), atomically. Required at the "
                       "output parties (every party in align mode).");
    command
        .add_option("--mode", mode_,
                    "intersection (the common ids, to the output parties), cardinality (only "
                    "their number), align (every party writes its common rows in one common "
                    "order), or sum (not implemented in this version).")
        ->capture_default_str()
        ->check(CLI::IsMember({"intersection", "cardinality", "sum", "align"}));
    command.add_option("--payload", payload_,
                       "With --mode sum: the numeric column summed over the intersection.");
    command.add_option("--output-to", output_to_,
                       "Comma-separated names or ids of the parties that learn the result "
                       "(default: all). The first one also computes the intersection. Not "
                       "with --mode align.");
    command.add_option("--threads", threads_,
                       "Threads for the group operations (default: every core).");
  }

  void run(JobContext& context) override {
    const PartyConfig& config = context.config();
    Logger& log = context.log();
    if (mode_ == "sum") {
      throw ConfigError(
          "--mode sum is not implemented in this version; use intersection, "
          "cardinality or align");
    }
    if (!payload_.empty()) throw ConfigError("--payload only applies to --mode sum");
    if (mode_ == "align" && !output_to_.empty()) {
      throw ConfigError(
          "--output-to does not apply to --mode align: every party writes its "
          "own aligned rows");
    }
    const OutputParties outputs = output_parties(config, output_to_);
    if (outputs.includes_self && output_.empty()) {
      throw ConfigError("--output is required at an output party");
    }
    std::optional<AtomicFile> output;
    if (outputs.includes_self) output.emplace(output_);
    net::Mesh& mesh = context.connect();
    const net::SessionInfo info = context.agree(
        {"psi", {{"mode", mode_}, {"output-to", outputs.text}}});

    InputStatus status;
    std::optional<LocalInput> input;
    {
      const auto phase = context.report().phase("input");
      try {
        input = read_input(input_, column_);
        status.facts = {{"items", std::to_string(input->ids.size())}};
      } catch (const InputError& e) {
        status.error = e.what();
      }
    }
    exchange_input_status(mesh, status);
    if (input->duplicates > 0) {
      log.warn(input_ + ": " + std::to_string(input->duplicates) +
               " duplicate ids removed (the first row of each id is kept)");
    }

    proto::PsiOptions options;
    options.mode = mode_ == "cardinality" ? proto::PsiMode::kCardinality
                   : mode_ == "align"     ? proto::PsiMode::kAlign
                                          : proto::PsiMode::kIntersection;
    options.output_parties = outputs.ids;
    options.nonce = info.nonce;
    options.threads = threads_;
    auto last_report = std::chrono::steady_clock::now();
    options.progress = [&](std::string_view step, std::size_t done, std::size_t total) {
      const auto now = std::chrono::steady_clock::now();
      if (done < total && now - last_report < std::chrono::seconds(5)) return;
      last_report = now;
      log.info(std::string(step) + ": " + std::to_string(done) + " / " + std::to_string(total));
    };

    proto::PsiResult result;
    {
      const auto phase = context.report().phase("psi");
      log.info("private set intersection of " + std::to_string(input->ids.size()) + " ids, mode " +
               mode_);
      mpc::Session session = mpc::Session::establish(mesh);
      result = proto::psi(session, input->ids, options);
    }

    nlohmann::json summary = {{"mode", mode_},
                              {"items", input->ids.size()},
                              {"duplicates_removed", input->duplicates},
                              {"set_sizes", result.set_sizes}};
    if (result.cardinality) summary["cardinality"] = *result.cardinality;
    if (output) {
      std::string text;
      if (result.intersection) {
        text = csv_row({column_});
        for (const auto& id : *result.intersection) text += csv_row({id});
      } else if (result.aligned) {
        text = csv_row(input->table.header);
        for (std::size_t index : *result.aligned) {
          text += csv_row(input->table.rows[input->rows[index]]);
        }
      } else {
        text = "count\n" + std::to_string(result.cardinality.value()) + "\n";
      }
      output->write(text);
      output->commit();
      log.info("wrote " +
               (mode_ == "cardinality" ? std::string("the count of common ids, ")
                                       : std::string("the common ids, ")) +
               std::to_string(result.cardinality.value()) + ", to " + output_);
    } else {
      log.info("the result went to the output parties only; nothing is written here");
    }
    context.report().set_result(summary);
    context.finish();
  }

 private:
  std::string input_, column_, output_, mode_ = "intersection", payload_, output_to_;
  std::size_t threads_ = 0;
};

}  // namespace

std::unique_ptr<Job> make_psi_job() { return std::make_unique<PsiJob>(); }

}  // namespace sm::app
