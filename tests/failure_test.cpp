#include <csignal>

#include "catch.h"
#include "failure.h"

using namespace lv;

TEST_CASE("our own stop reasons win over everything else", "[failure]") {
  const ExitStatus killed{true, 0, SIGKILL};
  const std::vector<std::string> oom{"CUDA out of memory"};
  CHECK(classify_failure(killed, StopReason::stalled, oom) == FailureKind::stalled);
  CHECK(classify_failure(killed, StopReason::timed_out, oom) == FailureKind::timed_out);
  CHECK(classify_failure(killed, StopReason::interrupted, oom) == FailureKind::interrupted);
}

TEST_CASE("the log tail tells out-of-memory and model errors apart", "[failure]") {
  const ExitStatus exit1{false, 1, 0};
  CHECK(classify_failure(exit1, StopReason::none, {"x", "RuntimeError: CUDA out of memory. Tried to allocate 20 MiB"}) ==
        FailureKind::cuda_oom);
  CHECK(classify_failure(exit1, StopReason::none, {"torch.OutOfMemoryError: ..."}) == FailureKind::cuda_oom);
  CHECK(classify_failure(exit1, StopReason::none, {"image_worker: error: cannot load model 'm.pt': bad zip"}) ==
        FailureKind::model_load);
  CHECK(classify_failure(ExitStatus{false, 3, 0}, StopReason::none, {}) == FailureKind::model_load);
  CHECK(classify_failure(ExitStatus{true, 0, SIGSEGV}, StopReason::none, {"Segmentation fault"}) ==
        FailureKind::killed_by_signal);
  CHECK(classify_failure(exit1, StopReason::none, {"some other trouble"}) == FailureKind::other);
}

TEST_CASE("hints point at the fix", "[failure]") {
  CHECK(failure_hint(FailureKind::cuda_oom, {}).find("batch_size") != std::string::npos);
  CHECK(failure_hint(FailureKind::killed_by_signal, ExitStatus{true, 0, SIGKILL}).find("out-of-memory killer") !=
        std::string::npos);
  CHECK(failure_hint(FailureKind::stalled, {}).find("stall_timeout_s") != std::string::npos);
  CHECK(ExitStatus{true, 0, SIGKILL}.describe() == "signal 9 (SIGKILL)");
  CHECK(ExitStatus{false, 3, 0}.describe() == "exit code 3");
}

TEST_CASE("a model/config mismatch or a GPU without usable CUDA is told by the worker's mark, not retried",
          "[failure]") {
  const ExitStatus exit3{false, 3, 0};
  const std::string mismatch =
      "image_worker: error: m.pt: model/config mismatch: the model failed on its warm-up input [32, 3, 64, 64] "
      "(processing.batch_size 32; model.input_size 64, the default: ...): The size of tensor a (64) must match the "
      "size of tensor b (16) at non-singleton dimension 2.";
  CHECK(classify_failure(exit3, StopReason::none, {"[phase] warm-up", mismatch}) == FailureKind::model_mismatch);
  CHECK(classify_failure(ExitStatus{false, 2, 0}, StopReason::none,
                         {"image_worker: error: c.yaml:7: model.input_size: model/config mismatch: ..."}) ==
        FailureKind::model_mismatch);
  CHECK(classify_failure(exit3, StopReason::none,
                         {"image_worker: error: CUDA_VISIBLE_DEVICES=2 gives this worker a GPU, but it has no usable "
                          "CUDA: ..."}) == FailureKind::no_cuda);
  // Without a mark, exit 3 stays a model load error; out of memory still wins.
  CHECK(classify_failure(exit3, StopReason::none, {"m.pt: model.path: cannot load"}) == FailureKind::model_load);
  CHECK(classify_failure(exit3, StopReason::none, {mismatch, "CUDA out of memory"}) == FailureKind::cuda_oom);
  // The mismatch is the failure even after an earlier line that mentions CUDA.
  CHECK(classify_failure(exit3, StopReason::none, {"note: no usable CUDA here, as allowed", mismatch}) ==
        FailureKind::model_mismatch);

  CHECK(std::string(to_string(FailureKind::model_mismatch)) == "model/config mismatch");
  CHECK_FALSE(retry_may_help(FailureKind::model_mismatch));
  CHECK_FALSE(retry_may_help(FailureKind::no_cuda));
  CHECK(retry_may_help(FailureKind::model_load));
  CHECK(retry_may_help(FailureKind::killed_by_signal));
  CHECK(retry_may_help(FailureKind::other));

  const std::string hint = failure_hint(FailureKind::model_mismatch, exit3);
  CHECK(hint.find("model.input_size") != std::string::npos);
  CHECK(hint.find("fails the same way") != std::string::npos);
  CHECK(hint.rfind("run --retry-failed", 0) == std::string::npos);  // not the advice for a transient failure
  const std::string cuda = failure_hint(FailureKind::no_cuda, exit3);
  CHECK(cuda.find("CMAKE_PREFIX_PATH") != std::string::npos);
  CHECK(cuda.find("--gpus cpu") != std::string::npos);
}

