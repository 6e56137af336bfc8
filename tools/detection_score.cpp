#include "detection_score.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include <fmt/core.h>

#include "byte_text.h"
#include "error.h"
#include "geometry.h"

namespace lv::demo {

using nlohmann::json;

namespace {

Error bad_input(const std::string& message) { return Error(ExitCode::input_unreadable, message); }

// The detector demo's targets (issue 9); spurious and duplicate have none (kNone: printed as "-").
struct Target {
  double precision, recall;
};
constexpr double kNone = -1;
constexpr double kTargetMap = 0.80;

Target target_of(LabelNoise kind) {
  switch (kind) {
    case LabelNoise::class_swap: return {0.85, 0.80};
    case LabelNoise::missing: return {0.80, 0.80};
    case LabelNoise::location: return {0.75, 0.70};
    default: return {kNone, kNone};
  }
}

const char* title_of(LabelNoise kind) {
  switch (kind) {
    case LabelNoise::class_swap: return "wrong class";
    case LabelNoise::missing: return "missing label";
    case LabelNoise::location: return "bad location";
    case LabelNoise::spurious: return "spurious box";
    case LabelNoise::duplicate: return "duplicate box";
    default: return "none";
  }
}

// The kinds scored, in the order printed, with the report entry that flags each.
constexpr std::pair<LabelNoise, const char*> kScoredKinds[] = {
    {LabelNoise::class_swap, "other_class"}, {LabelNoise::missing, "missing"},     {LabelNoise::location, "bad_location"},
    {LabelNoise::spurious, "spurious"},      {LabelNoise::duplicate, "duplicate"},
};

// Two boxes are the same object at this IoU (mAP, and a "missing" entry finding a garment).
constexpr double kMatchIou = 0.5;

Box from_pixels(const PixelBox& p) { return {p[0], p[1], p[0] + p[2], p[1] + p[3]}; }

/// The normalised [cx, cy, w, h] `key` of `j` in pixels of a `w` x `h` image; nothing when
/// absent or null.
std::optional<Box> yolo_box(const json& j, const char* key, int w, int h, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_array() || it->size() != 4) throw bad_input(fmt::format("{}: \"{}\" is not [cx, cy, w, h]", where, key));
  double v[4];
  for (size_t i = 0; i < 4; ++i) {
    if (!(*it)[i].is_number()) throw bad_input(fmt::format("{}: \"{}\" holds a non-number", where, key));
    v[i] = (*it)[i].get<double>();
  }
  return from_yolo(v[0], v[1], v[2], v[3], w, h);
}

int int_of(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer())
    throw bad_input(fmt::format("{}: \"{}\" is missing or not an integer", where, key));
  return it->get<int>();
}

double number_of(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) throw bad_input(fmt::format("{}: \"{}\" is missing or not a number", where, key));
  return it->get<double>();
}

const json* list_of(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_array() ? &*it : nullptr;
}

/// The garment box of truth entry `t`, which the score needs; throws naming the truth file's
/// entry when it lacks one (a truth file made before pixel boxes were recorded).
Box garment_box(const TruthBox& t) {
  if (!t.true_px)
    throw bad_input(fmt::format("truth entry of {} box {}: no \"box_px\" (a truth file made by an older "
                                "make_demo_dataset?)", t.image, t.box));
  return from_pixels(*t.true_px);
}

}  // namespace

const NoiseKindScore& DetectorScore::of(LabelNoise kind) const {
  for (const auto& k : kinds)
    if (k.kind == kind) return k;
  throw Error(ExitCode::failed, fmt::format("no score for noise kind {}", to_string(kind)));
}

