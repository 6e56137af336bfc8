#include "finalize.h"

#include <cmath>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "adaptive.h"
#include "atomic_file.h"
#include "byte_text.h"
#include "class_map.h"
#include "error.h"
#include "image_counts.h"
#include "image_io.h"
#include "image_record.h"
#include "image_worker.h"
#include "journal.h"
#include "message.h"
#include "output_paths.h"
#include "report.h"

namespace lv {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// The judged records between the passes, under a temporary name in the output dir.
constexpr const char* kJudgedRecords = ".finalize_records.jsonl";

Verdict verdict_named(const std::string& name, const std::string& where) {
  for (Verdict v : {Verdict::correct, Verdict::mislabeled, Verdict::uncertain, Verdict::unlabeled, Verdict::error})
    if (to_string(v) == name) return v;
  throw Error(ExitCode::input_unreadable, fmt::format("{}: unknown verdict '{}'", where, printable(name)));
}

json class_id(int c) { return c < 0 ? json(nullptr) : json(c); }
json class_name(const std::vector<std::string>& names, int c) {
  return c < 0 || static_cast<size_t>(c) >= names.size() ? json(nullptr) : json(printable(names[static_cast<size_t>(c)]));
}

/// The box's scores, checked.
std::vector<float> box_scores(const json& box, size_t classes, const std::string& where) {
  const auto p = box.find("probabilities");
  if (p == box.end() || !p->is_array() || p->size() != classes)
    throw Error(ExitCode::input_unreadable,
                fmt::format("{}: a box without {} \"probabilities\": the report was not written for "
                            "verification.policy adaptive; run the verification again",
                            where, classes));
  return p->get<std::vector<float>>();
}

/// Removes `dir` and its parents up to (not including) `stop` while they are empty: a verdict
/// folder left without images goes, as a run without such verdicts never makes it.
void remove_empty_folders(fs::path dir, const fs::path& stop) {
  std::error_code ec;
  while (dir != stop && dir.native().size() > stop.native().size() && fs::is_empty(dir, ec) && !ec) {
    fs::remove(dir, ec);
    dir = dir.parent_path();
  }
}

void remove_if_there(const fs::path& file, const fs::path& top) {
  std::error_code ec;
  if (!fs::remove(file, ec) && ec)
    throw Error(ExitCode::failed, fmt::format("{}: cannot remove: {}", printable(file.string()), ec.message()));
  remove_empty_folders(file.parent_path(), top);
}

class Finalizer {
 public:
  Finalizer(const Config& config, fs::path output_dir)
      : config_(config),
        out_(std::move(output_dir)),
        root_(input_root(config)),
        names_(dataset_class_names(config)),
        classes_(build_class_map(names_, names_, {})),
        stems_(root_) {}

  /// Gives `record` (an image judged on its scores) its new verdicts, and its files their
  /// places. Returns how many of its boxes changed verdict.
  int apply(json& record, const std::vector<bool>& covered, const std::vector<double>& thresholds) {
    const std::string item = get_bytes_field(record, "path");
    const std::string where = fmt::format("{}: {}", kReportFileName, printable(item));
    const Verdict before = verdict_named(record.value("verdict", ""), where);
    if (before == Verdict::error || before == Verdict::unlabeled) return 0;
    int changed = 0;
    std::vector<BoxResult> boxes;
    for (json& b : record["boxes"]) {
      BoxResult now;
      now.verdict = verdict_named(b.value("verdict", ""), where);
      now.reason = b.value("reason", "");
      now.suggested = b["suggested"].is_number() ? b["suggested"].get<int>() : -1;
      if (judged_on_scores(now.reason)) {
        const json fixed = b.contains("fixed") ? b["fixed"]
                                               : json{{"verdict", b["verdict"]}, {"reason", b["reason"]},
                                                      {"suggested", b["suggested"]}};
        const BoxResult next = judge_adaptive(box_scores(b, names_.size(), where), b.value("label", -1), covered,
                                              config_.verification, thresholds);
        changed += next.verdict != now.verdict;
        if (next.verdict != now.verdict || next.suggested != now.suggested) touched_ = true;
        now.verdict = next.verdict;
        now.reason = next.reason;
        now.suggested = next.suggested;
        b["verdict"] = to_string(now.verdict);
        b["reason"] = now.reason;
        b["suggested"] = class_id(now.suggested);
        b["suggested_name"] = class_name(names_, now.suggested);
        if (fixed["verdict"] != b["verdict"] || fixed["reason"] != b["reason"] || fixed["suggested"] != b["suggested"])
          b["fixed"] = fixed;
        else
          b.erase("fixed");
      }
      boxes.push_back(std::move(now));
    }
    const Verdict after = image_verdict(boxes, !record.value("missing", json::array()).empty(),
                                        !record.value("label_errors", json::array()).empty());
    record["verdict"] = to_string(after);
    if (after != before || (after == Verdict::mislabeled && touched_)) place(record, item, before, after, boxes);
    touched_ = false;
    return changed;
  }

