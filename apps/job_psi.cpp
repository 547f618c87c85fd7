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
// parties; align — at every party, its input's header and its common rows in the common order;
// sum — "sum" and the sum of the --payload column over the common ids, at the output parties.
//
// Sum mode runs on a secret-sharing engine (--scheme, apps/engine_setup.hpp). Exactly one party
// gives --payload. Its cells are read as exact decimals: integers, or decimals with at most
// kMaxDecimals digits after the point (an exponent is allowed), all scaled by 10^D where D is the
// most digits after the point in the column (trailing zeros do not count). D is public: the
// output parties need it to write the sum, which is exact and printed with D decimals. The
// scaled absolute values must add up to less than 2^63, so that the sum over any intersection
// fits; for an id on several rows, its first row's payload counts.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "apps/atomic_file.hpp"
#include "apps/csv.hpp"
#include "apps/engine_setup.hpp"
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

constexpr int kMaxDecimals = 9;

// A payload cell as an exact decimal: value = digits / 10^decimals.
struct Decimal {
  mpc::i128 digits = 0;
  int decimals = 0;
};

// The cell at (row, column) as an exact decimal: parse_number's checks (a number, finite), then
// the digits of its text ([-]digits[.digits][e[+-]digits]), without trailing zeros after the
// point. InputError "file:line:column: ..." when it has more than kMaxDecimals decimals or more
// than 18 digits.
Decimal read_decimal(const CsvTable& table, std::size_t row, std::size_t column) {
  const Number number = parse_number(table, row, column);
  if (const auto* integer = std::get_if<std::int64_t>(&number)) return {*integer, 0};
  const std::string& text = table.rows[row][column];
  const std::string where = table.where(row, column) + ": '" + text + "'";
  std::size_t at = 0;
  const bool negative = text[at] == '-';
  if (negative) ++at;
  Decimal out;
  int significant = 0;
  int exponent = 0;
  bool point = false;
  for (; at < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[at])) || (text[at] == '.' && !point));
       ++at) {
    if (text[at] == '.') {
      point = true;
      continue;
    }
    if (out.digits != 0 || text[at] != '0') ++significant;
    if (significant > 18) throw InputError(where + " has more than 18 significant digits");
    out.digits = out.digits * 10 + (text[at] - '0');
    if (point) --exponent;
  }
  if (at < text.size()) {  // an exponent: parse_number accepted the text, so digits follow
    const long shift = std::strtol(text.c_str() + at + 1, nullptr, 10);
    if (shift > 40 || shift < -40) throw InputError(where + " has an exponent beyond +-40");
    exponent += static_cast<int>(shift);
  }
  for (; exponent > 0; --exponent) {
    out.digits *= 10;
    if (out.digits >= proto::kPsiSumLimit) throw InputError(where + " is out of range");
  }
  out.decimals = -exponent;
  while (out.decimals > 0 && out.digits % 10 == 0) {
    out.digits /= 10;
    --out.decimals;
  }
  if (out.decimals > kMaxDecimals) {
    throw InputError(where + " has more than " + std::to_string(kMaxDecimals) +
                     " digits after the decimal point");
  }
  if (negative) out.digits = -out.digits;
  return out;
}

