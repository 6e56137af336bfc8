// fake_worker: a purpose-built worker for the launcher and orchestrator tests (DESIGN §6, §10).
//
// It follows the worker protocol (items file, output tree, journal, progress lines, shard
// report, exit codes, SIGTERM) without a model: each item's verdict comes from a stable hash of
// its path. Faults are injected through the environment, so one run can fail and its retry,
// with the same config and command line, can succeed:
//
//   FAKE_WORKER_FAULT="shard=2,crash_at=5"   comma-separated key=value:
//     shard=N        the fault applies to shard N only (default: every shard)
//     gpu=N          the fault applies only to a worker given CUDA_VISIBLE_DEVICES=N (a bad GPU)
//     cuda_error_at=K  print a CUDA error (illegal memory access) to stderr and exit 1 at item K
//     crash_at=K     std::abort() (SIGABRT) when item K (0-based in the shard) is about to run
//     exit_at=K      exit with `code` when item K is about to run; code=N (default 1)
//     hang_at=K      stop making progress at item K, forever (SIGTERM still ends it -> 130)
//     ignore_term=1  ignore SIGTERM and SIGINT entirely (only SIGKILL ends the worker)
//     slow_ms=M      sleep M ms per item (progress is then printed after every item)
//     flood=1        write ~64 KiB of junk lines to stdout and ~64 KiB to stderr per item
//     oom_at=K       print a CUDA out-of-memory line to stderr and exit 1 at item K
//     oom_above=B    with oom_at: only while the batch size (--batch-size, else batch=N,
//                    default 32, the config's default) is above B
//     model_error=1  print a model load error to stderr and exit 3 before any item
//     noop=1         write no per-item output files (journal and report only; for benchmarks)
//     name_ms=1      sleep the milliseconds written after the last '@' of the item's name
//                    (`a/b@40.jpg`: 40 ms): per-item costs for the balancing tests and benchmark;
//                    for every shard, whatever shard= says (the other keys' shard)
//     startup_ms=M   print "[phase] loading model", wait M ms, "[phase] warm-up", wait M ms,
//                    before the first progress line (image_worker's start-up, issue 7 case 10)
//   --find-batch-size --config C --test-only: prints a finder's table and "[batch-size] N", N from
//     FAKE_BATCH_PICKS="0=64,2=16" by CUDA_VISIBLE_DEVICES (default 32).
//   FAKE_WORKER_RECORD=DIR   write DIR/shard_K.env with the CUDA_VISIBLE_DEVICES and
//     OMP_NUM_THREADS and LV_CORES_PER_WORKER lines this worker saw (a variable that is unset has no line).
//
// The "_at" faults fire only for an item that is processed in this run: with --resume, items
// already in the journal are skipped and cannot trigger them.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"
#include "item_list.h"
#include "image_counts.h"
#include "journal.h"
#include "message.h"
#include "progress.h"
#include "program.h"
#include "report.h"
#include "worker_kit.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Set by SIGTERM / SIGINT (install_stop_signals), unless the fault ignores them.
const std::atomic<bool>* g_stop = nullptr;
bool stop_requested() { return g_stop && g_stop->load(); }

struct Options {
  lv::WorkerArgs args;
  std::vector<std::string> tags;  ///< --tag VALUE, echoed at start (checks that args arrive)
};

struct Fault {
  std::optional<int> shard;
  std::optional<int64_t> crash_at, exit_at, hang_at, oom_at, oom_above, gpu, cuda_error_at;
  int64_t batch = 32;
  int code = 1;
  bool ignore_term = false;
  int64_t slow_ms = 0;
  bool flood = false;
  bool model_error = false;
  bool noop = false;
  bool name_ms = false;
  int64_t startup_ms = 0;
};

int64_t parse_int(std::string_view what, const std::string& text) {
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v < 0)
    throw lv::usage_error(fmt::format("{}: expected a non-negative integer, got '{}'", what, text));
  return v;
}

