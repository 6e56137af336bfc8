#pragma once
/// The orchestrator's command-line options (DESIGN §3), as parsed; defaults are the documented ones.
#include <filesystem>
#include <optional>
#include <string>

namespace lv {

struct Options {
  std::filesystem::path config = "config.yaml";
  std::optional<int> num_gpus;
  std::string gpus;                  ///< "" = not given (auto)
  std::optional<int> cpu_workers;    ///< --cpu-workers (only with --gpus cpu); default 1
  bool keep_gpu_outputs = false;
  std::optional<std::filesystem::path> output;
  std::optional<std::filesystem::path> work_dir;  ///< default: the current directory
  bool retry_failed = false;
  std::string shards;                ///< --shards LIST; "" = not given
  bool merge_only = false;
  bool restart = false;
  bool dry_run = false;
  bool list_gpus = false;
  std::optional<std::filesystem::path> worker;
  std::optional<double> stall_timeout_s;
  std::optional<double> timeout_s;   ///< per attempt; not given = none
  bool static_shards = false;        ///< --static: no balancing (orchestrator.balance false)
  bool auto_batch = false;           ///< --auto-batch: the worker's batch-size finder per GPU model first
  std::string launcher;              ///< --launcher local|slurm; "" = orchestrator.launcher
  std::optional<std::filesystem::path> apply_fixes;  ///< --apply-fixes decisions.json
  std::optional<std::filesystem::path> undo_fixes;   ///< --undo-fixes <work dir>/fixes/<time>
  bool attach = false;               ///< --attach: follow the run's Slurm tasks still there, retry the rest
};

}  // namespace lv