DetectorScore score_detector_verdicts(const json& report, const std::vector<TruthBox>& truth, const std::string& report_name,
                                      int num_classes) {
  if (!report.is_object() || !report.contains("images") || !report["images"].is_array())
    throw bad_input(fmt::format("{}: not a verification report (no \"images\" list)", report_name));

  std::map<std::pair<std::string, int>, const TruthBox*> by_box;
  std::map<std::string, std::vector<const TruthBox*>> by_image;
  for (const auto& t : truth) {
    if (t.written()) by_box[{t.image, t.box}] = &t;
    by_image[t.image].push_back(&t);
  }

  DetectorScore s;
  std::map<LabelNoise, NoiseKindScore*> kind;
  for (const auto& [k, flag] : kScoredKinds) {
    NoiseKindScore n;
    n.kind = k;
    n.flag = flag;
    s.kinds.push_back(n);
  }
  for (auto& k : s.kinds) kind[k.kind] = &k;
  std::set<std::string> seen;
  std::vector<TruthObject> objects;
  std::vector<ScoredDetection> detections;

  for (const auto& image : report["images"]) {
    const auto path_it = image.find("path");
    if (path_it == image.end() || !path_it->is_string())
      throw bad_input(fmt::format("{}: an image without a \"path\"", report_name));
    const std::string path = lv::get_bytes_field(image, "path");
    seen.insert(path);
    const json* boxes = list_of(image, "boxes");
    if (!boxes || image.value("verdict", "") == "error") {
      ++s.error_images;  // an item that failed: nothing of it is scored
      continue;
    }
    const std::string where_image = fmt::format("{}: {}", report_name, path);
    const int w = int_of(image, "width", where_image), h = int_of(image, "height", where_image);
    ++s.images;
    const auto entries = by_image.find(path);
    static const std::vector<const TruthBox*> kNoEntries;
    const std::vector<const TruthBox*>& truths = entries != by_image.end() ? entries->second : kNoEntries;

    // Label boxes: each flag against the box's own noise.
    int position = 0;
    for (const auto& box : *boxes) {
      const std::string where = fmt::format("{}: boxes[{}]", where_image, position++);
      const int index = int_of(box, "index", where);
      const auto found = by_box.find({path, index});
      if (found == by_box.end())
        throw bad_input(fmt::format("{}: not in the truth file (report and truth of different datasets?)", where));
      const TruthBox& t = *found->second;
      const int label = int_of(box, "label", where);
      if (label != t.written_class)
        throw bad_input(fmt::format("{}: label {} but the truth file wrote class {} (report and truth of different "
                                    "datasets?)", where, label, t.written_class));
      ++s.boxes;
      ++s.verdicts[box.value("verdict", "")];
      const std::string reason = box.value("reason", "");
      ++s.reasons[std::string(to_string(t.noise))][reason.empty() ? "(no reason)" : reason];
      if (const auto k = kind.find(t.noise); k != kind.end()) ++k->second->truth;
      for (auto& k : s.kinds) {
        if (reason != k.flag) continue;
        if (t.noise != k.kind) {
          ++k.flags.false_positives;
          continue;
        }
        ++k.flags.true_positives;
        if (k.kind == LabelNoise::class_swap) {
          const auto sug = box.find("suggested");
          if (sug != box.end() && sug->is_number_integer() && sug->get<int>() == t.true_class) ++k.hint_right;
        } else if (k.kind == LabelNoise::location) {
          const auto suggested = yolo_box(box, "suggested_box", w, h, where);
          if (suggested && iou(*suggested, garment_box(t)) >= kMatchIou) ++k.hint_right;
        }
      }
    }

    // Missing labels: the most confident entries first, each left-out garment found once.
    NoiseKindScore& missing = *kind[LabelNoise::missing];
    std::vector<const TruthBox*> left_out;
    for (const TruthBox* t : truths)
      if (t->noise == LabelNoise::missing) left_out.push_back(t);
    missing.truth += static_cast<int64_t>(left_out.size());
    std::vector<std::pair<double, Box>> flags;
    std::vector<int> flag_classes;
    if (const json* m = list_of(image, "missing")) {
      int n = 0;
      for (const auto& entry : *m) {
        const std::string where = fmt::format("{}: missing[{}]", where_image, n++);
        const auto b = yolo_box(entry, "box", w, h, where);
        if (!b) throw bad_input(fmt::format("{}: no \"box\"", where));
        flags.emplace_back(number_of(entry, "confidence", where), *b);
        flag_classes.push_back(int_of(entry, "class", where));
      }
    }
    std::vector<size_t> order(flags.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return flags[a].first > flags[b].first; });
    std::vector<bool> found(left_out.size(), false);
    for (const size_t f : order) {
      double best = 0;
      int best_garment = -1;
      for (size_t g = 0; g < left_out.size(); ++g) {
        const double o = found[g] ? 0.0 : iou(flags[f].second, garment_box(*left_out[g]));
        if (o >= kMatchIou && o > best) best = o, best_garment = static_cast<int>(g);
      }
      if (best_garment < 0) {
        ++missing.flags.false_positives;
        continue;
      }
      found[static_cast<size_t>(best_garment)] = true;
      ++missing.flags.true_positives;
      if (flag_classes[f] == left_out[static_cast<size_t>(best_garment)]->true_class) ++missing.hint_right;
    }
    for (const bool f : found) ++s.reasons["missing"][f ? "found (missing)" : "not found"];

    // mAP: the predictions against every garment in the scene (left-out ones included; a
    // spurious box and a duplicate line are no garments).
    if (const json* predictions = list_of(image, "predictions")) {
      s.has_predictions = true;
      ++s.map_images;
      for (const TruthBox* t : truths)
        if (t->noise != LabelNoise::spurious && t->noise != LabelNoise::duplicate)
          objects.push_back({path, t->true_class, garment_box(*t)});
      int n = 0;
      for (const auto& p : *predictions) {
        const std::string where = fmt::format("{}: predictions[{}]", where_image, n++);
        const auto b = yolo_box(p, "box", w, h, where);
        if (!b) throw bad_input(fmt::format("{}: no \"box\"", where));
        detections.push_back({path, int_of(p, "class", where), number_of(p, "confidence", where), *b});
      }
    }
  }

  for (auto& k : s.kinds) k.flags.false_negatives = k.truth - k.flags.true_positives;
  for (const auto& t : truth)
    if (t.written() && !seen.count(t.image)) ++s.missing_from_report;
  if (s.has_predictions) s.map = mean_average_precision(objects, detections, num_classes, kMatchIou);
  return s;
}

