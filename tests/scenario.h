#pragma once
// A dataset, a config using fake_worker and the real orchestrator run over them, on a machine
// that poses as having 4 GPUs: shared by the end-to-end tests (local and Slurm).
#include <dirent.h>
#include <sys/stat.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.h"
#include "process_util.h"
#include "test_util.h"

namespace lv::test {

namespace fs = std::filesystem;
using nlohmann::json;

/// A dataset of `count` images in nested folders, a config using fake_worker, and helpers to
/// run the orchestrator in that folder.
struct Scenario {
  TempDir dir;
  std::vector<std::string> items;  // input order (sorted), relative to data/

  explicit Scenario(int count = 24, const std::string& extra_config = "") {
    const char* folders[] = {"indoor/day/JPEGImages", "indoor/night/JPEGImages", "outdoor/day/JPEGImages"};
    for (int i = 0; i < count; ++i) {
      const std::string rel = std::string(folders[i % 3]) + "/img_" + std::to_string(1000 + i) + ".jpg";
      write_text(dir / "data" / rel, "not really a jpeg");
      items.push_back(rel);
    }
    std::sort(items.begin(), items.end());
    write_config(extra_config);
  }

  void write_config(const std::string& extra) {
    write_text(dir / "config.yaml", "input:\n  images: data\n"
                                    "worker:\n  executable: " LV_FAKE_WORKER "\n"
                                    "orchestrator:\n  stop_grace_s: 1\n  status_interval_s: 0.5\n" +
                                        extra);
  }

  std::map<std::string, std::string> base_env(const std::map<std::string, std::string>& extra) const {
    std::map<std::string, std::string> env{{"LV_NVIDIA_SMI", LV_SOURCE_DIR "/tests/fixtures/fake_nvidia_smi"},
                                           {"FAKE_GPU_COUNT", "4"},
                                           {"FAKE_WORKER_RECORD", (dir / "record").string()},
                                           {"FAKE_WORKER_FAULT", "\x01unset"},
                                           {"CUDA_VISIBLE_DEVICES", "\x01unset"}};
    for (const auto& [k, v] : extra) env[k] = v;
    return env;
  }

  RunResult orchestrate(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) const {
    args.insert(args.begin(), {LV_ORCHESTRATOR, "--config", "config.yaml"});
    return run_program(args, base_env(env), dir.path());
  }

  std::unique_ptr<Child> start(std::vector<std::string> args, const std::map<std::string, std::string>& env = {},
                               const std::string& name = "orchestrator.out") const {
    args.insert(args.begin(), {LV_ORCHESTRATOR, "--config", "config.yaml"});
    return std::make_unique<Child>(args, base_env(env), dir.path(), dir / name);
  }

  json report() const { return json::parse(read_text(dir / "output/verification_report.json")); }
  std::string recorded_env(int shard) const { return read_text(dir / "record" / ("shard_" + std::to_string(shard) + ".env")); }
};

/// Every regular file the workers wrote under `root` (relative path -> content): not the report
/// (compared on its own), the orchestrator's lock and owner record (which name the run that
/// wrote them), nor what the merge makes from the report (issues.csv, review/: its pages say
/// which shard judged an image, which balancing changes).
inline std::map<std::string, std::string> tree(const fs::path& root) {
  std::map<std::string, std::string> files;
  if (!fs::exists(root)) return files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string rel = fs::relative(e.path(), root).generic_string();
    if (e.is_regular_file() && rel.rfind("review/", 0) != 0) files[rel] = read_text(e.path());
  }
  files.erase("verification_report.json");
  files.erase(".orchestrator.lock");
  files.erase(".orchestrator_run.json");
  files.erase("issues.csv");
  return files;
}

/// A report without what legitimately differs between two runs (timings, attempts, paths).
inline json comparable(json report) {
  for (auto& s : report["shards"]) {
    s.erase("seconds");
    s.erase("items_per_s");
    s.erase("attempts");
    s.erase("log");
    s.erase("batch_size");  // an out-of-memory retry's
  }
  return report;
}

inline std::vector<std::string> image_paths(const json& report) {
  std::vector<std::string> paths;
  for (const auto& image : report.at("images")) paths.push_back(image.at("path").get<std::string>());
  return paths;
}

/// Processes whose command line mentions `needle` (our temp dir): workers must not outlive us.
inline std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (!proc) return found;
  while (const dirent* e = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == ::getpid()) continue;
    std::string cmdline = read_text(fs::path("/proc") / e->d_name / "cmdline");
    if (cmdline.find(needle) != std::string::npos && process_alive(pid)) found.push_back(pid);
  }
  ::closedir(proc);
  return found;
}

/// True once every shard's log shows at least one item done.
inline bool all_logs_progressed(const Scenario& s, int shards) {
  for (int i = 0; i < shards; ++i) {
    const std::string log = read_text(s.dir / ("gpu" + std::to_string(i) + ".log"));
    if (log.find("[progress] 0/") == std::string::npos && log.find("[progress] ") == std::string::npos) return false;
    const size_t at = log.rfind("[progress] ");
    if (log.compare(at, 13, "[progress] 0/") == 0) return false;
  }
  return true;
}

}  // namespace lv::test
