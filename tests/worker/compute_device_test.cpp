// Where the model runs: a worker given a GPU it cannot use fails loudly, unless told otherwise.
#include "worker_catch.h"
#include "compute_device.h"
#include "error.h"
#include "failure_marks.h"

using namespace lv;

namespace {

const CudaProbe kCpuOnly{false, 0};     // Debian's LibTorch
const CudaProbe kNoDevice{true, 0};     // a CUDA LibTorch with no usable device (driver, bad index)
const CudaProbe kTwoGpus{true, 2};

/// The message of the lv::Error (exit 3) choose_compute_device throws; fails the test otherwise.
std::string refusal(const CudaProbe& probe, const char* visible, const char* allow) {
  try {
    choose_compute_device(probe, visible, allow);
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::model_load);
    return e.what();
  }
  FAIL("no error for CUDA_VISIBLE_DEVICES=" << (visible ? visible : "(unset)"));
  return "";
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("compute device: CUDA when usable, whatever the environment says", "[worker][device]") {
  CHECK(choose_compute_device(kTwoGpus, "1", nullptr).device == ComputeDevice::cuda);
  CHECK(choose_compute_device(kTwoGpus, nullptr, nullptr).device == ComputeDevice::cuda);
  CHECK(choose_compute_device(kTwoGpus, "1", nullptr).warning.empty());
}

TEST_CASE("compute device: a worker given no GPU runs on the CPU without a word", "[worker][device]") {
  for (const CudaProbe& probe : {kCpuOnly, kNoDevice}) {
    for (const char* visible : {static_cast<const char*>(nullptr), "", "-1"}) {
      INFO((visible ? visible : "(unset)") << ", built " << probe.built);
      const DeviceChoice c = choose_compute_device(probe, visible, nullptr);
      CHECK(c.device == ComputeDevice::cpu);
      CHECK(c.warning.empty());
    }
  }
}

TEST_CASE("compute device: a GPU given to a CPU-only LibTorch is exit 3 that says how to build or run on the CPU",
          "[worker][device]") {
  const std::string msg = refusal(kCpuOnly, "2", nullptr);
  CHECK(has(msg, "CUDA_VISIBLE_DEVICES=2 gives this worker a GPU"));
  CHECK(has(msg, kNoUsableCuda));
  CHECK(has(msg, "CPU-only build"));
  CHECK(has(msg, "-DCMAKE_PREFIX_PATH=/path/to/libtorch"));
  CHECK(has(msg, "--gpus cpu"));
  CHECK(has(msg, "LV_ALLOW_CPU_FALLBACK=1"));
  // Only "1" lets it through.
  CHECK(has(refusal(kCpuOnly, "0", "0"), kNoUsableCuda));
  CHECK(has(refusal(kCpuOnly, "0", ""), kNoUsableCuda));
}

TEST_CASE("compute device: a GPU CUDA cannot see (driver, wrong index) is exit 3 pointing at the driver",
          "[worker][device]") {
  const std::string msg = refusal(kNoDevice, "GPU-5b7e9a1c", nullptr);
  CHECK(has(msg, "CUDA_VISIBLE_DEVICES=GPU-5b7e9a1c"));
  CHECK(has(msg, kNoUsableCuda));
  CHECK(has(msg, "nvidia-smi"));
  CHECK_FALSE(has(msg, "CPU-only build"));
}

TEST_CASE("compute device: LV_ALLOW_CPU_FALLBACK=1 runs on the CPU with a warning that says why", "[worker][device]") {
  CHECK(std::string(kAllowCpuFallbackEnv) == "LV_ALLOW_CPU_FALLBACK");
  const DeviceChoice c = choose_compute_device(kCpuOnly, "3", "1");
  CHECK(c.device == ComputeDevice::cpu);
  CHECK(has(c.warning, "CUDA_VISIBLE_DEVICES=3"));
  CHECK(has(c.warning, "CPU-only build"));
  CHECK(has(c.warning, "LV_ALLOW_CPU_FALLBACK=1"));
  CHECK_FALSE(has(c.warning, kNoUsableCuda));  // a warning, not the failure the orchestrator looks for
}