Fault parse_fault(const char* env) {
  Fault f;
  if (!env) return f;
  const std::string text = env;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string entry = text.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) continue;
    const size_t eq = entry.find('=');
    if (eq == std::string::npos)
      throw lv::usage_error(fmt::format("FAKE_WORKER_FAULT: '{}' is not key=value", entry));
    const std::string key = entry.substr(0, eq);
    const std::string what = "FAKE_WORKER_FAULT: " + key;
    const int64_t v = parse_int(what, entry.substr(eq + 1));
    if (key == "shard") f.shard = static_cast<int>(v);
    else if (key == "crash_at") f.crash_at = v;
    else if (key == "exit_at") f.exit_at = v;
    else if (key == "code") f.code = static_cast<int>(v);
    else if (key == "hang_at") f.hang_at = v;
    else if (key == "oom_at") f.oom_at = v;
    else if (key == "gpu") f.gpu = v;
    else if (key == "cuda_error_at") f.cuda_error_at = v;
    else if (key == "oom_above") f.oom_above = v;
    else if (key == "batch") f.batch = v;
    else if (key == "ignore_term") f.ignore_term = v != 0;
    else if (key == "slow_ms") f.slow_ms = v;
    else if (key == "flood") f.flood = v != 0;
    else if (key == "model_error") f.model_error = v != 0;
    else if (key == "noop") f.noop = v != 0;
    else if (key == "name_ms") f.name_ms = v != 0;
    else if (key == "startup_ms") f.startup_ms = v;
    else throw lv::usage_error(fmt::format("FAKE_WORKER_FAULT: unknown key '{}'", key));
  }
  return f;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string(fallback);
}

/// FNV-1a, 64 bit: stable across platforms and runs, unlike std::hash.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

/// name_ms: "dir/x@40.jpg" costs 40 ms; a name without '@' costs nothing.
int64_t cost_in_name(const std::string& item) {
  const size_t at = item.rfind('@');
  if (at == std::string::npos) return 0;
  return std::strtoll(item.c_str() + at + 1, nullptr, 10);
}

/// Sleeps `ms` in short slices; returns false as soon as a stop was requested.
bool sleep_unless_stopped(int64_t ms) {
  using namespace std::chrono;
  const auto until = steady_clock::now() + milliseconds(ms);
  while (steady_clock::now() < until) {
    if (stop_requested()) return false;
    std::this_thread::sleep_for(std::min(milliseconds(20), duration_cast<milliseconds>(until - steady_clock::now()) + milliseconds(1)));
  }
  return !stop_requested();
}

bool escapes(const std::string& item) {
  const fs::path p(item);
  if (p.is_absolute()) return true;
  for (const auto& part : p)
    if (part == "..") return true;
  return false;
}

constexpr const char* kVerdicts[] = {"correct", "mislabeled", "uncertain"};
constexpr const char* kClasses[] = {"cat", "dog", "bird"};

/// A plausible image record whose verdict follows the box verdicts (DESIGN §7).
json make_record(const std::string& item, int shard) {
  const uint64_t h = fnv1a(item);
  const int image_verdict = static_cast<int>(h % 3);
  const int box_count = 1 + static_cast<int>((h / 3) % 3);
  json boxes = json::array();
  for (int i = 0; i < box_count; ++i) {
    const int label = static_cast<int>((h >> (16 + 4 * i)) % 3);
    // Box 0 carries the image verdict; the others may only be "milder" than it.
    int v = 0;
    if (i == 0) v = image_verdict;
    else if (image_verdict == 1) v = static_cast<int>((h >> (32 + 4 * i)) % 3);
    else if (image_verdict == 2) v = ((h >> (32 + 4 * i)) & 1) ? 2 : 0;
    json box = {{"index", i}, {"label", label}, {"label_name", kClasses[label]},
                {"verdict", kVerdicts[v]}};
    if (v == 1) {
      const int other = (label + 1) % 3;
      box.update({{"reason", "model prefers another class"}, {"predicted", other},
                  {"predicted_name", kClasses[other]}, {"confidence", 0.9}, {"label_prob", 0.05},
                  {"suggested", other}});
    } else {
      const double p = v == 0 ? 0.95 : 0.4;
      box.update({{"reason", v == 0 ? "label confirmed" : "model unsure"}, {"predicted", label},
                  {"predicted_name", kClasses[label]}, {"confidence", p}, {"label_prob", p},
                  {"suggested", nullptr}});
    }
    boxes.push_back(std::move(box));
  }
  json record{{"verdict", kVerdicts[image_verdict]},
              {"shard", shard},       {"boxes", std::move(boxes)},
              {"missing", json::array()}, {"label_errors", json::array()},
              {"error", nullptr}};
  lv::set_bytes_field(record, "path", item);  // file names are bytes (README: not UTF-8)
  return record;
}