 private:
  /// Moves the image from its `before` folder to its `after` folder and writes its label
  /// files there (new files first, old ones removed last, so a kill leaves a state the next
  /// run completes).
  void place(const json& record, const std::string& item, Verdict before, Verdict after,
             std::vector<BoxResult>& boxes) {
    const std::string label_file = get_bytes_field(record, "label_file");
    const std::string text = read_file(root_ / fs::path(label_file));
    ImageResult r;
    r.path = item;
    r.verdict = after;
    r.width = record.value("width", 0);
    r.height = record.value("height", 0);
    r.label_file = label_file;
    r.labels = parse_labels(text, static_cast<int>(names_.size()));
    const json& recorded = record["boxes"];
    bool same = r.labels.boxes.size() == recorded.size();
    for (size_t i = 0; same && i < recorded.size(); ++i) same = recorded[i].value("line", 0) == r.labels.boxes[i].line;
    if (!same)
      throw Error(ExitCode::input_unreadable,
                  fmt::format("{}: the label file changed since the run (its boxes are not the report's): run the "
                              "verification again",
                              printable((root_ / fs::path(label_file)).string())));
    for (size_t i = 0; i < boxes.size(); ++i) {
      boxes[i].predicted = recorded[i]["predicted"].is_number() ? recorded[i]["predicted"].get<int>() : -1;
      boxes[i].confidence = recorded[i].value("confidence", 0.0f);
      boxes[i].label_prob = recorded[i].value("label_prob", 0.0f);
    }
    r.results = boxes;

    const std::string_view from = folder_of(before), to = folder_of(after);
    const bool keep = stems_.shares_label(item);
    const fs::path labels = output_label_path(out_, to, item, keep);
    fs::create_directories(labels.parent_path());
    if (after == Verdict::mislabeled) {
      write_file_atomic(labels, fix_label_text(text, label_fixes(r)));
      const fs::path original = original_label_path(out_, to, item, keep);
      fs::create_directories(original.parent_path());
      write_file_atomic(original, text);
    } else {
      write_file_atomic(labels, text);
    }
    if (from != to) {
      const fs::path old_image = output_image_path(out_, from, item), new_image = output_image_path(out_, to, item);
      std::error_code ec;
      if (fs::exists(old_image, ec)) {
        fs::create_directories(new_image.parent_path());
        // rename() of two links to one file (a merge again of kept shard trees links the image
        // back) does nothing: the old name must go by itself.
        if (fs::exists(new_image, ec)) fs::remove(old_image);
        else fs::rename(old_image, new_image);
        remove_empty_folders(old_image.parent_path(), out_);
      } else if (!fs::exists(new_image, ec)) {
        throw Error(ExitCode::failed, fmt::format("{}: the image is in neither {}/ nor {}/ of {}", printable(item), from,
                                                  to, printable(out_.string())));
      }
    }
    const fs::path debug = debug_image_path(out_, item);
    const DebugImages mode = config_.output.debug_images;
    if (mode == DebugImages::all || (mode == DebugImages::issues && after != Verdict::correct)) {
      LoadedImage image = load_image(root_ / fs::path(item), config_.processing.max_image_pixels);
      if (image.error) throw Error(ExitCode::input_unreadable, fmt::format("{}: {}", printable(item), *image.error));
      fs::create_directories(debug.parent_path());
      write_jpeg(debug, draw_debug(image.bgr, r, classes_));
    } else {
      remove_if_there(debug, out_);
    }
    if (from != to) {
      remove_if_there(output_label_path(out_, from, item, keep), out_);
      remove_if_there(original_label_path(out_, from, item, keep), out_);
    }
  }

