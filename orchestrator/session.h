#pragma once
/// One orchestrator invocation from start to exit code (STYLE: ninja's Builder): decide fresh /
/// retry / shards / merge-only / restart, check preconditions, plan, launch and watch the
/// shards through the Runner, save state, merge, and decide the exit code. The OS comes in
/// through SessionSystem, so every rule is a unit test with fakes (tests/session_test.cpp).
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "config.h"
#include "config_diff.h"
#include "devices.h"
#include "error.h"
#include "gpu_discovery.h"
#include "gpu_monitor.h"
#include "item_list.h"
#include "launcher.h"
#include "options.h"
#include "output_claim.h"
#include "run_state.h"
#include "runner.h"
#include "slurm.h"
#include "status.h"

namespace lv {

/// The OS as the Session sees it.
class SessionSystem {
 public:
  virtual ~SessionSystem() = default;
  virtual GpuDiscovery discover_gpus() = 0;
  /// An environment variable of the orchestrator (CUDA_VISIBLE_DEVICES).
  virtual std::optional<std::string> env(const std::string& name) const = 0;
  /// The running orchestrator executable (its folder is where a bare worker name is looked for).
  virtual std::filesystem::path program_path() const = 0;
  /// A program name resolved through PATH, or "".
  virtual std::string find_program(const std::string& name) const = 0;
  virtual std::filesystem::path current_dir() const = 0;
  /// Free bytes on the filesystem holding `dir` (or its nearest existing parent); nullopt if unknown.
  virtual std::optional<uint64_t> free_bytes(const std::filesystem::path& dir) const = 0;
  virtual unsigned cpu_count() const = 0;
  virtual Launcher& launcher() = 0;
  /// Runs a short command to its end and captures its output (sbatch, scontrol, scancel).
  virtual CaptureResult capture(const std::vector<std::string>& argv) = 0;
  virtual const Clock& clock() const = 0;
  /// Runs `runner` to the end: start(), then tick() it and `status` a few times a second until
  /// finished(); SIGINT/SIGTERM become runner.interrupt() (and an InterruptRequested event).
  /// With a monitor, its sampler runs meanwhile and feeds it (GpuSampled events).
  virtual void drive(Runner& runner, Status& status, GpuMonitor* monitor) = 0;
  /// Runs one process to its end (the worker's finalize pass), its output to `spec.log`;
  /// SIGINT/SIGTERM are passed on to it. Throws lv::Error when it cannot be started.
  virtual ExitStatus run_to_end(const LaunchSpec& spec) = 0;
  /// Whether process `pid` runs with `needle` in its command line (process_running_with).
  virtual bool process_running(long pid, const std::string& needle) const = 0;
};

/// Why the Session refused to go on. The message says what is wrong; `way_out` is the full
/// command that gets the user out (also at the end of the message).
enum class RefusalKind {
  work_dir_in_use,      ///< another orchestrator holds the work dir
  output_in_use,        ///< another orchestrator writes the same output dir
  no_earlier_run,       ///< --retry-failed / --shards / --merge-only without a run state
  unfinished_run,       ///< a fresh run over a work dir whose run is not finished
  output_not_empty,     ///< a fresh run into an output dir that holds results
  output_of_other_run,  ///< the output dir holds results of another run
  shard_tree_left,      ///< an output_gpuN/ from an earlier run is in the way
  config_changed,       ///< a retry after a change to a key that changes results
  input_changed,        ///< a retry after the item list changed
  output_changed,       ///< a retry into another output dir than the plan's
  output_inside_input,  ///< output or work dir inside the scanned input folder
  shards_merged,        ///< --shards of a merged run whose other shards' trees are gone
  slurm_tasks_running,  ///< Slurm tasks of the run still run, their orchestrator gone (--attach)
};
std::string_view to_string(RefusalKind kind);

class Refusal : public Error {
 public:
  Refusal(RefusalKind kind, const std::string& message, std::string way_out);
  RefusalKind kind() const { return kind_; }
  const std::string& way_out() const { return way_out_; }