TEST_CASE("exit 4 is an input the worker cannot read, with its own hint", "[failure]") {
  CHECK(classify_failure(ExitStatus{false, 4, 0}, StopReason::none, {"error: data: input.images: no such folder"}) ==
        FailureKind::input_unreadable);
  CHECK(std::string(to_string(FailureKind::input_unreadable)) == "input unreadable");
  CHECK(failure_hint(FailureKind::input_unreadable, ExitStatus{false, 4, 0}).find("cannot read its input") !=
        std::string::npos);
  CHECK_FALSE(blames_device(FailureKind::input_unreadable));
}

TEST_CASE("what Slurm said of a task, at the end of its log, names the cause", "[failure][slurm]") {
  const ExitStatus term{true, 0, SIGTERM};
  const auto said = [&](const std::string& line) {
    return classify_failure(term, StopReason::none, {"[progress] 5/10", "orchestrator: Slurm: task 8_1 X (ExitCode=0:15)", line});
  };
  CHECK(said("orchestrator: Slurm: time limit reached (TIMEOUT): raise slurm.time_limit") == FailureKind::slurm_time_limit);
  CHECK(said("orchestrator: Slurm: killed by the job's memory limit (OUT_OF_MEMORY, the cgroup)") ==
        FailureKind::slurm_memory_limit);
  CHECK(said("orchestrator: Slurm: the node n7 failed (NODE_FAIL)") == FailureKind::node_failure);
  CHECK(said("orchestrator: Slurm: preempted by a higher-priority job (PREEMPTED)") == FailureKind::preempted);
  CHECK(said("orchestrator: Slurm: sbatch could not submit shard(s) 0-3: invalid account") == FailureKind::slurm_setup);
  // The worker's own words do not pass for Slurm's, and a plain FAILED task is its own signal.
  CHECK(said("worker: step (TIMEOUT) in my data") == FailureKind::killed_by_signal);
  CHECK(said("orchestrator: Slurm: task 8_1 FAILED (ExitCode=0:6) on n7") == FailureKind::killed_by_signal);
  // Our own stop wins: a stall we ended is a stall, whatever Slurm called it.
  CHECK(classify_failure(term, StopReason::stalled, {"orchestrator: Slurm: time limit reached (TIMEOUT)"}) ==
        FailureKind::stalled);
  CHECK_FALSE(retry_may_help(FailureKind::slurm_setup));
  CHECK(retry_may_help(FailureKind::slurm_time_limit));
  CHECK(failure_hint(FailureKind::slurm_time_limit, term).find("slurm.time_limit") != std::string::npos);
  CHECK(failure_hint(FailureKind::slurm_memory_limit, term).find("slurm.memory") != std::string::npos);
}
