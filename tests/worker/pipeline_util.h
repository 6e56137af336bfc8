#pragma once
// What the end-to-end pipeline tests (images and documents) share: comparing two runs'
// outputs, and finding a worker to kill.
#include <dirent.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "process_util.h"
#include "test_util.h"

namespace lv::test {

/// Every regular file under `root` (relative path -> content) but the report, the
/// orchestrator's lock and owner record and the review page's summary (which name the run
/// that wrote them).
inline std::map<std::string, std::string> output_tree(const std::filesystem::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    const std::string rel = std::filesystem::relative(e.path(), root).generic_string();
    if (e.is_regular_file() && name != "verification_report.json" && name != ".orchestrator.lock" &&
        name != ".orchestrator_run.json" && rel != "review/data/summary.js")
      files[rel] = read_text(e.path());
  }
  return files;
}

/// A report without what differs between two runs of the same work (times, attempts, logs).
inline nlohmann::json comparable_report(nlohmann::json report) {
  for (auto& s : report["shards"])
    for (const char* k : {"seconds", "items_per_s", "attempts", "log"}) s.erase(k);
  return report;
}

/// A run's folder (config.yaml, data, output, logs) for the real orchestrator on 4 GPUs posed
/// by the fake nvidia-smi; the pipeline tests' fixtures derive from it.
struct RunDir {
  TempDir dir;

  /// The fake GPUs are not there for LibTorch: without LV_ALLOW_CPU_FALLBACK each worker,
  /// given CUDA_VISIBLE_DEVICES=N, would refuse to run on the CPU.
  std::map<std::string, std::string> env() const {
    return {{"LV_NVIDIA_SMI", LV_SOURCE_DIR "/tests/fixtures/fake_nvidia_smi"},
            {"FAKE_GPU_COUNT", "4"},
            {"CUDA_VISIBLE_DEVICES", "\x01unset"},
            {"LV_ALLOW_CPU_FALLBACK", "1"}};
  }
  /// `orchestrator --config config.yaml <args>` in the folder.
  RunResult orchestrate(std::vector<std::string> args) const {
    args.insert(args.begin(), {LV_ORCHESTRATOR, "--config", "config.yaml"});
    return run_program(args, env(), dir.path(), std::chrono::seconds(240));
  }
  /// The merged report.
  nlohmann::json report() const { return nlohmann::json::parse(read_text(dir / "output/verification_report.json")); }
};

/// The pid of the `program` (e.g. "doc_worker") running shard `shard` under `dir`, or 0.
inline pid_t worker_pid(const std::string& program, const std::filesystem::path& dir, int shard) {
  const std::string needle = (dir / ("output_gpu" + std::to_string(shard))).string();
  DIR* proc = ::opendir("/proc");
  pid_t found = 0;
  while (const dirent* e = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::string cmd = read_text(std::filesystem::path("/proc") / e->d_name / "cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(program) != std::string::npos && cmd.find(needle + " ") != std::string::npos && process_alive(pid))
      found = pid;
  }
  ::closedir(proc);
  return found;
}

/// The last "[progress] d/t" count in a log, or -1.
inline int last_progress(const std::string& log) {
  const size_t at = log.rfind("[progress] ");
  return at == std::string::npos ? -1 : std::atoi(log.c_str() + at + 11);
}

}  // namespace lv::test