 private:
  RefusalKind kind_;
  std::string way_out_;
};

class Session {
 public:
  Session(Options options, SessionSystem& system, Status& status);

  /// Runs the invocation; returns the exit code (DESIGN §6). Throws Refusal or lv::Error
  /// when it must not go on (nothing written in that case unless the message says so).
  int run();

  /// The commands printed for the user (built from this invocation's options).
  const CommandBuilder& commands() const { return commands_; }

 private:
  /// What each worker is given of the cores: model threads (OMP_NUM_THREADS:
  /// processing.num_threads, or its share) and its share (LV_CORES_PER_WORKER: cores / workers,
  /// at least 1), from which the worker sizes its decoders.
  struct WorkerThreads {
    int model = 1;
    int cores = 1;
  };
  int fresh(std::optional<RunState> earlier);
  int retry(RunState state);
  int merge_only(const RunState& state);
  /// The config keys (and the classes file) that differ from the plan's.
  ConfigChanges changes_since_plan(const RunState& state) const;
  void restart(const RunState& state);
  int dry_run();
  int execute(RunState& state, const std::vector<int>& selected);
  /// --auto-batch: the worker's finder once per GPU model (once for CPU workers), each pick
  /// given to that model's shards as their batch size. False when interrupted.
  bool auto_batch(RunState& state, const std::vector<int>& selected, WorkerThreads threads);
  /// Balancing: the position after shard `s`'s last journaled item (ShardHooks::journaled_until).
  int64_t journaled_until(const RunState& state, const ShardState& s) const;
  /// Rewrites the items file of any selected shard whose length disagrees with the state.
  void check_split_files(const RunState& state, const std::vector<int>& selected) const;
  int merge(const RunState& state, bool* complete);
  /// The run summary's figures: each lane's items and time, and its GPU's utilisation samples.
  Throughput throughput(const Runner& runner, const GpuMonitor* monitor, double wall_s) const;
  /// After a complete merge whose report asks for it ("finalize": true): runs
  /// `<worker> --finalize --config C --output-dir OUT` and waits (DESIGN §6); how it ended.
  ExitStatus finalize(const RunState& state);

  /// Pre-flight (before anything is written): output path, model file, classes.
  void preflight();
  std::unique_ptr<OutputLock> lock_output(const std::filesystem::path& dir, const std::string& way_out);
  void check_locations(const Config& config);
  void check_ownership(const RunState* state);
  /// Refuses while a worker of the earlier run still runs (the orchestrator died, the worker
  /// ignored the SIGTERM that followed): it would write beside the new one.
  void check_no_live_workers(const RunState& state, const std::string& way_out);
  /// What Slurm says now of the array tasks of `state`'s running shards (by shard index); a
  /// shard whose task Slurm no longer knows, or when scontrol cannot be run, is left out.
  std::map<int, SlurmTask> slurm_tasks_of(const RunState& state);
  std::vector<DeviceSlot> devices();
  std::filesystem::path resolve_worker();
  LaunchSpec launch_spec(const RunState& state, const ShardState& shard, bool resume, WorkerThreads threads) const;
  WorkerThreads threads_per_worker(size_t workers) const;
  /// content_hash of the classes file ("" for an inline list): a retry notices an edited file.
  std::string classes_hash() const;
  void report_rejected(const ItemList& items);

  Options options_;
  SessionSystem& system_;
  Status& status_;
  CommandBuilder commands_;
  Config config_;
  std::string config_text_;
  std::filesystem::path work_dir_, output_dir_;
  /// A retry's devices beyond those of the shards it runs (--gpus, else the plan's healthy
  /// ones): with balancing they take part of the work.
  std::vector<DeviceSlot> spare_devices_;
  /// --launcher slurm (or orchestrator.launcher): shard i runs as task i of a Slurm job array.
  bool slurm_ = false;
  /// --attach: the shards whose running Slurm task is followed (shard index -> "812_3").
  std::map<int, std::string> attach_;
};

/// How to call the orchestrator in printed commands: "orchestrator" when PATH finds this very
/// binary, else its absolute path.
std::string program_for_commands(const SessionSystem& system);

}  // namespace lv