void write_output(const fs::path& file, const std::string& content) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  out.flush();
  if (!out) throw lv::Error(lv::ExitCode::failed, fmt::format("{}: cannot write", file.string()));
}

void flood_output(const std::string& item) {
  // 512 lines of 128 bytes to each stream, alternating, so a log reader sees them interleave.
  std::string line = fmt::format("junk {} ", item);
  line.resize(127, 'x');
  line += '\n';
  for (int i = 0; i < 512; ++i) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  std::fflush(stdout);
}

void print_progress(int64_t done, int64_t total) {
  std::printf("%s\n", lv::format_progress({done, total, 0}).c_str());
  std::fflush(stdout);
}

int run(int argc, char** argv) {
  Options opt;
  CLI::App app{"fake_worker: follows the worker protocol without a model (tests)"};
  lv::add_worker_options(app, opt.args);
  app.add_option("--tag", opt.tags, "echoed at start (checks that worker.args arrive)");
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;
  const lv::WorkerArgs& args = opt.args;
  const Fault fault = parse_fault(std::getenv("FAKE_WORKER_FAULT"));
  const bool faulty = (!fault.shard || *fault.shard == args.shard) &&
                      (!fault.gpu || env_or("CUDA_VISIBLE_DEVICES", "") == std::to_string(*fault.gpu));
  const Fault none;
  const Fault& f = faulty ? fault : none;

  if (f.ignore_term) {
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
  } else {
    g_stop = &lv::install_stop_signals();
  }

  const char* cuda = std::getenv("CUDA_VISIBLE_DEVICES");
  const char* omp = std::getenv("OMP_NUM_THREADS");
  std::printf("[fake_worker] shard=%d CUDA_VISIBLE_DEVICES=%s OMP_NUM_THREADS=%s batch_size=%s\n", args.shard,
              env_or("CUDA_VISIBLE_DEVICES", "(unset)").c_str(), env_or("OMP_NUM_THREADS", "(unset)").c_str(),
              args.batch_size ? std::to_string(*args.batch_size).c_str() : "(config)");
  for (const std::string& tag : opt.tags) std::printf("[fake_worker] tag=%s\n", tag.c_str());
  std::fflush(stdout);

  if (const char* record_dir = std::getenv("FAKE_WORKER_RECORD")) {
    std::string env_lines;
    if (cuda) env_lines += fmt::format("CUDA_VISIBLE_DEVICES={}\n", cuda);
    if (omp) env_lines += fmt::format("OMP_NUM_THREADS={}\n", omp);
    if (const char* share = std::getenv("LV_CORES_PER_WORKER")) env_lines += fmt::format("LV_CORES_PER_WORKER={}\n", share);
    fs::create_directories(record_dir);
    lv::write_file_atomic(fs::path(record_dir) / fmt::format("shard_{}.env", args.shard), env_lines);
  }

  std::error_code ec;
  if (!fs::is_regular_file(args.config, ec))
    throw lv::usage_error(fmt::format("{}: config file not found", args.config.string()));
  const std::vector<std::string> items = lv::read_shard_items(args.items);

  if (f.model_error) {
    std::fprintf(stderr, "error: cannot load model 'x.pt': PytorchStreamReader failed reading zip archive\n");
    return lv::to_int(lv::ExitCode::model_load);
  }

  lv::ShardJournal journal(args, items);

  if (f.startup_ms > 0) {
    for (const char* phase : {"loading model", "warm-up"}) {
      std::printf("%s\n", lv::format_phase(phase).c_str());
      std::fflush(stdout);
      if (!sleep_unless_stopped(f.startup_ms)) return lv::to_int(lv::ExitCode::interrupted);
    }
  }

  const auto start = std::chrono::steady_clock::now();
  const int64_t total = static_cast<int64_t>(items.size());
  const bool every_item = f.flood || f.slow_ms > 0 || fault.name_ms;
  auto last_progress = std::chrono::steady_clock::now();
  int64_t last_printed = journal.done();
  print_progress(journal.done(), total);

  for (size_t i = 0; i < items.size(); ++i) {
    if (stop_requested()) break;
    if (journal.finished(items[i])) continue;
    const int64_t k = static_cast<int64_t>(i);
    const std::string& item = items[i];
    if (f.crash_at && *f.crash_at == k) {
      std::fflush(stdout);
      const struct rlimit no_core = {0, 0};  // a test's abort should not leave a core file
      setrlimit(RLIMIT_CORE, &no_core);
      std::abort();
    }
    if (f.exit_at && *f.exit_at == k) {
      std::fprintf(stderr, "fake_worker: injected exit %d at item %zu\n", f.code, i);
      return f.code;
    }
    if (f.cuda_error_at && *f.cuda_error_at == k) {
      std::fprintf(stderr, "RuntimeError: CUDA error: an illegal memory access was encountered\n");
      return 1;
    }
    if (f.oom_at && *f.oom_at == k && (!f.oom_above || args.batch_size.value_or(f.batch) > *f.oom_above)) {
      std::fprintf(stderr, "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n");
      return 1;
    }
    if (f.hang_at && *f.hang_at == k) {
      while (sleep_unless_stopped(1000)) {
      }
      break;
    }
    if (f.slow_ms > 0 && !sleep_unless_stopped(f.slow_ms)) break;
    if (fault.name_ms && !sleep_unless_stopped(cost_in_name(item))) break;
    if (f.flood) flood_output(item);

    json record;
    if (escapes(item)) {
      record = json{{"verdict", "error"}, {"shard", args.shard}, {"boxes", json::array()},
                    {"missing", json::array()}, {"label_errors", json::array()},
                    {"error", "path escapes the input root"}};
      lv::set_bytes_field(record, "path", item);
    } else {
      record = make_record(item, args.shard);
      if (!f.noop) write_output(args.output_dir / record["verdict"].get<std::string>() / (item + ".txt"), item + "\n");
    }
    journal.append(record);
    const int64_t done = journal.done();

    const auto now = std::chrono::steady_clock::now();
    if (every_item || now - last_progress >= std::chrono::milliseconds(200)) {
      print_progress(done, total);
      last_progress = now;
      last_printed = done;
    }
  }

  if (journal.done() != last_printed) print_progress(journal.done(), total);
  return lv::to_int(lv::finish_shard(args, journal, items, "fake_worker", start, stop_requested(),
                                     lv::image_report_layout()));
}

}  // namespace

