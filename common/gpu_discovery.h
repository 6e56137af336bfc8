#pragma once
/// GPU discovery without LibTorch: runs `nvidia-smi --query-gpu=... --format=csv,noheader`.
/// The nvidia-smi program can be replaced through the LV_NVIDIA_SMI environment variable, so
/// tests (and users of odd installs) can point at another executable.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lv {

struct GpuInfo {
  int index = 0;                   ///< nvidia-smi index (physical order)
  std::string name;
  int64_t memory_mib = 0;
  std::string compute_capability;  ///< "8.0", or "" when the driver cannot report it
  std::string uuid;
};

/// The environment variable that overrides the nvidia-smi path.
inline constexpr const char* kNvidiaSmiEnv = "LV_NVIDIA_SMI";

/// Result of running a program to capture its output.
struct CaptureResult {
  bool started = false;  ///< false: the program could not be run at all
  int exit_code = -1;
  std::string out;
  std::string error;     ///< why it could not start, or its stderr
};
using CaptureFn = std::function<CaptureResult(const std::vector<std::string>& argv)>;

/// Parses `index, name, memory.total [MiB], compute_cap, uuid` CSV lines (with or without
/// units, compute_cap optional). Throws lv::Error naming the line when one is malformed.
std::vector<GpuInfo> parse_nvidia_smi_csv(std::string_view text);

struct GpuDiscovery {
  std::vector<GpuInfo> gpus;
  std::string problem;  ///< why none were found ("nvidia-smi not found", its error), or ""
};

/// Runs nvidia-smi through `run` and parses it. Never throws for a missing nvidia-smi: a
/// machine without GPUs is normal; the reason is in `problem`.
GpuDiscovery discover_gpus(const CaptureFn& run);

/// The nvidia-smi program to run: $LV_NVIDIA_SMI, else "nvidia-smi".
std::string nvidia_smi_program();

/// One GPU's utilisation and memory at one moment.
struct GpuSample {
  int index = 0;
  int util_percent = 0;     ///< utilization.gpu: time a kernel ran over the last sample period
  int64_t mem_used_mib = 0;
  int64_t mem_total_mib = 0;
};

/// nvidia-smi sampling every GPU every `interval_ms` until stopped (one process for all GPUs):
/// lines `index, utilization.gpu, memory.used, memory.total`.
std::vector<std::string> gpu_sampling_command(int interval_ms);

/// Parses one line of that output ("2, 87, 12034, 81920", with or without units); nullopt for
/// anything else ([N/A] fields, a header, a torn line).
std::optional<GpuSample> parse_gpu_sample(std::string_view line);

}  // namespace lv
