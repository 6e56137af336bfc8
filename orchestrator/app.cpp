#include "app.h"

#include <unistd.h>

#include <csignal>
#include <iostream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/dll/runtime_symbol_info.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "atomic_file.h"
#include "config.h"
#include "devices.h"
#include "error.h"
#include "gpu_discovery.h"
#include "item_list.h"
#include "launcher.h"
#include "message.h"
#include "plan.h"
#include "program.h"
#include "report.h"
#include "run_merge.h"
#include "run_state.h"
#include "runner.h"
#include "shard_plan.h"
#include "status_printer.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> env_value(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::optional<std::string>(v) : std::nullopt;
}

/// argv quoted for display only (never executed through a shell).
std::string display_command(const std::vector<std::string>& argv) {
  std::vector<std::string> parts;
  for (const auto& a : argv) {
    if (!a.empty() && a.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos) {
      parts.push_back(a);
      continue;
    }
    std::string q = "'";
    for (char c : a) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    parts.push_back(q + "'");
  }
  return fmt::format("{}", fmt::join(parts, " "));
}

int list_gpus() {
  const GpuDiscovery d = discover_gpus([](const std::vector<std::string>& argv) { return capture_output(argv); });
  if (d.gpus.empty()) {
    fmt::print("No GPU detected{}.\n", d.problem.empty() ? "" : fmt::format(" ({})", d.problem));
    return 0;
  }
  fmt::print("{:<6}{:<32}{:>12}  {:<8}{}\n", "index", "name", "memory", "compute", "uuid");
  for (const auto& g : d.gpus)
    fmt::print("{:<6}{:<32}{:>8} MiB  {:<8}{}\n", g.index, g.name, g.memory_mib,
               g.compute_capability.empty() ? "-" : g.compute_capability, g.uuid);
  return 0;
}

/// The worker executable: --worker, else config worker.executable; a bare name is looked for
/// beside the orchestrator first, then in PATH.
fs::path resolve_worker(const Options& options, const Config& config) {
  if (options.worker) {
    const fs::path p = fs::absolute(*options.worker);
    if (!fs::exists(p)) throw usage_error(fmt::format("--worker {}: file not found", options.worker->string()));
    return p;
  }
  const std::string& exe = config.worker.executable;
  if (exe.find('/') != std::string::npos) {
    fs::path p(exe);
    if (p.is_relative()) p = config.file.parent_path() / p;
    if (!fs::exists(p)) throw usage_error(fmt::format("{}: worker.executable: file not found '{}'", config.file.string(), exe));
    return p.lexically_normal();
  }
  const fs::path beside = fs::path(boost::dll::program_location().parent_path().string()) / exe;
  if (fs::exists(beside)) return beside;
  const std::string found = find_program(exe);
  if (!found.empty()) return found;
  throw usage_error(fmt::format("{}: worker.executable: '{}' is neither beside the orchestrator ({}) nor in PATH",
                                config.file.string(), exe, beside.parent_path().string()));
}

std::vector<DeviceSlot> resolve_requested_devices(const Options& options) {
  if (options.gpus == "cpu") {
    std::vector<std::string> none;
    return resolve_devices({options.gpus, options.num_gpus, options.cpu_workers}, {}, std::nullopt, none);
  }
  const GpuDiscovery d = discover_gpus([](const std::vector<std::string>& argv) { return capture_output(argv); });
  std::vector<std::string> warnings;
  if (d.gpus.empty() && !d.problem.empty()) warnings.push_back(fmt::format("GPU discovery: {}", d.problem));
  std::vector<DeviceSlot> devices;
  try {
    devices = resolve_devices({options.gpus, options.num_gpus, options.cpu_workers}, d.gpus,
                              env_value("CUDA_VISIBLE_DEVICES"), warnings);
  } catch (const Error&) {
    for (const auto& w : warnings) print_warning(w);
    throw;
  }
  for (const auto& w : warnings) print_warning(w);
  return devices;
}

void report_rejected(const ItemList& items, const fs::path& work_dir) {
  if (items.rejected.empty()) return;
  std::string all;
  for (const auto& r : items.rejected) all += fmt::format("line {}: {}: {}\n", r.line, r.entry, r.reason);
  const fs::path file = work_dir / "rejected_items.txt";
  write_file_atomic(file, all);
  for (size_t i = 0; i < std::min<size_t>(items.rejected.size(), 5); ++i)
    print_warning(fmt::format("{}:{}: '{}' skipped: {}", items.from_list_file ? "input list" : "input", items.rejected[i].line,
                              items.rejected[i].entry, items.rejected[i].reason));
  print_warning(fmt::format("{} input entr{} skipped; all listed in {}", items.rejected.size(),
                            items.rejected.size() == 1 ? "y" : "ies", file.string()));
}

