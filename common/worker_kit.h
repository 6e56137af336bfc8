#pragma once
/// The worker protocol (DESIGN §6) in one place, for every worker (image_worker, doc_worker,
/// fake_worker): the command line, SIGTERM handling, start-up phases and progress lines, the
/// journal with --resume, and the end of a shard (the atomic shard report, exit codes).
/// A worker brings only what it does to one item.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "config.h"
#include "exit_code.h"
#include "journal.h"
#include "report.h"

namespace CLI {
class App;
}

namespace lv {

/// The protocol's arguments: WORKER --config CFG --items FILE --output-dir DIR --shard N [--resume].
struct WorkerArgs {
  std::filesystem::path config;
  std::filesystem::path items;       ///< one item a line, in input order
  std::filesystem::path output_dir;  ///< output_gpuN/
  int shard = 0;
  bool resume = false;               ///< skip items already in the journal
  std::optional<int> batch_size;     ///< --batch-size: overrides processing.batch_size (the orchestrator's out-of-memory retry)
};

/// Adds the protocol's options to `app`, all required but --resume and --batch-size.
void add_worker_options(CLI::App& app, WorkerArgs& args);

/// The run's config (load_config) with the command line's overrides: --batch-size.
Config load_worker_config(const WorkerArgs& args);

/// Sets glibc's allocator for a worker that decodes on helper threads and runs batches of
/// megabyte-sized tensors: two arenas (not one per thread, which grew the heap with the
/// shard), and blocks under 32 MiB kept on the heap with up to 256 MiB of it free between
/// batches (returning them made every batch fault its activations in again). Call first in
/// main(); a no-op without glibc.
void tune_allocator_for_batches();

/// Makes SIGTERM and SIGINT set the returned flag and nothing else; the worker's loop checks it
/// between items, finishes the item in flight and returns ExitCode::interrupted (130).
const std::atomic<bool>& install_stop_signals();

/// The shard's items file: one item a line, blank lines skipped, an item listed twice kept
/// once (with a warning). Throws lv::Error (exit 4) naming the file when it cannot be read.
std::vector<std::string> read_shard_items(const std::filesystem::path& items_file);

/// Prints the start-up phase line "[phase] <words>" and flushes (a sign of life before the
/// first progress line).
void print_phase(std::string_view words);

/// Prints "[progress] done/total failed=n" every second from its own thread (so lines keep
/// coming while the model runs a long batch), and once more when destroyed.
class ProgressTicker {
 public:
  ProgressTicker(const std::atomic<int64_t>& done, const std::atomic<int64_t>& failed, int64_t total);
  ~ProgressTicker();
  ProgressTicker(const ProgressTicker&) = delete;
  ProgressTicker& operator=(const ProgressTicker&) = delete;

 private:
  void print();
  void run();

  const std::atomic<int64_t>& done_;
  const std::atomic<int64_t>& failed_;
  const int64_t total_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

/// One shard's journal (`output_gpuN/.journal.jsonl`) and the bookkeeping around it. Opening
/// prepares the output tree: an old shard report is removed (a report means "this shard
/// finished"), leftover temporaries of a killed writer are removed, and with --resume the
/// items already journalled are found (record_item(), the one idea of a valid record; torn
/// lines are ignored and counted in the log). Without --resume the journal starts empty.
class ShardJournal {
 public:
  /// Throws lv::Error naming the journal when it cannot be read or opened.
  ShardJournal(const WorkerArgs& args, const std::vector<std::string>& items);

  /// The items of `items` not finished yet, in their order.
  std::vector<std::string> todo(const std::vector<std::string>& items) const;
  /// Whether the journal already holds `item`.
  bool finished(const std::string& item) const { return finished_.count(item) > 0; }
  /// Appends `record` (about one of the shard's items) and flushes it (unless `flush` is false:
  /// see JournalWriter::append); counts it as done, and as failed when its verdict is "error".
  /// Thread-compatible: call from one thread.
  void append(const nlohmann::json& record, bool flush = true);
  /// Flushes records appended with `flush` false.
  void flush() { writer_->flush(); }

  const std::atomic<int64_t>& done() const { return done_; }
  const std::atomic<int64_t>& failed() const { return failed_; }
  int64_t resumed() const { return resumed_; }  ///< items found finished at opening
  const std::filesystem::path& journal_path() const { return journal_path_; }

 private:
  std::filesystem::path journal_path_;
  std::unordered_set<std::string> finished_;
  std::atomic<int64_t> done_{0}, failed_{0};
  int64_t resumed_ = 0;
  std::unique_ptr<JournalWriter> writer_;
};

/// Journals the records of items whose outputs other threads write, in the order pushed, a
/// group at a time, on its own thread. It waits for the oldest record, takes every one
/// finished behind it, makes the group's outputs durable with one FileSystemSync::sync() of the
/// output tree, and only then appends the records: a journalled item's outputs survive a crash
/// of the machine (DESIGN §6), for about one fsync a group instead of one a file. Writers use
/// output_durability(): Durability::deferred where one syncfs reports every error, else
/// Durability::synced (an fsync each, as before; old kernels, FUSE). Records pushed but not yet
/// journalled, those being committed included, never exceed `capacity`: push() blocks, which
/// bounds what a killed worker leaves written but not journalled. A writer that threw (or a
/// failed sync) stops the commits; push() and finish() rethrow it.
class JournalCommitter {
 public:
  /// `output_dir` must exist (ShardJournal made it). Throws lv::Error when it cannot be opened.
  JournalCommitter(ShardJournal& journal, const std::filesystem::path& output_dir, size_t capacity);
  /// Stops after the group being committed; records not committed yet are dropped (--resume
  /// does them again). Call finish() to commit them.
  ~JournalCommitter();
  JournalCommitter(const JournalCommitter&) = delete;
  JournalCommitter& operator=(const JournalCommitter&) = delete;

  /// How writers must write the outputs of the records they hand over.
  Durability output_durability() const { return sync_.durability(); }
  /// Queues a record to come; blocks while `capacity` are pushed and not journalled. Rethrows
  /// the first failure.
  void push(std::future<nlohmann::json> record);
  /// Commits everything pushed and stops. Rethrows the first failure.
  void finish();

 private:
  void run();
  void rethrow_failure();

  ShardJournal& journal_;
  const FileSystemSync sync_;
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::future<nlohmann::json>> queue_;
  size_t committing_ = 0;  ///< records taken from queue_ and not journalled yet
  bool closing_ = false;   ///< finish(): commit what is queued, then end
  bool dropping_ = false;  ///< destructor: end after the current group
  std::exception_ptr failure_;
  std::thread thread_;
};

/// The end of a shard. Interrupted: says how far it got, returns ExitCode::interrupted.
/// Otherwise streams the shard report from the journal to `output_dir/verification_report.json`
/// atomically (layout and `fields` as in write_shard_report), logs a one-line summary (no
/// "error" in it when all went well: users grep logs for it), returns ExitCode::ok.
ExitCode finish_shard(const WorkerArgs& args, const ShardJournal& journal, const std::vector<std::string>& items,
                      std::string_view tool_name, std::chrono::steady_clock::time_point started, bool interrupted,
                      const ReportLayout& layout, const nlohmann::json& fields = nlohmann::json::object());

}  // namespace lv
