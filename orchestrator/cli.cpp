#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "app.h"
#include "exit_code.h"
#include "message.h"
#include "program.h"

namespace lv {

ParsedArgs parse_args(int argc, char** argv) {
  Options o;
  CLI::App app{
      "orchestrator: run a label-verification worker on every GPU, one contiguous shard each,\n"
      "follow progress live, retry failed shards, and merge outputs and reports.\n"
      "Typical: orchestrator --config config.yaml --num-gpus 4 --keep-gpu-outputs",
      "orchestrator"};
  app.get_formatter()->column_width(34);
  std::string config = o.config.string(), work_dir = o.work_dir.string(), output, worker;
  double stall = -1;
  app.add_option("--config", config, "YAML config")->capture_default_str();
  app.add_option("--num-gpus", o.num_gpus, "use the first N visible GPUs (default: all detected)");
  app.add_option("--gpus", o.gpus, "devices: \"0,2,3\", \"auto\" or \"cpu\" (default: auto)");
  app.add_option("--cpu-workers", o.cpu_workers, "with --gpus cpu: number of CPU worker processes")
      ->capture_default_str();
  app.add_flag("--keep-gpu-outputs", o.keep_gpu_outputs,
               "keep output_gpuN/ after merging (default: removed after a clean merge)");
  app.add_option("--output", output, "override output.dir (default: from config)");
  app.add_option("--work-dir", work_dir, "where gpuN.log, splits/ and run_state.json live")->capture_default_str();
  app.add_flag("--retry-failed", o.retry_failed, "re-run only shards that failed or never finished, then merge");
  app.add_option("--shards", o.shards, "re-run only these shard indices, e.g. \"2\" or \"1,3\" (with --gpus to move them)");
  app.add_flag("--merge-only", o.merge_only, "merge existing output_gpuN/ trees and reports, run nothing");
  app.add_flag("--dry-run", o.dry_run, "print the plan (items, shards, devices, commands) and exit");
  app.add_flag("--list-gpus", o.list_gpus, "print index, name, memory, compute capability and UUID of each GPU");
  app.add_option("--worker", worker, "worker executable (default: config worker.executable, found beside the orchestrator, then in PATH)");
  app.add_option("--stall-timeout", stall, "kill a worker whose log shows no progress for SEC (default: config orchestrator.stall_timeout_s = 600)");
  app.add_option("--timeout", o.timeout_s, "wall-clock limit per shard attempt in seconds (0 = none)")->capture_default_str();
  app.set_version_flag("--version", std::string("orchestrator ") + LV_VERSION);
  app.footer(
      "\nEnvironment: LV_NVIDIA_SMI=path replaces nvidia-smi; CUDA_VISIBLE_DEVICES limits the GPUs used;\n"
      "NO_COLOR disables colour.\n"
      "Exit codes: 0 done, 1 some shards or items failed, 2 usage/config error, 3 model cannot be\n"
      "loaded, 4 input cannot be read, 130 interrupted.");
  if (const auto code = parse_command_line(app, argc, argv)) return ParsedArgs{std::nullopt, *code};
  o.config = config;
  o.work_dir = work_dir;
  if (!output.empty()) o.output = output;
  if (!worker.empty()) o.worker = worker;
  if (stall >= 0) o.stall_timeout_s = stall;
  if (o.timeout_s < 0) {
    print_error("--timeout: expected seconds >= 0");
    return ParsedArgs{std::nullopt, to_int(ExitCode::usage)};
  }
  const int modes = int(o.retry_failed) + int(o.merge_only) + int(o.dry_run && o.merge_only) + int(o.list_gpus);
  if (modes > 1) {
    print_error("--retry-failed, --merge-only and --list-gpus exclude each other");
    return ParsedArgs{std::nullopt, to_int(ExitCode::usage)};
  }
  return ParsedArgs{o, 0};
}

}  // namespace lv
