#include "session.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <system_error>
#include <unordered_map>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "atomic_file.h"
#include "byte_text.h"
#include "config_diff.h"
#include "devices.h"
#include "item_list.h"
#include "journal.h"
#include "output_claim.h"
#include "plan.h"
#include "preflight.h"
#include "report.h"
#include "review.h"
#include "run_merge.h"
#include "shard_plan.h"
#include "slurm_launcher.h"

namespace lv {

namespace fs = std::filesystem;

std::string_view to_string(RefusalKind kind) {
  switch (kind) {
    case RefusalKind::work_dir_in_use: return "work_dir_in_use";
    case RefusalKind::output_in_use: return "output_in_use";
    case RefusalKind::no_earlier_run: return "no_earlier_run";
    case RefusalKind::unfinished_run: return "unfinished_run";
    case RefusalKind::output_not_empty: return "output_not_empty";
    case RefusalKind::output_of_other_run: return "output_of_other_run";
    case RefusalKind::shard_tree_left: return "shard_tree_left";
    case RefusalKind::config_changed: return "config_changed";
    case RefusalKind::input_changed: return "input_changed";
    case RefusalKind::output_changed: return "output_changed";
    case RefusalKind::output_inside_input: return "output_inside_input";
    case RefusalKind::shards_merged: return "shards_merged";
    case RefusalKind::slurm_tasks_running: return "slurm_tasks_running";
  }
  return "refused";
}

Refusal::Refusal(RefusalKind kind, const std::string& message, std::string way_out)
    : Error(ExitCode::usage, fmt::format("{}\n  {}", message, way_out)), kind_(kind), way_out_(std::move(way_out)) {}

std::string program_for_commands(const SessionSystem& system) {
  const fs::path me = system.program_path();
  const std::string found = system.find_program("orchestrator");
  std::error_code ec1, ec2;
  if (!found.empty() && fs::equivalent(found, me, ec1) && !ec1) return "orchestrator";
  const fs::path canon = fs::canonical(me, ec2);
  return (ec2 ? me : canon).string();
}

namespace {

fs::path absolute_dir(const fs::path& p) {
  fs::path a = fs::absolute(p).lexically_normal();
  if (!a.has_filename() && a != a.root_path()) a = a.parent_path();  // "/x/." -> "/x"
  return a;
}

/// A sibling name for a new output dir that does not exist yet: "<dir>_2", "<dir>_3", ...
fs::path unused_sibling(const fs::path& dir) {
  for (int n = 2;; ++n) {
    const fs::path candidate = dir.string() + "_" + std::to_string(n);
    std::error_code ec;
    if (!fs::exists(candidate, ec)) return candidate;
  }
}

std::vector<int> unfinished_shards(const RunState& state) {
  std::vector<int> out;
  for (const auto& s : state.shards)
    if (s.status != ShardStatus::succeeded) out.push_back(s.index);
  return out;
}

}  // namespace

Session::Session(Options options, SessionSystem& system, Status& status)
    : options_(std::move(options)),
      system_(system),
      status_(status),
      commands_(program_for_commands(system), options_, system.current_dir()) {}

int Session::run() {
  // Config and where things go: the config's output.dir (relative to the config file) unless
  // --output (relative to the current dir) overrides it; the work dir is independent of both.
  config_ = load_config(options_.config.is_absolute() ? options_.config : system_.current_dir() / options_.config);
  config_text_ = read_file(config_.file);
  const fs::path cwd = system_.current_dir();
  work_dir_ = absolute_dir(options_.work_dir ? (options_.work_dir->is_absolute() ? *options_.work_dir : cwd / *options_.work_dir)
                                             : cwd);
  output_dir_ = absolute_dir(options_.output ? (options_.output->is_absolute() ? *options_.output : cwd / *options_.output)
                                             : config_.output.dir);

  slurm_ = options_.attach || (options_.launcher.empty() ? config_.orchestrator.launcher == LauncherKind::slurm
                                                          : options_.launcher == "slurm");
  if (slurm_ && !options_.gpus.empty())
    throw usage_error(fmt::format("--gpus {}: with the Slurm launcher Slurm picks each task's GPU (slurm.gres); say "
                                  "how many tasks with --num-gpus N or slurm.tasks",
                                  options_.gpus));
  if (slurm_ && options_.auto_batch)
    throw usage_error("--auto-batch runs the batch-size finder on this machine's GPUs, not on the cluster's: with the "
                      "Slurm launcher, run `image_worker --find-batch-size` on a compute node (srun) and set "
                      "processing.batch_size");

  // Before anything is created: neither folder may lie inside the scanned input.
  check_locations(config_);
  if (options_.dry_run) return dry_run();

  fs::create_directories(work_dir_);
  std::optional<WorkDirLock> lock;
  try {
    lock.emplace(work_dir_);
  } catch (const Error& e) {
    throw Refusal(RefusalKind::work_dir_in_use, e.what(),
                  fmt::format("tail -f {}", shell_quote((work_dir_ / "gpu0.log").string())));
  }
  std::optional<RunState> state = load_run_state(work_dir_);

  if (options_.merge_only) {
    if (!state)
      throw Refusal(RefusalKind::no_earlier_run,
                    fmt::format("--merge-only: no {} in work dir '{}': nothing to merge. Start a run with", kRunStateFile,
                                work_dir_.string()),
                    commands_.fresh());
    return merge_only(*state);
  }
  if (options_.restart) {
    if (state) restart(*state);
    return fresh(std::nullopt);
  }
  if (options_.retry_failed || !options_.shards.empty() || options_.attach) {
    if (!state)
      throw Refusal(RefusalKind::no_earlier_run,
                    fmt::format("{}: no {} in work dir '{}': there is no earlier run to retry. Start one with",
                                options_.retry_failed ? "--retry-failed" : options_.attach ? "--attach" : "--shards",
                                kRunStateFile, work_dir_.string()),
                    commands_.fresh());
    return retry(std::move(*state));
  }
  return fresh(std::move(state));
}

// --- Preconditions -----------------------------------------------------------------------

void Session::check_locations(const Config& config) {
  // A folder scan must never see our own outputs: a second run would take corrected labels
  // and debug images for new inputs.
  for (const fs::path& root : scanned_roots(config)) {
    const auto outside = [&](const fs::path& p) {
      return unused_sibling(root.parent_path() / (root.filename().string() + "_" + p.filename().string()));
    };
    for (int i = 0; i < 2; ++i) {
      const fs::path& dir = i == 0 ? output_dir_ : work_dir_;
      if (!lies_inside(dir, root)) continue;
      const std::string what = i == 0 ? "output dir" : "work dir";
      Options moved = options_;
      if (i == 0) moved.output = outside(dir);
      else moved.work_dir = outside(dir);
      throw Refusal(RefusalKind::output_inside_input,
                    fmt::format("{} '{}' lies inside the input folder '{}': a later scan would take this run's "
                                "outputs for inputs. Put it outside, e.g.",
                                what, dir.string(), root.string()),
                    CommandBuilder(program_for_commands(system_), moved, system_.current_dir()).fresh());
    }
    // The other way round: the images would sit among the results, the output could never be
    // empty for a fresh run, and --restart (which removes partial output) would not help.
    if (lies_inside(root, output_dir_)) {
      Options moved = options_;
      const fs::path beside = output_dir_.parent_path() / (output_dir_.filename().string() + "_verified");
      std::error_code ec;
      moved.output = fs::exists(beside, ec) ? unused_sibling(beside) : beside;
      throw Refusal(RefusalKind::output_inside_input,
                    fmt::format("output dir '{}' holds the input folder '{}': the results would be written among "
                                "the images. Put it beside them, e.g.",
                                output_dir_.string(), root.string()),
                    CommandBuilder(program_for_commands(system_), moved, system_.current_dir()).fresh());
    }
  }
}

std::string Session::classes_hash() const {
  if (config_.input.classes_file.empty()) return "";
  std::error_code ec;
  if (!fs::is_regular_file(config_.input.classes_file, ec)) return "missing";
  return content_hash(read_file(config_.input.classes_file));
}

void Session::preflight() {
  std::error_code ec;
  if (fs::exists(output_dir_, ec) && !fs::is_directory(output_dir_, ec))
    throw usage_error(fmt::format("output dir '{}' is a file, not a folder; pass another --output", output_dir_.string()));
  const PreflightFindings findings = check_model_and_classes(config_);
  if (!findings.unjudgeable_classes.empty())
    status_.on(Notice{Notice::Kind::unjudgeable_classes, "", findings.unjudgeable_classes});
}

std::unique_ptr<OutputLock> Session::lock_output(const fs::path& dir, const std::string& way_out) {
  try {
    return std::make_unique<OutputLock>(dir, work_dir_);
  } catch (const Error& e) {
    throw Refusal(RefusalKind::output_in_use, e.what(), way_out);
  }
}

void Session::check_ownership(const RunState* state) {
  const auto owner = read_output_owner(output_dir_);
  if (!owner) return;
  if (state && owner->run_id == state->run_id) return;
  throw Refusal(RefusalKind::output_of_other_run,
                fmt::format("output dir '{}' holds the results of another run (work dir '{}', started {}); this run "
                            "will not write into it or remove it. Write this run's results elsewhere:",
                            output_dir_.string(), owner->work_dir.string(), owner->created_at),
                commands_.with_output(unused_sibling(output_dir_)));
}

std::map<int, SlurmTask> Session::slurm_tasks_of(const RunState& state) {
  std::map<long, std::vector<const ShardState*>> by_array;
  for (const auto& s : state.shards) {
    if (s.status != ShardStatus::running || s.slurm_job.empty()) continue;
    try {
      by_array[std::stol(s.slurm_job.substr(0, s.slurm_job.find('_')))].push_back(&s);
    } catch (const std::exception&) {
      throw Error(ExitCode::failed, fmt::format("{}: shard {}: slurm_job '{}' is not a Slurm array task",
                                                (work_dir_ / kRunStateFile).string(), s.index, s.slurm_job));
    }
  }
  std::map<int, SlurmTask> found;
  for (const auto& [array, shards] : by_array) {
    const CaptureResult r = system_.capture({"scontrol", "-o", "show", "job", std::to_string(array)});
    if (!r.started || r.exit_code != 0) continue;  // no Slurm here, or the job is gone
    for (const SlurmTask& t : parse_scontrol_jobs(r.out))
      for (const ShardState* s : shards)
        if (t.array_job_id == array && std::find(t.task_ids.begin(), t.task_ids.end(), s->index) != t.task_ids.end())
          found[s->index] = t;
  }
  return found;
}

void Session::check_no_live_workers(const RunState& state, const std::string& way_out) {
  if (!options_.attach) {
    // A Slurm run whose orchestrator is gone: its tasks run on without anyone watching.
    std::vector<std::string> live, ids;
    std::vector<int> shards;
    for (const auto& [index, task] : slurm_tasks_of(state)) {
      if (slurm_state_finished(task.state)) continue;
      const std::string& id = state.shards.at(static_cast<size_t>(index)).slurm_job;
      live.push_back(fmt::format("{} ({})", id, task.state));
      ids.push_back(id);
      shards.push_back(index);
    }
    if (!live.empty())
      throw Refusal(RefusalKind::slurm_tasks_running,
                    fmt::format("shard(s) {} still run in Slurm as {}, and the orchestrator that submitted them is "
                                "gone: running them again, or merging now, would write beside them. Follow them (and "
                                "merge when they end) with the command below, or cancel them first with `scancel {}`:",
                                fmt::join(shards, ","), fmt::join(live, ", "), fmt::join(ids, " ")),
                    commands_.attach());
  }
  std::vector<std::string> found;
  std::vector<std::string> pids;
  for (const auto& s : state.shards) {
    if (s.pid <= 0) continue;
    const std::string tree = shard_output_dir(state.output_dir, s.index).string();
    if (!system_.process_running(s.pid, tree)) continue;
    found.push_back(fmt::format("pid {} (shard {}, writing {})", s.pid, s.index, tree));
    pids.push_back(std::to_string(s.pid));
  }
  if (found.empty()) return;
  throw Refusal(RefusalKind::work_dir_in_use,
                fmt::format("a worker of the earlier run in '{}' still runs: {}; the orchestrator that started it is "
                            "gone, and it would write beside this run. Stop it (it ignored SIGTERM) and wait for it "
                            "to end, then run this command again:",
                            work_dir_.string(), fmt::join(found, "; ")),
                fmt::format("kill -KILL -- {}; {}", fmt::join(pids, " "), way_out));
}

namespace {

/// Where shard `index` runs with the Slurm launcher: task `index` of the array.
DeviceSlot slurm_slot(int index) { return DeviceSlot{false, index, "", fmt::format("Slurm task {}", index)}; }

}  // namespace

std::vector<DeviceSlot> Session::devices() {
  if (slurm_) {
    const int tasks = options_.num_gpus.value_or(config_.slurm.tasks);
    if (tasks < 1)
      throw usage_error(fmt::format("{}: the Slurm launcher needs the number of array tasks (shards): --num-gpus N "
                                    "or slurm.tasks",
                                    config_.file.string()));
    std::vector<DeviceSlot> slots;
    for (int i = 0; i < tasks; ++i) slots.push_back(slurm_slot(i));
    return slots;
  }
  const DeviceRequest request{options_.gpus, options_.num_gpus, options_.cpu_workers.value_or(1),
                              options_.cpu_workers.has_value()};
  std::vector<std::string> warnings;
  if (options_.gpus == "cpu") return resolve_devices(request, {}, std::nullopt, warnings);
  const GpuDiscovery d = system_.discover_gpus();
  if (d.gpus.empty() && !d.problem.empty()) status_.on(Notice{Notice::Kind::gpu_discovery, d.problem});
  std::vector<DeviceSlot> slots;
  try {
    slots = resolve_devices(request, d.gpus, system_.env("CUDA_VISIBLE_DEVICES"), warnings);
  } catch (const Error&) {
    for (const auto& w : warnings) status_.on(Notice{Notice::Kind::device_fallback, w});
    throw;
  }
  for (const auto& w : warnings) status_.on(Notice{Notice::Kind::device_fallback, w});
  return slots;
}

fs::path Session::resolve_worker() {
  if (options_.worker) {
    const fs::path p = options_.worker->is_absolute() ? *options_.worker : system_.current_dir() / *options_.worker;
    if (!fs::exists(p)) throw usage_error(fmt::format("--worker {}: file not found", options_.worker->string()));
    return p.lexically_normal();
  }
  const std::string& exe = config_.worker.executable;
  if (exe.find('/') != std::string::npos) {
    fs::path p(exe);
    if (p.is_relative()) p = config_.file.parent_path() / p;
    if (!fs::exists(p))
      throw usage_error(fmt::format("{}: worker.executable: file not found '{}'", config_.file.string(), exe));
    return p.lexically_normal();
  }
  const fs::path beside = system_.program_path().parent_path() / exe;
  if (fs::exists(beside)) return beside;
  const std::string found = system_.find_program(exe);
  if (!found.empty()) return found;
  throw usage_error(fmt::format("{}: worker.executable: '{}' is neither beside the orchestrator ({}) nor in PATH",
                                config_.file.string(), exe, beside.parent_path().string()));
}

Session::WorkerThreads Session::threads_per_worker(size_t workers) const {
  const unsigned cores = std::max(1u, system_.cpu_count());
  WorkerThreads t;
  t.cores = static_cast<int>(std::max<size_t>(1, cores / std::max<size_t>(1, workers)));
  t.model = config_.processing.num_threads > 0 ? config_.processing.num_threads : t.cores;
  return t;
}

LaunchSpec Session::launch_spec(const RunState& state, const ShardState& s, bool resume, WorkerThreads threads) const {
  LaunchSpec spec;
  spec.argv = {state.worker.string(),
               "--config", state.config_path.string(),
               "--items", (work_dir_ / split_file(s.index)).string(),
               "--output-dir", shard_output_dir(state.output_dir, s.index).string(),
               "--shard", std::to_string(s.index)};
  if (resume) spec.argv.push_back("--resume");
  // Halved after an out-of-memory failure: an override, the user's file stays as it is.
  if (s.batch_size) spec.argv.insert(spec.argv.end(), {"--batch-size", std::to_string(*s.batch_size)});
  for (const auto& a : config_.worker.args) spec.argv.push_back(a);
  // PCI_BUS_ID: CUDA's default order is fastest-first, but our indices are nvidia-smi's
  // (PCI bus order); on a machine with mixed GPUs they would name different cards.
  spec.shard = s.index;
  spec.log = work_dir_ / shard_log(s);
  // A shard split off onto a GPU appends to that GPU's log, as every retry does.
  spec.append_log = resume || !s.log.empty();
  const char* resuming = resume ? ", resuming" : "";
  if (slurm_) {
    // Slurm sets the devices, and the task's cores are the node's business: the task sizes
    // its threads from the CPUs Slurm gave it (run_slurm_task), unless num_threads is set.
    if (config_.processing.num_threads > 0)
      spec.env.emplace_back("OMP_NUM_THREADS", std::to_string(config_.processing.num_threads));
    spec.log_header = fmt::format("==== orchestrator: shard {} attempt {} submitted to Slurm at {}{} ====\n", s.index,
                                  s.attempts + 1, now_iso8601(), resuming);
    return spec;
  }
  spec.env = {{"CUDA_VISIBLE_DEVICES", s.cuda_visible_devices},
              {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"},
              {"OMP_NUM_THREADS", std::to_string(threads.model)},
              {"LV_CORES_PER_WORKER", std::to_string(threads.cores)}};
  spec.log_header = fmt::format("==== orchestrator: shard {} attempt {} on {} (CUDA_VISIBLE_DEVICES={}) at {}{} ====\n",
                                s.index, s.attempts + 1, s.device, s.cuda_visible_devices, now_iso8601(), resuming);
  return spec;
}

namespace {

/// The first few rejected entries, for a message: "line 1: blank line; line 2: blank line".
std::string rejected_sample(const ItemList& items) {
  std::vector<std::string> shown;
  for (size_t i = 0; i < std::min<size_t>(items.rejected.size(), 3); ++i)
    shown.push_back(fmt::format("{}: {}", items.rejected[i].where(), items.rejected[i].reason));
  return fmt::format("{}{}", fmt::join(shown, "; "), items.rejected.size() > shown.size() ? "; ..." : "");
}

}  // namespace

void Session::report_rejected(const ItemList& items) {
  if (items.rejected.empty()) return;
  std::string all;
  for (const auto& r : items.rejected)
    all += fmt::format("{}: {}: {}\n", r.where(), printable(r.entry), r.reason);
  const fs::path file = work_dir_ / "rejected_items.txt";
  write_file_atomic(file, all);
  Notice n{Notice::Kind::rejected_inputs};
  for (size_t i = 0; i < std::min<size_t>(items.rejected.size(), 5); ++i) {
    const auto& r = items.rejected[i];
    n.names.push_back(fmt::format("{}{}: '{}' skipped: {}", items.from_list_file ? "input list" : "input",
                                  r.line > 0 ? fmt::format(":{}", r.line) : std::string(), printable(r.entry),
                                  r.reason));
  }
  n.count = static_cast<int64_t>(items.rejected.size());
  n.path = file;
  status_.on(n);
}

// --- The modes ---------------------------------------------------------------------------

int Session::dry_run() {
  std::optional<RunState> state = load_run_state(work_dir_);
  std::vector<int> selected;
  if ((options_.retry_failed || !options_.shards.empty()) && state) {
    selected = select_shards(*state, options_.shards);
    if (!options_.gpus.empty() || options_.num_gpus) assign_devices(*state, selected, devices());
  } else {
    const ItemList items = list_input(config_);
    state = make_plan(config_, config_text_, items, devices(), output_dir_, resolve_worker());
    for (const auto& s : state->shards) selected.push_back(s.index);
  }
  const WorkerThreads threads = threads_per_worker(selected.size());
  PlanReady plan{state->item_count, 0, static_cast<int>(state->shards.size()), {}, state->input, state->output_dir,
                 work_dir_, state->worker, true};
  for (int index : selected) {
    const ShardState& s = state->shards.at(static_cast<size_t>(index));
    const LaunchSpec spec = launch_spec(*state, s, s.attempts > 0, threads);
    plan.selected.push_back({s.index, s.device, s.begin, s.end, s.cuda_visible_devices, shell_command(spec.argv), spec.log});
    plan.items_to_run += s.end - s.begin;
  }
  status_.on(plan);
  return 0;
}

int Session::fresh(std::optional<RunState> earlier) {
  if (earlier) {
    const std::vector<int> unfinished = unfinished_shards(*earlier);
    if (!unfinished.empty())
      throw Refusal(RefusalKind::unfinished_run,
                    fmt::format("work dir '{}' holds an unfinished run (shard(s) {} not done). Finish it "
                                "(failed shards resume where they stopped) with the command below, or discard it "
                                "with:\n  {}\nFinish it with:",
                                work_dir_.string(), fmt::join(unfinished, ","), commands_.restart()),
                    commands_.retry());
  }
  // Pre-flight: everything that can be known before a worker starts, before anything is written.
  preflight();
  auto listed = std::make_unique<ItemList>(list_input(config_));
  const ItemList& items = *listed;
  if (items.items.empty())
    throw Error(ExitCode::input_unreadable,
                fmt::format("{}: no {} found{}{}", input_path(config_).string(), item_noun(config_),
                            config_.input.documents.empty() ? " (extensions .jpg .jpeg .png .bmp .tif .tiff .webp)" : "",
                            items.rejected.empty() ? "" : fmt::format("; {} entries rejected: {}", items.rejected.size(), rejected_sample(items))));
  const std::vector<DeviceSlot> slots = devices();
  const fs::path worker = resolve_worker();

  // The output dir is ours from here on: nobody else may write it while we run.
  const auto output_lock = lock_output(output_dir_, commands_.with_output(unused_sibling(output_dir_)));
  check_ownership(earlier ? &*earlier : nullptr);
  if (holds_results(output_dir_))
    throw Refusal(RefusalKind::output_not_empty,
                  fmt::format("output dir '{}' is not empty and a new run never replaces results. Move it away, "
                              "discard this work dir's earlier run and its outputs with:\n  {}\nor write elsewhere:",
                              output_dir_.string(), commands_.restart()),
                  commands_.with_output(unused_sibling(output_dir_)));
  RunState state = make_plan(config_, config_text_, items, slots, output_dir_, worker);
  for (const auto& s : state.shards) {
    const fs::path tree = shard_output_dir(output_dir_, s.index);
    std::error_code ec;
    if (fs::exists(tree, ec))
      throw Refusal(RefusalKind::shard_tree_left,
                    fmt::format("'{}' is left from an earlier run and this run would write there; remove it if it is "
                                "not needed, or write elsewhere:",
                                tree.string()),
                    commands_.with_output(unused_sibling(output_dir_)));
  }
  if (const auto free = system_.free_bytes(output_dir_)) {
    const uint64_t needed = estimate_output_bytes(config_, items);
    if (needed > *free) {
      Notice n{Notice::Kind::low_disk_space};
      n.bytes_needed = needed;
      n.bytes_free = *free;
      n.path = output_dir_;
      status_.on(n);
    }
  }

  // Plan files, the owner record, the state: from here on the run can be retried.
  state.run_id = new_run_id();
  state.config_text = config_text_;
  state.classes_hash = classes_hash();
  report_rejected(items);
  write_plan_files(work_dir_, state, items);
  write_output_owner(output_dir_, OutputOwner{state.run_id, work_dir_, state.created_at});
  save_run_state(work_dir_, state);
  // The list now lives in items.txt and splits/, and the merge reads it back from there: a
  // million names must not stay in memory twice while the workers run.
  listed.reset();
  std::vector<int> selected;
  for (const auto& s : state.shards) selected.push_back(s.index);
  return execute(state, selected);
}

ConfigChanges Session::changes_since_plan(const RunState& state) const {
  ConfigChanges changes = diff_configs(parse_config(state.config_text, state.config_path), config_);
  if (!state.classes_hash.empty() && classes_hash() != state.classes_hash)
    changes.result.push_back("input.classes (the content of " + config_.input.classes_file.string() + ")");
  return changes;
}

int Session::retry(RunState state) {
  // What may differ since the plan: keys that cannot change results. Anything else would mix
  // results of two different runs in one report.
  if (!state.config_text.empty()) {
    ConfigChanges changes = changes_since_plan(state);
    // When no shard produced anything yet (every worker failed at start, e.g. a wrong
    // model.path), there are no results to mix: the fix is taken as the plan's config.
    bool produced = false;
    for (const auto& s : state.shards) {
      std::error_code ec;
      produced |= s.status == ShardStatus::succeeded || fs::exists(shard_output_dir(state.output_dir, s.index), ec);
    }
    if (!produced && !changes.result.empty()) {
      status_.on(Notice{Notice::Kind::config_keys_changed, "nothing produced yet", changes.result});
      state.config_text = config_text_;
      state.config_hash = content_hash(config_text_);
      state.classes_hash = classes_hash();
    } else if (!changes.result.empty())
      throw Refusal(RefusalKind::config_changed,
                    fmt::format("cannot retry: {} changed since the plan in key(s) that change results: {}. Retrying "
                                "would mix results of two configs in one report. Undo the change, or start over "
                                "(this run's partial outputs are removed) with:",
                                state.config_path.string(), fmt::join(changes.result, ", ")),
                    commands_.restart());
    if (!changes.harmless.empty()) status_.on(Notice{Notice::Kind::config_keys_changed, "", changes.harmless});
  } else if (content_hash(config_text_) != state.config_hash) {
    throw Refusal(RefusalKind::config_changed,
                  fmt::format("cannot retry: the config '{}' changed since the plan (a plan from an older version "
                              "keeps no copy to compare keys). Undo the change, or start over with:",
                              state.config_path.string()),
                  commands_.restart());
  }
  if (output_dir_ != state.output_dir) {
    Options same = options_;
    same.output = state.output_dir;
    throw Refusal(RefusalKind::output_changed,
                  fmt::format("cannot retry: the plan writes to '{}', not '{}'. Retry into the plan's output with:",
                              state.output_dir.string(), output_dir_.string()),
                  CommandBuilder(program_for_commands(system_), same, system_.current_dir()).retry());
  }
  const ItemList items = list_input(config_);
  if (static_cast<int64_t>(items.items.size()) != state.item_count || items_hash(items) != state.items_hash)
    throw Refusal(RefusalKind::input_changed,
                  fmt::format("cannot retry: the input '{}' lists {} items, the plan had {}{}; retrying would mix "
                              "results of different inputs. Restore it, or start over with:",
                              state.input.string(), items.items.size(), state.item_count,
                              items.items.size() != static_cast<size_t>(state.item_count) ? ""
                              : items.content_fingerprint.empty()                       ? " (different items)"
                                                                                        : " (its content changed)"),
                  commands_.restart());
  preflight();
  std::vector<int> selected = select_shards(state, options_.shards);
  // Re-running done shards of a merged run whose other trees are gone would leave a report of
  // those shards alone: the merge builds it from the trees there are.
  for (const auto& s : state.shards) {
    if (s.status != ShardStatus::succeeded || std::find(selected.begin(), selected.end(), s.index) != selected.end())
      continue;
    std::error_code ec;
    if (std::any_of(selected.begin(), selected.end(),
                    [&](int i) { return state.shards.at(static_cast<size_t>(i)).status == ShardStatus::succeeded; }) &&
        !fs::exists(shard_output_dir(state.output_dir, s.index) / kJournalFileName, ec))
      throw Refusal(RefusalKind::shards_merged,
                    fmt::format("cannot re-run shard(s) {} alone: the run is merged into '{}' and the other shards' "
                                "per-GPU trees were removed, so the new report would hold only these shards' items. "
                                "Run it all again (its outputs are removed first) with:",
                                fmt::join(selected, ","), state.output_dir.string()),
                    commands_.restart());
  }
  const bool on_slurm_tasks = std::any_of(selected.begin(), selected.end(), [&](int i) {
    return state.shards.at(static_cast<size_t>(i)).device.rfind("Slurm task ", 0) == 0;
  });
  if (slurm_) {
    // Each shard is a task of its own (a new array over the shards that run again).
    std::vector<DeviceSlot> tasks;
    for (int index : selected) tasks.push_back(slurm_slot(index));
    assign_devices(state, selected, tasks);
  } else if (!options_.gpus.empty() || options_.num_gpus || on_slurm_tasks) {
    // (A Slurm run retried here runs on this machine's devices.)
    const std::vector<DeviceSlot> slots = devices();
    assign_devices(state, selected, slots);
    spare_devices_ = slots;
    // A device named again is trusted again.
    for (const DeviceSlot& d : slots)
      state.quarantined.erase(std::remove(state.quarantined.begin(), state.quarantined.end(), d.label()),
                              state.quarantined.end());
  } else {
    if (!state.quarantined.empty()) {
      Notice n{Notice::Kind::quarantined_devices, "", state.quarantined};
      n.count = static_cast<int64_t>(move_off_quarantined(state, selected).size());
      status_.on(n);
    }
    for (const auto& s : state.shards)
      if (std::find(state.quarantined.begin(), state.quarantined.end(), s.device) == state.quarantined.end())
        spare_devices_.push_back(DeviceSlot{s.is_gpu, s.device_index, s.cuda_visible_devices, s.device});
  }
  state.worker = resolve_worker();

  const auto output_lock = lock_output(output_dir_, commands_.retry());
  check_ownership(&state);
  check_no_live_workers(state, commands_.retry());
  if (options_.attach) {
    // Tasks Slurm still has (running, queued, or ended while nobody watched) are followed; the
    // rest of the unfinished shards go out again as a new array, resuming from their journals.
    const std::map<int, SlurmTask> tasks = slurm_tasks_of(state);
    for (int index : selected)
      if (tasks.count(index)) attach_[index] = state.shards.at(static_cast<size_t>(index)).slurm_job;
  }
  if (state.config_text.empty()) state.config_text = config_text_;
  if (!state.run_id.empty() && !read_output_owner(output_dir_))
    write_output_owner(output_dir_, OutputOwner{state.run_id, work_dir_, state.created_at});
  if (selected.empty()) {
    Notice n{Notice::Kind::nothing_to_retry};
    n.count = static_cast<int64_t>(state.shards.size());
    status_.on(n);
    bool complete = false;
    return merge(state, &complete);
  }
  check_split_files(state, selected);
  save_run_state(work_dir_, state);
  return execute(state, selected);
}

int Session::merge_only(const RunState& state) {
  const auto output_lock = lock_output(state.output_dir, commands_.merge_only());
  output_dir_ = state.output_dir;
  check_ownership(&state);
  check_no_live_workers(state, commands_.merge_only());
  // The merge copies what the shards judged, but a worker's finalize pass judges again with the
  // config as it is now: one report must come from one config.
  if (!state.config_text.empty()) {
    const ConfigChanges changes = changes_since_plan(state);
    if (!changes.result.empty())
      throw Refusal(RefusalKind::config_changed,
                    fmt::format("cannot merge: {} changed since the plan in key(s) that change results: {}. The "
                                "report would mix results of two configs. Undo the change, or start over with:",
                                state.config_path.string(), fmt::join(changes.result, ", ")),
                    commands_.restart());
  }
  if (!state.run_id.empty() && !read_output_owner(output_dir_))
    write_output_owner(output_dir_, OutputOwner{state.run_id, work_dir_, state.created_at});
  bool complete = false;
  return merge(state, &complete);
}

void Session::restart(const RunState& state) {
  // Only what this work dir's run produced is removed, and only after saying what.
  output_dir_ = state.output_dir;
  const auto output_lock = lock_output(state.output_dir, commands_.restart());
  const auto owner = read_output_owner(state.output_dir);
  const bool own_output = owner && owner->run_id == state.run_id && !state.run_id.empty();
  if (owner && !own_output) check_ownership(&state);  // throws, naming the other run
  check_no_live_workers(state, commands_.restart());
  std::vector<fs::path> remove;
  std::error_code ec;
  for (const auto& s : state.shards) {
    const fs::path tree = shard_output_dir(state.output_dir, s.index);
    if (fs::exists(tree, ec)) remove.push_back(tree);
  }
  if (own_output) {
    for (fs::directory_iterator it(state.output_dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name != kOutputLockFile) remove.push_back(it->path());
    }
  }
  for (const char* name : {kRunStateFile, kItemsFile, "splits", "merge", "rejected_items.txt", "gpu_utilisation.csv"})
    if (fs::exists(work_dir_ / name, ec)) remove.push_back(work_dir_ / name);
  for (int n = 0; fs::exists(work_dir_ / fmt::format("auto_batch_{}.log", n), ec); ++n)
    remove.push_back(work_dir_ / fmt::format("auto_batch_{}.log", n));
  for (const auto& s : state.shards)
    if (fs::exists(work_dir_ / shard_log(s), ec) &&
        std::find(remove.begin(), remove.end(), work_dir_ / shard_log(s)) == remove.end())
      remove.push_back(work_dir_ / shard_log(s));
  Notice n{Notice::Kind::restart_removes};
  n.paths = remove;
  status_.on(n);
  for (const auto& p : remove) {
    fs::remove_all(p, ec);
    if (ec) throw Error(ExitCode::failed, fmt::format("--restart: cannot remove '{}': {}", p.string(), ec.message()));
  }
  output_dir_ = absolute_dir(options_.output ? (options_.output->is_absolute() ? *options_.output
                                                                                : system_.current_dir() / *options_.output)
                                             : config_.output.dir);
}

// --- Running and merging -----------------------------------------------------------------

int64_t Session::journaled_until(const RunState& state, const ShardState& s) const {
  const fs::path items_file = work_dir_ / split_file(s.index);
  const std::vector<std::string> lines = read_lines(items_file);
  std::unordered_map<std::string_view, int64_t> position;
  for (size_t i = 0; i < lines.size(); ++i) position.emplace(lines[i], static_cast<int64_t>(i));
  const fs::path journal = shard_output_dir(state.output_dir, s.index) / kJournalFileName;
  int64_t until = 0;
  for (const auto& record : read_journal(journal).records) {
    const auto item = record_item(record);
    if (!item) continue;
    const auto found = position.find(*item);
    if (found == position.end())
      throw Error(ExitCode::failed, fmt::format("{} names '{}', which is not in {}", journal.string(), printable(*item),
                                                items_file.string()));
    until = std::max(until, found->second + 1);
  }
  return s.begin + until;
}

void Session::check_split_files(const RunState& state, const std::vector<int>& selected) const {
  // A split interrupted between writing the items files and saving the state leaves an items
  // file that disagrees with the state's range: the state wins, rebuilt from items.txt.
  std::optional<std::vector<std::string>> items;
  for (int index : selected) {
    const ShardState& s = state.shards.at(static_cast<size_t>(index));
    const fs::path file = work_dir_ / split_file(index);
    std::error_code ec;
    if (fs::exists(file, ec) && static_cast<int64_t>(read_lines(file).size()) == s.end - s.begin) continue;
    if (!items) items = read_lines(work_dir_ / kItemsFile);
    if (static_cast<int64_t>(items->size()) != state.item_count || s.end > state.item_count)
      throw Error(ExitCode::failed, fmt::format("{}: holds {} items but the plan has {}",
                                                (work_dir_ / kItemsFile).string(), items->size(), state.item_count));
    write_lines_atomic(file, *items, static_cast<size_t>(s.begin), static_cast<size_t>(s.end));
  }
}

int Session::execute(RunState& state, const std::vector<int>& selected) {
  // Slurm: every shard is a task of its own; nothing is left to balance onto.
  const bool balance = config_.orchestrator.balance && !options_.static_shards && !slurm_;
  // One worker per device at a time: the devices share the cores.
  std::set<std::string> devices_used;
  for (int index : selected) devices_used.insert(state.shards.at(static_cast<size_t>(index)).device);
  if (balance)
    for (const DeviceSlot& d : spare_devices_) devices_used.insert(d.label());
  const WorkerThreads threads = threads_per_worker(devices_used.size());
  PlanReady plan{state.item_count, 0, static_cast<int>(state.shards.size()), {}, state.input, state.output_dir,
                 work_dir_, state.worker, false, config_.orchestrator.status_interval_s};
  for (int index : selected) {
    const ShardState& s = state.shards.at(static_cast<size_t>(index));
    plan.selected.push_back({s.index, s.device, s.begin, s.end, s.cuda_visible_devices, "", work_dir_ / shard_log(s)});
    plan.items_to_run += s.end - s.begin;
  }
  status_.on(plan);

  if (options_.auto_batch && !auto_batch(state, selected, threads)) {
    save_run_state(work_dir_, state);
    status_.on(FollowUp{FollowUp::Kind::resume_interrupted, commands_.retry()});
    return to_int(ExitCode::interrupted);
  }

  RunnerOptions ropts;
  ropts.stall_timeout_s = options_.stall_timeout_s.value_or(config_.orchestrator.stall_timeout_s);
  ropts.startup_timeout_s = config_.orchestrator.startup_timeout_s;
  ropts.timeout_s = options_.timeout_s.value_or(0);
  ropts.stop_grace_s = config_.orchestrator.stop_grace_s;
  ropts.max_retries = config_.orchestrator.max_retries;
  ropts.batch_size = config_.processing.batch_size;
  ropts.balance = balance;
  // image_worker's decoding threads (decode_threads(): auto takes the cores it is given).
  const int decoders = config_.processing.decode_threads > 0 ? config_.processing.decode_threads : std::max(2, threads.cores);
  ropts.in_flight_extra = 2 * decoders;
  ShardHooks hooks;
  hooks.launch_spec = [&](const ShardState& s, bool resume) {
    LaunchSpec spec = launch_spec(state, s, resume, threads);
    if (const auto it = attach_.find(s.index); it != attach_.end()) {
      spec.attach_to = it->second;  // its first launch follows the task that runs already
      attach_.erase(it);
    }
    return spec;
  };
  hooks.check_success = [&](const ShardState& s) -> std::string {
    const fs::path tree = shard_output_dir(state.output_dir, s.index);
    std::error_code ec;
    if (!fs::is_directory(tree, ec))
      return fmt::format("the worker exited 0 but its output dir {} is gone (moved or removed by another program?)",
                         tree.string());
    const fs::path report = tree / kReportFileName;
    return fs::exists(report, ec) ? "" : fmt::format("the worker exited 0 but wrote no {}", report.string());
  };
  hooks.save_state = [&] { save_run_state(work_dir_, state); };
  hooks.journaled_until = [&](const ShardState& s) { return journaled_until(state, s); };
  hooks.write_splits = [&](const std::vector<ShardState>& shards) {
    // The split shard's own items file holds every item the parts take, in order.
    const ShardState& from = shards.front();
    const fs::path file = work_dir_ / split_file(from.index);
    const std::vector<std::string> lines = read_lines(file);
    const int64_t size = state.shards.at(static_cast<size_t>(from.index)).end - from.begin;
    if (static_cast<int64_t>(lines.size()) != size)
      throw Error(ExitCode::failed, fmt::format("{} holds {} items, the run state says {}", file.string(),
                                                lines.size(), size));
    for (size_t k = 1; k < shards.size(); ++k) {
      // A tree left by another run would mix its files into this one's.
      const fs::path tree = shard_output_dir(state.output_dir, shards[k].index);
      std::error_code ec;
      if (fs::exists(tree, ec))
        throw Error(ExitCode::failed, fmt::format("'{}' is left from an earlier run", tree.string()));
      write_lines_atomic(work_dir_ / split_file(shards[k].index), lines, static_cast<size_t>(shards[k].begin - from.begin),
                         static_cast<size_t>(shards[k].end - from.begin));
    }
    write_lines_atomic(file, lines, 0, static_cast<size_t>(from.end - from.begin));
  };
  std::unique_ptr<Launcher> slurm;
  if (slurm_) {
    SlurmLauncherSettings settings;
    settings.options = config_.slurm;
    settings.work_dir = work_dir_;
    settings.job_name = "lv-" + work_dir_.filename().string();
    settings.orchestrator = system_.program_path();
    settings.run = [this](const std::vector<std::string>& argv) { return system_.capture(argv); };
    slurm = make_slurm_launcher(std::move(settings));
  }
  Runner runner(state, selected, slurm ? *slurm : system_.launcher(), system_.clock(), ropts, hooks, status_);
  if (balance)
    for (const DeviceSlot& d : spare_devices_) {
      // Work split onto it goes to the log of the plan's shard that ran there.
      std::string log = log_file(d.index).string();
      for (const auto& s : state.shards)
        if (s.device == d.label()) {
          log = shard_log(s).string();
          break;
        }
      Lane lane;
      lane.device = d.label();
      lane.is_gpu = d.is_gpu;
      lane.device_index = d.index;
      lane.cuda_visible_devices = d.cuda_visible_devices;
      lane.log = log;
      runner.add_lane(std::move(lane));
    }
  // GPU utilisation while the workers run, when they run on GPUs.
  std::unique_ptr<GpuMonitor> monitor;
  if (std::any_of(selected.begin(), selected.end(), [&](int i) { return state.shards.at(static_cast<size_t>(i)).is_gpu; })) {
    LaunchSpec sampler;
    sampler.argv = gpu_sampling_command(1000);
    sampler.log = work_dir_ / "gpu_utilisation.csv";
    monitor = std::make_unique<GpuMonitor>(sampler, [&runner](int index) { return runner.gpu_busy(index); });
  }
  const auto started = system_.clock().now();
  system_.drive(runner, status_, monitor.get());
  const double wall_s = std::chrono::duration<double>(system_.clock().now() - started).count();
  status_.finish_live();
  status_.on(throughput(runner, monitor.get(), wall_s));

  if (runner.interrupted()) {
    save_run_state(work_dir_, state);
    status_.on(FollowUp{FollowUp::Kind::resume_interrupted, commands_.retry()});
    status_.on(FollowUp{FollowUp::Kind::merge_only, commands_.merge_only()});
    return to_int(ExitCode::interrupted);
  }

  // Merge what succeeded, then show what failed.
  bool complete = false;
  int code = merge(state, &complete);
  std::vector<int> failed;
  std::set<int> failure_codes;
  for (const auto& s : state.shards) {
    if (s.status == ShardStatus::succeeded) continue;
    failed.push_back(s.index);
    const ShardRun* run = nullptr;
    for (const auto& r : runner.runs())
      if (r.index == s.index) run = &r;
    FailureBlock block{s.index, s.device, std::nullopt, FailureKind::other, "", s.attempts, work_dir_ / shard_log(s), {}};
    if (run) {
      block.exit = run->last_exit;
      block.kind = run->failure;
      block.detail = run->failure_detail;
      block.tail.assign(run->tail.begin(), run->tail.end());
    }
    block.device_quarantined =
        std::find(state.quarantined.begin(), state.quarantined.end(), s.device) != state.quarantined.end();
    block.others_healthy = std::any_of(state.shards.begin(), state.shards.end(), [&](const ShardState& o) {
      return std::find(state.quarantined.begin(), state.quarantined.end(), o.device) == state.quarantined.end();
    });
    status_.on(block);
    failure_codes.insert(s.signal ? 128 + *s.signal : s.exit_code.value_or(-1));
  }
  if (failed.empty()) return code;
  status_.on(FollowUp{FollowUp::Kind::retry, commands_.retry()});
  // A GPU that crashed or hung may be the cause: offer the first failed shard a GPU whose
  // shard went well (not for failures that follow the shard, such as the model or the config).
  const ShardState& first = state.shards.at(static_cast<size_t>(failed.front()));
  const FailureKind first_kind = [&] {
    for (const auto& r : runner.runs())
      if (r.index == first.index) return r.failure;
    return FailureKind::other;
  }();
  if (first.is_gpu && first_kind != FailureKind::model_load && first_kind != FailureKind::cuda_oom &&
      first_kind != FailureKind::input_unreadable &&
      retry_may_help(first_kind)) {
    for (const auto& s : state.shards)
      if (s.status == ShardStatus::succeeded && s.is_gpu && s.device_index != first.device_index &&
          std::find(state.quarantined.begin(), state.quarantined.end(), s.device) == state.quarantined.end()) {
        status_.on(FollowUp{FollowUp::Kind::move_shard, commands_.move_shard(first.index, std::to_string(s.device_index))});
        break;
      }
  }
  status_.on(FollowUp{FollowUp::Kind::restart, commands_.restart()});
  // When every shard failed for one reason the protocol names (model cannot be loaded, input
  // unreadable, config error), that reason is the run's exit code, as for a single worker.
  const bool none_succeeded = failed.size() == state.shards.size();
  if (none_succeeded && failure_codes.size() == 1) {
    const int only = *failure_codes.begin();
    if (only == to_int(ExitCode::model_load) || only == to_int(ExitCode::input_unreadable) ||
        only == to_int(ExitCode::usage))
      return only;
  }
  return to_int(ExitCode::failed);
}

Throughput Session::throughput(const Runner& runner, const GpuMonitor* monitor, double wall_s) const {
  Throughput t;
  t.wall_s = wall_s;
  for (const Lane& lane : runner.lanes()) {
    DeviceThroughput d;
    d.device = lane.device;
    d.items = lane.items;
    d.busy_s = lane.busy_s;
    if (monitor && lane.is_gpu) {
      const auto found = monitor->stats().find(lane.device_index);
      if (found != monitor->stats().end()) {
        d.busy_samples = found->second.busy_samples;
        d.mean_util = found->second.mean_busy_util();
        d.peak_mem_mib = found->second.peak_used_mib;
        d.mem_total_mib = found->second.total_mib;
      }
    }
    t.items += d.items;
    t.devices.push_back(d);
  }
  if (monitor) t.sampling_problem = monitor->problem();
  return t;
}

int Session::merge(const RunState& state, bool* complete) {
  bool any_succeeded = false;
  for (const auto& s : state.shards) any_succeeded |= s.status == ShardStatus::succeeded;
  std::error_code ec;
  if (!any_succeeded && !fs::exists(state.output_dir / kReportFileName, ec)) {
    // Nothing to merge: an empty "partial" report would only stand in the way of a re-run.
    status_.on(Notice{Notice::Kind::no_shard_succeeded});
    *complete = false;
    return to_int(ExitCode::failed);
  }
  const RunMergeResult merged = merge_run(state, work_dir_, options_.keep_gpu_outputs);
  if (const auto dup = merged.report.find("duplicates"); dup != merged.report.end() && !dup->empty()) {
    Notice notice{Notice::Kind::duplicate_values, dup->at(0).value("field", "")};
    notice.count = static_cast<int64_t>(dup->size());
    for (size_t i = 0; i < std::min<size_t>(dup->size(), 5); ++i)
      notice.names.push_back(printable(get_bytes_field(dup->at(i), "value")));
    status_.on(notice);
  }
  status_.on(MergeDone{merged.files.files, merged.files.already_present, merged.files.temporaries_skipped,
                       merged.removed_shard_trees,
                       merged.already_merged, state.output_dir, merged.concatenated});
  nlohmann::json header = merged.report;
  std::optional<ExitStatus> pass;
  if (merged.complete && header.value("finalize", false)) {
    pass = finalize(state);
    header = read_report_header(state.output_dir / kReportFileName);
  }
  Summary summary{header.value("summary", nlohmann::json::object()), header.value("unprocessed_count", int64_t{0}),
                  state.output_dir / kReportFileName, {}, {}, 0};
  if (config_.output.review && (!pass || pass->ok())) {
    // What a person works through next; a failure here leaves the results as they are.
    try {
      const ReviewStats review = write_review(state.output_dir, state.run_id);
      if (review.written) {
        summary.review = state.output_dir / "review" / "index.html";
        summary.issues = state.output_dir / "issues.csv";
        summary.flagged_boxes = review.flagged_boxes;
      }
    } catch (const std::exception& e) {
      status_.on(Notice{Notice::Kind::review_not_written, e.what()});
    }
  }
  status_.on(summary);
  *complete = merged.complete && (!pass || pass->ok());
  if (!pass || pass->ok()) return *complete ? 0 : to_int(ExitCode::failed);
  // The pass stopped: the report holds the shards' verdicts until --merge-only runs it again.
  const bool interrupted = pass->interrupted();
  status_.on(FollowUp{interrupted ? FollowUp::Kind::resume_interrupted : FollowUp::Kind::finalize,
                      commands_.merge_only()});
  return to_int(interrupted ? ExitCode::interrupted : ExitCode::failed);
}

namespace {

/// The last `n` lines of a log file (read from its last 64 KiB).
std::vector<std::string> log_tail(const fs::path& log, size_t n) {
  std::ifstream in(log, std::ios::binary);
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size <= 0) return {};
  in.seekg(std::max<std::streamoff>(0, size - 65536));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(printable(line));
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(n));
  return lines;
}

}  // namespace