std::string format_detector_score(const DetectorScore& s, const Timing& timing) {
  std::string out;
  out += fmt::format("scored {} label boxes in {} images", s.boxes, s.images);
  if (s.error_images > 0) out += fmt::format(" ({} images failed, not scored)", s.error_images);
  out += "\n";
  if (s.missing_from_report > 0)
    out += fmt::format("warning: {} label lines of the truth file belong to images the report lacks (partial run?); "
                       "not scored\n",
                       s.missing_from_report);
  out += "verdicts:";
  for (const auto& [verdict, n] : s.verdicts) out += fmt::format(" {} {}", verdict, n);
  out += "\n";
  out += fmt::format("  {:<34} {:>6}   {}\n", "figure", "value", "target");
  for (const auto& k : s.kinds) {
    const Target t = target_of(k.kind);
    const std::string p = fmt::format("{} precision", title_of(k.kind)), r = fmt::format("{} recall", title_of(k.kind));
    if (t.precision == kNone) {
      out += fmt::format("  {:<34} {:>6.3f}   -\n", p, k.flags.precision());
      out += fmt::format("  {:<34} {:>6.3f}   -\n", r, k.flags.recall());
    } else {
      out += format_target_row(p, k.flags.precision(), fmt::format(">= {:.2f}", t.precision),
                               k.flags.precision() >= t.precision);
      out += format_target_row(r, k.flags.recall(), fmt::format(">= {:.2f}", t.recall), k.flags.recall() >= t.recall);
    }
  }
  if (s.has_predictions)
    out += format_target_row("detector mAP@0.5 (all garments)", s.map.map, fmt::format(">= {:.2f}", kTargetMap),
                             s.map.map >= kTargetMap);
  else
    out += "  detector mAP@0.5: the report has no \"predictions\" (set report.include_predictions: true)\n";

  out += "counts (truth / found / false alarms / missed):\n";
  for (const auto& k : s.kinds) {
    out += fmt::format("  {:<14} flagged by {:<13} {:>5} / {:>5} / {:>5} / {:>5}", title_of(k.kind), k.flag, k.truth,
                       k.flags.true_positives, k.flags.false_positives, k.flags.false_negatives);
    if (k.kind == LabelNoise::class_swap)
      out += fmt::format("   suggested class right {}/{}", k.hint_right, k.flags.true_positives);
    else if (k.kind == LabelNoise::location)
      out += fmt::format("   suggested box IoU >= 0.5 {}/{}", k.hint_right, k.flags.true_positives);
    else if (k.kind == LabelNoise::missing)
      out += fmt::format("   class right {}/{}", k.hint_right, k.flags.true_positives);
    out += "\n";
  }
  out += "how each kind of box was judged (reason: count):\n";
  for (const auto& [noise, reasons] : s.reasons) {
    std::vector<std::pair<int64_t, std::string>> sorted;
    for (const auto& [reason, n] : reasons) sorted.emplace_back(-n, reason);
    std::sort(sorted.begin(), sorted.end());
    out += fmt::format("  {:<10}", noise);
    for (const auto& [n, reason] : sorted) out += fmt::format(" {} {},", reason, -n);
    out.back() = '\n';
  }
  if (s.has_predictions) {
    out += fmt::format("AP@0.5 per class ({} images):", s.map_images);
    for (size_t c = 0; c < s.map.per_class.size(); ++c) {
      if (s.map.truths[c] == 0) continue;
      out += fmt::format(" {} {:.3f}", c, s.map.per_class[c]);
    }
    out += "\n";
  }
  if (timing.seconds)
    out += fmt::format("run time {:.1f} s, {:.1f} images/s\n", *timing.seconds,
                       *timing.seconds > 0 ? static_cast<double>(s.images) / *timing.seconds : 0.0);
  return out;
}

