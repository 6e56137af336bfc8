#pragma once
/// The orchestrator's decisions while shards run: launch, follow progress, stop stalled or
/// timed-out workers (SIGTERM, then SIGKILL after a grace period), retry, and react to Ctrl-C.
/// Driven by tick() from an event loop; the OS sits behind Launcher and Clock so tests can
/// drive it with fakes.
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "failure.h"
#include "launcher.h"
#include "progress.h"
#include "run_state.h"
#include "status.h"

namespace lv {

struct RunnerOptions {
  double stall_timeout_s = 600;  ///< 0 = no stall watchdog
  /// Before its first progress line a worker is starting (loading the model, warming up):
  /// it is stopped only after this long without any sign of life (a line in its log, e.g.
  /// "[phase] loading model"). The larger of this and stall_timeout_s applies. 0 = none.
  double startup_timeout_s = 900;
  double timeout_s = 0;          ///< per-shard wall-clock limit per attempt; 0 = none
  double stop_grace_s = 10;      ///< SIGTERM, then SIGKILL after this long
  int max_retries = 0;           ///< automatic re-runs (resuming) of a failed shard
  /// processing.batch_size: a shard that runs out of GPU memory is re-run at half its batch
  /// size (ShardState::batch_size), down to 1, apart from max_retries.
  int batch_size = 32;
  size_t tail_lines = 20;        ///< log lines kept for the failure report
};

/// What the runner needs from the rest of the program for one shard.
struct ShardHooks {
  /// The command for an attempt; `resume` is true for every attempt that must continue.
  std::function<LaunchSpec(const ShardState& shard, bool resume)> launch_spec;
  /// After exit code 0: "" when the shard's outputs are complete, else what is missing.
  std::function<std::string(const ShardState& shard)> check_success;
  /// Persist the run state (called after every change).
  std::function<void()> save_state;
};

/// The live view of one shard.
struct ShardRun {
  int index = 0;
  std::optional<JobId> job;
  bool resume = false;              ///< next launch resumes
  Progress progress;
  bool have_progress = false;
  std::string phase;                ///< the worker's last "[phase]" before its first progress
  bool emitted_progress = false;    ///< a ShardProgress went out since the last change
  int64_t done_at_start = 0;        ///< progress.done when this attempt started (for the rate)
  Clock::time_point started{}, last_advance{};  ///< last_advance: progress, or a sign of life before it
  StopReason stop_reason = StopReason::none;
  std::optional<Clock::time_point> term_sent;
  bool kill_sent = false;
  std::deque<std::string> tail;     ///< last lines of this attempt's output
  std::string partial_line;
  std::optional<ExitStatus> last_exit;
  FailureKind failure = FailureKind::none;
  std::string failure_detail;       ///< e.g. "exited 0 but wrote no report"
  double rate = 0;                  ///< items per second in this attempt
};

class Runner {
 public:
  /// Runs `shard_indices` of `state` (each must be pending, failed or interrupted).
  Runner(RunState& state, std::vector<int> shard_indices, Launcher& launcher, const Clock& clock,
         RunnerOptions options, ShardHooks hooks, Status& status);

  /// Launches every selected shard.
  void start();
  /// Reaps exits, reads output, enforces the stall watchdog and timeouts, escalates stops.
  void tick();
  /// First call: stop every worker gracefully (SIGTERM, then SIGKILL after the grace period).
  /// Second call: SIGKILL at once.
  void interrupt();
  bool interrupted() const { return interrupts_ > 0; }
  /// True when no selected shard is running any more.
  bool finished() const;

  const std::vector<ShardRun>& runs() const { return runs_; }
  const ShardState& shard(int index) const;

 private:
  void launch(ShardRun& run);
  void handle_output(ShardRun& run, const std::string& text);
  void handle_exit(ShardRun& run, const ExitStatus& status);
  void request_stop(ShardRun& run, StopReason reason);
  void check_limits(ShardRun& run, Clock::time_point now);
  ShardState& state_of(const ShardRun& run);

  RunState& state_;
  Launcher& launcher_;
  const Clock& clock_;
  RunnerOptions options_;
  ShardHooks hooks_;
  Status& status_;
  std::vector<ShardRun> runs_;
  int interrupts_ = 0;
};

}  // namespace lv