ExitStatus Session::finalize(const RunState& state) {
  // The pass reads the merged report and the output tree only: no model, no GPU.
  LaunchSpec spec;
  spec.argv = {state.worker.string(), "--finalize", "--config", state.config_path.string(), "--output-dir",
               state.output_dir.string()};
  spec.env = {{"CUDA_VISIBLE_DEVICES", ""}};
  spec.log = work_dir_ / "finalize.log";
  spec.log_header = fmt::format("==== orchestrator: finalize pass at {} ====\n", now_iso8601());
  const ExitStatus exit = system_.run_to_end(spec);
  status_.on(Finalized{exit, spec.log, exit.ok() ? std::vector<std::string>{} : log_tail(spec.log, 10)});
  return exit;
}

bool Session::auto_batch(RunState& state, const std::vector<int>& selected, WorkerThreads threads) {
  const GpuDiscovery found = system_.discover_gpus();
  std::vector<std::pair<std::string, std::vector<int>>> groups;  // model -> shards, in order
  for (int index : selected) {
    const ShardState& s = state.shards.at(static_cast<size_t>(index));
    std::string model = "CPU";
    if (s.is_gpu) {
      model = "GPU";
      for (const GpuInfo& g : found.gpus)
        if (g.index == s.device_index && !g.name.empty()) model = g.name;
    }
    auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == model; });
    if (group == groups.end()) group = groups.insert(groups.end(), {model, {}});
    group->second.push_back(index);
  }
  for (size_t n = 0; n < groups.size(); ++n) {
    const auto& [model, shards] = groups[n];
    const ShardState& first = state.shards.at(static_cast<size_t>(shards.front()));
    LaunchSpec spec;
    spec.argv = {state.worker.string(), "--find-batch-size", "--test-only", "--config", state.config_path.string()};
    spec.env = {{"CUDA_VISIBLE_DEVICES", first.cuda_visible_devices},
                {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"},
                {"OMP_NUM_THREADS", std::to_string(threads.model)},
                {"LV_CORES_PER_WORKER", std::to_string(threads.cores)}};
    spec.log = work_dir_ / fmt::format("auto_batch_{}.log", n);
    spec.append_log = true;  // a retry's finder adds to the first run's output, as logs do
    spec.log_header = fmt::format("==== orchestrator: batch-size finder for {} on {} at {} ====\n", model, first.device,
                                  now_iso8601());
    AutoBatch event{model, {}, std::nullopt, spec.log, ""};
    for (int index : shards) {
      const std::string& device = state.shards.at(static_cast<size_t>(index)).device;
      if (std::find(event.devices.begin(), event.devices.end(), device) == event.devices.end())
        event.devices.push_back(device);
    }
    ExitStatus exit;
    try {
      exit = system_.run_to_end(spec);
    } catch (const Error& e) {
      exit = ExitStatus{false, 1, 0};
      event.problem = e.what();
    }
    if (exit.interrupted()) return false;
    if (exit.ok()) {
      const std::string text = read_file(spec.log);
      const size_t at = text.rfind("[batch-size] ");
      const std::string value =
          at == std::string::npos ? "" : text.substr(at + 13, text.find('\n', at) == std::string::npos
                                                                  ? std::string::npos
                                                                  : text.find('\n', at) - at - 13);
      try {
        size_t used = 0;
        const long long pick = std::stoll(value, &used);
        if (used == value.size() && pick >= 1 && pick <= 1 << 20) event.batch = static_cast<int>(pick);
      } catch (const std::exception&) {
      }
      if (!event.batch)
        event.problem = at == std::string::npos ? "its output has no \"[batch-size] N\" line"
                                                : fmt::format("it picked '{}', not a batch size", printable(value));
    } else if (event.problem.empty()) {
      std::vector<std::string> tail = log_tail(spec.log, 4);
      tail.erase(std::remove_if(tail.begin(), tail.end(),
                                [](const std::string& line) { return line.rfind("==== orchestrator:", 0) == 0; }),
                 tail.end());
      event.problem = fmt::format("it ended with {}{}{}", exit.describe(), tail.empty() ? "" : ": ", fmt::join(tail, " | "));
    }
    if (event.batch)
      for (int index : shards) state.shards.at(static_cast<size_t>(index)).batch_size = *event.batch;
    status_.on(event);
  }
  save_run_state(work_dir_, state);
  return true;
}

}  // namespace lv
