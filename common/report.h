#pragma once
/// The verification report model (DESIGN §8) and the merge of shard reports.
///
/// Records are JSON objects, one per item, whose fields belong to the worker; the merge
/// carries them through untouched and reads only the item a record is about (record_item():
/// "item", else "path"). Image records, for instance (image_counts.h counts them):
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
/// A shard tree's root folder whose files the merge concatenates across shards in shard order
/// (so in input order) instead of merging them file by file: `output_gpuN/concat/x.jsonl` of
/// every shard becomes `output/x.jsonl` (.npy files as one array). Workers write there what
/// must come out as one file in input order.
inline constexpr const char* kConcatDirName = "concat";

/// Counts a report's records into its "summary" and "per_class" blocks. Each kind of worker
/// brings its own (image_counter() in image_counts.h for images); the orchestrator's merge
/// never counts records: it adds up the blocks of the shard reports (add_counts), whatever
/// their names, so a new worker type needs no orchestrator change.
class RecordCounter {
 public:
  virtual ~RecordCounter() = default;
  /// Counts one record (a JSON object).
  virtual void add(const nlohmann::json& record) = 0;
  /// The "summary" block of the records counted so far.
  virtual nlohmann::json summary() const = 0;
  /// The "per_class" block of the records counted so far.
  virtual nlohmann::json per_class() const = 0;
};
/// Makes an empty counter.
using CounterFactory = std::function<std::unique_ptr<RecordCounter>()>;

/// Adds `add` into `into` key by key at any depth: numbers are summed (integers stay
/// integers), objects recurse, keys only `add` has are copied, and any other value of `into`
/// is kept as it is. Adding two shards' summary blocks gives the summary of both.
void add_counts(nlohmann::json& into, const nlohmann::json& add);

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
  std::optional<int> batch_size;  ///< the batch size it ran at when an out-of-memory retry changed it
  std::optional<int> split_from;  ///< balancing: the shard it was split off from
};

/// One shard's range of items, as planned.
struct ShardItems {
  int index = 0;
  int64_t begin = 0;  ///< first item index of the shard in `items`
  int64_t end = 0;    ///< one past the last
};

/// Merges shard reports (held in memory) into one report holding every item of `items`
/// (input order) exactly once, their "summary" and "per_class" blocks added (add_counts):
///   {schema_version, tool {name, version}, status complete|partial, summary, per_class,
///    shards [{index, device, items, status, exit_code|null, attempts, seconds, items_per_s,
///             log}], images [...], unprocessed [paths]}.
/// The records are the shard reports' "images" (or "items", kept under that name).
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
/// The records of a report file, read line by line from the file when stream_report wrote it
/// (memory stays flat), else parsed whole. Throws lv::Error naming the file when it cannot be
/// read or is not a report.
std::unique_ptr<RecordLines> report_records(const std::filesystem::path& report_file);

/// One part of a streamed report: the items [begin, end) of one shard and where their
/// records come from (nullptr: the shard did not succeed, its items are unprocessed).
struct ReportPart {
  int shard = 0;
  int64_t begin = 0, end = 0;
  RecordLines* records = nullptr;
  bool later_record_wins = true;  ///< a journal re-does items; false: a second record is an error
  /// {"summary", "per_class"} of these records as their writer counted them (a shard
  /// report's header); used when stream_report is given no counter.
  nlohmann::json counts;
};

/// How a report is laid out and counted.
struct ReportLayout {
  std::string records_key = "images";  ///< the name of the records array: "images", "items"
  /// Counts the records (a worker's shard report); empty: add up each part's `counts` (the
  /// merge of shard reports).
  CounterFactory counter;
  /// A record field whose value must not repeat across the report (documents: "id"). A
  /// worker can only see its own shard; the report lists the values that repeat in
  /// "duplicates" [{"field", "value", "items": [first, later...]}] (records with an "error"
  /// take no part). Empty: no check.
  std::string unique_field;
};

/// The top-level fields `wanted` of a record line, the line validated as JSON whole but the rest
/// not built (objects and arrays among them come back empty); a discarded value (not an object)
/// when the line is not a JSON object.
nlohmann::json record_fields(std::string_view line, const std::vector<std::string>& wanted);

/// Writes a report to `out`: the fields of `header` (schema_version, tool, shard or shards...),
/// then "status", "summary", "per_class" (counted by layout.counter, else the parts' counts
/// added), then the records array (layout.records_key; one record a line, in item order),
/// "unprocessed" and, with layout.unique_field, "duplicates" (also in the returned header). Memory stays proportional to the items, not to the
/// records: records are read twice from their source instead of being held.
/// Returns `header` with status, summary and per_class filled in (no images).
/// Throws lv::Error (exit 1) naming the source for a record of an item outside its part,
/// a record without a path, or (with later_record_wins false) an item recorded twice.
nlohmann::json stream_report(std::ostream& out, const std::vector<std::string>& items,
                             const std::vector<ReportPart>& parts, nlohmann::json header,
                             const ReportLayout& layout);

/// A report's fields but the records ("images" or "items") and "unprocessed", read without
/// parsing every record when stream_report wrote it. `records_key`, when given, receives the
/// name of the records array ("images" when the report has none). Throws lv::Error naming
/// the file.
nlohmann::json read_report_header(const std::filesystem::path& report_file, std::string* records_key = nullptr);

/// The shard report a worker writes at the end, streamed from its journal and written
/// atomically to `report_file`: every item of `items` (the shard's list) in order, status
/// "complete" when the journal holds them all. `fields` (e.g. "task", "class_names") are
/// added to the header; the merge carries them into the merged report.
nlohmann::json write_shard_report(const std::filesystem::path& report_file, const std::filesystem::path& journal,
                                  int shard, const std::string& tool_name, const std::vector<std::string>& items,
                                  double seconds, const ReportLayout& layout,
                                  const nlohmann::json& fields = nlohmann::json::object());

}  // namespace lv
