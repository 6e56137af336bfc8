#pragma once
/// The orchestrator program: options, and the steps main() runs.
#include <filesystem>
#include <optional>
#include <string>

namespace lv {

/// Command-line options (DESIGN §3). Defaults are the documented ones.
struct Options {
  std::filesystem::path config = "config.yaml";
  std::optional<int> num_gpus;
  std::string gpus;                  ///< "" = not given (auto)
  int cpu_workers = 1;
  bool keep_gpu_outputs = false;
  std::optional<std::filesystem::path> output;
  std::filesystem::path work_dir = ".";
  bool retry_failed = false;
  std::string shards;                ///< --shards LIST; "" = not given
  bool merge_only = false;
  bool dry_run = false;
  bool list_gpus = false;
  std::optional<std::filesystem::path> worker;
  std::optional<double> stall_timeout_s;
  double timeout_s = 0;              ///< 0 = no limit
};

/// Parses argv. Returns the options, or an exit code when the program should end now
/// (--help, --version: 0; a usage error: 2, message printed).
struct ParsedArgs {
  std::optional<Options> options;
  int exit_code = 0;
};
ParsedArgs parse_args(int argc, char** argv);

/// Runs everything the options ask for and returns the process exit code (DESIGN §6).
int run_orchestrator(const Options& options);

}  // namespace lv
