#pragma once
/// The verification report model (DESIGN §8) and the merge of shard reports.
///
/// Image records are JSON objects so that workers can add fields (reasons, probability
/// vectors) that the merge carries through untouched. The fields this code reads are:
///   {"path": "indoor/day/JPEGImages/a.jpg",          // relative to the input root
///    "path_escaped": true,                            // only when the name is not UTF-8
///    "verdict": "correct"|"mislabeled"|"uncertain"|"error",
///    "shard": 2,
///    "boxes": [{"index", "label", "label_name", "verdict", "reason", "predicted",
///               "predicted_name", "confidence", "label_prob", "suggested"}],
///    "missing": [{"class", "class_name", "confidence", "box": [cx, cy, w, h]}],
///    "label_errors": [{"line", "reason"}],
///    "error": null | "why the image could not be processed"}
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string_view>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lv {

inline constexpr int kReportSchemaVersion = 1;
inline constexpr const char* kReportFileName = "verification_report.json";
inline constexpr const char* kJournalFileName = ".journal.jsonl";

/// The summary block of a report, computed from image records:
///   {total_images, total_boxes, correct, mislabeled, uncertain, missing, errors,
///    images_by_verdict {correct, mislabeled, uncertain, error}}.
/// Invariants: correct + mislabeled + uncertain == total_boxes (a box whose verdict is neither
/// "correct" nor "mislabeled" -- absent, "error", a newer name -- counts as uncertain: it needs
/// a person's look); images_by_verdict sums to total_images, and an image with an error (a
/// non-null, non-empty "error", or verdict "error") counts as "error" there and in "errors".
nlohmann::json summarize(const std::vector<nlohmann::json>& images);

/// The per_class block {name: {boxes, correct, mislabeled, uncertain}}, keyed by a box's
/// label_name, else its label id as a string, else "unknown"; box verdicts as in summarize.
nlohmann::json per_class_counts(const std::vector<nlohmann::json>& images);

/// One shard's entry in the merged report's "shards" array.
struct ShardSummary {
  int index = 0;
  std::string device;       ///< "GPU 2", "CPU 0"
  int64_t items = 0;
  std::string status;       ///< run-state status: succeeded, failed, interrupted, pending
  std::optional<int> exit_code;
  int attempts = 0;
  double seconds = 0;
  std::string log;          ///< path of gpuN.log
};

/// Builds the report a worker writes for its shard from its image records (journal order):
///   {schema_version, tool {name, version}, status complete|partial, shard, seconds,
///    items_per_s, summary, per_class, images}.
nlohmann::json make_shard_report(int shard, const std::string& tool_name,
                                 const std::vector<nlohmann::json>& images, double seconds,
                                 bool complete);

/// One shard's range of items, as planned.
struct ShardItems {
  int index = 0;
  int64_t begin = 0;  ///< first item index of the shard in `items`
  int64_t end = 0;    ///< one past the last
};

/// Merges shard reports into one report holding every item of `items` (input order) exactly
/// once:
///   {schema_version, tool {name, version}, status complete|partial, summary, per_class,
///    shards [{index, device, items, status, exit_code|null, attempts, seconds, items_per_s,
///             log}], images [...], unprocessed [paths]}.
/// Paths are bytes: a record's "path" (and "label_file", a shard's "log") that is not UTF-8 is
/// escaped with set_bytes_field (`path_escaped: true`) and matched to `items` by its bytes; an
/// "unprocessed" entry that is not UTF-8 is the object {"path": escaped, "path_escaped": true}.
/// `shard_reports[i]` is the report of `shards[i]` (same position), or nullopt when that shard
/// did not succeed; its items are then listed under "unprocessed" and the status is "partial",
/// as are the items a shard's report lacks and items no shard covers. Image records are moved
/// out of `shard_reports` (pass it with std::move to avoid a copy of every record).
/// Throws lv::Error (ExitCode::failed) when a shard report holds an item twice, an item of
/// another shard, or an item that is not in `items`; or when `items` or `shards` are
/// inconsistent (a path twice, overlapping or out-of-range shards, sizes that differ).
nlohmann::json merge_reports(const std::vector<std::string>& items,
                             const std::vector<ShardItems>& shards,
                             std::vector<std::optional<nlohmann::json>> shard_reports,
                             const std::vector<ShardSummary>& shard_summaries,
                             const std::string& tool_name);

/// The header of a merged report (schema_version, tool, shards) for stream_report.
nlohmann::json merged_header(const std::vector<ShardSummary>& shard_summaries, const std::string& tool_name);

// --- Streaming: reports of a million images without a million JSON objects in memory -------

/// Image records stored one JSON object a line (a journal, or records held in memory).
class RecordLines {
 public:
  virtual ~RecordLines() = default;
  /// Calls `fn(key, line)` for every line in order; `key` fetches the same line again.
  virtual void scan(const std::function<void(int64_t key, std::string_view line)>& fn) = 0;
  /// The line `scan` reported under `key`.
  virtual std::string line_at(int64_t key) = 0;
  /// For messages: where the lines come from.
  virtual std::string name() const = 0;
};

/// The lines of a journal file (DESIGN §6). A missing file has no lines.
std::unique_ptr<RecordLines> journal_lines(const std::filesystem::path& journal);
/// Lines held in memory (each a JSON object).
std::unique_ptr<RecordLines> memory_lines(std::vector<std::string> lines);

/// One part of a streamed report: the items [begin, end) of one shard and where their
/// records come from (nullptr: the shard did not succeed, its items are unprocessed).
struct ReportPart {
  int shard = 0;
  int64_t begin = 0, end = 0;
  RecordLines* records = nullptr;
  bool later_record_wins = true;  ///< a journal re-does items; false: a second record is an error
};

/// Writes a report to `out`: the fields of `header` (schema_version, tool, shard or shards...),
/// then "status", "summary", "per_class" computed from the records, then "images" (one record a
/// line, in item order) and "unprocessed". Memory stays proportional to the items, not to the
/// records: records are read twice from their source instead of being held.
/// Returns `header` with status, summary and per_class filled in (no images).
/// Throws lv::Error (exit 1) naming the source for a record of an item outside its part,
/// a record without a path, or (with later_record_wins false) an item recorded twice.
nlohmann::json stream_report(std::ostream& out, const std::vector<std::string>& items,
                             const std::vector<ReportPart>& parts, nlohmann::json header);

/// A report's fields but "images" and "unprocessed", read without parsing every record when
/// stream_report wrote it. Throws lv::Error naming the file.
nlohmann::json read_report_header(const std::filesystem::path& report_file);

/// The shard report a worker writes at the end, streamed from its journal and written
/// atomically to `report_file`: every item of `items` (the shard's list) in order, status
/// "complete" when the journal holds them all.
nlohmann::json write_shard_report(const std::filesystem::path& report_file, const std::filesystem::path& journal,
                                  int shard, const std::string& tool_name, const std::vector<std::string>& items,
                                  double seconds);

}  // namespace lv
