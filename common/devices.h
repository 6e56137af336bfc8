#pragma once
/// Device strings, one rule everywhere (DESIGN §3): `auto`, `0,2,3`, `cpu`, and --num-gpus N.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gpu_discovery.h"

namespace lv {

/// Where one shard runs.
struct DeviceSlot {
  bool is_gpu = false;
  int index = 0;                      ///< GPU index (nvidia-smi) or CPU worker number
  std::string cuda_visible_devices;   ///< the worker's CUDA_VISIBLE_DEVICES ("" for CPU)
  std::string name;                   ///< a label of its own ("Slurm task 3"); "" = by kind and index
  std::string label() const;          ///< "GPU 2", "CPU 0", or `name`
};

struct DeviceRequest {
  std::string gpus;                   ///< --gpus value; "" when not given
  std::optional<int> num_gpus;        ///< --num-gpus
  int cpu_workers = 1;                ///< --cpu-workers (for cpu, and auto without GPUs)
  bool cpu_workers_given = false;     ///< --cpu-workers was on the command line: then an error
                                      ///< when the request selects GPUs (it would be ignored)
};

/// Turns a request into device slots. `detected` comes from discovery; `parent_visible` is
/// the orchestrator's own CUDA_VISIBLE_DEVICES (indices or GPU UUIDs), which limits and orders
/// the GPUs it may use. Throws lv::Error (exit 2) with a message a user can act on, e.g.
/// "GPU 5 not available. Only 4 GPU(s) detected."; never falls back silently. --num-gpus
/// beyond the GPUs there suggests all of them, then the CPU; --cpu-workers given while GPUs
/// are selected is an error naming both flags. `warnings`
/// receives notes such as "no GPU detected; running on CPU".
std::vector<DeviceSlot> resolve_devices(const DeviceRequest& request, const std::vector<GpuInfo>& detected,
                                        const std::optional<std::string>& parent_visible,
                                        std::vector<std::string>& warnings);

/// The GPUs this process may use: `detected` filtered and ordered by `parent_visible`.
std::vector<GpuInfo> visible_gpus(const std::vector<GpuInfo>& detected,
                                  const std::optional<std::string>& parent_visible,
                                  std::vector<std::string>& warnings);

/// The CPUs this process may use, at least 1: those of its CPU affinity (taskset, a
/// container's cpuset, Slurm's CPU set), or fewer when a cgroup CPU quota allows less (docker
/// --cpus, a Kubernetes CPU limit; rounded up). std::thread::hardware_concurrency() counts the
/// whole machine's, which oversubscribes a container given 4 of 64 cores.
unsigned usable_cpus();

/// The CPUs a cgroup v2 `cpu.max` ("<quota> <period>", or "max <period>": none) allows;
/// nullopt when it sets no limit or cannot be read as such.
std::optional<double> cpu_max_limit(std::string_view cpu_max);

/// The CPUs a cgroup v1 quota allows (cpu.cfs_quota_us / cpu.cfs_period_us); nullopt for a
/// quota of -1 (none) or text that is not numbers.
std::optional<double> cfs_quota_limit(std::string_view quota_us, std::string_view period_us);

/// The smallest CPU quota of this process's cgroup and its ancestors, read from /proc/self/cgroup
/// and the cgroup file systems under `cgroup_root` (/sys/fs/cgroup): v2 cpu.max (also under
/// unified/ on a hybrid layout), else v1 cpu.cfs_quota_us; nullopt when none is set.
std::optional<double> cgroup_cpu_limit(const std::filesystem::path& cgroup_root = "/sys/fs/cgroup",
                                       const std::filesystem::path& self_cgroup = "/proc/self/cgroup");

}  // namespace lv
