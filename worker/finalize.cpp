#include "finalize.h"

#include <cmath>
#include <optional>
#include <string_view>

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

/// The record's boxes against a label file's: the same lines, classes and boxes (the report
/// rounds coordinates to 6 digits).
bool same_boxes(const LabelFile& labels, const json& recorded) {
  if (labels.boxes.size() != recorded.size()) return false;
  for (size_t i = 0; i < recorded.size(); ++i) {
    const LabelBox& b = labels.boxes[i];
    const json& r = recorded[i];
    if (r.value("line", 0) != b.line || r.value("label", -1) != b.cls) return false;
    const std::vector<double> box = r.value("box", std::vector<double>{});
    const double mine[] = {b.cx, b.cy, b.w, b.h};
    if (box.size() != 4) return false;
    for (size_t k = 0; k < 4; ++k)
      if (std::abs(box[k] - mine[k]) > 2e-6) return false;
  }
  return true;
}

class Finalizer {
 public:
  Finalizer(const Config& config, fs::path output_dir)
      : config_(config),
        out_(std::move(output_dir)),
        names_(dataset_class_names(config)),
        classes_(build_class_map(names_, names_, {})) {}

  /// Gives `record` (an image judged on its scores) its new verdicts, and its files their
  /// places. Returns how many of its boxes changed verdict.
  int apply(json& record, const std::vector<bool>& covered, const std::vector<double>& thresholds) {
    const std::string item = get_bytes_field(record, "path");
    const std::string where = fmt::format("{}: {}", kReportFileName, printable(item));
    const Verdict before = verdict_named(record.value("verdict", ""), where);
    if (before == Verdict::error || before == Verdict::unlabeled) return 0;
    int changed = 0;
    bool touched = false;  // a box changed verdict or suggestion
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
        touched |= next.verdict != now.verdict || next.suggested != now.suggested;
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
    settle(record, item, before, after, boxes, after != before || touched);
    return changed;
  }