json detector_score_to_json(const DetectorScore& s, const Timing& timing) {
  json kinds = json::object();
  for (const auto& k : s.kinds) {
    const Target t = target_of(k.kind);
    json j = {{"flag", k.flag},
              {"truth", k.truth},
              {"true_positives", k.flags.true_positives},
              {"false_positives", k.flags.false_positives},
              {"false_negatives", k.flags.false_negatives},
              {"precision", k.flags.precision()},
              {"recall", k.flags.recall()},
              {"hint_right", k.hint_right}};
    if (t.precision != kNone) j["targets"] = {{"precision", t.precision}, {"recall", t.recall}};
    kinds[std::string(to_string(k.kind))] = std::move(j);
  }
  json j = {{"images", s.images},  {"error_images", s.error_images}, {"boxes", s.boxes},
            {"missing_from_report", s.missing_from_report}, {"verdicts", s.verdicts}, {"reasons", s.reasons},
            {"kinds", std::move(kinds)}};
  if (s.has_predictions) {
    json ap = json::array();
    for (size_t c = 0; c < s.map.per_class.size(); ++c)
      ap.push_back(s.map.truths[c] > 0 ? json(s.map.per_class[c]) : json(nullptr));
    j["map50"] = {{"value", s.map.map}, {"target", kTargetMap}, {"per_class", std::move(ap)}, {"images", s.map_images}};
  } else {
    j["map50"] = nullptr;
  }
  if (timing.seconds) {
    j["seconds"] = *timing.seconds;
    j["images_per_s"] = *timing.seconds > 0 ? static_cast<double>(s.images) / *timing.seconds : 0.0;
  }
  return j;
}

}  // namespace lv::demo
