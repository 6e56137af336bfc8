#include "apply_fixes.h"

#include <map>
#include <ostream>
#include <set>
#include <system_error>
#include <tuple>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"
#include "labels.h"
#include "output_claim.h"
#include "path_guard.h"
#include "report.h"
#include "review.h"
#include "run_state.h"

namespace lv {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Error refuse(const std::string& message) { return Error(ExitCode::failed, message); }

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < text.size()) {
    const size_t nl = text.find('\n', at);
    lines.emplace_back(text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at));
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  return lines;
}

/// A label file named by a report, as a path under the input root; refused when it would
/// leave the root (lexically, or through a symlink).
fs::path label_path(const fs::path& root, const std::string& label_file) {
  const fs::path rel(label_file);
  bool up = false;
  for (const auto& part : rel) up |= part == "..";
  if (label_file.empty() || rel.is_absolute() || up)
    throw refuse(fmt::format("the report names the label file '{}', which is not a path inside the input root {}",
                             printable(label_file), root.string()));
  const fs::path path = root / rel;
  if (const std::string why = outside_root_reason(root, path); !why.empty())
    throw refuse(fmt::format("{}: {}; not written", printable(path.string()), why));
  return path;
}

/// One label file's accepted changes.
struct FileFixes {
  std::string label_file;                 ///< as the report names it (bytes), relative to the root
  std::string recorded_hash;              ///< label_hash in the report
  std::string image;                      ///< for messages
  std::vector<LabelFix> fixes;            ///< by line
  std::vector<std::string> added;         ///< accepted missing boxes
};

/// Writes `text` to the file `path` names (through a symlink: the link stays), keeping its mode.
void write_keeping_mode(const fs::path& path, const std::string& text) {
  const fs::path target = fs::weakly_canonical(path);
  std::error_code ec;
  const fs::file_status status = fs::status(target, ec);
  write_file_atomic(target, text);
  if (!ec && fs::exists(status)) fs::permissions(target, status.permissions());
}

std::string stamp() {
  std::string s = now_iso8601();
  for (char& c : s)
    if (c == ':') c = '-';
  return s;
}

}  // namespace

