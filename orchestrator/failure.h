#pragma once
/// What most likely made a shard fail, read from how it ended and the tail of its log.
#include <string>
#include <string_view>
#include <vector>

#include "launcher.h"

namespace lv {

/// How the Slurm launcher's lines about a task begin (slurm_failure_cause's text follows).
inline constexpr std::string_view kSlurmNote = "orchestrator: Slurm: ";

enum class FailureKind {
  none,
  cuda_oom,
  model_load,
  input_unreadable,  ///< exit 4: the worker cannot read its input at all
  model_mismatch,  ///< the model refuses the input the config gives it (failure_marks.h)
  no_cuda,         ///< the worker was given a GPU its LibTorch cannot use (failure_marks.h)
  cuda_error,      ///< the GPU or its driver failed (CUDA error, Xid, ECC, fell off the bus)
  slurm_time_limit,    ///< Slurm ended the task at its time limit (TIMEOUT)
  slurm_memory_limit,  ///< Slurm's cgroup killed it at its memory limit (OUT_OF_MEMORY)
  node_failure,        ///< its Slurm node failed (NODE_FAIL, BOOT_FAIL)
  preempted,           ///< Slurm preempted it for another job (PREEMPTED)
  slurm_setup,         ///< Slurm refused the job (sbatch), or its nodes cannot write the work dir
  killed_by_signal,
  stalled,
  timed_out,
  interrupted,
  other,
};
std::string_view to_string(FailureKind kind);

/// Why the orchestrator itself stopped a worker, if it did.
/// `rebalance`: stopped so that its unstarted items can go to idle GPUs (balancing).
enum class StopReason { none, stalled, timed_out, interrupted, rebalance };

/// Classifies a failed attempt. Our own stop reasons win; then what Slurm said of the task (the
/// launcher's "orchestrator: Slurm: ... (STATE)" line at the end of the log); then the log tail (out of memory; the
/// worker protocol's marks for a model/config mismatch and for a GPU without usable CUDA; model
/// load errors); then a terminating signal; else `other`.
FailureKind classify_failure(const ExitStatus& status, StopReason reason, const std::vector<std::string>& tail);

/// False for failures that the same attempt repeats whatever the machine does (a model that
/// does not fit the config, a LibTorch without CUDA): orchestrator.max_retries skips them.
bool retry_may_help(FailureKind kind);

/// Failures that may be the GPU's fault rather than the shard's: two of them on one GPU in a
/// run quarantine it (no more work; its shards move to the other GPUs).
bool blames_device(FailureKind kind);

/// One line of advice for the user ("lower processing.batch_size ..."), or "".
std::string failure_hint(FailureKind kind, const ExitStatus& status);

}  // namespace lv