bool dir_has_entries(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::directory_iterator(dir, ec) != fs::directory_iterator();
}

int threads_per_worker(const Config& config, size_t workers) {
  if (config.processing.num_threads > 0) return config.processing.num_threads;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return static_cast<int>(std::max<size_t>(1, cores / std::max<size_t>(1, workers)));
}

LaunchSpec make_launch_spec(const RunState& state, const ShardState& s, bool resume, const fs::path& work_dir,
                            const Config& config, int threads) {
  LaunchSpec spec;
  spec.argv = {state.worker.string(),
               "--config", state.config_path.string(),
               "--items", (work_dir / split_file(s.index)).string(),
               "--output-dir", shard_output_dir(state.output_dir, s.index).string(),
               "--shard", std::to_string(s.index)};
  if (resume) spec.argv.push_back("--resume");
  for (const auto& a : config.worker.args) spec.argv.push_back(a);
  // PCI_BUS_ID: CUDA's default order is fastest-first, but our indices are nvidia-smi's
  // (PCI bus order); on a machine with mixed GPUs they would name different cards.
  spec.env = {{"CUDA_VISIBLE_DEVICES", s.cuda_visible_devices},
              {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"},
              {"OMP_NUM_THREADS", std::to_string(threads)}};
  spec.log = work_dir / log_file(s.index);
  spec.append_log = resume;
  spec.log_header = fmt::format("==== orchestrator: shard {} attempt {} on {} (CUDA_VISIBLE_DEVICES={}) at {}{} ====\n",
                                s.index, s.attempts + 1, s.device, s.cuda_visible_devices, now_iso8601(),
                                resume ? ", resuming" : "");
  return spec;
}

void print_plan(const RunState& state, const std::vector<int>& selected, const fs::path& work_dir, const Config& config,
                int threads) {
  fmt::print("Plan: {} items from {} -> {} shard(s); output {}\n", state.item_count, state.input.string(),
             state.shards.size(), state.output_dir.string());
  for (int index : selected) {
    const ShardState& s = state.shards.at(static_cast<size_t>(index));
    fmt::print("  shard {:>2}  {:<7} items {}..{} ({})  CUDA_VISIBLE_DEVICES={}\n", s.index, s.device, s.begin,
               s.end, s.end - s.begin, s.cuda_visible_devices.empty() ? "\"\"" : s.cuda_visible_devices);
    const LaunchSpec spec = make_launch_spec(state, s, s.attempts > 0, work_dir, config, threads);
    fmt::print("    {} > {} 2>&1\n", display_command(spec.argv), spec.log.string());
  }
}

/// The failure block of one shard: what happened, why it likely happened, the log's last lines.
void print_failure_block(const ShardState& s, const ShardRun* run, const fs::path& work_dir) {
  const fs::path log = work_dir / log_file(s.index);
  std::string how = s.signal ? fmt::format("signal={}", *s.signal) : fmt::format("exit={}", s.exit_code.value_or(-1));
  if (run && run->last_exit) how = run->last_exit->describe();
  fmt::print("\nFAILED shard {} ({}) {} ({}), {} attempt(s)\n", s.index, s.device, how, s.failure, s.attempts);
  if (run) {
    if (!run->failure_detail.empty()) fmt::print("  {}\n", run->failure_detail);
    const std::string hint = failure_hint(run->failure, run->last_exit.value_or(ExitStatus{}));
    if (!hint.empty()) fmt::print("  hint: {}\n", hint);
    fmt::print("  last lines of {}:\n", log.string());
    for (const auto& line : run->tail) fmt::print("  | {}\n", line);
  } else {
    fmt::print("  see {}\n", log.string());
  }
}

void print_summary(const nlohmann::json& report, const fs::path& output_dir) {
  const auto& s = report.at("summary");
  fmt::print("\nSummary: {} images, {} boxes: {} correct, {} mislabeled, {} uncertain; {} missing label(s); {} image error(s)\n",
             s.value("total_images", 0), s.value("total_boxes", 0), s.value("correct", 0), s.value("mislabeled", 0),
             s.value("uncertain", 0), s.value("missing", 0), s.value("errors", 0));
  const int64_t unprocessed = report.value("unprocessed_count", int64_t{0});
  if (unprocessed > 0) fmt::print("Not processed: {} item(s) (report status: partial)\n", unprocessed);
  fmt::print("Report: {}\n", (output_dir / kReportFileName).string());
}

/// Runs the selected shards to the end with an Asio event loop: a timer ticks the runner, a
/// signal_set turns Ctrl-C / SIGTERM into runner.interrupt() (the handler only records it).
void run_event_loop(Runner& runner, StatusPrinter& printer) {
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer timer(io);
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    printer.event(runner.interrupted()
                      ? fmt::format("{} again: killing all workers now", sig == SIGINT ? "Ctrl-C" : "SIGTERM")
                      : fmt::format("{}: stopping all workers (again to kill at once)", sig == SIGINT ? "Ctrl-C" : "SIGTERM"));
    runner.interrupt();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  std::function<void(const boost::system::error_code&)> on_tick = [&](const boost::system::error_code& ec) {
    if (ec) return;
    runner.tick();
    if (runner.finished()) {
      signals.cancel();
      return;
    }
    printer.update(runner);
    timer.expires_after(std::chrono::milliseconds(200));
    timer.async_wait(on_tick);
  };
  runner.start();
  printer.update(runner);
  timer.expires_after(std::chrono::milliseconds(100));
  timer.async_wait(on_tick);
  io.run();
  printer.finish(runner);
}

int merge_and_report(const RunState& state, const fs::path& work_dir, bool keep) {
  const RunMergeResult merged = merge_run(state, work_dir, keep);
  fmt::print("Merged {} file(s) into {}{}{}\n", merged.files.files, state.output_dir.string(),
             merged.files.already_present ? fmt::format(" ({} already there)", merged.files.already_present) : "",
             merged.removed_shard_trees ? "; per-GPU trees removed (keep them with --keep-gpu-outputs)" : "");
  print_summary(merged.report, state.output_dir);
  return merged.complete ? 0 : 1;
}

int run(const Options& options) {
  // Load and check the config.
  const Config config = load_config(options.config);
  const std::string config_text = read_file(config.file);
  const fs::path output_dir = options.output ? fs::absolute(*options.output).lexically_normal() : config.output.dir;
  fs::path work_dir = fs::absolute(options.work_dir).lexically_normal();
  if (!work_dir.has_filename()) work_dir = work_dir.parent_path();  // "/x/." -> "/x"

  std::optional<WorkDirLock> lock;
  if (!options.dry_run) {
    fs::create_directories(work_dir);
    lock.emplace(work_dir);
  }
  std::optional<RunState> state = load_run_state(work_dir);

  // --merge-only: merge what the state says succeeded.
  if (options.merge_only) {
    if (!state) throw usage_error(fmt::format("--merge-only: no {} in work dir '{}': nothing to merge", kRunStateFile, work_dir.string()));
    return merge_and_report(*state, work_dir, options.keep_gpu_outputs);
  }

  // Plan: a fresh one, or the earlier plan for a retry.
  std::vector<int> selected;
  const bool retry = options.retry_failed || !options.shards.empty();
  if (retry) {
    if (!state)
      throw usage_error(fmt::format("{}: no {} in work dir '{}': there is no earlier run to retry",
                                    options.retry_failed ? "--retry-failed" : "--shards", kRunStateFile, work_dir.string()));
    const ItemList items = list_items(config.input.images, config.input.root);
    const std::string mismatch = plan_mismatch(*state, config_text, items);
    if (!mismatch.empty())
      throw usage_error(fmt::format("cannot retry: {}. Retrying would mix results of different inputs; restore them, or "
                                    "start a new run with another --work-dir and --output",
                                    mismatch));
    if (output_dir != state->output_dir)
      throw usage_error(fmt::format("cannot retry: the plan wrote to '{}', not '{}'", state->output_dir.string(), output_dir.string()));
    selected = select_shards(*state, options.shards);
    if (!options.gpus.empty() || options.num_gpus) assign_devices(*state, selected, resolve_requested_devices(options));
    state->worker = resolve_worker(options, config);
    if (selected.empty()) {
      fmt::print("Nothing to retry: all {} shard(s) succeeded. Merging.\n", state->shards.size());
      return merge_and_report(*state, work_dir, options.keep_gpu_outputs);
    }
  } else {
    if (state && !options.dry_run) {
      std::vector<int> unfinished;
      for (const auto& s : state->shards)
        if (s.status != ShardStatus::succeeded) unfinished.push_back(s.index);
      if (!unfinished.empty())
        throw usage_error(fmt::format("work dir '{}' holds an unfinished run (shard(s) {} not done). Finish it with "
                                      "--retry-failed, or remove {} to start over",
                                      work_dir.string(), fmt::join(unfinished, ","), (work_dir / kRunStateFile).string()));
    }
    const ItemList items = list_items(config.input.images, config.input.root);
    if (items.items.empty())
      throw Error(ExitCode::input_unreadable, fmt::format("{}: no images found (extensions .jpg .jpeg .png .bmp .tif .tiff .webp)",
                                                          config.input.images.string()));
    const std::vector<DeviceSlot> devices = resolve_requested_devices(options);
    state = make_plan(config, config_text, items, devices, output_dir, resolve_worker(options, config));
    for (const auto& s : state->shards) selected.push_back(s.index);
    if (!options.dry_run) {
      // A fresh run never deletes results: it refuses to write into a non-empty output.
      if (dir_has_entries(output_dir))
        throw usage_error(fmt::format("output dir '{}' is not empty; move it away or pass another --output", output_dir.string()));
      for (const auto& s : state->shards)
        if (dir_has_entries(shard_output_dir(output_dir, s.index)))
          throw usage_error(fmt::format("'{}' is left from an earlier run; remove it or pass another --output",
                                        shard_output_dir(output_dir, s.index).string()));
      report_rejected(items, work_dir);
      write_plan_files(work_dir, *state, items);
    }
  }

  const int threads = threads_per_worker(config, selected.size());
  if (options.dry_run) {
    print_plan(*state, selected, work_dir, config, threads);
    return 0;
  }
  save_run_state(work_dir, *state);

  // Launch and watch.
  SteadyClock clock;
  const bool terminal = stdout_is_terminal();
  StatusPrinter printer(stdout, terminal, use_color(terminal), config.orchestrator.status_interval_s, clock);
  const auto launcher = make_process_launcher();
  RunnerOptions ropts;
  ropts.stall_timeout_s = options.stall_timeout_s.value_or(config.orchestrator.stall_timeout_s);
  ropts.timeout_s = options.timeout_s;
  ropts.stop_grace_s = config.orchestrator.stop_grace_s;
  ropts.max_retries = config.orchestrator.max_retries;
  ShardHooks hooks;
  hooks.launch_spec = [&](const ShardState& s, bool resume) {
    return make_launch_spec(*state, s, resume, work_dir, config, threads);
  };
  hooks.check_success = [&](const ShardState& s) -> std::string {
    const fs::path report = shard_output_dir(state->output_dir, s.index) / kReportFileName;
    return fs::exists(report) ? "" : fmt::format("the worker exited 0 but wrote no {}", report.string());
  };
  hooks.save_state = [&] { save_run_state(work_dir, *state); };
  hooks.event = [&](const std::string& line) { printer.event(line); };
  int64_t to_run = 0;
  for (int index : selected) to_run += state->shards.at(static_cast<size_t>(index)).end - state->shards.at(static_cast<size_t>(index)).begin;
  fmt::print("{} item(s) in {} shard(s); worker {}; logs: {}/gpuN.log\n", to_run, selected.size(),
             state->worker.string(), work_dir.string());
  Runner runner(*state, selected, *launcher, clock, ropts, hooks);
  run_event_loop(runner, printer);

  if (runner.interrupted()) {
    save_run_state(work_dir, *state);
    print_error("interrupted: workers stopped, progress saved. Resume with: orchestrator --retry-failed");
    return to_int(ExitCode::interrupted);
  }

  // Merge what succeeded, then show what failed.
  int code = merge_and_report(*state, work_dir, options.keep_gpu_outputs);
  bool any_failed = false;
  for (const auto& s : state->shards) {
    if (s.status == ShardStatus::succeeded) continue;
    any_failed = true;
    const ShardRun* run = nullptr;
    for (const auto& r : runner.runs())
      if (r.index == s.index) run = &r;
    print_failure_block(s, run, work_dir);
  }
  if (any_failed) {
    fmt::print("\nFix the cause, then run: orchestrator --retry-failed (failed shards resume where they stopped)\n");
    code = to_int(ExitCode::failed);
  }
  return code;
}

}  // namespace

int run_orchestrator(const Options& options) {
  const int code = run_guarded([&] { return options.list_gpus ? list_gpus() : run(options); });
  note_peak_memory_if_asked();  // our own, not the workers' (tools/bench_orchestrator)
  return code;
}

}  // namespace lv
