#pragma once
/// Where a worker's model runs: the GPU its CUDA_VISIBLE_DEVICES gives it, or the CPU. A worker
/// given a GPU that its LibTorch cannot use fails loudly instead of running on the CPU at a
/// fraction of the speed (a build against Debian's CPU LibTorch, a broken driver), unless told
/// otherwise. Torch-free: torchscript_model.cpp asks LibTorch and passes the answers in.
#include <string>

namespace lv {

/// Setting this environment variable to 1 lets a worker that was given a GPU it cannot use run
/// on the CPU with a warning (the tests that pose as a 4-GPU machine with a fake nvidia-smi).
inline constexpr const char* kAllowCpuFallbackEnv = "LV_ALLOW_CPU_FALLBACK";

/// What LibTorch says about CUDA in this process.
struct CudaProbe {
  bool built = false;  ///< the LibTorch linked in has CUDA (its CUDA library is loaded)
  int devices = 0;     ///< CUDA devices it can use (0 with a broken driver or none visible)
};

enum class ComputeDevice { cpu, cuda };

struct DeviceChoice {
  ComputeDevice device = ComputeDevice::cpu;
  std::string warning;  ///< set when the CPU is used although a GPU was given (the escape above)
};

/// CUDA (its first visible device) when usable. Else the CPU when the worker was given no GPU
/// (CUDA_VISIBLE_DEVICES unset, empty or -1; `cuda_visible_devices` null when unset), or, with a
/// warning, when `allow_cpu_fallback` is "1". Otherwise throws lv::Error (exit 3) that names
/// CUDA_VISIBLE_DEVICES, says why (no CUDA in this LibTorch, or no device), carries
/// kNoUsableCuda and tells how to fix the build or run on the CPU on purpose.
DeviceChoice choose_compute_device(const CudaProbe& probe, const char* cuda_visible_devices,
                                   const char* allow_cpu_fallback);

}  // namespace lv
