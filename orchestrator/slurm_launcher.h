#pragma once
/// `--launcher slurm` (issue 11): shards run as the tasks of Slurm job arrays instead of local
/// processes, behind the same Launcher interface the runner drives.
///
/// start() only records a shard; the first poll() afterwards submits every shard recorded since
/// as one array (`sbatch --array=<shard indices>%K`, task id = shard index, output appended to
/// <work dir>/gpu<shard>.log). The array's script runs `orchestrator --slurm-task <tasks file>`
/// on the compute node, which prints the log header (node, CUDA_VISIBLE_DEVICES as Slurm set
/// it) and execs that task's worker argv with its environment: no shell line is ever built
/// from the argv. Task states come from `scontrol -o show job <array>` at most once a second;
/// output still from the log files (a filesystem shared with the nodes, checked by a probe job
/// ahead of the first array). A task that ends in a
/// Slurm state of its own (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, CANCELLED) gets a line
/// naming it appended to its log, so the failure block and its classification see it.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gpu_discovery.h"
#include "launcher.h"
#include "slurm.h"

namespace lv {

struct SlurmLauncherSettings {
  SlurmOptions options;
  std::filesystem::path work_dir;       ///< holds gpuN.log and slurm/ (scripts, task files)
  std::string job_name = "lv";          ///< sbatch --job-name
  std::filesystem::path orchestrator;   ///< this program, run by each task with --slurm-task
  /// Runs sbatch, scontrol and scancel (a fake in tests).
  std::function<CaptureResult(const std::vector<std::string>& argv)> run;
  double poll_interval_s = 1.0;         ///< scontrol at most this often
  /// Before the first array, a one-task job writes a random token into the work dir; the array
  /// depends on it (afterok) and its tasks fail with a message naming the work dir when the
  /// job fails or its token is not seen here (the nodes do not share the work dir).
  bool probe_shared_fs = true;
};

std::unique_ptr<Launcher> make_slurm_launcher(SlurmLauncherSettings settings);

/// `orchestrator --slurm-task FILE` inside an array task: the entry of $SLURM_ARRAY_TASK_ID in
/// FILE; prints the log header and execs the worker. Returns only on failure (exit code).
int run_slurm_task(const std::filesystem::path& tasks_file);

/// `orchestrator --slurm-probe FILE TOKEN` in the probe job: writes TOKEN to FILE. Exit code.
int run_slurm_probe(const std::filesystem::path& file, const std::string& token);

}  // namespace lv
