#include "worker_kit.h"

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstring>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"
#include "item_list.h"
#include "message.h"
#include "progress.h"

namespace lv {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::atomic<bool> g_stop{false};

/// Only records the signal; the processing loop decides what to do.
extern "C" void on_stop_signal(int) { g_stop.store(true); }

}  // namespace

void tune_allocator_for_batches() {
#if defined(__GLIBC__)
  // Measured with image_worker: one arena per decode thread grew 318 -> 485 MiB for 1k -> 3k
  // images; returning each batch's activations cost 46 page faults a crop (7.3 s of CPU for
  // 4 000 crops whose forward takes 1.4 s). doc_worker: mapping blocks from 1 MiB up cost 3.5x
  // the time; it trims the heap itself every few windows instead (doc_worker.cpp).
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

void add_worker_options(CLI::App& app, WorkerArgs& args) {
  app.add_option("--config", args.config, "YAML config file")->required();
  app.add_option("--items", args.items, "items file: one item a line, in input order")->required();
  app.add_option("--output-dir", args.output_dir, "this shard's output tree (output_gpuN/)")->required();
  app.add_option("--shard", args.shard, "shard index, recorded in the report")
      ->required()
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--resume", args.resume, "skip items already in the journal and keep their records");
  app.add_option("--batch-size", args.batch_size,
                 "use this processing.batch_size instead of the config's (the orchestrator halves it after an "
                 "out-of-memory failure)")
      ->check(CLI::Range(1, 65536));
}

Config load_worker_config(const WorkerArgs& args) {
  Config config = load_config(args.config);
  if (args.batch_size) config.processing.batch_size = *args.batch_size;
  return config;
}

const std::atomic<bool>& install_stop_signals() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  return g_stop;
}

std::vector<std::string> read_shard_items(const fs::path& items_file) {
  std::error_code ec;
  if (!fs::is_regular_file(items_file, ec))
    throw Error(ExitCode::input_unreadable, fmt::format("{}: --items: no such file", items_file.string()));
  std::vector<std::string> items;
  try {
    std::unordered_set<std::string> seen;
    for (std::string& line : read_lines(items_file)) {
      if (line.empty()) continue;
      if (!seen.insert(line).second) {
        print_warning(fmt::format("{}: item listed twice, processed once: {}", items_file.string(), printable(line)));
        continue;
      }
      items.push_back(std::move(line));
    }
  } catch (const Error& e) {
    throw Error(ExitCode::input_unreadable, e.what());
  }
  return items;
}

void print_phase(std::string_view words) {
  fmt::print("{}\n", format_phase(words));
  std::fflush(stdout);
}

ProgressTicker::ProgressTicker(const std::atomic<int64_t>& done, const std::atomic<int64_t>& failed, int64_t total)
    : done_(done), failed_(failed), total_(total), thread_([this] { run(); }) {}

ProgressTicker::~ProgressTicker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  print();
}

void ProgressTicker::print() {
  fmt::print("{}\n", format_progress({done_.load(), total_, failed_.load()}));
  std::fflush(stdout);
}

void ProgressTicker::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    print();
    if (wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) return;
  }
}

ShardJournal::ShardJournal(const WorkerArgs& args, const std::vector<std::string>& items)
    : journal_path_(args.output_dir / kJournalFileName) {
  fs::create_directories(args.output_dir);
  std::error_code ec;
  fs::remove(args.output_dir / kReportFileName, ec);
  // A worker killed between a write and its rename left temporaries; they are not results.
  if (const int64_t stray = remove_temporaries(args.output_dir); stray > 0)
    print_note(fmt::format("removed {} leftover temporary file(s) from {}", stray, printable(args.output_dir.string())));
  // Only which items are finished is kept: the records live in the journal, and the report is
  // streamed from it at the end, so memory stays flat however large the shard.
  if (args.resume) {
    const std::unordered_set<std::string> wanted(items.begin(), items.end());
    int64_t torn = 0, failed = 0;
    journal_lines(journal_path_)->scan([&](int64_t, std::string_view line) {
      if (line.find_first_not_of(" \t") == std::string_view::npos) return;
      const json r = json::parse(line, nullptr, /*allow_exceptions=*/false);
      const std::optional<std::string> item = record_item(r);
      if (!item) {
        ++torn;
        return;
      }
      if (wanted.count(*item) && finished_.insert(*item).second && r.value("verdict", "") == "error") ++failed;
    });
    resumed_ = static_cast<int64_t>(finished_.size());
    done_ = resumed_;
    failed_ = failed;
    print_note(fmt::format("resuming: {} of {} items already done{}", finished_.size(), items.size(),
                           torn ? fmt::format(" ({} torn journal lines ignored)", torn) : ""));
  }
  writer_ = std::make_unique<JournalWriter>(journal_path_, /*truncate=*/!args.resume);
}

