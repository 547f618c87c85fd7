// The jobs of mpc-party: one sub-command each, one source file each (job_<name>.cpp).
//
// A job declares its options on its CLI11 sub-command, then run() does the work through a
// JobContext: the validated configuration, the logger, the run's report, and the mesh, which
// the context connects and owns. Jobs throw sm::Error subclasses on failure and never exit;
// mpc_party.cpp's main() maps them to exit codes and writes the report either way.
//
// Adding a job: write apps/job_<name>.cpp defining make_<name>_job(), declare it and add it to
// kJobs in apps/jobs.hpp, and list the file in apps/CMakeLists.txt.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "apps/config.hpp"
#include "apps/report.hpp"
#include "net/log.hpp"
#include "net/mesh.hpp"
#include "net/session.hpp"

namespace sm::app {

class JobContext {
 public:
  JobContext(const PartyConfig& config, Logger& log, Report& report)
      : config_(config), log_(log), report_(report) {}
  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;
  ~JobContext();

  const PartyConfig& config() const { return config_; }
  Logger& log() { return log_; }
  Report& report() { return report_; }

  // Whether a job's mesh includes the configuration's dealer (role = "dealer"): only jobs on the
  // additive engine need it; the others run without the dealer process.
  enum class Dealer { kExclude, kInclude };

  // Connects over TLS (report phase "connect") to the computing parties, and to the dealer if
  // `dealer` is kInclude, and returns the mesh of the computing parties (a SubMesh when the
  // dealer is in), which this context owns. At the dealer itself the full mesh is returned.
  // Throws NetError / PeerAuthError at the connect deadline, ConfigError when the dealer is
  // asked for but none is configured.
  net::Mesh& connect(Dealer dealer = Dealer::kExclude);
  // Agrees with every computing party on the job and its public parameters (report phase
  // "session"); the names of all parties are added as parameter "parties", so differing party
  // tables are caught too. Throws ProtocolError naming every difference. Requires connect().
  net::SessionInfo agree(net::SessionParams params);
  // Ends the run cleanly: closes the mesh (peers see a clean close, not a failure).
  void finish();

  // The TLS mesh (with the dealer, if included) if connect() succeeded, else nullptr.
  net::Mesh* mesh() { return mesh_.get(); }
  // The mesh of the computing parties (see connect()), or nullptr before connect().
  net::Mesh* compute_mesh() { return compute_mesh_ ? compute_mesh_.get() : mesh_.get(); }

 private:
  const PartyConfig& config_;
  Logger& log_;
  Report& report_;
  std::unique_ptr<net::Mesh> mesh_;
  std::unique_ptr<net::Mesh> compute_mesh_;  // a SubMesh of mesh_ when the dealer is in it
};

class Job {
 public:
  virtual ~Job() = default;
  // Adds the job's options to `command`, its sub-command (already named and described). The job
  // object owns the options' storage.
  virtual void add_options(CLI::App& command) = 0;
  // Runs the job after a successful parse. Throws sm::Error subclasses.
  virtual void run(JobContext& context) = 0;
};

struct JobInfo {
  std::string_view name;
  std::string_view description;  // the sub-command's --help text
  std::unique_ptr<Job> (*make)();
};

}  // namespace sm::app
