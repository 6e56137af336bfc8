#pragma once
/// The run state `<work-dir>/run_state.json` (DESIGN §9): the plan and each shard's fate,
/// rewritten atomically on every change; and the lock that keeps a second orchestrator out.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lv {

enum class ShardStatus { pending, running, succeeded, failed, interrupted };
std::string_view to_string(ShardStatus s);
std::optional<ShardStatus> shard_status_from_string(std::string_view s);

struct ShardState {
  int index = 0;
  int64_t begin = 0, end = 0;        ///< item range in the plan's items file
  std::string device;                ///< "GPU 2" / "CPU 0"
  bool is_gpu = false;
  int device_index = 0;
  std::string cuda_visible_devices;
  ShardStatus status = ShardStatus::pending;
  std::optional<int> exit_code;      ///< when it exited
  std::optional<int> signal;         ///< when a signal ended it
  std::string failure;               ///< classification of the last failure ("" if none)
  int attempts = 0;
  std::string started_at, ended_at;  ///< ISO 8601 UTC, of the last attempt
  double seconds = 0;                ///< summed over attempts
  int64_t done = 0;                  ///< items done per the last progress line seen
  /// processing.batch_size for its next attempts, halved after each CUDA out-of-memory
  /// failure (passed as --batch-size); unset: the config's.
  std::optional<int> batch_size;
  /// Balancing (issue 10): the shard whose unstarted tail this shard was split off from.
  std::optional<int> split_from;
  /// The log, relative to the work dir, when it is not gpu<index>.log: a shard split off onto a
  /// GPU appends to that GPU's log, so each GPU keeps one log.
  std::string log;
  /// The process id of its running worker (0 when none runs): a later orchestrator checks that
  /// a worker which outlived this one (it ignored SIGTERM) is gone before reusing its output.
  long pid = 0;
  /// The Slurm launcher: its last attempt's array task ("1234_2", for squeue/sacct/scancel);
  /// "" for local runs.
  std::string slurm_job;
};


struct RunState {
  int version = 1;
  std::string tool_version;
  std::filesystem::path config_path;
  std::string config_hash;
  std::filesystem::path input;       ///< input.images at plan time
  std::string items_hash;
  int64_t item_count = 0;
  std::filesystem::path output_dir;
  std::filesystem::path worker;      ///< the worker executable
  std::string created_at;
  std::string run_id;                ///< random; also in the output dir's owner record
  std::string config_text;           ///< the config file at plan time: a retry diffs it key by key
  std::string classes_hash;          ///< content_hash of input.classes' file at plan time ("" = inline list)
  std::vector<ShardState> shards;
  /// Devices ("GPU 2") that failed twice in a run in a way that blames the device: a retry
  /// moves their shards to the other devices unless --gpus names them again.
  std::vector<std::string> quarantined;
};

/// The shard's log relative to the work dir: `log`, else gpu<index>.log.
std::filesystem::path shard_log(const ShardState& s);

/// The shards in input order (by first item), which is the merge's order.
std::vector<const ShardState*> in_input_order(const RunState& state);

inline constexpr const char* kRunStateFile = "run_state.json";
inline constexpr const char* kItemsFile = "items.txt";

/// Writes `<work_dir>/run_state.json` atomically.
void save_run_state(const std::filesystem::path& work_dir, const RunState& state);
/// Reads it; nullopt when there is none. Throws lv::Error naming the file when corrupt.
std::optional<RunState> load_run_state(const std::filesystem::path& work_dir);

/// A short stable fingerprint of some bytes (CRC-32 and size), to notice changed inputs.
std::string content_hash(std::string_view bytes);

/// A fingerprint of a file's bytes, streamed ("chunks64:<hash>:<size>"), fast enough for a
/// corpus of gigabytes. Throws lv::Error (exit 4) naming the file when it cannot be read.
std::string file_content_hash(const std::filesystem::path& file);

/// Current time as ISO 8601 UTC ("2026-11-22T13:12:31Z").
std::string now_iso8601();

/// An exclusive lock on `<work_dir>/.orchestrator.lock` held for the object's lifetime
/// (flock: released by the OS even when the process dies). Throws lv::Error (exit 2) when
/// another process holds it, naming the work dir and that process.
class WorkDirLock {
 public:
  explicit WorkDirLock(const std::filesystem::path& work_dir);
  ~WorkDirLock();
  WorkDirLock(const WorkDirLock&) = delete;
  WorkDirLock& operator=(const WorkDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace lv
