#include "report.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/core.h>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"
#include "journal.h"
#include "message.h"

#ifndef LV_VERSION
#define LV_VERSION "unknown"
#endif

namespace lv {
namespace {

using json = nlohmann::json;

double rate(int64_t items, double seconds) {
  return seconds > 0 ? static_cast<double>(items) / seconds : 0.0;
}

json tool_block(const std::string& tool_name) {
  return json{{"name", tool_name}, {"version", LV_VERSION}};
}

}  // namespace

void add_counts(json& into, const json& add) {
  if (!add.is_object()) return;
  if (!into.is_object()) into = json::object();
  for (const auto& [key, value] : add.items()) {
    const auto it = into.find(key);
    if (it == into.end()) {
      into[key] = value;
    } else if (it->is_object() && value.is_object()) {
      add_counts(*it, value);
    } else if (it->is_number_integer() && value.is_number_integer()) {
      *it = it->get<int64_t>() + value.get<int64_t>();
    } else if (it->is_number() && value.is_number()) {
      *it = it->get<double>() + value.get<double>();
    }
  }
}

json merge_reports(const std::vector<std::string>& items, const std::vector<ShardItems>& shards,
                   std::vector<std::optional<json>> shard_reports,
                   const std::vector<ShardSummary>& shard_summaries, const std::string& tool_name) {
  if (shard_reports.size() != shards.size())
    throw Error(ExitCode::failed, fmt::format("merge: {} shard reports for {} shards",
                                              shard_reports.size(), shards.size()));
  std::vector<std::unique_ptr<RecordLines>> sources;
  std::vector<ReportPart> parts;
  ReportLayout layout;
  for (size_t k = 0; k < shards.size(); ++k) {
    ReportPart part{shards[k].index, shards[k].begin, shards[k].end, nullptr, false, json::object()};
    if (shard_reports[k]) {
      json& report = *shard_reports[k];
      if (report.contains("items")) layout.records_key = "items";
      const auto images = report.find(layout.records_key);
      if (images == report.end() || !images->is_array())
        throw Error(ExitCode::failed, fmt::format("merge: shard {} report: \"{}\" is missing or not an array",
                                                  shards[k].index, layout.records_key));
      for (const char* block : {"summary", "per_class"})
        if (report.contains(block)) part.counts[block] = report[block];
      std::vector<std::string> lines;
      lines.reserve(images->size());
      for (const json& record : *images) lines.push_back(record.dump());
      sources.push_back(memory_lines(std::move(lines)));
      part.records = sources.back().get();
    }
    parts.push_back(part);
  }
  std::ostringstream out;
  stream_report(out, items, parts, merged_header(shard_summaries, tool_name), layout);
  return json::parse(out.str());
}

json merged_header(const std::vector<ShardSummary>& shard_summaries, const std::string& tool_name) {
  json shard_list = json::array();
  for (const ShardSummary& s : shard_summaries) {
    json entry{
        {"index", s.index},
        {"device", printable(s.device)},
        {"items", s.items},
        {"status", s.status},
        {"exit_code", s.exit_code ? json(*s.exit_code) : json(nullptr)},
        {"attempts", s.attempts},
        {"seconds", s.seconds},
        {"items_per_s", rate(s.items, s.seconds)},
    };
    set_bytes_field(entry, "log", s.log);  // the work dir's name is bytes too
    if (s.batch_size) entry["batch_size"] = *s.batch_size;
    if (s.split_from) entry["split_from"] = *s.split_from;
    shard_list.push_back(std::move(entry));
  }
  json header = json::object();
  header["schema_version"] = kReportSchemaVersion;
  header["tool"] = tool_block(tool_name);
  header["shards"] = std::move(shard_list);
  return header;
}

namespace {

/// The line starting at byte `key` of `path` (its '\r' dropped), read through `reader`, which
/// is opened on first use. Throws lv::Error when the file no longer has it.
std::string read_line_at(std::ifstream& reader, const std::filesystem::path& path, int64_t key) {
  if (!reader.is_open()) reader.open(path, std::ios::binary);
  reader.clear();
  reader.seekg(key);
  std::string line;
  if (!std::getline(reader, line))
    throw Error(ExitCode::failed, fmt::format("{}: changed while being read (offset {})", path.string(), key));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

class JournalLines : public RecordLines {
 public:
  explicit JournalLines(std::filesystem::path path) : path_(std::move(path)) {}

  void scan(const std::function<void(int64_t, std::string_view)>& fn) override {
    std::ifstream in(path_, std::ios::binary);
    if (!in) {
      std::error_code ec;
      if (!std::filesystem::exists(path_, ec)) return;
      throw Error(ExitCode::failed, fmt::format("{}: cannot read: {}", path_.string(), std::strerror(errno)));
    }
    std::string line;
    int64_t offset = 0;
    while (std::getline(in, line)) {
      const int64_t here = offset;
      offset += static_cast<int64_t>(line.size()) + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      fn(here, line);
    }
    if (in.bad()) throw Error(ExitCode::failed, fmt::format("{}: read failed", path_.string()));
  }

  std::string line_at(int64_t key) override { return read_line_at(reader_, path_, key); }

  std::string name() const override { return path_.string(); }

 private:
  std::filesystem::path path_;
  std::ifstream reader_;
};

class MemoryLines : public RecordLines {
 public:
  explicit MemoryLines(std::vector<std::string> lines) : lines_(std::move(lines)) {}
  void scan(const std::function<void(int64_t, std::string_view)>& fn) override {
    for (size_t i = 0; i < lines_.size(); ++i) fn(static_cast<int64_t>(i), lines_[i]);
  }
  std::string line_at(int64_t key) override { return lines_.at(static_cast<size_t>(key)); }
  std::string name() const override { return "report"; }

 private:
  std::vector<std::string> lines_;
};

/// The records of a report stream_report wrote: one record a line between `"images": [` (or
/// "items") and `]`, each but the last ending in ','.
class ReportRecordLines : public RecordLines {
 public:
  explicit ReportRecordLines(std::filesystem::path path) : path_(std::move(path)) {}

  void scan(const std::function<void(int64_t, std::string_view)>& fn) override {
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw Error(ExitCode::failed, fmt::format("{}: cannot read: {}", path_.string(), std::strerror(errno)));
    std::string line;
    int64_t offset = 0;
    bool inside = false;
    while (std::getline(in, line)) {
      const int64_t here = offset;
      offset += static_cast<int64_t>(line.size()) + 1;
      if (!inside) {
        inside = line == "\"images\": [" || line == "\"items\": [";
        continue;
      }
      if (line.rfind(']', 0) == 0) return;
      fn(here, strip(line));
    }
    throw Error(ExitCode::failed, fmt::format("{}: not a report as stream_report writes one: no end of its records",
                                              path_.string()));
  }

  std::string line_at(int64_t key) override { return std::string(strip(read_line_at(reader_, path_, key))); }

  std::string name() const override { return path_.string(); }

 private:
  static std::string_view strip(std::string_view line) {
    if (!line.empty() && line.back() == ',') line.remove_suffix(1);
    return line;
  }
  std::filesystem::path path_;
  std::ifstream reader_;
};

/// For an error message: which part of the plan an item belongs to.
std::string owner_of(const std::string& path, const std::vector<std::string>& items, const std::vector<ReportPart>& parts) {
  for (const ReportPart& p : parts)
    for (int64_t i = p.begin; i < p.end; ++i)
      if (items[static_cast<size_t>(i)] == path) return fmt::format("shard {}", p.shard);
  return "no shard (it is not in the item list)";
}

/// An "unprocessed" entry: the item as a string, or {"path", "path_escaped": true} for a name
/// that is not UTF-8 (a JSON string cannot flag its own escaping).
json unprocessed_entry(const std::string& item) {
  if (is_valid_utf8(item)) return item;
  json entry = json::object();
  set_bytes_field(entry, "path", item);
  return entry;
}

void write_key(std::ostream& out, bool& first, const std::string& key, const json& value) {
  out << (first ? "{\n" : ",\n") << json(key).dump() << ": " << value.dump();
  first = false;
}

}  // namespace

std::unique_ptr<RecordLines> journal_lines(const std::filesystem::path& journal) {
  return std::make_unique<JournalLines>(journal);
}

std::unique_ptr<RecordLines> memory_lines(std::vector<std::string> lines) {
  return std::make_unique<MemoryLines>(std::move(lines));
}

std::unique_ptr<RecordLines> report_records(const std::filesystem::path& report_file) {
  std::string records_key;
  read_report_header(report_file, &records_key);
  std::ifstream in(report_file, std::ios::binary);
  for (std::string line; std::getline(in, line);)
    if (line == fmt::format("\"{}\": [", records_key)) return std::make_unique<ReportRecordLines>(report_file);
  // Written by someone else (one line, other spacing): parsed whole, its records held.
  json whole;
  try {
    whole = json::parse(read_file(report_file));
  } catch (const json::exception& e) {
    throw Error(ExitCode::failed, fmt::format("{}: not a report: {}", report_file.string(), e.what()));
  }
  std::vector<std::string> lines;
  if (whole.is_object() && whole.contains(records_key) && whole[records_key].is_array())
    for (const json& record : whole[records_key]) lines.push_back(record.dump());
  return memory_lines(std::move(lines));
}

namespace {

/// Reads the top-level fields `wanted` of one record line, validating the whole line as JSON but
/// building none of the rest: the merge needs a record's item (and error, unique field), not its
/// boxes, and parsing 100 000 records whole was most of its time. Values that are objects or
/// arrays come back empty, of the same type.
class TopLevelFields : public nlohmann::json_sax<json> {
 public:
  explicit TopLevelFields(const std::vector<std::string>& wanted) : wanted_(wanted) {}
  json fields = json::object();
  bool object = false;

