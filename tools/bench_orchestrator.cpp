// bench_orchestrator: figures for the orchestrator's own work, against baselines run in the
// same invocation (DESIGN §10). Prints a table; asserts nothing.
//
//   planning   list file of N paths -> list_items -> plan_shards -> join_lines + split files
//              -> content_hash, for 100k and 1M items, and the peak RSS after it
//   merging    merge_trees of S shard trees totalling N small files (move and link mode)
//              against `cp -a` of the same trees and a bare loop of rename(2) calls
//   --balance  (only this) static shards against balancing on 1, 2, 4 and 8 posed GPUs with
//              a sleep-bound fake_worker (GPU-like: its costs do not load these cores):
//              uniform work, skewed work (the last quarter 10x) and a heavy-tailed random cost
//              per item; makespan against the ideal (total work / N) and scaling efficiency
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <random>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/dll/runtime_symbol_info.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "atomic_file.h"
#include "error.h"
#include "item_list.h"
#include "message.h"
#include "run_state.h"
#include "plan.h"
#include "shard_plan.h"
#include "tree_merge.h"

extern char** environ;

namespace fs = std::filesystem;

namespace {

struct Options {
  fs::path dir;
  int64_t files = 100000;
  int shards = 4;
  int repeat = 3;
  int files_per_dir = 150;
  std::vector<int64_t> plan_sizes = {100000, 1000000};
  std::vector<int64_t> run_items = {1000000};
  fs::path orchestrator;
  fs::path fake_worker;
  fs::path fake_nvidia_smi;
  bool balance = false;
  double balance_work_s = 16;
  int64_t balance_items = 2000;
  std::vector<int> balance_gpus = {1, 2, 4, 8};
  std::string balance_workload;  ///< only the workloads whose name holds this (empty: all)
  bool keep_runs = false;        ///< keep each balancing run's work dir (logs, run state)
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Runs `f` and returns how long it took.
double timed(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return seconds_since(start);
}

double peak_rss_mb() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void write_small_file(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw lv::Error(lv::ExitCode::failed, fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  const ssize_t n = ::write(fd, content.data(), content.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(content.size()))
    throw lv::Error(lv::ExitCode::failed, fmt::format("{}: cannot write: {}", path, std::strerror(err)));
}

/// Runs argv (no shell) and waits; throws unless it exits 0.
void run_command(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) throw lv::Error(lv::ExitCode::failed, fmt::format("cannot start {}: {}", args[0], std::strerror(rc)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw lv::Error(lv::ExitCode::failed, fmt::format("waitpid {}: {}", args[0], std::strerror(errno)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw lv::Error(lv::ExitCode::failed, fmt::format("{} {} ... failed (status {})", args[0], args[1], status));
}

/// Runs argv (no shell) with `env` added to ours, stdout and stderr into `log`; the exit code.
int run_logged(const std::vector<std::string>& args, const std::vector<std::string>& env, const fs::path& log) {
  std::vector<char*> argv, envp;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw lv::Error(lv::ExitCode::failed, fmt::format("cannot start {}: {}", args[0], std::strerror(rc)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw lv::Error(lv::ExitCode::failed, fmt::format("waitpid {}: {}", args[0], std::strerror(errno)));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// ---- the shard trees ----

/// A fresh set of shard trees: output_gpu0..S-1 beside output/, items split contiguously as
/// the orchestrator does, so neighbouring shards share the folders at their boundary.
struct TreeSet {
  fs::path root;
  std::vector<lv::TreeSource> sources;
  fs::path dest;
  fs::path manifests;
  int64_t leaf_dirs = 0;
  std::vector<std::string> rel_files;  ///< relative paths, per item, in item order
  std::vector<int> shard_of;           ///< shard of each item
};

std::string item_rel_dir(int64_t item, int files_per_dir) {
  const int64_t dir = item / files_per_dir;
  return fmt::format("correct/s{:03d}/d{:05d}/JPEGImages", dir / 20, dir);
}

TreeSet generate_trees(const fs::path& root, const Options& opt) {
  TreeSet set;
  set.root = root;
  set.dest = root / "output";
  set.manifests = root / "merge";
  fs::remove_all(root);
  fs::create_directories(root);
  const auto plan = lv::plan_shards(opt.files, opt.shards);
  for (const lv::Shard& shard : plan) {
    const fs::path dir = root / fmt::format("output_gpu{}", shard.index);
    set.sources.push_back({shard.index, dir});
    fs::create_directories(dir);
    // Root entries the merge must skip.
    write_small_file((dir / "verification_report.json").string(), "{}\n");
    write_small_file((dir / ".journal.jsonl").string(), "{}\n");
    std::string last_dir;
    for (int64_t item = shard.begin; item < shard.end; ++item) {
      const std::string rel_dir = item_rel_dir(item, opt.files_per_dir);
      if (rel_dir != last_dir) {
        fs::create_directories(dir / rel_dir);
        last_dir = rel_dir;
        ++set.leaf_dirs;
      }
      std::string rel = fmt::format("{}/{:08d}.jpg.txt", rel_dir, item);
      write_small_file((dir / rel).string(), fmt::format("0 0.5 0.5 0.1 {:05d}\n", item % 100000));  // 20 bytes
      set.rel_files.push_back(std::move(rel));
      set.shard_of.push_back(shard.index);
    }
  }
  ::sync();  // keep write-back of the new trees out of the timed part
  return set;
}

int64_t count_files(const fs::path& dir) {
  int64_t n = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) ++n;
  return n;
}

void expect_files(const fs::path& dir, int64_t expected, const char* what) {
  const int64_t got = count_files(dir);
  if (got != expected)
    throw lv::Error(lv::ExitCode::failed,
                    fmt::format("{}: {} left {} files in {}, expected {}", "bench", what, got, dir.string(), expected));
}

struct MergeFigures {
  double move = 1e30, move_files = 1e30, link = 1e30, link_again = 1e30, cp = 1e30, rename_loop = 1e30;
  int64_t leaf_dirs = 0;
};

/// Renames every listed file from one tree set to the other; throws on the first failure.
/// Going back, it first remakes the source folders that a merge moved away whole.
void rename_all(const std::vector<std::pair<std::string, std::string>>& moves, bool backwards) {
  std::string made;
  for (const auto& [src, dst] : moves) {
    const std::string& from = backwards ? dst : src;
    const std::string& to = backwards ? src : dst;
    if (backwards) {
      const std::string parent = fs::path(to).parent_path().string();
      if (parent != made) {
        fs::create_directories(parent);
        made = parent;
      }
    }
    if (::rename(from.c_str(), to.c_str()) != 0)
      throw lv::Error(lv::ExitCode::failed, fmt::format("rename {} -> {}: {}", from, to, std::strerror(errno)));
  }
}

/// Each measurement starts from the same shard trees and no output/: the trees are made once,
/// and put back after a move by renaming the files back (not timed), which costs far less than
/// deleting and rewriting them; a sync before each timed part keeps write-back out of it.
MergeFigures bench_merge(const Options& opt) {
  MergeFigures best;
  const TreeSet set = generate_trees(opt.dir / "trees", opt);
  best.leaf_dirs = set.leaf_dirs;

  std::vector<std::pair<std::string, std::string>> moves;  // source file -> output file
  std::vector<fs::path> dest_dirs;
  moves.reserve(set.rel_files.size());
  for (size_t i = 0; i < set.rel_files.size(); ++i) {
    const fs::path to = set.dest / set.rel_files[i];
    if (dest_dirs.empty() || dest_dirs.back() != to.parent_path()) dest_dirs.push_back(to.parent_path());
    moves.emplace_back((set.sources[set.shard_of[i]].dir / set.rel_files[i]).string(), to.string());
  }
  // Each timed part starts with no output/ and nothing waiting to be written back.
  const auto reset = [&] {
    fs::remove_all(set.dest);
    fs::remove_all(set.manifests);
    ::sync();
  };

  for (int r = 0; r < opt.repeat; ++r) {
    // merge_trees, move mode.
    reset();
    best.move = std::min(best.move, timed([&] { lv::merge_trees(set.sources, set.dest, lv::TreeMergeMode::move, set.manifests); }));
    expect_files(set.dest, opt.files, "merge_trees move");
    rename_all(moves, true);

    // merge_trees, move mode, into existing destination folders: every file renamed on its own.
    const auto make_dest_dirs = [&] {
      for (const fs::path& dir : dest_dirs) fs::create_directories(dir);
      ::sync();
    };
    reset();
    make_dest_dirs();
    best.move_files = std::min(
        best.move_files, timed([&] { lv::merge_trees(set.sources, set.dest, lv::TreeMergeMode::move, set.manifests); }));
    expect_files(set.dest, opt.files, "merge_trees move into existing folders");
    rename_all(moves, true);

    // A bare loop of rename(2) over the list made above (destination folders made beforehand).
    reset();
    make_dest_dirs();
    best.rename_loop = std::min(best.rename_loop, timed([&] { rename_all(moves, false); }));
    expect_files(set.dest, opt.files, "rename loop");
    rename_all(moves, true);

    // merge_trees, link mode, then again with everything already present.
    reset();
    best.link = std::min(best.link, timed([&] { lv::merge_trees(set.sources, set.dest, lv::TreeMergeMode::link, set.manifests); }));
    best.link_again = std::min(
        best.link_again, timed([&] { lv::merge_trees(set.sources, set.dest, lv::TreeMergeMode::link, set.manifests); }));
    expect_files(set.dest, opt.files, "merge_trees link");

    // cp -a of the same trees into one destination.
    reset();
    fs::create_directories(set.dest);
    best.cp = std::min(best.cp, timed([&] {
      for (const lv::TreeSource& source : set.sources)
        run_command({"cp", "-a", (source.dir / ".").string(), set.dest.string()});
    }));
    expect_files(set.dest, opt.files + 2, "cp -a");  // plus one report and one journal (each shard overwrites them)
  }
  reset();
  fs::remove_all(set.root);
  return best;
}

// ---- planning ----

struct PlanFigures {
  int64_t items = 0;
  double list = 0, plan = 0, write = 0;
  double total() const { return list + plan + write; }
};

void write_list_file(const fs::path& file, int64_t count) {
  std::string text;
  text.reserve(static_cast<size_t>(count) * 40);
  for (int64_t i = 0; i < count; ++i) text += fmt::format("scene{:04d}/day/JPEGImages/{:08d}.jpg\n", i / 1000, i);
  lv::write_file_atomic(file, text);
}

/// The orchestrator's own planning steps, in process: list, plan (with the input fingerprint),
/// write items.txt and the split files.
PlanFigures bench_planning(const Options& opt, int64_t count) {
  const fs::path dir = opt.dir / fmt::format("plan_{}", count);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path list_file = dir / "images.txt";
  write_list_file(list_file, count);
  lv::Config config;
  config.file = dir / "config.yaml";
  config.input.images = list_file;

  PlanFigures f;
  f.items = count;
  lv::ItemList list;
  f.list = timed([&] { list = lv::list_items(list_file); });
  if (static_cast<int64_t>(list.items.size()) != count)
    throw lv::Error(lv::ExitCode::failed, fmt::format("list_items returned {} items, expected {}", list.items.size(), count));
  std::vector<lv::DeviceSlot> devices;
  for (int i = 0; i < opt.shards; ++i) devices.push_back(lv::DeviceSlot{true, i, std::to_string(i), {}});
  lv::RunState state;
  f.plan = timed([&] { state = lv::make_plan(config, "", list, devices, dir / "output", "/bin/true"); });
  f.write = timed([&] { lv::write_plan_files(dir / "work", state, list); });
  fs::remove_all(dir);
  return f;
}

struct RunFigures {
  double seconds = 0;
  std::string peak;  ///< the orchestrator's own "peak memory" note
  int code = -1;
};

/// The real orchestrator binary over `count` items with the no-op fake worker on CPU workers:
/// plan, launch, follow, merge `count` report records. Its own peak RSS comes from its
/// LV_REPORT_PEAK_RSS note (wait4 would fold the workers' memory in).
RunFigures bench_orchestrator_run(const Options& opt, int64_t count, bool dry_run) {
  const fs::path dir = opt.dir / fmt::format("run_{}", count);
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_list_file(dir / "images.txt", count);
  lv::write_file_atomic(dir / "config.yaml", fmt::format("input:\n  images: images.txt\nworker:\n  executable: {}\n",
                                                         opt.fake_worker.string()));
  std::vector<std::string> args = {opt.orchestrator.string(), "--config", (dir / "config.yaml").string(),
                                   "--work-dir", dir.string(), "--gpus", "cpu", "--cpu-workers",
                                   std::to_string(opt.shards)};
  if (dry_run) args.push_back("--dry-run");
  const fs::path log = dir / "orchestrator.log";
  RunFigures f;
  const auto start = std::chrono::steady_clock::now();
  f.code = run_logged(args, {"LV_REPORT_PEAK_RSS=1", "FAKE_WORKER_FAULT=noop=1"}, log);
  f.seconds = seconds_since(start);
  const std::string out = lv::read_file(log);
  const size_t at = out.rfind("peak memory ");
  f.peak = at == std::string::npos ? "?" : out.substr(at + 12, out.find('\n', at) - at - 12);
  if (f.code != 0) lv::print_warning(fmt::format("orchestrator exited {}; see {}", f.code, log.string()));
  else fs::remove_all(dir);
  return f;
}

// ---- balancing ----

/// A workload: each item's cost in ms, in input order.
struct Workload {
  std::string name;
  std::vector<int64_t> cost_ms;
  int64_t total_ms() const {
    int64_t t = 0;
    for (int64_t c : cost_ms) t += c;
    return t;
  }
};

std::vector<Workload> make_workloads(const Options& opt) {
  const int64_t n = opt.balance_items;
  const double work_ms = opt.balance_work_s * 1000.0;
  std::vector<Workload> out;
  Workload uniform{"uniform", std::vector<int64_t>(static_cast<size_t>(n), std::max<int64_t>(1, std::llround(work_ms / n)))};
  out.push_back(uniform);
  // One folder, the last quarter of the sorted list, costs 10x: 3/4 * c + 1/4 * 10c = 3.25c.
  Workload skewed{"skewed (last 1/4 10x)", {}};
  const double c = work_ms / (n * 3.25);
  for (int64_t i = 0; i < n; ++i) skewed.cost_ms.push_back(std::max<int64_t>(1, std::llround(i >= n * 3 / 4 ? 10 * c : c)));
  out.push_back(skewed);
  // Pareto (alpha 1.5): most items cheap, a few very costly, anywhere in the list.
  Workload tailed{"heavy-tailed (Pareto 1.5)", {}};
  std::mt19937_64 rng(20261202);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> raw;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    raw.push_back(std::min(200.0, 1.0 / std::pow(1.0 - u(rng), 1.0 / 1.5)));
    sum += raw.back();
  }
  for (double r : raw) tailed.cost_ms.push_back(std::max<int64_t>(1, std::llround(r * work_ms / sum)));
  out.push_back(tailed);
  return out;
}

struct BalanceRun {
  double seconds = 0;
  int shards = 0;  ///< in the run state at the end: more than the GPUs when shards were split
};

BalanceRun run_balanced(const Options& opt, const Workload& w, int gpus, bool balanced) {
  const fs::path dir = opt.dir / fmt::format("balance_{}_{}", gpus, balanced ? "on" : "off");
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string list;
  for (size_t i = 0; i < w.cost_ms.size(); ++i) list += fmt::format("d{:02d}/i{:06d}@{}.jpg\n", i * 100 / w.cost_ms.size(), i, w.cost_ms[i]);
  lv::write_file_atomic(dir / "images.txt", list);
  lv::write_file_atomic(dir / "config.yaml",
                        fmt::format("input:\n  images: images.txt\nworker:\n  executable: {}\n"
                                    "orchestrator:\n  status_interval_s: 3600\n",
                                    opt.fake_worker.string()));
  std::vector<std::string> args = {opt.orchestrator.string(), "--config", (dir / "config.yaml").string(),
                                   "--work-dir", dir.string(), "--num-gpus", std::to_string(gpus)};
  if (!balanced) args.push_back("--static");
  const fs::path log = dir / "orchestrator.log";
  BalanceRun r;
  const auto start = std::chrono::steady_clock::now();
  const int code = run_logged(args,
                              {"FAKE_WORKER_FAULT=noop=1,name_ms=1", "LV_NVIDIA_SMI=" + opt.fake_nvidia_smi.string(),
                               fmt::format("FAKE_GPU_COUNT={}", gpus)},
                              log);
  r.seconds = seconds_since(start);
  if (code != 0)
    throw lv::Error(lv::ExitCode::failed, fmt::format("orchestrator exited {}; see {}", code, log.string()));
  const auto state = lv::load_run_state(dir);
  r.shards = state ? static_cast<int>(state->shards.size()) : 0;
  if (!opt.keep_runs) fs::remove_all(dir);
  return r;
}

void bench_balance(const Options& opt) {
  ::unsetenv("CUDA_VISIBLE_DEVICES");  // the posed GPUs are all visible
  fmt::print("balancing: {} items, {:.0f} s of work in all, sleep-bound fake_worker on 1..8 posed GPUs "
             "(orchestrator wall time)\n",
             opt.balance_items, opt.balance_work_s);
  fmt::print("  {:<26} {:>4}  {:>7}  {:>15}  {:>15}  {:>6}\n", "workload", "GPUs", "ideal", "static (x ideal)",
             "balanced (x id.)", "splits");
  for (const Workload& w : make_workloads(opt)) {
    if (w.name.find(opt.balance_workload) == std::string::npos) continue;
    const double total_s = static_cast<double>(w.total_ms()) / 1000.0;
    double t1 = 0;
    std::vector<std::string> efficiency;
    for (int gpus : opt.balance_gpus) {
      const double ideal = total_s / gpus;
      const BalanceRun st = run_balanced(opt, w, gpus, false);
      const BalanceRun bal = gpus == 1 ? st : run_balanced(opt, w, gpus, true);
      if (gpus == 1) t1 = st.seconds;
      fmt::print("  {:<26} {:>4}  {:>6.2f}s  {:>6.2f}s ({:>5.2f})  {:>6.2f}s ({:>5.2f})  {:>6}\n", w.name, gpus, ideal,
                 st.seconds, st.seconds / ideal, bal.seconds, bal.seconds / ideal, bal.shards - gpus);
      if (t1 > 0 && gpus > 1)
        efficiency.push_back(fmt::format("{} GPUs {:.2f} / {:.2f}", gpus, t1 / (gpus * st.seconds), t1 / (gpus * bal.seconds)));
    }
    if (!efficiency.empty())
      fmt::print("    scaling efficiency T1/(N*TN), static / balanced: {}\n", fmt::join(efficiency, "; "));
    // An item is never split: no schedule ends before the costliest item's own time.
    const int64_t largest = *std::max_element(w.cost_ms.begin(), w.cost_ms.end());
    fmt::print("    costliest item {:.2f} s ({:.2f} of the {}-GPU ideal)\n", static_cast<double>(largest) / 1000.0,
               static_cast<double>(largest) / 1000.0 / (total_s / opt.balance_gpus.back()), opt.balance_gpus.back());
  }
  fmt::print("  (targets: efficiency >= 0.97 at 8 GPUs on uniform work; balanced <= 1.10x ideal on skewed work)\n");
}

}  // namespace

int main(int argc, char** argv) {
  lv::set_program_name("bench_orchestrator");
  Options opt;
  opt.dir = fs::temp_directory_path() / fmt::format("lv_bench_{}", ::getpid());
  CLI::App app{"Benchmarks of the orchestrator's planning and output merge; prints figures."};
  app.add_option("--dir", opt.dir, "scratch folder (removed at the end)")->capture_default_str();
  app.add_option("--files", opt.files, "small files in the shard trees, all shards together")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--shards", opt.shards, "shard trees to merge")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--files-per-dir", opt.files_per_dir, "files per leaf folder")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--repeat", opt.repeat, "runs of each merge measurement; the best is shown")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--plan-items", opt.plan_sizes, "item counts for the planning measurement")->capture_default_str();
  app.add_option("--run-items", opt.run_items, "item counts for runs of the orchestrator binary (none: skip)")->capture_default_str();
  const fs::path here = fs::path(boost::dll::program_location().parent_path().string());
  opt.orchestrator = here / "orchestrator";
  opt.fake_worker = here / "fake_worker";
  app.add_option("--orchestrator", opt.orchestrator, "the orchestrator binary")->capture_default_str();
  app.add_option("--fake-worker", opt.fake_worker, "the fake_worker test program")->capture_default_str();
  opt.fake_nvidia_smi = LV_SOURCE_DIR "/tests/fixtures/fake_nvidia_smi";
  app.add_option("--fake-nvidia-smi", opt.fake_nvidia_smi, "the tests' fake nvidia-smi")->capture_default_str();
  app.add_flag("--balance", opt.balance, "only the balancing figures (static vs balanced shards, 1-8 posed GPUs)");
  app.add_option("--balance-work", opt.balance_work_s, "seconds of work per workload (all GPUs together)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--balance-items", opt.balance_items, "items per workload")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--balance-workload", opt.balance_workload,
                 "only the workloads whose name holds this: uniform, skewed or heavy-tailed (default: all three)");
  app.add_flag("--keep-runs", opt.keep_runs, "keep each balancing run's work dir (orchestrator.log, gpuN.log, run state)");
  app.add_option("--balance-gpus", opt.balance_gpus, "posed GPU counts")->delimiter(',')->capture_default_str()->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);
  if (opt.balance) {
    try {
      fs::create_directories(opt.dir);
      bench_balance(opt);
    } catch (const std::exception& e) {
      lv::print_error(e.what());
      return 1;
    }
    if (!opt.keep_runs) fs::remove_all(opt.dir);
    return 0;
  }

  const bool own_dir = !fs::exists(opt.dir);
  try {
    fs::create_directories(opt.dir);
    fmt::print("bench_orchestrator  dir={}  files={}  shards={}  files/dir={}  repeat={} (best shown)\n\n",
               opt.dir.string(), opt.files, opt.shards, opt.files_per_dir, opt.repeat);

    // Planning
    fmt::print("planning (in process): list file -> list_items -> make_plan (+ input fingerprint) -> items.txt + splits\n");
    fmt::print("  {:>9}  {:>10}  {:>10}  {:>12}  {:>8}  {:>12}  {:>8}\n", "items", "list_items", "make_plan",
               "write_files", "total", "items/s", "peak RSS");
    for (const int64_t count : opt.plan_sizes) {
      const PlanFigures f = bench_planning(opt, count);
      fmt::print("  {:>9}  {:>9.3f}s  {:>9.3f}s  {:>11.3f}s  {:>7.3f}s  {:>12.0f}  {:>5.0f} MB\n", f.items, f.list,
                 f.plan, f.write, f.total(), f.items / f.total(), peak_rss_mb());
    }
    fmt::print("  (target: 1M items under 2 s; peak RSS = ru_maxrss of this process after that row)\n\n");

    // The real orchestrator
    if (!opt.run_items.empty()) {
      fmt::print("orchestrator binary, --gpus cpu --cpu-workers {}, no-op fake_worker (journal + report, no files)\n",
                 opt.shards);
      fmt::print("  {:>9}  {:<28}  {:>9}  {:>14}\n", "items", "mode", "seconds", "own peak RSS");
      for (const int64_t count : opt.run_items) {
        for (const bool dry : {true, false}) {
          const RunFigures f = bench_orchestrator_run(opt, count, dry);
          fmt::print("  {:>9}  {:<28}  {:>8.2f}s  {:>14}\n", count,
                     dry ? "--dry-run (plan only)" : "full run (plan, run, merge)", f.seconds, f.peak);
        }
      }
      fmt::print("  (target: peak memory under 150 MB at 1M items)\n\n");
    }

    // Merging
    const MergeFigures m = bench_merge(opt);
    fmt::print("merging {} shard trees, {} files of 20 bytes, {} leaf folders (~{} files each)\n", opt.shards,
               opt.files, m.leaf_dirs, opt.files / std::max<int64_t>(1, m.leaf_dirs));
    fmt::print("  {:<40}  {:>9}  {:>11}\n", "method", "seconds", "files/s");
    const auto row = [&](const char* name, double s) {
      fmt::print("  {:<40}  {:>8.3f}s  {:>11.0f}\n", name, s, static_cast<double>(opt.files) / s);
    };
    row("merge_trees move", m.move);
    row("merge_trees move, folders exist", m.move_files);
    row("merge_trees link", m.link);
    row("merge_trees link, re-run (all present)", m.link_again);
    row("baseline: cp -a per shard", m.cp);
    row("baseline: bare rename() loop", m.rename_loop);
    fmt::print("  (merge_trees move renames a folder of one shard whole; with the destination folders made\n"
               "   beforehand it renames file by file like the rename loop, whose path list is made untimed)\n");
    fmt::print("  cp -a / merge move                        = {:7.1f}x  (target >= 10)\n", m.cp / m.move);
    fmt::print("  merge move / rename loop                  = {:7.2f}x  (target <= 2)\n", m.move / m.rename_loop);
    fmt::print("  merge move, folders exist / rename loop   = {:7.2f}x  (target <= 2)\n", m.move_files / m.rename_loop);
    fmt::print("  peak RSS at the end: {:.0f} MB\n", peak_rss_mb());
  } catch (const std::exception& e) {
    lv::print_error(e.what());
    if (own_dir) {
      std::error_code ec;
      fs::remove_all(opt.dir, ec);
    }
    return 1;
  }
  if (own_dir) fs::remove_all(opt.dir);
  return 0;
}