ApplyFixesResult apply_fixes(const ApplyFixesOptions& o, std::ostream& out) {
  ApplyFixesResult result;
  json decisions;
  try {
    decisions = json::parse(read_file(o.decisions));
  } catch (const json::exception& e) {
    throw refuse(fmt::format("{}: not a decisions file: {}", o.decisions.string(), e.what()));
  }
  if (!decisions.is_object() || !decisions.contains("decisions") || !decisions["decisions"].is_array())
    throw refuse(fmt::format("{}: no \"decisions\" list (export it with the review page's button)", o.decisions.string()));
  // Decisions of another run would name boxes of another report.
  const auto owner = read_output_owner(o.output_dir);
  const std::string run_id = decisions.value("run_id", "");
  if (owner && !owner->run_id.empty() && run_id != owner->run_id)
    throw refuse(fmt::format("{} holds decisions of run '{}', but {} holds run '{}': export the decisions from this "
                             "output's review page",
                             o.decisions.string(), run_id, o.output_dir.string(), owner->run_id));

  // The accepted decisions, by image: its name as the page shows it (escape_bytes), and whether
  // that is an escaped name (a name that holds "\xFF" is another file than one with byte 0xFF).
  // The same box accepted twice (two exports put together) counts once.
  using Name = std::pair<bool, std::string>;
  std::map<Name, std::vector<const json*>> accepted;
  std::set<std::tuple<Name, std::string, int>> seen;
  for (const json& d : decisions["decisions"]) {
    if (!d.is_object() || d.value("decision", "") != "accept") continue;
    if (!d.contains("image") || !d["image"].is_string())
      throw refuse(fmt::format("{}: decision '{}' names no image (exported before the page had loaded every box?)",
                               o.decisions.string(), d.value("id", "?")));
    const Name name{d.value("image_escaped", false), d["image"].get<std::string>()};
    const std::string kind = d.value("kind", "box");
    if (!seen.emplace(name, kind, d.value(kind == "missing" ? "missing_index" : "box_index", -1)).second) continue;
    accepted[name].push_back(&d);
  }

  // Their records in the report.
  const fs::path report = o.output_dir / kReportFileName;
  std::string records_key;
  read_report_header(report, &records_key);
  if (records_key != "images")
    throw refuse(fmt::format("{} is a report of documents: --apply-fixes writes images' label files; a document's "
                             "label lives in its corpus file (input.documents), edit it there",
                             report.string()));
  std::map<Name, json> records;
  report_records(report)->scan([&](int64_t, std::string_view line) {
    const json fields = record_fields(line, {"path", "path_escaped"});
    const std::string path = get_bytes_field(fields, "path");
    const std::string shown = escape_bytes(path);
    const Name name{shown != path, shown};
    if (accepted.count(name)) records[name] = json::parse(line);
  });

  std::map<std::string, FileFixes> files;  // by label file
  for (const auto& [name, list] : accepted) {
    const std::string& image = name.second;
    const auto found = records.find(name);
    if (found == records.end())
      throw refuse(fmt::format("{}: image '{}' is not in {}", o.decisions.string(), image, report.string()));
    const json& record = found->second;
    if (!record.contains("label_file") || record["label_file"].is_null()) {
      out << fmt::format("skipped {}: it has no label file to fix\n", image);
      result.not_applicable += static_cast<int>(list.size());
      continue;
    }
    const std::string label_file = get_bytes_field(record, "label_file");
    if (!record.contains("label_hash"))
      throw refuse(fmt::format("{}: the report does not say which label file it judged (no label_hash: a run before "
                               "this version); run the verification again, then review",
                               image));
    FileFixes& f = files[label_file];
    f.label_file = label_file;
    f.recorded_hash = record["label_hash"];
    f.image = image;
    for (const json* d : list) {
      const std::string kind = d->value("kind", "box");
      if (kind == "missing") {
        const int k = d->value("missing_index", -1);
        const json& missing = record.value("missing", json::array());
        if (k < 0 || k >= static_cast<int>(missing.size()) || !missing[k]["box"].is_array() || missing[k]["box"].size() != 4)
          throw refuse(fmt::format("{}: {} has no missing box {}", o.decisions.string(), image, k));
        const std::string said = d->value("suggestion", ""), now = missing[k].value("class_name", "");
        if (!said.empty() && said != now)
          throw refuse(fmt::format("{}: {} missing box {} was accepted as '{}', but the report now suggests '{}' (merged "
                                   "again since the export?): review it again",
                                   o.decisions.string(), image, k, said, now));
        const json& b = missing[k]["box"];
        f.added.push_back(yolo_line(missing[k].value("class", 0), {b[0], b[1], b[2], b[3]}));
        continue;
      }
      const int index = d->value("box_index", -1);
      const json& boxes = record.value("boxes", json::array());
      if (index < 0 || index >= static_cast<int>(boxes.size()))
        throw refuse(fmt::format("{}: {} has no box {}", o.decisions.string(), image, index));
      const json& box = boxes[index];
      // What the person accepted must be what the report suggests now.
      const std::string said = d->value("suggestion", ""), now = box_suggestion(box);
      if (d->contains("suggestion") && said != now)
        throw refuse(fmt::format("{}: {} box {} was accepted as '{}', but the report now suggests '{}' (merged again "
                                 "since the export?): review it again",
                                 o.decisions.string(), image, index, said, now));
      const int line = box.value("line", 0);
      if (line < 1) throw refuse(fmt::format("{}: box {} of {} names no line of its label file", report.string(), index, image));
      LabelFix fix;
      const std::string reason = box.value("reason", "");
      if (reason == "spurious" || reason == "duplicate") fix.remove = true;
      if (box.contains("suggested") && box["suggested"].is_number_integer()) fix.cls = box["suggested"];
      if (box.contains("suggested_box") && box["suggested_box"].is_array() && box["suggested_box"].size() == 4) {
        const json& b = box["suggested_box"];
        fix.box = std::array<double, 4>{b[0], b[1], b[2], b[3]};
      }
      if (!fix.remove && fix.cls < 0 && !fix.box) {
        out << fmt::format("nothing to apply for {} box {}: {} without a suggestion\n", image, index,
                           box.value("verdict", "?"));
        ++result.not_applicable;
        continue;
      }
      if (f.fixes.size() < static_cast<size_t>(line)) f.fixes.resize(static_cast<size_t>(line));
      f.fixes[static_cast<size_t>(line - 1)] = fix;
    }
  }

  // Every file as the run read it, before anything is written.
  std::vector<std::string> changed;
  std::map<std::string, std::pair<std::string, std::string>> texts;  // label file -> (before, after)
  for (const auto& [label_file, f] : files) {
    if (f.fixes.empty() && f.added.empty()) continue;
    const fs::path path = label_path(o.input_root, label_file);
    std::error_code ec;
    const std::string before = fs::exists(path, ec) ? read_file(path) : std::string();
    if (content_hash(before) != f.recorded_hash) {
      changed.push_back(printable(path.string()));
      continue;
    }
    texts[label_file] = {before, fix_label_text(before, f.fixes, f.added)};
  }
  if (!changed.empty())
    throw refuse(fmt::format("label file(s) changed since the run judged them, so the decisions may no longer fit "
                             "their lines: {}. Nothing was written; run the verification again, then review",
                             fmt::join(changed, ", ")));

  // The diff; then, unless a dry run, the backup and the new files.
  for (const auto& [label_file, t] : texts) {
    const std::vector<std::string> a = split_lines(t.first), b = split_lines(t.second);
    const FileFixes& f = files.at(label_file);
    out << fmt::format("--- {}\n+++ {} (fixed)\n", printable(label_file), printable(label_file));
    size_t j = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const bool removed = i < f.fixes.size() && f.fixes[i].remove;
      if (removed) {
        out << "-" << printable(a[i]) << "\n";
        ++result.lines_removed;
        continue;
      }
      if (j < b.size() && a[i] != b[j]) {
        out << "-" << printable(a[i]) << "\n+" << printable(b[j]) << "\n";
        ++result.lines_changed;
      }
      ++j;
    }
    for (; j < b.size(); ++j) {
      out << "+" << printable(b[j]) << "\n";
      ++result.lines_added;
    }
    ++result.files;
  }
  if (o.dry_run || texts.empty()) return result;

  fs::path backup = o.backup_root / stamp();
  for (int n = 2; fs::exists(backup); ++n) backup = o.backup_root / fmt::format("{}_{}", stamp(), n);
  json manifest{{"run_id", run_id}, {"created_at", now_iso8601()}, {"decisions", o.decisions.string()},
                {"files", json::array()}};
  set_bytes_field(manifest, "input_root", o.input_root.string());
  for (const auto& [label_file, t] : texts) {
    const fs::path copy = backup / "files" / label_file;
    fs::create_directories(copy.parent_path());
    write_file_atomic(copy, t.first);
    json entry{{"before", content_hash(t.first)}, {"after", content_hash(t.second)}};
    set_bytes_field(entry, "label_file", label_file);
    manifest["files"].push_back(std::move(entry));
  }
  // The manifest before any label file changes: an interrupted apply can be undone.
  write_file_atomic(backup / "manifest.json", manifest.dump(2) + "\n");
  size_t written = 0;
  for (const auto& [label_file, t] : texts) {
    // Through a symlink (inside the root, checked) to the file it names; its mode kept.
    try {
      write_keeping_mode(label_path(o.input_root, label_file), t.second);
    } catch (const std::exception& e) {
      throw refuse(fmt::format("{}; {} of {} label file(s) were written before it. Put them back with --undo-fixes {}",
                               e.what(), written, texts.size(), backup.string()));
    }
    ++written;
  }
  result.backup = backup;
  return result;
}