std::vector<std::string> ShardJournal::todo(const std::vector<std::string>& items) const {
  std::vector<std::string> out;
  for (const std::string& item : items)
    if (!finished(item)) out.push_back(item);
  return out;
}

void ShardJournal::append(const json& record, bool flush) {
  const std::optional<std::string> item = record_item(record);
  if (!item) throw Error(ExitCode::failed, "journal: a record names no item (a string \"item\" or \"path\")");
  writer_->append(record, flush);
  if (record.value("verdict", "") == "error") ++failed_;
  if (finished_.insert(*item).second) ++done_;
}

namespace {
/// How long a finished item may wait for its group to fill before it is journalled.
constexpr std::chrono::milliseconds kCommitLinger{100};
}  // namespace

JournalCommitter::JournalCommitter(ShardJournal& journal, const fs::path& output_dir, size_t capacity)
    : journal_(journal), sync_(output_dir), capacity_(std::max<size_t>(1, capacity)) {
  thread_ = std::thread([this] { run(); });
}

JournalCommitter::~JournalCommitter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dropping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JournalCommitter::rethrow_failure() {
  if (failure_) std::rethrow_exception(failure_);
}

void JournalCommitter::push(std::future<json> record) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return failure_ || queue_.size() + committing_ < capacity_; });
  rethrow_failure();
  queue_.push_back(std::move(record));
  changed_.notify_all();
}

void JournalCommitter::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  rethrow_failure();
}

void JournalCommitter::run() {
  for (;;) {
    std::vector<std::future<json>> taken;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return dropping_ || closing_ || !queue_.empty(); });
      // Gathers a group: a sync costs about the same for one file as for fifty, so wait until
      // half the capacity is queued, or at most kCommitLinger. Where the writers fsync each
      // file (not batched) there is nothing to gather.
      if (sync_.batched())
        changed_.wait_for(lock, kCommitLinger, [this] { return dropping_ || closing_ || queue_.size() >= capacity_ / 2; });
      if (dropping_ || failure_ || queue_.empty()) return;  // empty here: closing, all committed
      taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
      committing_ = 1;
    }
    try {
      // Outside the lock: waiting for a writer must not block push().
      std::vector<json> group{taken.front().get()};
      {
        std::lock_guard<std::mutex> lock(mutex_);
        while (!queue_.empty() && queue_.front().wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
          taken.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        committing_ = taken.size();
      }
      // A writer that threw ends the group: the records before it are still journalled.
      std::exception_ptr failed;
      for (size_t i = 1; i < taken.size() && !failed; ++i) {
        try {
          group.push_back(taken[i].get());
        } catch (...) {
          failed = std::current_exception();
        }
      }
      sync_.sync();
      for (const json& record : group) journal_.append(record, /*flush=*/false);
      journal_.flush();
      if (failed) std::rethrow_exception(failed);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        committing_ = 0;
      }
      changed_.notify_all();
    } catch (...) {
      // Not swallowed: push() and finish() rethrow it on the worker's thread.
      {
        std::lock_guard<std::mutex> lock(mutex_);
        failure_ = std::current_exception();
      }
      changed_.notify_all();
      return;
    }
  }
}

ExitCode finish_shard(const WorkerArgs& args, const ShardJournal& journal, const std::vector<std::string>& items,
                      std::string_view tool_name, std::chrono::steady_clock::time_point started, bool interrupted,
                      const ReportLayout& layout, const json& fields) {
  const int64_t done = journal.done().load();
  if (interrupted) {
    print_note(fmt::format("interrupted: {} of {} items done; rerun with --resume to continue", done, items.size()));
    return ExitCode::interrupted;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const fs::path report_path = args.output_dir / kReportFileName;
  write_shard_report(report_path, journal.journal_path(), args.shard, std::string(tool_name), items, seconds, layout,
                     fields);
  const int64_t unprocessable = journal.failed().load();
  print_note(fmt::format("shard {}: {} items in {:.1f} s, {:.1f} items/s{}; report {}", args.shard, items.size(),
                         seconds, static_cast<double>(done - journal.resumed()) / std::max(seconds, 1e-9),
                         unprocessable ? fmt::format(", {} could not be processed (see the report)", unprocessable)
                                       : std::string(),
                         report_path.string()));
  return ExitCode::ok;
}

}  // namespace lv