  bool null() override { return put(json(nullptr)); }
  bool boolean(bool v) override { return put(json(v)); }
  bool number_integer(number_integer_t v) override { return put(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(json(v)); }
  bool string(string_t& v) override { return put(json(std::move(v))); }
  bool binary(binary_t&) override { return put(json::binary({})); }
  bool start_object(std::size_t) override {
    if (depth_ == 0) object = true;
    else put(json::object());
    ++depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0) return false;  // a record is an object
    put(json::array());
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool put(json v) {
    if (depth_ == 0) return false;  // a scalar alone is not a record
    if (depth_ == 1 && std::find(wanted_.begin(), wanted_.end(), key_) != wanted_.end()) fields[key_] = std::move(v);
    return true;
  }
  const std::vector<std::string>& wanted_;
  std::string key_;
  int depth_ = 0;
};

}  // namespace

json record_fields(std::string_view line, const std::vector<std::string>& wanted) {
  TopLevelFields sax(wanted);
  if (!json::sax_parse(line, &sax) || !sax.object) return json(json::value_t::discarded);
  return std::move(sax.fields);
}

json stream_report(std::ostream& out, const std::vector<std::string>& items, const std::vector<ReportPart>& parts,
                   json header, const ReportLayout& layout) {
  // What the merge reads of each record when it does not count them itself.
  std::vector<std::string> wanted = {"item", "item_escaped", "path", "path_escaped", "error"};
  if (!layout.unique_field.empty()) {
    wanted.push_back(layout.unique_field);
    wanted.push_back(layout.unique_field + "_escaped");
  }
  const int64_t n = static_cast<int64_t>(items.size());
  // Pass 1: find each item's record (the byte offset of its line) and count the records.
  std::vector<std::vector<int64_t>> where(parts.size());
  json total = json{{"summary", json::object()}, {"per_class", json::object()}};
  // layout.unique_field: value -> the items holding it, in input order (checked after pass 1).
  std::unordered_map<std::string, std::vector<int64_t>> holders;
  int64_t unprocessed = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    const ReportPart& part = parts[k];
    if (part.begin < 0 || part.end < part.begin || part.end > n)
      throw Error(ExitCode::failed, fmt::format("merge: shard {} covers items [{}, {}) of {}", part.shard, part.begin,
                                                part.end, n));
    for (size_t j = 0; j < k; ++j)
      if (part.begin < parts[j].end && parts[j].begin < part.end && part.begin < part.end)
        throw Error(ExitCode::failed, fmt::format("merge: shards {} and {} both cover item {} '{}'", parts[j].shard,
                                                  part.shard, std::max(part.begin, parts[j].begin),
                                                  printable(items[static_cast<size_t>(std::max(part.begin, parts[j].begin))])));
    std::vector<int64_t>& offsets = where[k];
    offsets.assign(static_cast<size_t>(part.end - part.begin), -1);
    if (!part.records) {
      unprocessed += part.end - part.begin;
      continue;
    }
    if (!layout.counter) add_counts(total, part.counts);
    // Keys view the strings of `items`; only this shard's items are indexed at a time.
    std::unordered_map<std::string_view, int64_t> local;
    local.reserve(offsets.size());
    for (int64_t i = part.begin; i < part.end; ++i) {
      const auto [it, inserted] = local.emplace(items[static_cast<size_t>(i)], i - part.begin);
      if (!inserted)
        throw Error(ExitCode::failed, fmt::format("merge: the item list holds '{}' twice (items {} and {})",
                                                  printable(items[static_cast<size_t>(i)]), it->second + part.begin, i));
    }
    std::unique_ptr<RecordCounter> counter = layout.counter ? layout.counter() : nullptr;
    bool redone = false;
    int64_t skipped = 0;
    part.records->scan([&](int64_t key, std::string_view line) {
      if (line.find_first_not_of(" \t") == std::string_view::npos) return;
      // The line is copied into the report as it stands: it must be a JSON object and nothing
      // else. The parser stops at a NUL byte (a power loss leaves a tail of them) and skips a
      // byte-order mark (an editor adds one), so both are refused here.
      const size_t first = line.find_first_not_of(" \t");
      const bool clean = line[first] == '{' && line.find('\0') == std::string_view::npos;
      // A worker's own counter needs the whole record; otherwise only the fields the merge reads.
      json record = !clean    ? json(json::value_t::discarded)
                    : counter ? json::parse(line, nullptr, /*allow_exceptions=*/false)
                              : record_fields(line, wanted);
      if (!record.is_object()) {
        if (part.later_record_wins) {  // a line torn by a crash
          ++skipped;
          return;
        }
        throw Error(ExitCode::failed, fmt::format("merge: shard {} {}: a record is not a JSON object", part.shard,
                                                  printable(part.records->name())));
      }
      // Items are bytes; a record holds a name that is not UTF-8 escaped (record_item).
      const std::optional<std::string> item = record_item(record);
      if (!item) {
        if (part.later_record_wins) return;
        throw Error(ExitCode::failed, fmt::format("merge: shard {} {}: a record names no item (a string \"item\" or \"path\")",
                                                  part.shard, printable(part.records->name())));
      }
      const std::string& path = *item;
      const auto found = local.find(path);
      if (found == local.end())
        throw Error(ExitCode::failed, fmt::format("merge: shard {} {} holds '{}', which belongs to {}", part.shard,
                                                  printable(part.records->name()), printable(path),
                                                  owner_of(path, items, parts)));
      int64_t& slot = offsets[static_cast<size_t>(found->second)];
      if (slot >= 0) {
        if (!part.later_record_wins)
          throw Error(ExitCode::failed, fmt::format("merge: shard {} {} holds '{}' twice", part.shard,
                                                    printable(part.records->name()), printable(path)));
        redone = true;
      }
      slot = key;
      if (counter && !redone) counter->add(record);
      if (!layout.unique_field.empty()) {
        const auto error = record.find("error");
        const bool failed = error != record.end() && !error->is_null() && !(error->is_string() && error->get_ref<const std::string&>().empty());
        const auto value = record.find(layout.unique_field);
        if (!failed && value != record.end() && value->is_string())
          holders[get_bytes_field(record, layout.unique_field)].push_back(part.begin + found->second);
      }
    });
    if (skipped > 0)
      print_warning(fmt::format("{}: {} line(s) that are not a whole JSON record were left out (a worker killed while "
                                "writing leaves one at the end); their items count as unprocessed unless recorded again",
                                printable(part.records->name()), skipped));
    if (counter && redone) {
      // A re-done item was counted twice: count this shard again from the winning records.
      counter = layout.counter();
      for (const int64_t key : offsets)
        if (key >= 0) counter->add(json::parse(part.records->line_at(key)));
    }
    if (counter) add_counts(total, json{{"summary", counter->summary()}, {"per_class", counter->per_class()}});
    for (const int64_t key : offsets)
      if (key < 0) ++unprocessed;
  }