int undo_fixes(const fs::path& backup, const fs::path& input_root, std::ostream& out) {
  json manifest;
  try {
    manifest = json::parse(read_file(backup / "manifest.json"));
  } catch (const json::exception& e) {
    throw refuse(fmt::format("{}: not a backup of --apply-fixes: {}", (backup / "manifest.json").string(), e.what()));
  }
  std::vector<std::pair<fs::path, std::string>> restore;
  std::vector<std::string> edited;
  for (const json& f : manifest.value("files", json::array())) {
    const std::string label_file = get_bytes_field(f, "label_file");
    const fs::path path = label_path(input_root, label_file);
    std::error_code ec;
    const std::string now = fs::exists(path, ec) ? read_file(path) : std::string();
    if (content_hash(now) == f.value("before", "")) continue;  // restored already
    if (content_hash(now) != f.value("after", "")) {
      edited.push_back(printable(path.string()));
      continue;
    }
    restore.emplace_back(path, read_file(backup / "files" / label_file));
  }
  if (!edited.empty())
    throw refuse(fmt::format("label file(s) changed since the fixes were applied: {}. Nothing was restored; their "
                             "originals are under {}",
                             fmt::join(edited, ", "), (backup / "files").string()));
  for (const auto& [path, text] : restore) {
    write_keeping_mode(path, text);
    out << "restored " << printable(path.string()) << "\n";
  }
  return static_cast<int>(restore.size());
}

}  // namespace lv
