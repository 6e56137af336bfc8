#pragma once
/// Text documents as work items (input.documents): a JSONL file, a TSV or CSV file with a
/// header line, or a folder of .txt files. Listing finds where each record starts without
/// parsing it, so that a file of many gigabytes plans in seconds; CorpusReader then reads any
/// one record by its item, on whichever worker the item lands.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "item_list.h"

namespace lv {

enum class CorpusFormat { jsonl, tsv, csv, text_folder };

/// "jsonl", "tsv", "csv" or "text_folder".
std::string_view to_string(CorpusFormat format);

/// The format of `documents`: a folder is text_folder; a file is told by its extension in any
/// case (.jsonl or .ndjson, .tsv, .csv). Throws lv::Error (exit 2) naming the path and the
/// accepted kinds for any other file, and (exit 4) when nothing is at `documents`.
CorpusFormat corpus_format(const std::filesystem::path& documents);

/// The documents of a corpus, as items for the shard plan.
struct CorpusListing {
  CorpusFormat format = CorpusFormat::jsonl;
  std::filesystem::path root;           ///< `documents` as given: the file or folder items refer to
  std::vector<std::string> items;       ///< file: "<line>:<byte offset>" in file order; folder: relative
                                        ///< .txt paths, sorted bytewise
  std::vector<RejectedItem> rejected;   ///< file: blank lines (entry = the item string); folder:
                                        ///< entries input_file_problem() refuses
  std::vector<std::string> columns;     ///< TSV/CSV: the header's column names in order; else empty
};

/// Lists the documents of `documents` (format by corpus_format()). A file is streamed in large
/// chunks and never parsed: each record's first line and byte offset are noted (CSV records
/// may span lines inside quotes; TSV has no quoting). The header line of TSV/CSV is no item; a
/// UTF-8 byte order mark is skipped; lines of only spaces, tabs and '\r' are rejected as
/// "blank line". Throws lv::Error (exit 4) naming the path when it cannot be read, and naming
/// the columns found when a TSV/CSV header has no `text` column or names a column twice.
CorpusListing list_documents(const std::filesystem::path& documents);

/// One document as read, or why it cannot be used.
struct DocumentRecord {
  std::string item;                   ///< the item it was read from
  int64_t line = 0;                   ///< first line of the record (0 for a .txt file)
  std::string id;                     ///< JSONL "id" (an integer as decimal text), TSV/CSV `id`
                                      ///< column, folder: the relative path; else the line number
  bool id_given = false;              ///< `id` came from the record or the path, not the line number
  std::string text;                   ///< cut to max_text_bytes at a UTF-8 boundary
  std::optional<std::string> label;   ///< JSONL "label", `label` column, or the parent folder's name
  nlohmann::ordered_json fields;      ///< the record as read, keys in their order (JSONL object,
                                      ///< TSV/CSV column -> string, folder {"id","text","label"});
                                      ///< null when the record is no object. Always UTF-8: bytes
                                      ///< that are not are shown as \xHH (printable())
  std::string error;                  ///< why the record is unusable; "" when it is usable
  bool truncated = false;             ///< text was cut
  int64_t text_bytes = 0;             ///< size of the text before any cut
};

/// Reads single documents of a corpus by item, in any order (each read seeks to its record;
/// none depends on an earlier one). A problem with one record is that record's `error`; an
/// item that cannot name a record of this corpus is a caller's mistake and throws.
class CorpusReader {
 public:
  /// Opens `documents` (and reads a TSV/CSV header). Texts longer than `max_text_bytes` are
  /// cut; records longer than `max_record_bytes` are refused without being held in memory.
  /// Throws lv::Error as list_documents() does when the corpus cannot be read.
  explicit CorpusReader(const std::filesystem::path& documents, size_t max_text_bytes = 1 << 20,
                        size_t max_record_bytes = 64 << 20);
  ~CorpusReader();
  CorpusReader(CorpusReader&&) noexcept;
  CorpusReader& operator=(CorpusReader&&) noexcept;

  /// The document at `item` (an item of list_documents()). A .txt item passes the folder input
  /// rule (input_file_problem(), and no escape through a linked folder) before it is opened.
  /// Throws lv::Error (exit 2) naming the item when it is malformed, lies outside the folder,
  /// or points before the first record or past the end of the file; throws lv::Error (exit 4)
  /// when the corpus file cannot be read any more.
  DocumentRecord read(const std::string& item);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lv