  const Config& config_;
  const fs::path out_, root_;
  const std::vector<std::string> names_;
  const ClassMap classes_;
  StemIndex stems_;
  bool touched_ = false;  ///< a box of the image being judged changed verdict or suggestion
};

}  // namespace

ExitCode finalize_run(const Config& config, const fs::path& output_dir, const std::atomic<bool>& stop) {
  // The report is read twice, a record at a time, and never held whole: a million images
  // are a gigabyte of JSON.
  const fs::path report_file = output_dir / kReportFileName;
  std::string records_key;
  json header = read_report_header(report_file, &records_key);
  if (!header.value("finalize", false) || records_key != "images" || !header.contains("judgeable_classes"))
    throw Error(ExitCode::input_unreadable,
                fmt::format("{}: not a report of a run with verification.policy adaptive (no \"finalize\": true)",
                            report_file.string()));
  if (header.value("status", "") != "complete")
    throw Error(ExitCode::failed, fmt::format("{}: status '{}': the policy needs the whole run's scores; retry the "
                                              "failed shards first",
                                              report_file.string(), header.value("status", "")));
  if (config.verification.policy != Policy::adaptive)
    throw usage_error(fmt::format("{}: verification.policy is {}: nothing to finalize", config.file.string(),
                                  to_string(config.verification.policy)));
  const std::vector<bool> covered = header["judgeable_classes"].get<std::vector<bool>>();
  Finalizer finalizer(config, output_dir);
  const size_t classes = dataset_class_names(config).size();
  const std::unique_ptr<RecordLines> records = report_records(report_file);
  const auto parse = [&](std::string_view line) {
    json record = json::parse(line, nullptr, false);
    if (!record.is_object())
      throw Error(ExitCode::input_unreadable, fmt::format("{}: a record that is not a JSON object", report_file.string()));
    return record;
  };

  // Pass 1: t_j from every box judged on its scores, and the item list.
  ClassMeans means(classes);
  std::vector<std::string> items;
  records->scan([&](int64_t, std::string_view line) {
    const json record = parse(line);
    items.push_back(get_bytes_field(record, "path"));
    for (const json& b : record.value("boxes", json::array()))
      if (judged_on_scores(b.value("reason", "")))
        means.add(box_scores(b, classes, fmt::format("{}: {}", kReportFileName, printable(items.back()))),
                  b.value("label", -1));
  });
  const std::vector<double> thresholds = means.thresholds();

  // Pass 2: judge, move, and keep the new records in a temporary file beside the report (a
  // temporary name: a kill leaves nothing the merge or a later pass would take for output).
  const fs::path judged = temporary_path(output_dir / kJudgedRecords);
  for (const auto& entry : fs::directory_iterator(output_dir))  // a killed pass's
    if (entry.path().filename().string().rfind(std::string(kJudgedRecords) + ".tmp.", 0) == 0) fs::remove(entry.path());
  int64_t changed = 0, images = 0;
  bool interrupted = false;
  {
    JournalWriter out(judged, true);
    records->scan([&](int64_t, std::string_view line) {
      if (interrupted || (interrupted = stop)) return;  // moved so far: consistent; run again
      json record = parse(line);
      const std::string before = record.value("verdict", "");
      changed += finalizer.apply(record, covered, thresholds);
      images += record.value("verdict", "") != before;
      out.append(record, false);
    });
    out.flush();
  }
  if (interrupted) {
    fs::remove(judged);
    return ExitCode::interrupted;
  }

  // The report last: until it is written, a second run starts from the shards' verdicts again.
  for (const char* key : {"status", "summary", "per_class", "unprocessed_count"}) header.erase(key);
  json t = json::array();
  for (double x : thresholds) t.push_back(std::isnan(x) ? json(nullptr) : json(x));
  header["policy"] = {{"name", "adaptive"}, {"thresholds", t}};
  const std::unique_ptr<RecordLines> lines = journal_lines(judged);
  const ReportPart part{0, 0, static_cast<int64_t>(items.size()), lines.get(), false, json::object()};
  write_file_atomic(report_file, [&](std::ostream& out) {
    stream_report(out, items, {part}, header, image_report_layout());
  });
  fs::remove(judged);
  print_note(fmt::format("adaptive policy: thresholds {}; {} box(es) and {} image(s) changed verdict; report {}",
                         t.dump(), changed, images, report_file.string()));
  return ExitCode::ok;
}

}  // namespace lv