/// --find-batch-size: what a worker kit worker prints, with a pick chosen by the test.
int find_batch_size(int argc, char** argv) {
  bool test_only = false;
  for (int i = 1; i < argc; ++i) test_only |= std::string_view(argv[i]) == "--test-only";
  int pick = 32;
  const std::string cuda = env_or("CUDA_VISIBLE_DEVICES", "");
  std::string picks = env_or("FAKE_BATCH_PICKS", "");
  for (size_t start = 0; start < picks.size();) {
    size_t end = picks.find(',', start);
    if (end == std::string::npos) end = picks.size();
    const std::string entry = picks.substr(start, end - start);
    if (entry.rfind(cuda + "=", 0) == 0) pick = std::stoi(entry.substr(cuda.size() + 1));
    start = end + 1;
  }
  std::printf("batch-size finder on fake (CUDA_VISIBLE_DEVICES=%s)\n   batch  fits\n  %6d  yes\npick: %d\n[batch-size] %d\n",
              cuda.c_str(), pick, pick, pick);
  return test_only ? 0 : 2;  // writing the config is the real workers' business
}

int main(int argc, char** argv) {
  lv::set_program_name("fake_worker");
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--find-batch-size") return find_batch_size(argc, argv);
  // Line-buffered even into a log file, so a crash loses no line already printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return lv::run_guarded([&] { return run(argc, argv); });
}
