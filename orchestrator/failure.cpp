#include "failure.h"

#include <algorithm>
#include <csignal>

#include <boost/algorithm/string/predicate.hpp>

#include "failure_marks.h"

namespace lv {

std::string_view to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::none: return "none";
    case FailureKind::cuda_oom: return "CUDA out of memory";
    case FailureKind::model_load: return "model load error";
    case FailureKind::input_unreadable: return "input unreadable";
    case FailureKind::model_mismatch: return "model/config mismatch";
    case FailureKind::no_cuda: return "no usable CUDA";
    case FailureKind::cuda_error: return "CUDA error";
    case FailureKind::slurm_time_limit: return "Slurm time limit";
    case FailureKind::slurm_memory_limit: return "Slurm memory limit";
    case FailureKind::node_failure: return "node failure";
    case FailureKind::preempted: return "preempted";
    case FailureKind::slurm_setup: return "Slurm setup";
    case FailureKind::killed_by_signal: return "killed by signal";
    case FailureKind::stalled: return "stalled";
    case FailureKind::timed_out: return "timed out";
    case FailureKind::interrupted: return "interrupted";
    case FailureKind::other: return "other";
  }
  return "other";
}

FailureKind classify_failure(const ExitStatus& status, StopReason reason, const std::vector<std::string>& tail) {
  switch (reason) {
    case StopReason::stalled: return FailureKind::stalled;
    case StopReason::timed_out: return FailureKind::timed_out;
    case StopReason::interrupted: return FailureKind::interrupted;
    case StopReason::none:
    case StopReason::rebalance: break;  // it failed on its own while stopping: as it says
  }
  using boost::algorithm::icontains;
  for (auto it = tail.rbegin(); it != tail.rend(); ++it) {
    if (it->rfind(kSlurmNote, 0) != 0) continue;
    if (it->find("(TIMEOUT)") != std::string::npos || it->find("(DEADLINE)") != std::string::npos)
      return FailureKind::slurm_time_limit;
    if (it->find("(OUT_OF_MEMORY") != std::string::npos) return FailureKind::slurm_memory_limit;
    if (it->find("(NODE_FAIL)") != std::string::npos || it->find("(BOOT_FAIL)") != std::string::npos)
      return FailureKind::node_failure;
    if (it->find("(PREEMPTED)") != std::string::npos) return FailureKind::preempted;
    if (it->find("sbatch could not submit") != std::string::npos || it->find("compute nodes share") != std::string::npos)
      return FailureKind::slurm_setup;
  }
  for (auto it = tail.rbegin(); it != tail.rend(); ++it) {
    const std::string& line = *it;
    if (icontains(line, "out of memory") || icontains(line, "OutOfMemoryError") ||
        icontains(line, "CUBLAS_STATUS_ALLOC_FAILED"))
      return FailureKind::cuda_oom;
  }
  const auto marked = [&](std::string_view mark) {
    return std::any_of(tail.begin(), tail.end(), [&](const std::string& line) { return line.find(mark) != std::string::npos; });
  };
  if (marked(kModelConfigMismatch)) return FailureKind::model_mismatch;
  if (marked(kNoUsableCuda)) return FailureKind::no_cuda;
  if (!status.signaled && status.code == 3) return FailureKind::model_load;
  if (!status.signaled && status.code == 4) return FailureKind::input_unreadable;
  for (const std::string& line : tail) {
    if (icontains(line, "cannot load model") || icontains(line, "error loading model") ||
        icontains(line, "PytorchStreamReader failed"))
      return FailureKind::model_load;
  }
  for (const std::string& line : tail) {
    if (icontains(line, "CUDA error") || icontains(line, "cudaError") || icontains(line, "illegal memory access") ||
        icontains(line, "unspecified launch failure") || icontains(line, "uncorrectable ECC") ||
        icontains(line, "fallen off the bus") || icontains(line, "NVRM: Xid") || icontains(line, "CUDA driver error"))
      return FailureKind::cuda_error;
  }
  if (status.signaled) return FailureKind::killed_by_signal;
  return FailureKind::other;
}

bool blames_device(FailureKind kind) {
  return kind == FailureKind::cuda_error || kind == FailureKind::killed_by_signal || kind == FailureKind::stalled;
}

bool retry_may_help(FailureKind kind) {
  return kind != FailureKind::model_mismatch && kind != FailureKind::no_cuda && kind != FailureKind::slurm_setup;
}

std::string failure_hint(FailureKind kind, const ExitStatus& status) {
  switch (kind) {
    case FailureKind::cuda_oom:
      return "the GPU ran out of memory: lower processing.batch_size (or free the GPU), then run --retry-failed";
    case FailureKind::cuda_error:
      return "the GPU or its driver reported an error (see the log; `nvidia-smi -q` and `dmesg | grep -i xid` tell "
             "more); a GPU that fails twice in a run gets no more work, and --retry-failed runs its shards elsewhere";
    case FailureKind::input_unreadable:
      return "the worker cannot read its input (exit 4): check input.images / input.documents and the files' "
             "permissions (see the log above), then run --retry-failed";
    case FailureKind::model_load:
      return "the worker could not load the model: check model.path and model.type, then run --retry-failed";
    case FailureKind::model_mismatch:
      return "the model does not take the input the config gives it: change model.input_size (or "
             "processing.batch_size) as the log says; run unchanged, it fails the same way (so it was not retried). "
             "Then run --retry-failed, which takes the fixed config while no shard has produced anything";
    case FailureKind::no_cuda:
      return "the worker was given a GPU but its LibTorch cannot use one: build against the CUDA LibTorch "
             "(cmake -DCMAKE_PREFIX_PATH=/path/to/libtorch) or check the driver (nvidia-smi), or run on the CPU "
             "with --gpus cpu; retrying unchanged fails the same way (so it was not retried)";
    case FailureKind::killed_by_signal:
      if (status.signal == SIGKILL)
        return "killed by SIGKILL: often the kernel's out-of-memory killer (see dmesg); then run --retry-failed";
      if (status.signal == SIGSEGV || status.signal == SIGABRT || status.signal == SIGBUS)
        return "the worker crashed; see the log above, then run --retry-failed (it resumes where it stopped)";
      return "the worker was killed; run --retry-failed to resume it";
    case FailureKind::slurm_time_limit:
      return "Slurm ended the task at its time limit: raise slurm.time_limit (or use more tasks), then run "
             "--retry-failed (it resumes where it stopped)";
    case FailureKind::slurm_memory_limit:
      return "Slurm's memory limit (the task's cgroup) killed the worker: raise slurm.memory, then run --retry-failed";
    case FailureKind::node_failure:
      return "the task's node failed (`sinfo -R` says why); run --retry-failed to resume it on another node";
    case FailureKind::preempted:
      return "Slurm preempted the task for another job; run --retry-failed to resume it";
    case FailureKind::slurm_setup:
      return "nothing ran: fix what the line above names (the slurm: section, or where the work dir lies), then run "
             "--retry-failed; retrying unchanged fails the same way (so it was not retried)";
    case FailureKind::stalled:
      return "no progress for orchestrator.stall_timeout_s; a hung GPU or a stuck file read? run --retry-failed to resume";
    case FailureKind::timed_out:
      return "the shard exceeded --timeout; raise it or add GPUs, then run --retry-failed";
    case FailureKind::interrupted:
      return "stopped by the user; run --retry-failed to resume";
    case FailureKind::other:
      return "see the log above; fix the cause, then run --retry-failed (it resumes where it stopped)";
    case FailureKind::none: break;
  }
  return "";
}

}  // namespace lv
