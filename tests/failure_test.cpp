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