  json duplicates = json::array();
  if (!layout.unique_field.empty()) {
    std::vector<std::pair<int64_t, const std::string*>> repeated;  // by first item: input order
    for (auto& [value, at] : holders) {
      std::sort(at.begin(), at.end());
      at.erase(std::unique(at.begin(), at.end()), at.end());  // a re-done item is not a repeat
      if (at.size() > 1) repeated.emplace_back(at.front(), &value);
    }
    std::sort(repeated.begin(), repeated.end());
    for (const auto& [first, value] : repeated) {
      json entry{{"field", layout.unique_field}};
      set_bytes_field(entry, "value", *value);
      json list = json::array();
      for (const int64_t i : holders[*value]) list.push_back(unprocessed_entry(items[static_cast<size_t>(i)]));
      entry["items"] = std::move(list);
      duplicates.push_back(std::move(entry));
    }
  }

  header["status"] = unprocessed == 0 ? "complete" : "partial";
  header["summary"] = std::move(total["summary"]);
  header["per_class"] = std::move(total["per_class"]);

  // Pass 2: write, copying each record's line as it is.
  // Identity and verdict counts first, where a person opening the file looks.
  bool first = true;
  for (const char* key : {"schema_version", "tool", "status", "summary", "per_class"})
    if (header.contains(key)) write_key(out, first, key, header[key]);
  for (const auto& [key, value] : header.items())
    if (key != "schema_version" && key != "tool" && key != "status" && key != "summary" && key != "per_class")
      write_key(out, first, key, value);
  out << (first ? "{\n" : ",\n") << json(layout.records_key).dump() << ": [";
  bool first_image = true;
  for (size_t k = 0; k < parts.size(); ++k) {
    if (!parts[k].records) continue;
    for (const int64_t key : where[k]) {
      if (key < 0) continue;
      out << (first_image ? "\n" : ",\n") << parts[k].records->line_at(key);
      first_image = false;
    }
  }
  out << "\n],\n\"unprocessed\": [";
  bool first_missing = true;
  for (size_t k = 0; k < parts.size(); ++k)
    for (size_t i = 0; i < where[k].size(); ++i)
      if (where[k][i] < 0) {
        out << (first_missing ? "\n" : ",\n") << unprocessed_entry(items[static_cast<size_t>(parts[k].begin) + i]).dump();
        first_missing = false;
      }
  out << "\n]";
  if (!layout.unique_field.empty()) {
    out << ",\n\"duplicates\": [";
    for (size_t i = 0; i < duplicates.size(); ++i) out << (i ? ",\n" : "\n") << duplicates[i].dump();
    out << "\n]";
    header["duplicates"] = duplicates;
  }
  out << "\n}\n";
  if (!out) throw Error(ExitCode::failed, "report: write failed");
  header["unprocessed_count"] = unprocessed;
  return header;
}

json read_report_header(const std::filesystem::path& report_file, std::string* records_key) {
  std::ifstream in(report_file, std::ios::binary);
  if (!in) throw Error(ExitCode::failed, fmt::format("{}: cannot read: {}", report_file.string(), std::strerror(errno)));
  auto parse = [&](const std::string& text) {
    try {
      return json::parse(text);
    } catch (const json::exception& e) {
      throw Error(ExitCode::failed, fmt::format("{}: not a report: {}", report_file.string(), e.what()));
    }
  };
  // stream_report writes every field before the records; reading up to them avoids parsing
  // records.
  std::string head, line;
  while (std::getline(in, line)) {
    for (const char* key : {"images", "items"}) {
      if (line.rfind(fmt::format("\"{}\": [", key), 0) != 0) continue;
      while (!head.empty() && (head.back() == '\n' || head.back() == ',')) head.pop_back();
      if (records_key) *records_key = key;
      return parse(head + "\n}");
    }
    head += line;
    head += '\n';
  }
  // Written by someone else: parse it whole, and drop the records.
  json whole = parse(head);
  if (records_key) *records_key = whole.contains("items") && !whole.contains("images") ? "items" : "images";
  if (whole.is_object()) {
    whole.erase("images");
    whole.erase("items");
    whole.erase("unprocessed");
  }
  return whole;
}

json write_shard_report(const std::filesystem::path& report_file, const std::filesystem::path& journal, int shard,
                        const std::string& tool_name, const std::vector<std::string>& items, double seconds,
                        const ReportLayout& layout, const json& fields) {
  const auto records = journal_lines(journal);
  json header = json::object();
  header["schema_version"] = kReportSchemaVersion;
  header["tool"] = tool_block(tool_name);
  header["shard"] = shard;
  header["seconds"] = seconds;
  header["items_per_s"] = rate(static_cast<int64_t>(items.size()), seconds);
  for (const auto& [key, value] : fields.items()) header[key] = value;
  json written;
  write_file_atomic(report_file, [&](std::ostream& out) {
    written = stream_report(out, items,
                            {ReportPart{shard, 0, static_cast<int64_t>(items.size()), records.get(), true, {}}},
                            header, layout);
  });
  return written;
}

}  // namespace lv