 private:
  /// Makes the tree hold the image in its `after` folder only, with the label files and debug
  /// image that verdict calls for, whatever an earlier pass, a kill or a merge again of kept
  /// shard trees left (new files first, old ones removed last). `rewrite`: the verdicts
  /// changed since the report, so its label files and debug image are made again. Everything
  /// is read from the output tree (the files the run verified), not from the input.
  void settle(const json& record, const std::string& item, Verdict before, Verdict after,
              std::vector<BoxResult>& boxes, bool rewrite) {
    const bool keep = record.value("keep_extension", false);
    const std::string_view to = folder_of(after);
    static constexpr std::string_view kFolders[] = {"correct", "mislabeled", "uncertain"};
    const auto labels_in = [&](std::string_view f) { return output_label_path(out_, f, item, keep); };
    const auto original_in = [&](std::string_view f) { return original_label_path(out_, f, item, keep); };
    std::error_code ec;

    // The image, in its folder.
    const fs::path image = output_image_path(out_, to, item);
    if (!fs::exists(image, ec)) {
      fs::path found;
      for (std::string_view f : kFolders)
        if (f != to && fs::exists(output_image_path(out_, f, item), ec)) found = output_image_path(out_, f, item);
      if (found.empty())
        throw Error(ExitCode::failed, fmt::format("{}: the image is in none of the verdict folders of {}",
                                                  printable(item), printable(out_.string())));
      fs::create_directories(image.parent_path());
      fs::rename(found, image);
    }

    // Its label files: the label file as the run read it is the mislabeled folder's original
    // or another folder's labels/ copy.
    const bool labels_missing = !fs::exists(labels_in(to), ec) ||
                                (after == Verdict::mislabeled && !fs::exists(original_in(to), ec));
    if (record["label_file"].is_string() && (rewrite || labels_missing)) {
      std::optional<std::string> text;
      std::vector<std::string_view> order{folder_of(before), to};
      for (std::string_view f : kFolders) order.push_back(f);
      for (std::string_view f : order) {
        const fs::path copy = f == "mislabeled" ? original_in(f) : labels_in(f);
        if (fs::exists(copy, ec)) {
          text = read_file(copy);
          break;
        }
      }
      if (!text)
        throw Error(ExitCode::failed, fmt::format("{}: its label file is in none of the verdict folders of {}",
                                                  printable(item), printable(out_.string())));
      ImageResult r = result_of(record, item, after, *text, boxes);
      if (after == Verdict::mislabeled) {
        write_beside(labels_in(to), fix_label_text(*text, label_fixes(r)));
        write_beside(original_in(to), *text);
      } else {
        write_beside(labels_in(to), *text);
      }
      const DebugImages mode = config_.output.debug_images;
      const bool debug = mode == DebugImages::all || (mode == DebugImages::issues && after != Verdict::correct);
      const bool thumbnails = config_.output.review && after != Verdict::correct;
      // Drawn on the output's copy of the image: the input may have moved on since the run.
      std::optional<LoadedImage> loaded;
      if (debug || thumbnails) {
        loaded = load_image(image, config_.processing.max_image_pixels);
        if (loaded->error) throw Error(ExitCode::failed, fmt::format("{}: {}", printable(item), *loaded->error));
      }
      if (debug) {
        const fs::path file = debug_image_path(out_, item);
        fs::create_directories(file.parent_path());
        write_jpeg(file, draw_debug(loaded->bgr, r, classes_));
      }
      // Its flagged boxes changed: their thumbnails with them (none left when it is correct now).
      if (config_.output.review) write_thumbnails(out_, thumbnails ? loaded->bgr : cv::Mat(), r);
    }
    if (config_.output.debug_images == DebugImages::issues && after == Verdict::correct)
      remove_if_there(debug_image_path(out_, item), out_);

    // What other folders hold of it: a copy the merge linked back, or what a verdict left.
    for (std::string_view f : kFolders) {
      if (f == to) continue;
      remove_if_there(output_image_path(out_, f, item), out_);
      remove_if_there(labels_in(f), out_);
      remove_if_there(original_in(f), out_);
    }
  }

  /// The image as draw_debug and label_fixes need it: its label file parsed, checked against
  /// the report's boxes, with `boxes`' verdicts and the recorded scores.
  ImageResult result_of(const json& record, const std::string& item, Verdict after, const std::string& text,
                        std::vector<BoxResult>& boxes) const {
    ImageResult r;
    r.path = item;
    r.verdict = after;
    r.width = record.value("width", 0);
    r.height = record.value("height", 0);
    r.label_file = get_bytes_field(record, "label_file");
    r.labels = parse_labels(text, static_cast<int>(names_.size()));
    const json& recorded = record["boxes"];
    if (!same_boxes(r.labels, recorded))
      throw Error(ExitCode::failed,
                  fmt::format("{}: its label file in {} is not the one the report judged (edited since the run?): "
                              "run the verification again",
                              printable(item), printable(out_.string())));
    for (size_t i = 0; i < boxes.size(); ++i) {
      boxes[i].predicted = recorded[i]["predicted"].is_number() ? recorded[i]["predicted"].get<int>() : -1;
      boxes[i].confidence = recorded[i].value("confidence", 0.0f);
      boxes[i].label_prob = recorded[i].value("label_prob", 0.0f);
    }
    r.results = boxes;
    return r;
  }

  static void write_beside(const fs::path& file, std::string_view text) {
    fs::create_directories(file.parent_path());
    write_file_atomic(file, text);
  }

  const Config& config_;
  const fs::path out_;
  const std::vector<std::string> names_;
  const ClassMap classes_;
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
  // What a killed pass (or merge) left under temporary names: never results.
  if (const int64_t removed = remove_temporaries(output_dir))
    print_note(fmt::format("removed {} leftover temporary file(s) under {}", removed, output_dir.string()));
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
