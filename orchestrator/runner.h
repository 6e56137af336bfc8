#pragma once
/// The orchestrator's decisions while shards run: launch, follow progress, stop stalled or
/// timed-out workers (SIGTERM, then SIGKILL after a grace period), retry, and react to Ctrl-C.
/// Driven by tick() from an event loop; the OS sits behind Launcher and Clock so tests can
/// drive it with fakes.
///
/// Each distinct device of the selected shards is a lane that runs one worker at a time; shards
/// that share a device wait their turn. With `balance`, a lane left without work takes a waiting
/// shard of another lane, or splits the unstarted tail of the shard with the most time left:
/// that worker is stopped (SIGTERM: protocol workers finish the item in flight, flush their
/// journal and exit 130), keeps what it journaled (and resumes over it), and the rest becomes
/// new shards on the idle lanes (DESIGN §6 unchanged; README "Balancing").
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
  /// Split the tail of a busy shard onto idle lanes (see above); false: plain static shards.
  bool balance = false;
  /// A split must save at least this many seconds beyond the measured cost of stopping and
  /// starting workers (which dominates for a worker that loads a model: seconds).
  double min_split_gain_s = 0.25;
  /// A GPU whose shard ends within this, or within a stop and a start-up if longer, is waited
  /// for rather than splitting a shard now and again in a moment. (1 s each, these two left
  /// heavy-tailed work at 1.18-1.19x ideal on 8 GPUs, against 1.10-1.12 now: bench_orchestrator --balance.)
  double finishing_soon_s = 0.5;
  /// A worker that had to be killed (it ignored SIGTERM) may have written outputs of items it had
  /// not journaled yet: its batch size (the shard's, else batch_size) plus this many items
  /// after its last journaled one stay with it (image_worker holds at most a batch plus two
  /// items a decoding thread: JournalCommitter's capacity).
  int64_t in_flight_extra = 32;
};

/// What the runner needs from the rest of the program for one shard.
struct ShardHooks {
  /// The command for an attempt; `resume` is true for every attempt that must continue.
  std::function<LaunchSpec(const ShardState& shard, bool resume)> launch_spec;
  /// After exit code 0: "" when the shard's outputs are complete, else what is missing.
  std::function<std::string(const ShardState& shard)> check_success;
  /// Persist the run state (called after every change).
  std::function<void()> save_state;
  /// Balancing: the position after the shard's last journaled item (its begin when it journaled
  /// none). Throws lv::Error when the journal cannot be read or names an item not in the shard.
  std::function<int64_t(const ShardState& shard)> journaled_until;
  /// Balancing: writes the items files of a split: the split shard with its new (shorter)
  /// range first, then the shards split off it, before save_state() records their ranges.
  /// Throws lv::Error when a file cannot be read or written (nothing is split then).
  std::function<void(const std::vector<ShardState>& shards)> write_splits;
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
  std::optional<Clock::time_point> first_progress_at;  ///< this attempt's first progress line
  int64_t done_at_first_progress = 0;
  int lane = -1;                    ///< the lane it runs on or waits for; -1: any healthy lane
  int failed_on = -1;               ///< the lane of its last failure that blames the device
  bool splitting = false;           ///< being stopped so that its unstarted items can be split
  std::vector<int> blamed_lanes;    ///< lanes it failed on in a way that blames the device
  bool shard_is_cause = false;      ///< it failed so on two GPUs: its failures blame no GPU
  bool split_refused = false;       ///< a split found nothing to take: never stopped for one again
  /// (time, done) of its recent progress lines: the rate balancing goes by.
  std::deque<std::pair<Clock::time_point, int64_t>> recent;
  bool waiting = false;             ///< selected, not started yet (its lane is busy)
  int free_relaunches = 0;          ///< relaunches that do not count against max_retries (OOM, split, moved)
};

/// A device that runs one worker at a time.
struct Lane {
  std::string device;               ///< "GPU 2" / "CPU 0"
  bool is_gpu = false;
  int device_index = 0;
  std::string cuda_visible_devices;
  std::string log;                  ///< the log of its first shard: shards split onto it append there
  std::optional<size_t> active;     ///< index into runs() of the shard it runs
  int failures = 0;                 ///< attempts on it that failed in a way that blames the device
  bool quarantined = false;         ///< two such failures: no more work in this run
  std::optional<size_t> reserved_for;  ///< idle, kept for the parts of this run's split
  int64_t items = 0;                ///< items its workers did (for the run summary)
  double busy_s = 0;                ///< time its workers ran
};

/// Balancing estimates a shard's time left from its rate over about this many seconds.
inline constexpr double kRateWindowS = 5.0;

class Runner {
 public:
  /// Runs `shard_indices` of `state` (each must be pending, failed or interrupted).
  Runner(RunState& state, std::vector<int> shard_indices, Launcher& launcher, const Clock& clock,
         RunnerOptions options, ShardHooks hooks, Status& status);

  /// Balancing: a device with no shard of its own that may take work (a retry's idle GPUs).
  /// Ignored when a lane for it exists. Call before start().
  void add_lane(const Lane& lane);

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

  /// Every shard of this run, the selected ones first, then those split off (a deque: a split
  /// appends while references are held).
  const std::deque<ShardRun>& runs() const { return runs_; }
  const std::vector<Lane>& lanes() const { return lanes_; }
  /// Whether a worker runs on the GPU with this nvidia-smi index now.
  bool gpu_busy(int device_index) const;
  const ShardState& shard(int index) const;

 private:
  void launch(ShardRun& run);
  /// Starts waiting shards on lanes without work; with balancing, starts a split when a lane
  /// stays idle.
  void dispatch(Clock::time_point now);
  void consider_split(Clock::time_point now);
  /// The stopped shard of a split exited 130 (or was killed): divide what it had not started.
  void finish_split(ShardRun& run, bool clean);
  bool lane_idle(const Lane& lane) const { return !lane.active && !lane.quarantined && !lane.reserved_for; }
  /// Frees the lanes reserved for a split of `run` that will not happen.
  void release_lanes(const ShardRun& run);
  /// Adds an ended attempt's items and time to its lane.
  void account(const ShardRun& run);
  /// A GPU lane failed twice in a way that blames the device: no more work for it; its waiting
  /// shards and the shards that failed on it wait for a healthy lane instead.
  void quarantine(int lane, FailureKind kind);
  /// The lanes of this run that still take work.
  bool any_healthy_lane() const;
  void handle_output(ShardRun& run, const std::string& text);
  void handle_exit(ShardRun& run, const ExitStatus& status);
  void request_stop(ShardRun& run, StopReason reason);
  void check_limits(ShardRun& run, Clock::time_point now);
  ShardState& state_of(const ShardRun& run);
  size_t position(const ShardRun& run) const;

  RunState& state_;
  Launcher& launcher_;
  const Clock& clock_;
  RunnerOptions options_;
  ShardHooks hooks_;
  Status& status_;
  std::deque<ShardRun> runs_;
  std::vector<Lane> lanes_;
  double startup_s_ = 0;             ///< longest launch-to-first-progress seen in this run
  double stop_s_ = 0;                ///< longest SIGTERM-to-exit of a split seen in this run
  int interrupts_ = 0;
};

}  // namespace lv
