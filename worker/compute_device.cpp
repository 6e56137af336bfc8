#include "compute_device.h"

#include <string_view>

#include <fmt/core.h>

#include "error.h"
#include "failure_marks.h"

namespace lv {

DeviceChoice choose_compute_device(const CudaProbe& probe, const char* cuda_visible_devices,
                                   const char* allow_cpu_fallback) {
  if (probe.built && probe.devices > 0) return {ComputeDevice::cuda, ""};
  const std::string_view visible = cuda_visible_devices ? cuda_visible_devices : "";
  // Unset: a worker run by hand, which uses a GPU when it has one; empty or -1: a CPU worker.
  if (visible.empty() || visible == "-1") return {ComputeDevice::cpu, ""};
  const std::string why =
      probe.built ? std::string("CUDA finds no device: is the driver loaded (nvidia-smi), and does "
                                "CUDA_VISIBLE_DEVICES name a GPU of this machine?")
                  : std::string("its LibTorch is a CPU-only build (such as Debian's libtorch-dev, found when cmake is "
                                "not given -DCMAKE_PREFIX_PATH=/path/to/libtorch): build against the CUDA LibTorch "
                                "(README: \"Building by hand, and with CUDA\")");
  if (allow_cpu_fallback && std::string_view(allow_cpu_fallback) == "1")
    // Not the failure mark (kNoUsableCuda): the orchestrator must not take this warning for a failure.
    return {ComputeDevice::cpu, fmt::format("CUDA_VISIBLE_DEVICES={} gives this worker a GPU, but CUDA cannot be used: "
                                            "{}. Running on the CPU, as {}=1 allows",
                                            visible, why, kAllowCpuFallbackEnv)};
  throw Error(ExitCode::model_load,
              fmt::format("CUDA_VISIBLE_DEVICES={} gives this worker a GPU, but it has {}: {}. To run on the CPU on "
                          "purpose, use orchestrator --gpus cpu (or set {}=1)",
                          visible, kNoUsableCuda, why, kAllowCpuFallbackEnv));
}

}  // namespace lv