// A scaled sum as a decimal with `decimals` digits after the point.
std::string decimal_text(std::int64_t value, int decimals) {
  const auto bits = static_cast<std::uint64_t>(value);
  std::string digits = std::to_string(value < 0 ? 0 - bits : bits);
  if (decimals > 0) {
    if (digits.size() <= static_cast<std::size_t>(decimals)) {
      digits.insert(0, static_cast<std::size_t>(decimals) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<std::size_t>(decimals), ".");
  }
  return (value < 0 ? "-" : "") + digits;
}

struct LocalInput {
  CsvTable table;
  std::vector<std::string> ids;   // distinct, in file order
  std::vector<std::size_t> rows;  // the table row of each id
  std::size_t duplicates = 0;
  std::vector<std::int64_t> payloads;  // with a payload column: each id's payload x 10^decimals
  int decimals = 0;
};

// Reads the ids of `column` and, if `payload` is not empty, that column's payloads.
LocalInput read_input(const std::string& path, const std::string& column,
                      const std::string& payload) {
  LocalInput input{read_csv(path, HeaderRule::kRequired, EmptyRule::kAllow), {}, {}, 0, {}, 0};
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
  if (payload.empty()) return input;
  const std::size_t value_index = input.table.column_index(payload);
  std::vector<Decimal> values;
  for (std::size_t row : input.rows) {
    values.push_back(read_decimal(input.table, row, value_index));
    input.decimals = std::max(input.decimals, values.back().decimals);
  }
  mpc::u128 magnitude = 0;
  for (const Decimal& value : values) {
    mpc::i128 scaled = value.digits;
    for (int d = value.decimals; d < input.decimals; ++d) scaled *= 10;
    magnitude += static_cast<mpc::u128>(scaled < 0 ? -scaled : scaled);
    if (magnitude >= proto::kPsiSumLimit) {
      throw InputError(path + ": column '" + payload + "': the absolute values add up to " +
                       decimal_text(std::numeric_limits<std::int64_t>::max(), input.decimals) +
                       " or more, beyond the range of an exact sum with " +
                       std::to_string(input.decimals) + " decimals");
    }
    input.payloads.push_back(static_cast<std::int64_t>(scaled));
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
                    "order), or sum (the sum of one party's --payload column over the common "
                    "ids, to the output parties).")
        ->capture_default_str()
        ->check(CLI::IsMember({"intersection", "cardinality", "sum", "align"}));
    command.add_option("--payload", payload_,
                       "With --mode sum, at exactly one party: its numeric column summed over "
                       "the intersection (integers, or decimals with at most 9 digits after "
                       "the point; the sum is exact).");
    command.add_option("--scheme", scheme_,
                       "With --mode sum: shamir (dealer-free, N >= 3) or additive (needs the "
                       "dealer running). Default: shamir from 3 parties, else additive.");
    command.add_option("--output-to", output_to_,
                       "Comma-separated names or ids of the parties that learn the result "
                       "(default: all). The first one also computes the intersection (in sum "
                       "mode the first one without --payload, else the lowest id without it). "
                       "Not with --mode align.");
    command.add_option("--threads", threads_,
                       "Threads for the group operations (default: every core).");
  }

  void run(JobContext& context) override {
    const PartyConfig& config = context.config();
    const bool sum = mode_ == "sum";
    if (!sum && !payload_.empty()) throw ConfigError("--payload only applies to --mode sum");
    if (!sum && !scheme_.empty()) throw ConfigError("--scheme only applies to --mode sum");
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
    const net::SessionParams params{"psi", {{"mode", mode_}, {"output-to", outputs.text}}};
    if (sum) {
      run_with_engine(
          context, scheme_.empty() ? default_scheme(config) : scheme_, params, mpc::FixedPoint{},
          [&](auto& engine, net::Mesh& mesh) { run_sum(context, engine, mesh, outputs, output); });
    } else {
      net::Mesh& mesh = context.connect();
      const net::SessionInfo info = context.agree(params);
      run_set_mode(context, mesh, info, outputs, output);
    }
    context.finish();
  }

 private:
  // Reads this party's input and checks every party's (one round): InputError at every party if
  // any input is bad. Returns the input and every party's public facts about it.
  std::pair<LocalInput, std::vector<std::map<std::string, std::string>>> check_inputs(
      JobContext& context, net::Mesh& mesh) {
    InputStatus status;
    std::optional<LocalInput> input;
    {
      const auto phase = context.report().phase("input");
      try {
        input = read_input(input_, column_, payload_);
        status.facts = {{"items", std::to_string(input->ids.size())},
                        {"payload", payload_.empty() ? "no" : "yes"},
                        {"decimals", std::to_string(input->decimals)}};
      } catch (const InputError& e) {
        status.error = e.what();
      }
    }
    auto facts = exchange_input_status(mesh, status);
    if (input->duplicates > 0) {
      context.log().warn(input_ + ": " + std::to_string(input->duplicates) +
                         " duplicate ids removed (the first row of each id is kept)");
    }
    return {std::move(*input), std::move(facts)};
  }

  proto::PsiOptions psi_options(JobContext& context, proto::PsiMode mode,
                                const OutputParties& outputs) const {
    proto::PsiOptions options;
    options.mode = mode;
    options.output_parties = outputs.ids;
    options.threads = threads_;
    Logger& log = context.log();
    options.progress = [&log, last_report = std::chrono::steady_clock::now()](
                           std::string_view step, std::size_t done, std::size_t total) mutable {
      const auto now = std::chrono::steady_clock::now();
      if (done < total && now - last_report < std::chrono::seconds(5)) return;
      last_report = now;
      log.info(std::string(step) + ": " + std::to_string(done) + " / " + std::to_string(total));
    };
    return options;
  }

  // Runs the protocol in the report's "psi" phase, on a Session or an engine.
  template <class Protocol>
  proto::PsiResult run_protocol(JobContext& context, const LocalInput& input, Protocol&& protocol) {
    const auto phase = context.report().phase("psi");
    context.log().info("private set intersection of " + std::to_string(input.ids.size()) +
                       " ids, mode " + mode_);
    return protocol();
  }

  // Writes `text` to the output file, if this party has one, and the report's summary.
  void finish_output(JobContext& context, const LocalInput& input, const proto::PsiResult& result,
                     std::optional<AtomicFile>& output, const std::string& text,
                     const std::string& what, nlohmann::json summary) {
    summary["mode"] = mode_;
    summary["items"] = input.ids.size();
    summary["duplicates_removed"] = input.duplicates;
    summary["set_sizes"] = result.set_sizes;
    if (output) {
      output->write(text);
      output->commit();
      context.log().info("wrote " + what + " to " + output_);
    } else {
      context.log().info("the result went to the output parties only; nothing is written here");
    }
    context.report().set_result(summary);
  }

  void run_set_mode(JobContext& context, net::Mesh& mesh, const net::SessionInfo& info,
                    const OutputParties& outputs, std::optional<AtomicFile>& output) {
    const LocalInput input = check_inputs(context, mesh).first;
    proto::PsiOptions options = psi_options(context,
                                            mode_ == "cardinality" ? proto::PsiMode::kCardinality
                                            : mode_ == "align"     ? proto::PsiMode::kAlign
                                                                   : proto::PsiMode::kIntersection,
                                            outputs);
    options.nonce = info.nonce;
    const proto::PsiResult result = run_protocol(context, input, [&] {
      mpc::Session session = mpc::Session::establish(mesh);
      return proto::psi(session, input.ids, options);
    });
    nlohmann::json summary = nlohmann::json::object();
    if (result.cardinality) summary["cardinality"] = *result.cardinality;
    std::string text;
    if (result.intersection) {
      text = csv_row({column_});
      for (const auto& id : *result.intersection) text += csv_row({id});
    } else if (result.aligned) {
      text = csv_row(input.table.header);
      for (std::size_t index : *result.aligned) {
        text += csv_row(input.table.rows[input.rows[index]]);
      }
    } else if (result.cardinality) {
      text = "count\n" + std::to_string(*result.cardinality) + "\n";
    }
    const std::string what =
        (mode_ == "cardinality" ? std::string("the count of common ids, ")
                                : std::string("the common ids, ")) +
        (result.cardinality ? std::to_string(*result.cardinality) + "," : std::string());
    finish_output(context, input, result, output, text, what, summary);
  }

  // Sum mode. The hash domain takes the session's common randomness (fresh every run), as the
  // other modes do besides the session nonce.
  template <class En>
  void run_sum(JobContext& context, En& engine, net::Mesh& mesh, const OutputParties& outputs,
               std::optional<AtomicFile>& output) {
    const auto checked = check_inputs(context, mesh);
    const LocalInput& input = checked.first;
    const auto& facts = checked.second;
    std::vector<net::PartyId> holders;
    for (net::PartyId p = 0; p < mesh.size(); ++p) {
      if (facts[p].at("payload") == "yes") holders.push_back(p);
    }
    if (holders.size() != 1) {
      std::string names;
      for (net::PartyId p : holders) names += (names.empty() ? "" : ", ") + mesh.describe(p);
      throw ConfigError(
          "--mode sum needs --payload at exactly one party; " +
          (holders.empty() ? std::string("no party gave it") : "it was given at " + names));
    }
    const net::PartyId holder = holders.front();
    const int decimals = std::stoi(facts[holder].at("decimals"));
    const proto::PsiOptions options = psi_options(context, proto::PsiMode::kSum, outputs);
    const proto::PsiResult result = run_protocol(context, input, [&] {
      return proto::psi_sum(engine, input.ids, input.payloads, holder, options);
    });
    nlohmann::json summary = {{"payload_holder", mesh.describe(holder)}};
    std::string text;
    if (result.sum) {
      summary["sum"] = decimal_text(*result.sum, decimals);
      text = "sum\n" + decimal_text(*result.sum, decimals) + "\n";
    }
    finish_output(context, input, result, output, text, "the sum over the common ids", summary);
  }

  std::string input_, column_, output_, mode_ = "intersection", payload_, scheme_, output_to_;
  std::size_t threads_ = 0;
};

}  // namespace

std::unique_ptr<Job> make_psi_job() { return std::make_unique<PsiJob>(); }

}  // namespace sm::app
