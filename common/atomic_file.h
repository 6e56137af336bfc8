#pragma once
/// Whole-file writes that never leave a half-written file behind, and the one naming rule for
/// their temporary files (so that cleanups and merges can recognise leftovers of a crash).
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace lv {

/// The temporary name to write `path` under before renaming it into place:
/// `<path>.tmp.<pid>.<n>`, with `n` a process-wide counter, so no two threads or processes
/// ever share one (a fixed or per-process name lets one writer rename another's file away).
std::filesystem::path temporary_path(const std::filesystem::path& path);

/// The one fixed temporary name of `path`, `<path>.tmp.0.0` (no process has pid 0), for a
/// single writer that must find and replace its own leftover after a crash (the tree merge,
/// which runs alone under the run lock). Recognised by is_temporary_name().
std::filesystem::path fixed_temporary_path(const std::filesystem::path& path);

/// True for a file name made by temporary_path() (`*.tmp.<digits>.<digits>`) or by the
/// writers before it (`*.tmp.<digits>`): a leftover of a writer killed between write and
/// rename, never a result.
bool is_temporary_name(std::string_view file_name);

/// Removes every file under `dir` (recursively, symlinks not followed) whose name satisfies
/// is_temporary_name(); returns how many. A missing `dir` has none. Throws lv::Error naming
/// the file that cannot be removed.
int64_t remove_temporaries(const std::filesystem::path& dir);

/// Which temporary name write_file_atomic() uses.
enum class TemporaryName {
  unique,  ///< temporary_path(): any number of writers, threads or processes
  fixed,   ///< fixed_temporary_path(): one writer at a time (under a lock), whose next write
           ///< replaces the leftover of a crashed one instead of leaving it beside the file
};

/// Writes `path` through a temporary file and a rename, so a reader sees the old file or the
/// new one, never a mix; `write` streams the content (the stream is binary). The data are
/// fsynced before the rename (unless Durability::unsynced). On any failure, an exception from `write` included, the
/// temporary is removed and lv::Error (exit 1) names the file (the exception from `write`
/// propagates unchanged).
/// Whether write_file_atomic() fsyncs before the rename.
enum class Durability {
  synced,    ///< a crash never leaves an empty file under the new name
  unsynced,  ///< for files made again from others (review thumbnails): a crash may leave one empty
  deferred,  ///< not synced here: the caller makes a group of files durable at once with
             ///< FileSystemSync before it records them as done (a worker's JournalCommitter)
};

void write_file_atomic(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write,
                       TemporaryName name = TemporaryName::unique, Durability durability = Durability::synced);

/// write_file_atomic() of a string.
void write_file_atomic(const std::filesystem::path& path, std::string_view content,
                       Durability durability = Durability::synced);

/// Whether syncfs(2) reports the writeback errors of files written after its descriptor was
/// opened, on a kernel of `kernel_release` (uname -r) and a file system of type `fs_type`
/// (statfs f_type): Linux 5.8 or later (before, it returned 0 whatever failed), and not FUSE
/// (syncfs never reaches a FUSE daemon; fsync does).
bool syncfs_reports_errors(std::string_view kernel_release, long fs_type);

/// Makes a group of files durable at once: syncfs(2) on a descriptor of their folder, opened
/// before they are written (so every writeback error since then is reported to it, even one
/// another process's syncfs saw first). One call costs about one fsync instead of one a file,
/// and also writes out whatever else is pending on that file system.
class FileSystemSync {
 public:
  /// Opens `dir`, which must exist. Throws lv::Error naming it when it cannot be opened.
  explicit FileSystemSync(const std::filesystem::path& dir);
  ~FileSystemSync();
  FileSystemSync(const FileSystemSync&) = delete;
  FileSystemSync& operator=(const FileSystemSync&) = delete;

  /// True where sync() makes files written Durability::deferred durable with their errors
  /// reported (syncfs_reports_errors); false elsewhere: write them Durability::synced, and
  /// sync() does nothing.
  bool batched() const { return batched_; }
  /// The durability for files that sync() is to cover.
  Durability durability() const { return batched_ ? Durability::deferred : Durability::synced; }
  /// Writes the file system's modified files to disk (when batched). Throws lv::Error naming
  /// the folder when that fails.
  void sync() const;

 private:
  std::filesystem::path dir_;
  int fd_ = -1;
  bool batched_ = false;
};

/// Reads a whole file. Throws lv::Error naming the file when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace lv
