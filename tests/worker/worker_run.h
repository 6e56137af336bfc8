#pragma once
// Running the real image_worker in a test's folder, the way the orchestrator would start shard 0.
#include <filesystem>

#include "process_util.h"

namespace lv::test {

/// Runs image_worker with `<dir>/config.yaml`, the items of `<dir>/split.txt` and the output
/// dir `<dir>/out` as shard 0, its stdout and stderr in `log`; returns its exit code.
inline int run_worker_in(const std::filesystem::path& dir, const std::filesystem::path& log) {
  return run_program({LV_IMAGE_WORKER, "--config", (dir / "config.yaml").string(), "--items",
                      (dir / "split.txt").string(), "--output-dir", (dir / "out").string(), "--shard", "0"},
                     log);
}

}  // namespace lv::test
