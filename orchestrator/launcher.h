#pragma once
/// Starting and watching worker processes, behind a narrow interface so the orchestrator's
/// decisions can be tested with a fake (STYLE: ninja's CommandRunner / FakeCommandRunner).
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gpu_discovery.h"

namespace lv {

/// What to run for one shard attempt.
struct LaunchSpec {
  std::vector<std::string> argv;  ///< argv[0] is the executable (a path); never a shell string
  std::vector<std::pair<std::string, std::string>> env;  ///< set on top of our environment
  std::filesystem::path log;      ///< stdout and stderr both go here
  bool append_log = false;        ///< false: truncate (fresh start); true: append (retry)
  std::string log_header;         ///< written to the log before the worker starts, if not empty
  int shard = -1;                 ///< the shard it runs (the Slurm launcher's array task id)
  /// A scheduler's job already running this shard ("812_3"), to follow instead of starting one
  /// (orchestrator --attach); the log is then left as it is.
  std::string attach_to;
};

/// How a process ended.
struct ExitStatus {
  bool signaled = false;
  int code = 0;    ///< exit code when !signaled
  int signal = 0;  ///< terminating signal when signaled
  bool ok() const { return !signaled && code == 0; }
  /// Stopped on request: SIGINT or SIGTERM, or exit 130 (a worker that caught one).
  bool interrupted() const;
  /// "exit=1", "exit=137 (killed)"-style text: "exit code 1" or "signal 9 (SIGKILL)".
  std::string describe() const;
};

using JobId = int;

class Launcher {
 public:
  virtual ~Launcher() = default;
  /// Starts a process in its own process group. Throws lv::Error when it cannot be started.
  virtual JobId start(const LaunchSpec& spec) = 0;
  /// Non-blocking: the exit status once the process has ended (reaped), else nullopt.
  virtual std::optional<ExitStatus> poll(JobId job) = 0;
  /// Output written to the job's log since the last call. When a flood outruns us only the
  /// newest part is returned (progress and the tail are what matter).
  virtual std::string read_output(JobId job) = 0;
  /// Sends `sig` to the job's whole process group (no-op once it is gone).
  virtual void signal(JobId job, int sig) = 0;
  /// The job's process id (its process group's), recorded so that a later orchestrator can tell
  /// whether a worker outlived this one; 0 when unknown.
  virtual long process_id(JobId) const { return 0; }
  /// A scheduler's launcher (Slurm): "queued (Resources)" while the job waits for resources,
  /// "" once it runs (and always for local processes). The runner's start-up and stall clocks
  /// start only when it runs.
  virtual std::string queued(JobId) { return {}; }
  /// A scheduler's name for the job ("1234_2": Slurm's array task), "" before it has one or
  /// for local processes.
  virtual std::string scheduler_id(JobId) const { return {}; }
};

/// The clock, so stall and timeout decisions can be tested without waiting.
class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SteadyClock : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

/// The real launcher: Boost.Process v1 (kept inside launcher.cpp so a move to v2 stays local).
/// Each worker runs in its own process group, with stdin from /dev/null, and receives SIGTERM
/// if the orchestrator dies (PR_SET_PDEATHSIG), so no worker outlives us unnoticed.
std::unique_ptr<Launcher> make_process_launcher();

/// What was appended to `log` since `offset` (advanced past it). When more than 256 KiB came,
/// only the newest part, from a line start, after a "\n". "" when the file cannot be read.
std::string read_appended(const std::filesystem::path& log, off_t& offset);

/// Runs a short command and captures its output (for nvidia-smi), killing it after `timeout`.
CaptureResult capture_output(const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout = std::chrono::seconds(20));

/// Resolves a program name the way a shell would ($PATH), or returns it unchanged when it
/// contains a '/'. Returns "" when not found.
std::string find_program(const std::string& name);

/// Whether process `pid` runs and its command line holds `needle` (a worker of an earlier run,
/// still writing its output dir). Reads /proc; false where it cannot tell.
bool process_running_with(long pid, const std::string& needle);

}  // namespace lv
