// mpc-party: one organisation's process in a SecretMesh run.
//
//   mpc-party --config party0.toml [--log-level LEVEL] [--report FILE] <job> [job options]
//
// main() is the only place that turns exceptions into exit codes (net/errors.hpp, README.md
// "Exit codes"): CLI11 parse errors and ConfigError exit 2, InputError 3, NetError and
// PeerAuthError 4, ProtocolError 5, anything else 1. Logs go to stderr, prefixed with the
// party's name once the configuration is loaded; results go to stdout or output files.
#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <exception>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>

#include "apps/atomic_file.hpp"
#include "apps/config.hpp"
#include "apps/job.hpp"
#include "apps/jobs.hpp"
#include "apps/memory_settings.hpp"
#include "apps/report.hpp"
#include "net/errors.hpp"
#include "net/log.hpp"

namespace sm::app {

namespace {

struct Outcome {
  ExitCode code;
  std::string message;
};

// Maps the exception in flight to an exit code and a message for the user.
Outcome classify(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return {e.code(), e.what()};
  } catch (const std::exception& e) {
    return {ExitCode::kInternal, std::string("internal error: ") + e.what()};
  } catch (...) {
    return {ExitCode::kInternal, "internal error: unknown exception"};
  }
}

struct CommonOptions {
  std::string config;
  std::string report;
};

// Runs the selected job; throws what the job throws, after writing the report.
void run_job(const CommonOptions& options, std::string_view job_name, Job& job, Logger& log) {
  const PartyConfig config = load_party_config(options.config);
  log.set_name(config.name);
  // Created now, so an unwritable report path fails before any work is done.
  std::optional<AtomicFile> report_file;
  if (!options.report.empty()) report_file.emplace(options.report);

  Report report(std::string(job_name), config.name, config.tls.self);
  JobContext context(config, log, report);
  std::exception_ptr failure;
  try {
    job.run(context);
  } catch (...) {
    failure = std::current_exception();
  }
  if (context.mesh() != nullptr) report.set_traffic(*context.mesh());
  if (failure) {
    const Outcome outcome = classify(failure);
    report.set_outcome(static_cast<int>(outcome.code), outcome.message);
  }
  if (report_file) {
    try {
      report_file->write(report.to_json().dump(2) + "\n");
      report_file->commit();
    } catch (const Error& e) {
      if (!failure) throw;
      log.warn(e.what());
    }
  }
  if (failure) std::rethrow_exception(failure);
}

int run(int argc, char** argv) {
  Logger log("mpc-party");
  CLI::App app(
      "mpc-party: one organisation's process in a SecretMesh secure multi-party computation.\n"
      "Every party runs the same job with the same job options; the processes connect to each "
      "other over mutually authenticated TLS 1.3 as listed in their configuration files.\n"
      "Exit codes: 0 ok, 1 internal error, 2 usage or configuration error, 3 bad input data, "
      "4 network or peer failure, 5 protocol abort (parties disagree).",
      "mpc-party");
  CommonOptions options;
  app.add_option("-c,--config", options.config,
                 "This party's TOML configuration file (own id, key, certificate, CA, party "
                 "table); see README.md, \"Configuration reference\".")
      ->required()
      ->check(CLI::ExistingFile);
  const std::map<std::string, Logger::Level> levels = {{"debug", Logger::Level::kDebug},
                                                       {"info", Logger::Level::kInfo},
                                                       {"warn", Logger::Level::kWarn},
                                                       {"error", Logger::Level::kError},
                                                       {"quiet", Logger::Level::kQuiet}};
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "Least severe log messages written to stderr: debug, info, warn, error or quiet "
                 "(nothing but the error that ends a failed run).")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "quiet"}, CLI::ignore_case))
      ->capture_default_str();
  app.add_option("--report", options.report,
                 "Write a JSON summary of the run to this file (job, status, seconds per phase, "
                 "bytes sent and received per peer, rounds), also when the run fails. Written "
                 "atomically: a temporary file in the same folder, then renamed.");
  app.require_subcommand(1);

  std::vector<std::unique_ptr<Job>> jobs;
  std::vector<CLI::App*> commands;
  for (const JobInfo& info : kJobs) {
    jobs.push_back(info.make());
    CLI::App* command = app.add_subcommand(std::string(info.name), std::string(info.description));
    command->fallthrough();  // common options may also follow the job's name
    command->footer("Common options (--config, --log-level, --report): see mpc-party --help.");
    jobs.back()->add_options(*command);
    commands.push_back(command);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? static_cast<int>(ExitCode::kOk) : static_cast<int>(ExitCode::kUsage);
  }
  for (char& c : log_level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  log.set_level(levels.at(log_level));  // IsMember above admits only keys of `levels`

  try {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (commands[i]->parsed()) run_job(options, kJobs[i].name, *jobs[i], log);
    }
  } catch (...) {
    const Outcome outcome = classify(std::current_exception());
    log.set_level(std::min(levels.at(log_level), Logger::Level::kError));  // even when quiet
    log.error(outcome.message);
    return static_cast<int>(outcome.code);
  }
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace

}  // namespace sm::app

int main(int argc, char** argv) {
  // A peer that vanishes must surface as a NetError from the mesh, not kill us with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  sm::app::keep_freed_memory_for_reuse();
  return sm::app::run(argc, argv);
}
