#pragma once
/// The per-shard journal `output_gpuN/.journal.jsonl` (DESIGN §6): one JSON image record a
/// line, appended and flushed after the item's outputs are written. `--resume` skips items in it.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

namespace lv {

struct JournalContents {
  std::vector<nlohmann::json> records;     ///< in the order they were written; one per path
  std::unordered_set<std::string> paths;   ///< the "path" of each record, as bytes (get_bytes_field)
  int skipped_lines = 0;                   ///< a torn last line from a crash, or garbage
};

/// The item a journal (or report) record is about: the bytes of its "item" (any worker), else
/// of its "path" (image records), unescaped when "item_escaped" / "path_escaped" says so
/// (get_bytes_field); nullopt when the record is not an object with such a non-empty string
/// (a torn line, garbage). The one idea of a valid record.
std::optional<std::string> record_item(const nlohmann::json& record);

/// Reads a journal; a missing file is an empty journal. A line that is not a JSON object with
/// a "path" is skipped and counted (a worker killed mid-write leaves a torn last line). When
/// a path appears twice the later record wins, kept at the position of the first.
/// Throws lv::Error naming the file when it exists but cannot be read.
JournalContents read_journal(const std::filesystem::path& path);

/// Appends records to a journal, one line each, flushed to the OS after every record.
class JournalWriter {
 public:
  /// Opens for append; `truncate` starts a fresh journal. When appending to a journal whose
  /// last line is torn, ends that line first. Throws lv::Error naming the file.
  JournalWriter(const std::filesystem::path& path, bool truncate);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  /// Writes `record.dump()` and '\n', then fflush unless `flush` is false (a worker that
  /// journals a batch of small records at once flushes after the last: a crash then re-does at
  /// most that batch). A string that is not UTF-8 (callers escape paths with set_bytes_field)
  /// is written with U+FFFD and a warning rather than lost. Throws lv::Error naming the file
  /// and why when it cannot be written.
  void append(const nlohmann::json& record, bool flush = true);

  /// Hands what append() wrote without flushing to the OS. Throws lv::Error as append().
  void flush();

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace lv
