#include <cmath>

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
  std::string config = o.config.string(), work_dir, output, worker;
  std::optional<double> stall, timeout;
  app.add_option("--config", config, "YAML config")->capture_default_str();
  app.add_option("--num-gpus", o.num_gpus,
                 "use the first N visible GPUs (default: all detected); with --launcher slurm: N array tasks");
  app.add_option("--gpus", o.gpus, "devices: \"0,2,3\", \"auto\" or \"cpu\" (default: auto)");
  app.add_option("--cpu-workers", o.cpu_workers, "with --gpus cpu: number of CPU worker processes (default: 1)");
  app.add_flag("--keep-gpu-outputs", o.keep_gpu_outputs,
               "keep output_gpuN/ after merging (default: removed after a clean merge)");
  app.add_option("--output", output, "override output.dir (default: from config)");
  app.add_option("--work-dir", work_dir,
                 "where gpuN.log, splits/ and run_state.json live (default: the current folder; output/ does not move)");
  app.add_flag("--retry-failed", o.retry_failed, "re-run only shards that failed or never finished, then merge");
  app.add_option("--shards", o.shards, "re-run only these shard indices, e.g. \"2\" or \"1,3\" (with --gpus to move them)");
  app.add_flag("--merge-only", o.merge_only, "merge existing output_gpuN/ trees and reports, run nothing");
  app.add_flag("--restart", o.restart,
               "discard this work dir's earlier plan, its per-GPU trees and its partial output (printed first), "
               "then start fresh");
  app.add_flag("--dry-run", o.dry_run, "print the plan (items, shards, devices, commands) and exit");
  app.add_flag("--list-gpus", o.list_gpus, "print index, name, memory, compute capability and UUID of each GPU");
  app.add_option("--worker", worker, "worker executable (default: config worker.executable, found beside the orchestrator, then in PATH)");
  app.add_option("--stall-timeout", stall,
                 "kill a worker whose log shows no progress for SEC (default: config orchestrator.stall_timeout_s = 600; "
                 "0 = never)");
  app.add_flag("--static", o.static_shards,
               "plain contiguous shards, one per GPU, never split (default: an idle GPU takes over part of the "
               "busiest shard; config orchestrator.balance)");
  app.add_flag("--auto-batch", o.auto_batch,
               "before launching, run the worker's --find-batch-size --test-only once per GPU model and give each "
               "GPU its own batch size (the config file is left as it is)");
  app.add_option("--launcher", o.launcher,
                 "local: one worker process per GPU here; slurm: the shards as one Slurm job array, --num-gpus "
                 "or slurm.tasks of them (default: config orchestrator.launcher = local)")
      ->check(CLI::IsMember({"local", "slurm"}));
  std::string apply, undo;
  app.add_option("--apply-fixes", apply,
                 "write the corrections accepted on the review page (its decisions.json) into the dataset's label "
                 "files, each original backed up under <work dir>/fixes/<time>/; with --dry-run print the diff only");
  app.add_option("--undo-fixes", undo, "put back the label files of one --apply-fixes backup (<work dir>/fixes/<time>)");
  app.add_flag("--attach", o.attach,
               "a Slurm run whose orchestrator is gone (login node dropped, killed): follow its array tasks that "
               "Slurm still has instead of submitting them again, re-submit the failed or unfinished rest, merge");
  app.add_option("--timeout", timeout, "wall-clock limit per shard attempt in seconds (default: none)");
  app.set_version_flag("--version", std::string("orchestrator ") + LV_VERSION);
  app.footer(
      "\nEnvironment: LV_NVIDIA_SMI=path replaces nvidia-smi; CUDA_VISIBLE_DEVICES limits the GPUs used;\n"
      "NO_COLOR disables colour.\n"
      "Exit codes: 0 done (items that could not be processed are in the report), 1 some shards failed,\n"
      "2 usage/config error, 3 model cannot be loaded, 4 input cannot be read, 130 interrupted.");
  if (const auto code = parse_command_line(app, argc, argv)) return ParsedArgs{std::nullopt, *code};
  o.config = config;
  if (!work_dir.empty()) o.work_dir = work_dir;
  if (!output.empty()) o.output = output;
  if (!worker.empty()) o.worker = worker;
  if (!apply.empty()) o.apply_fixes = apply;
  if (!undo.empty()) o.undo_fixes = undo;
  const auto usage = [](const std::string& message) {
    print_error(message);
    return ParsedArgs{std::nullopt, to_int(ExitCode::usage)};
  };
  // CLI11 reads "nan" and "inf" as numbers; a limit must be a real number of seconds.
  for (const auto& [name, value] : {std::pair{"--stall-timeout", stall}, std::pair{"--timeout", timeout}})
    if (value && (!std::isfinite(*value) || *value < 0))
      return usage(fmt::format("{} {}: expected a number of seconds >= 0", name, *value));
  o.stall_timeout_s = stall;
  if (timeout && *timeout > 0) o.timeout_s = timeout;
  if (o.cpu_workers && *o.cpu_workers < 1) return usage("--cpu-workers: expected a number >= 1");
  const int modes = int(o.retry_failed) + int(o.merge_only) + int(o.restart) + int(o.list_gpus) + int(o.attach) +
                    int(o.apply_fixes.has_value()) + int(o.undo_fixes.has_value());
  if (modes > 1)
    return usage("--retry-failed, --attach, --merge-only, --restart, --list-gpus, --apply-fixes and --undo-fixes "
                 "exclude each other");
  if (o.attach && o.launcher == "local") return usage("--attach follows Slurm tasks: it does not take --launcher local");
  if (o.restart && !o.shards.empty()) return usage("--restart starts a whole new plan; it does not take --shards");
  return ParsedArgs{o, 0};
}

}  // namespace lv
