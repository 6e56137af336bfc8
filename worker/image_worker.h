#pragma once
/// The image worker's run (DESIGN §6): items in, verdicts, output tree, journal and shard
/// report out. main() parses arguments and calls run_image_worker; tests call it too.
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "config.h"
#include "exit_code.h"
#include "worker_kit.h"

namespace lv {



/// The dataset class names: input.classes inline, or read from the classes file.
/// Throws lv::Error: exit 4 when the file cannot be read, exit 2 when no classes are given.
std::vector<std::string> dataset_classes(const Config& config);

/// The environment variable in which the orchestrator gives each worker its share of the
/// machine's cores (cores / workers, at least 1).
inline constexpr const char* kCoresPerWorkerEnv = "LV_CORES_PER_WORKER";

/// This worker's share of the cores: LV_CORES_PER_WORKER when valid, else OMP_NUM_THREADS
/// when valid, else the number of cores.
int core_share();

/// Threads for the model: processing.num_threads when set, else core_share().
int model_threads(const Config& config);

/// Threads that decode and prepare images: processing.decode_threads when set; auto: the
/// worker's core share, at least 2 when the model runs on a GPU (the host thread mostly waits
/// for it then), at least 1 on the CPU, where decoders and model threads take turns on the
/// same cores (more would oversubscribe them when several workers share a machine).
int decode_threads(const Config& config, bool model_on_gpu);

/// Processes one shard. Returns ok when every item has a record (errors included), interrupted
/// when `stop` was set (the journal then holds every finished item). Throws lv::Error for
/// usage (2), model (3) and unreadable-input (4) failures before any item is processed.
ExitCode run_image_worker(const Config& config, const WorkerArgs& args, const std::atomic<bool>& stop);

}  // namespace lv
