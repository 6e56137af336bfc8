#include "image_record.h"

#include <cmath>

#include "byte_text.h"

namespace lv {

namespace {

using nlohmann::json;

json class_name(const ClassMap& classes, int c) {
  if (c < 0 || static_cast<size_t>(c) >= classes.dataset.size()) return nullptr;
  // Class names come from a classes file or the model: bytes, not necessarily UTF-8.
  return printable(classes.dataset[static_cast<size_t>(c)]);
}

json class_id(int c) { return c < 0 ? json(nullptr) : json(c); }

/// Scores rounded to 6 digits keep the journal short and stable.
double round6(double v) { return std::round(v * 1e6) / 1e6; }

json round_all(const std::vector<double>& v) {
  json out = json::array();
  for (double x : v) out.push_back(round6(x));
  return out;
}

/// [{class, class_name, confidence, box}] of detections on an image of w x h.
json detection_list(const std::vector<Detection>& dets, const ClassMap& classes, int w, int h) {
  json out = json::array();
  for (const Detection& d : dets)
    out.push_back({{"class", d.cls},
                   {"class_name", class_name(classes, d.cls)},
                   {"confidence", round6(d.score)},
                   {"box", round_all(to_yolo(d.box, w, h))}});
  return out;
}

/// path and label_file, as bytes (set_bytes_field); shard, width, height.
json record_head(const ImageResult& r) {
  json record = json::object();
  set_bytes_field(record, "path", r.path);
  record["shard"] = r.shard;
  record["width"] = r.width;
  record["height"] = r.height;
  if (r.label_file) set_bytes_field(record, "label_file", *r.label_file);
  else record["label_file"] = nullptr;
  if (!r.label_hash.empty()) record["label_hash"] = r.label_hash;
  return record;
}

}  // namespace

json to_record(const ImageResult& r, const ClassMap& classes, bool include_probabilities, bool include_predictions) {
  json boxes = json::array();
  for (size_t i = 0; i < r.labels.boxes.size() && i < r.results.size(); ++i) {
    const LabelBox& lb = r.labels.boxes[i];
    const BoxResult& br = r.results[i];
    json b = {{"index", i},
              {"line", lb.line},
              {"label", lb.cls},
              {"label_name", class_name(classes, lb.cls)},
              {"verdict", to_string(br.verdict)},
              {"reason", br.reason},
              {"predicted", class_id(br.predicted)},
              {"predicted_name", class_name(classes, br.predicted)},
              {"confidence", round6(br.confidence)},
              {"label_prob", round6(br.label_prob)},
              {"suggested", class_id(br.suggested)},
              {"suggested_name", class_name(classes, br.suggested)},
              {"box", round_all({lb.cx, lb.cy, lb.w, lb.h})}};
    if (br.suggested_box) b["suggested_box"] = round_all(to_yolo(*br.suggested_box, r.width, r.height));
    if (include_probabilities) {
      json p = json::array();
      for (float x : br.probs) p.push_back(round6(x));
      b["probabilities"] = std::move(p);
    }
    boxes.push_back(std::move(b));
  }
  json label_errors = json::array();
  for (const LabelIssue& e : r.labels.errors)
    label_errors.push_back({{"line", e.line}, {"reason", printable(e.reason)}});
  // File names are bytes: set_bytes_field escapes them reversibly when they are not UTF-8;
  // messages may quote them (and system errors), so they go through printable().
  json record = record_head(r);
  record["verdict"] = to_string(r.verdict);
  record["boxes"] = std::move(boxes);
  record["missing"] = detection_list(r.missing, classes, r.width, r.height);
  if (include_predictions) record["predictions"] = detection_list(r.predictions, classes, r.width, r.height);
  record["label_errors"] = std::move(label_errors);
  record["error"] = r.error ? json(printable(*r.error)) : json(nullptr);
  if (r.keep_extension) record["keep_extension"] = true;
  return record;
}

json to_autolabel_record(const ImageResult& r, const ClassMap& classes) {
  json record = record_head(r);
  record["source"] = r.error ? json(nullptr) : json(r.label_file ? "existing" : "predicted");
  record["labels"] = detection_list(r.autolabeled, classes, r.width, r.height);
  record["error"] = r.error ? json(printable(*r.error)) : json(nullptr);
  return record;
}

std::vector<LabelFix> label_fixes(const ImageResult& r) {
  std::vector<LabelFix> fixes;
  for (size_t i = 0; i < r.labels.boxes.size() && i < r.results.size(); ++i) {
    const BoxResult& br = r.results[i];
    const bool duplicate = br.reason == reason::kDuplicate;
    if (br.verdict != Verdict::mislabeled && !duplicate) continue;
    const auto line = static_cast<size_t>(r.labels.boxes[i].line);
    if (fixes.size() < line) fixes.resize(line);
    LabelFix& fix = fixes[line - 1];
    fix.cls = br.suggested;
    fix.remove = br.remove || duplicate;
    if (br.suggested_box) {
      const std::vector<double> b = to_yolo(*br.suggested_box, r.width, r.height);
      fix.box = std::array<double, 4>{b[0], b[1], b[2], b[3]};
    }
  }
  return fixes;
}

ImageResult error_result(const std::string& path, int shard, std::string why) {
  ImageResult r;
  r.path = path;
  r.shard = shard;
  r.verdict = Verdict::error;
  r.error = std::move(why);
  return r;
}

}  // namespace lv
