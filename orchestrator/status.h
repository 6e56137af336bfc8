#pragma once
/// What happens during a run, as typed events (STYLE: ninja's Status). The Session and the
/// Runner emit them; only the status printer turns them into text, so tests assert on events
/// and the words live in one place.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>
#include <vector>

#include "failure.h"
#include "gpu_discovery.h"
#include "launcher.h"
#include "progress.h"

namespace lv {

/// One shard as the plan shows it.
struct PlannedShard {
  int index = 0;
  std::string device;
  int64_t begin = 0, end = 0;
  std::string cuda_visible_devices;
  std::string command;   ///< the worker command line, quoted for display
  std::filesystem::path log;
};

/// The plan of this invocation (fresh, retry or restart), before anything runs.
struct PlanReady {
  int64_t items = 0;             ///< items in the whole plan
  int64_t items_to_run = 0;      ///< items of the shards that run now
  int shards = 0;                ///< shards in the whole plan
  std::vector<PlannedShard> selected;
  std::filesystem::path input, output_dir, work_dir, worker;
  bool dry_run = false;
  double status_interval_s = 10;  ///< orchestrator.status_interval_s (plain, non-terminal output)
};

/// A line the user should read before the run starts or after it (pre-flight findings,
/// config keys that changed, what --restart removes ...). `kind` says which.
struct Notice {
  enum class Kind {
    gpu_discovery,         ///< text: why no GPU was found
    device_fallback,       ///< text: a device resolution note
    rejected_inputs,       ///< count, file, first: entries refused while listing
    unjudgeable_classes,   ///< names: dataset classes no model class maps to
    low_disk_space,        ///< bytes_needed, bytes_free, path
    config_keys_changed,   ///< names: keys that changed since the plan (none change results)
    restart_removes,       ///< paths: what --restart deletes
    nothing_to_retry,      ///< count: shards, all succeeded
    no_shard_succeeded,    ///< nothing to merge
    duplicate_values,      ///< text: the field; count: values that repeat across shards; names: the first few
    quarantined_devices,   ///< names: devices quarantined in an earlier run; count: shards moved off them
    review_not_written,    ///< text: why output/review/ and issues.csv could not be written (the results stand)
  };
  explicit Notice(Kind k, std::string t = {}, std::vector<std::string> n = {})
      : kind(k), text(std::move(t)), names(std::move(n)) {}
  Kind kind;
  std::string text;
  std::vector<std::string> names;
  std::vector<std::filesystem::path> paths;
  int64_t count = 0;
  uint64_t bytes_needed = 0, bytes_free = 0;
  std::filesystem::path path;
};

struct ShardStarted {
  int index = 0;
  std::string device;
  int attempt = 1;
  int64_t items = 0;
  bool resume = false;
  std::filesystem::path log;
  std::string attached_to;  ///< --attach: the Slurm task followed ("812_3"), not a new start
};
/// A start-up phase line from the worker (`[phase] loading model`).
struct ShardPhase {
  int index = 0;
  std::string phase;
};
struct ShardProgress {
  int index = 0;
  Progress progress;
  double rate = 0;  ///< items per second in this attempt
};
struct ShardCouldNotStart {
  int index = 0;
  std::string device;
  std::string why;
};
/// The orchestrator decided to stop a worker (stall watchdog, --timeout).
struct ShardStopping {
  int index = 0;
  StopReason reason = StopReason::none;
  double limit_s = 0;
  bool starting = false;  ///< stalled before its first progress line (start-up allowance)
};
struct ShardKilled {
  int index = 0;
  double grace_s = 0;
};
struct ShardRetrying {
  int index = 0;
  std::string device;
  ExitStatus exit;
  FailureKind kind = FailureKind::other;
  int retry = 0, max_retries = 0;
  std::optional<std::pair<int, int>> batch_size;  ///< out of memory: the batch size from, to
};
struct ShardFailed {
  int index = 0;
  std::string device;
  ExitStatus exit;
  FailureKind kind = FailureKind::other;
  std::string detail;  ///< e.g. the worker exited 0 but its report is missing
  int attempts = 0;
};
struct ShardStopped {
  int index = 0;
  std::string device;
  ExitStatus exit;
};
struct ShardDone {
  int index = 0;
  std::string device;
  int64_t items = 0;
  double seconds = 0;        ///< this attempt
  double total_seconds = 0;  ///< all attempts
  int attempts = 1;
};
/// Balancing: a GPU is idle while this shard has much left; its worker is being stopped
/// (SIGTERM: it finishes the item in flight and exits 130) so its unstarted items can be split.
struct ShardSplitting {
  int index = 0;
  std::string device;
  double remaining_s = 0;  ///< the estimated time it had left
  int idle = 0;            ///< GPUs (or CPU workers) waiting for work
};
/// Balancing: shard `index` was split; it resumes over [begin, end) and `added` take the rest.
/// `added` is empty when nothing was left to split (`why` says so) and the shard just resumes.
struct ShardSplit {
  int index = 0;
  std::string device;
  int64_t begin = 0, end = 0;
  std::vector<PlannedShard> added;
  std::string why;
};
/// A GPU failed twice in this run in a way that blames the device (CUDA error, killed by a
/// signal, stalled): it gets no more work; `moved` shards wait for the other GPUs.
struct GpuQuarantined {
  std::string device;
  int failures = 0;
  FailureKind kind = FailureKind::other;  ///< the last failure
  std::vector<int> moved;
  bool healthy_left = true;               ///< false: every GPU of the run is quarantined
};
/// A shard failed in a way that blames the device on two GPUs: the shard is the cause. Its
/// failures no longer count against those GPUs; `restored` were quarantined and work again.
struct ShardBlamed {
  int index = 0;
  std::vector<std::string> devices;
  std::vector<std::string> restored;
};
/// --auto-batch: the worker's batch-size finder ran on one GPU of a model.
struct AutoBatch {
  std::string model;                 ///< "NVIDIA A100-SXM4-80GB", or "CPU"
  std::vector<std::string> devices;  ///< the devices of this model in the run ("GPU 0", ...)
  std::optional<int> batch;          ///< the pick, given to their shards; unset when it failed
  std::filesystem::path log;
  std::string problem;               ///< why there is no pick (exit status, last lines)
};
/// New utilisation samples from nvidia-smi (for the live lines).
struct GpuSampled {
  std::vector<GpuSample> samples;
};
/// One device's share of the run, for the summary.
struct DeviceThroughput {
  std::string device;          ///< "GPU 2"
  int64_t items = 0;           ///< items its workers did in this invocation
  double busy_s = 0;           ///< time a worker ran on it (start-up included)
  int busy_samples = 0;        ///< utilisation samples taken while busy (0: not sampled)
  double mean_util = 0;        ///< their mean, percent
  int64_t peak_mem_mib = 0, mem_total_mib = 0;
};
/// After the workers: items per second per device and overall, the efficiency against one
/// device's rate, and what the utilisation samples suggest.
struct Throughput {
  double wall_s = 0;           ///< from the first launch to the last exit
  int64_t items = 0;
  std::vector<DeviceThroughput> devices;
  std::string sampling_problem;  ///< why there are no utilisation figures, if GPUs ran
};
/// Ctrl-C or SIGTERM reached the orchestrator.
struct InterruptRequested {
  int signal = 0;
  bool again = false;  ///< second time: workers are killed at once
};
struct MergeDone {
  int64_t files = 0, already_present = 0, temporaries_skipped = 0;
  bool removed_shard_trees = false;
  bool already_merged = false;
  std::filesystem::path output_dir;
  int64_t concatenated = 0;  ///< files joined from the shards' concat/ folders
};
/// The worker's finalize pass after the merge (its report asked for it: "finalize": true).
struct Finalized {
  ExitStatus exit;
  std::filesystem::path log;
  std::vector<std::string> tail;  ///< the log's last lines when it failed
};
struct Summary {
  nlohmann::json counts;      ///< the merged report's "summary" block, whatever the worker counts
  int64_t unprocessed = 0;
  std::filesystem::path report;
  std::filesystem::path review;  ///< output/review/index.html when written
  std::filesystem::path issues;  ///< output/issues.csv when written
  int64_t flagged_boxes = 0;     ///< its rows
};
/// The block a user needs for each shard that did not succeed, after the merge.
struct FailureBlock {
  int index = 0;
  std::string device;
  std::optional<ExitStatus> exit;
  FailureKind kind = FailureKind::other;
  std::string detail;
  int attempts = 0;
  std::filesystem::path log;
  std::vector<std::string> tail;
  bool device_quarantined = false;  ///< its device was quarantined in this run
  bool others_healthy = true;       ///< some device of the plan is not quarantined
};
/// A command the user can paste to go on (retry, merge, restart, move a shard).
struct FollowUp {
  enum class Kind { retry, resume_interrupted, merge_only, restart, move_shard, finalize };
  Kind kind;
  std::string command;  ///< quoted for a POSIX shell
};

using Event = std::variant<PlanReady, Notice, ShardStarted, ShardPhase, ShardProgress, ShardCouldNotStart,
                           ShardStopping, ShardKilled, ShardRetrying, ShardSplitting, ShardSplit, GpuQuarantined, ShardBlamed, GpuSampled, Throughput, AutoBatch, ShardFailed, ShardStopped, ShardDone,
                           InterruptRequested, MergeDone, Finalized, Summary, FailureBlock, FollowUp>;

/// Receives events; the printer shows them, tests record them.
class Status {
 public:
  virtual ~Status() = default;
  virtual void on(const Event& event) = 0;
  /// Called by the event loop a few times a second: redraw a live view if there is one.
  virtual void tick() {}
  /// The run's live part ended (before merge output).
  virtual void finish_live() {}
};

}  // namespace lv
