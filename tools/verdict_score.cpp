#include "verdict_score.h"

#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <utility>

#include <fmt/core.h>

#include "adaptive.h"
#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"

namespace lv::demo {

using nlohmann::json;

namespace {

Error bad_input(const std::string& message) { return Error(ExitCode::input_unreadable, message); }

double ratio(int64_t num, int64_t den) { return den > 0 ? static_cast<double>(num) / static_cast<double>(den) : 0.0; }

/// The integer field `key` of `j`, or throws naming `where`.
int int_field(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) throw bad_input(fmt::format("{}: \"{}\" is missing or not an integer", where, key));
  return it->get<int>();
}

/// The [x, y, w, h] pixel box `key` of `j`.
PixelBox pixel_box(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->size() != 4)
    throw bad_input(fmt::format("{}: \"{}\" is missing or not [x, y, w, h]", where, key));
  PixelBox b{};
  for (size_t i = 0; i < 4; ++i) {
    if (!(*it)[i].is_number()) throw bad_input(fmt::format("{}: \"{}\" holds a non-number", where, key));
    b[i] = (*it)[i].get<double>();
  }
  if (b[2] <= 0 || b[3] <= 0) throw bad_input(fmt::format("{}: \"{}\" has no area", where, key));
  return b;
}

// The demo's targets (issue 4), printed beside the figures.
constexpr double kTargetPrecision = 0.90;
constexpr double kTargetRecall = 0.85;
constexpr double kTargetSuggested = 0.95;
constexpr double kTargetUncertain = 0.10;

}  // namespace

std::string format_target_row(std::string_view name, double value, std::string_view target, bool ok) {
  return fmt::format("  {:<34} {:>6.3f}   {:<22} {}\n", name, value, target, ok ? "ok" : "BELOW TARGET");
}

double DetectionScore::precision() const { return ratio(true_positives, true_positives + false_positives); }
double DetectionScore::recall() const { return ratio(true_positives, true_positives + false_negatives); }
double DetectionScore::f1() const {
  const double p = precision(), r = recall();
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double VerdictScore::suggested_accuracy() const { return ratio(suggested_right, verifier.true_positives); }
double VerdictScore::uncertain_share() const { return ratio(uncertain, boxes); }
double VerdictScore::model_accuracy() const { return ratio(predicted_true, boxes); }

std::vector<TruthBox> read_truth(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw bad_input(fmt::format("{}: cannot open the truth file", file.string()));
  std::vector<TruthBox> out;
  std::map<std::pair<std::string, int>, int> seen;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const std::string where = fmt::format("{}:{}", file.string(), n);
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw bad_input(fmt::format("{}: not a JSON object", where));
    TruthBox t;
    const auto image = j.find("image");
    if (image == j.end() || !image->is_string()) throw bad_input(fmt::format("{}: \"image\" is missing or not a string", where));
    t.image = image->get<std::string>();
    const auto noise = j.find("noise");
    if (noise != j.end()) {
      const auto kind = noise->is_string() ? parse_label_noise(noise->get<std::string>()) : std::nullopt;
      if (!kind || *kind == LabelNoise::none || *kind == LabelNoise::class_swap)
        throw bad_input(fmt::format("{}: \"noise\" is {}; expected \"missing\", \"location\", \"spurious\" or "
                                    "\"duplicate\" (a swapped class is told by \"changed\")", where, noise->dump()));
      t.noise = *kind;
    }
    // A garment without a line has no box index and no written class; a spurious box has no
    // garment: no true class and no garment box.
    const bool written = t.noise != LabelNoise::missing, garment = t.noise != LabelNoise::spurious;
    const auto null_or_absent = [&](const char* key) { return !j.contains(key) || j[key].is_null(); };
    t.box = written ? int_field(j, "box", where) : -1;
    if (!written && !null_or_absent("box")) throw bad_input(fmt::format("{}: a missing label has \"box\" null", where));
    t.true_class = garment ? int_field(j, "true_class", where) : -1;
    if (!garment && !null_or_absent("true_class"))
      throw bad_input(fmt::format("{}: a spurious box has \"true_class\" null", where));
    t.written_class = written ? int_field(j, "written_class", where) : -1;
    const auto changed = j.find("changed");
    if (changed == j.end() || !changed->is_boolean()) throw bad_input(fmt::format("{}: \"changed\" is missing or not true/false", where));
    t.changed = changed->get<bool>();
    if (written && garment && t.changed != (t.true_class != t.written_class))
      throw bad_input(fmt::format("{}: \"changed\" is {} but the true and written classes are {} and {}", where,
                                  t.changed, t.true_class, t.written_class));
    if (t.changed && t.noise != LabelNoise::none)
      throw bad_input(fmt::format("{}: \"changed\" is true with \"noise\" {}: one kind of noise a box", where,
                                  to_string(t.noise)));
    if (t.changed) t.noise = LabelNoise::class_swap;
    // Pixel boxes are optional here (the class-swap scorer needs none); the detection scorer
    // asks for those it needs.
    if (garment && !null_or_absent("box_px")) t.true_px = pixel_box(j, "box_px", where);
    if (!null_or_absent("written_px")) t.written_px = pixel_box(j, "written_px", where);
    if (!t.written_px && written) t.written_px = t.true_px;
    if (t.noise == LabelNoise::duplicate) {
      t.duplicate_of = int_field(j, "duplicate_of", where);
      if (t.duplicate_of < 0 || t.duplicate_of >= t.box)
        throw bad_input(fmt::format("{}: \"duplicate_of\" {} is not an earlier line", where, t.duplicate_of));
    }
    if (t.written()) {
      if (const auto [it, fresh] = seen.emplace(std::make_pair(t.image, t.box), n); !fresh)
        throw bad_input(fmt::format("{}: box {} of {} is already on line {}", where, t.box, t.image, it->second));
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<bool> confident_learning_issues(const std::vector<std::vector<double>>& probs, const std::vector<int>& labels,
                                            std::vector<double>* thresholds) {
  const size_t k = probs.empty() ? 0 : probs[0].size();
  std::vector<double> t = lv::class_thresholds(probs, labels, k);

  std::vector<bool> issues(probs.size(), false);
  for (size_t i = 0; i < probs.size(); ++i) {
    int best = -1;
    for (size_t j = 0; j < k; ++j) {
      // A NaN threshold (no box labelled j) never passes.
      if (probs[i][j] >= t[j] && (best < 0 || probs[i][j] > probs[i][static_cast<size_t>(best)])) best = static_cast<int>(j);
    }
    issues[i] = best >= 0 && best != labels[i];
  }
  if (thresholds) *thresholds = std::move(t);
  return issues;
}

VerdictScore score_verdicts(const json& report, const std::vector<TruthBox>& truth, const std::string& report_name) {
  if (!report.is_object() || !report.contains("images") || !report["images"].is_array())
    throw bad_input(fmt::format("{}: not a verification report (no \"images\" list)", report_name));

  std::map<std::pair<std::string, int>, const TruthBox*> by_box;
  for (const auto& t : truth) by_box[{t.image, t.box}] = &t;

  VerdictScore s;
  s.has_probabilities = true;
  const auto policy = report.find("policy");
  const bool adaptive = policy != report.end() && policy->is_object() && policy->value("name", "") == "adaptive";
  if (adaptive) s.fixed_rule.emplace();
  std::vector<std::vector<double>> probs;
  std::vector<int> labels;
  std::vector<bool> changed;
  size_t num_classes = 0;
  int64_t matched = 0;

  for (const auto& image : report["images"]) {
    const auto path_it = image.find("path");
    if (path_it == image.end() || !path_it->is_string())
      throw bad_input(fmt::format("{}: an image without a \"path\"", report_name));
    const std::string path = lv::get_bytes_field(image, "path");  // a name that is not UTF-8 is escaped
    const auto boxes = image.find("boxes");
    if (boxes == image.end() || !boxes->is_array()) continue;  // an item that failed: its boxes count as missing
    bool any = false;
    int position = 0;
    for (const auto& box : *boxes) {
      const std::string where = fmt::format("{}: {}: boxes[{}]", report_name, path, position++);
      const int index = int_field(box, "index", where);
      const auto found = by_box.find({path, index});
      if (found == by_box.end())
        throw bad_input(fmt::format("{}: not in the truth file (report and truth of different datasets?)", where));
      const TruthBox& t = *found->second;
      const int label = int_field(box, "label", where);
      if (label != t.written_class)
        throw bad_input(fmt::format("{}: label {} but the truth file wrote class {} (report and truth of different "
                                    "datasets?)", where, label, t.written_class));
      const std::string verdict = box.value("verdict", "");
      const bool flagged = verdict == "mislabeled";
      if (adaptive) {
        // The fixed rule's verdict on the same scores: "fixed" where the policy changed it.
        const auto fixed = box.find("fixed");
        const bool fixed_flagged =
            fixed != box.end() && fixed->is_object() ? fixed->value("verdict", "") == "mislabeled" : flagged;
        DetectionScore& f = *s.fixed_rule;
        if (fixed_flagged && t.changed) ++f.true_positives;
        else if (fixed_flagged) ++f.false_positives;
        else if (t.changed) ++f.false_negatives;
      }
      if (verdict == "correct") ++s.correct;
      else if (flagged) ++s.mislabeled;
      else if (verdict == "uncertain") ++s.uncertain;
      else throw bad_input(fmt::format("{}: unknown verdict '{}'", where, verdict));

      ++s.boxes;
      ++matched;
      any = true;
      if (t.changed) ++s.changed;
      const auto predicted = box.find("predicted");
      if (predicted != box.end() && predicted->is_number_integer() && predicted->get<int>() == t.true_class) ++s.predicted_true;
      if (flagged && t.changed) {
        ++s.verifier.true_positives;
        const auto sug = box.find("suggested");
        if (sug != box.end() && sug->is_number_integer() && sug->get<int>() == t.true_class) ++s.suggested_right;
      } else if (flagged) {
        ++s.verifier.false_positives;
      } else if (t.changed) {
        ++s.verifier.false_negatives;
        if (verdict == "uncertain") ++s.changed_uncertain;
        else ++s.changed_correct;
      }

      const auto p = box.find("probabilities");
      if (p == box.end() || !p->is_array()) {
        s.has_probabilities = false;
        continue;
      }
      std::vector<double> row;
      for (const auto& v : *p) {
        if (!v.is_number()) throw bad_input(fmt::format("{}: \"probabilities\" holds a non-number", where));
        row.push_back(v.get<double>());
      }
      if (num_classes == 0) num_classes = row.size();
      if (row.size() != num_classes || label < 0 || static_cast<size_t>(label) >= row.size())
        throw bad_input(fmt::format("{}: {} probabilities for label {}; earlier boxes had {}", where, row.size(), label,
                                    num_classes));
      probs.push_back(std::move(row));
      labels.push_back(label);
      changed.push_back(t.changed);
    }
    if (any) ++s.images;
  }
  s.missing_from_report = static_cast<int64_t>(truth.size()) - matched;

  if (s.has_probabilities && !probs.empty()) {
    const std::vector<bool> issues = confident_learning_issues(probs, labels, &s.cl_thresholds);
    for (size_t i = 0; i < issues.size(); ++i) {
      if (issues[i] && changed[i]) ++s.confident_learning.true_positives;
      else if (issues[i]) ++s.confident_learning.false_positives;
      else if (changed[i]) ++s.confident_learning.false_negatives;
    }
  } else {
    s.has_probabilities = false;
  }
  return s;
}

std::string format_score(const VerdictScore& s, const Timing& timing) {
  std::string out;
  out += fmt::format("scored {} boxes in {} images; {} labels were changed ({:.1f} %)\n", s.boxes, s.images, s.changed,
                     100.0 * ratio(s.changed, s.boxes));
  if (s.missing_from_report > 0)
    out += fmt::format("warning: {} boxes of the truth file are not in the report (partial run?); not scored\n",
                       s.missing_from_report);
  out += fmt::format("verdicts: correct {}, mislabeled {}, uncertain {}\n", s.correct, s.mislabeled, s.uncertain);
  out += fmt::format("model alone: its predicted class is the true class for {:.1f} % of the boxes\n",
                     100.0 * s.model_accuracy());
  out += fmt::format("  {:<34} {:>6}   {}\n", "figure", "value", "target");
  auto row = [&](const std::string& name, double v, const std::string& target, bool ok) {
    out += format_target_row(name, v, target, ok);
  };
  const auto& v = s.verifier;
  row("mislabeled precision", v.precision(), fmt::format(">= {:.2f}", kTargetPrecision), v.precision() >= kTargetPrecision);
  row("mislabeled recall", v.recall(), fmt::format(">= {:.2f}", kTargetRecall), v.recall() >= kTargetRecall);
  if (s.has_probabilities)
    row("mislabeled F1", v.f1(), fmt::format("> {:.3f} (baseline)", s.confident_learning.f1()),
        v.f1() > s.confident_learning.f1());
  else
    out += fmt::format("  {:<34} {:>6.3f}   (no probabilities in the report: no baseline)\n", "mislabeled F1", v.f1());
  row("suggested class accuracy", s.suggested_accuracy(), fmt::format(">= {:.2f}", kTargetSuggested),
      s.suggested_accuracy() >= kTargetSuggested);
  row("uncertain share of boxes", s.uncertain_share(), fmt::format("<= {:.2f}", kTargetUncertain),
      s.uncertain_share() <= kTargetUncertain);
  out += fmt::format("  counts: {} found, {} false alarms, {} missed ({} left uncertain, {} called correct)\n",
                     v.true_positives, v.false_positives, v.false_negatives, s.changed_uncertain, s.changed_correct);
  if (s.fixed_rule) {
    const auto& f = *s.fixed_rule;
    out += fmt::format("policy adaptive; the fixed rule on the same run: precision {:.3f}, recall {:.3f}, F1 {:.3f} "
                       "({} found, {} false alarms, {} missed)\n",
                       f.precision(), f.recall(), f.f1(), f.true_positives, f.false_positives, f.false_negatives);
  }
  if (s.has_probabilities) {
    const auto& c = s.confident_learning;
    out += fmt::format("baseline, confident learning on the same probabilities: precision {:.3f}, recall {:.3f}, "
                       "F1 {:.3f} ({} found, {} false alarms, {} missed)\n",
                       c.precision(), c.recall(), c.f1(), c.true_positives, c.false_positives, c.false_negatives);
  }
  if (timing.seconds) {
    out += fmt::format("run time {:.1f} s, {:.1f} images/s\n", *timing.seconds,
                       *timing.seconds > 0 ? static_cast<double>(s.images) / *timing.seconds : 0.0);
  }
  return out;
}

json score_to_json(const VerdictScore& s, const Timing& timing) {
  auto detection = [](const DetectionScore& d) {
    return json{{"true_positives", d.true_positives}, {"false_positives", d.false_positives},
                {"false_negatives", d.false_negatives}, {"precision", d.precision()},
                {"recall", d.recall()}, {"f1", d.f1()}};
  };
  json j = {{"images", s.images},
            {"boxes", s.boxes},
            {"changed", s.changed},
            {"missing_from_report", s.missing_from_report},
            {"verdicts", {{"correct", s.correct}, {"mislabeled", s.mislabeled}, {"uncertain", s.uncertain}}},
            {"mislabeled", detection(s.verifier)},
            {"model_accuracy", s.model_accuracy()},
            {"suggested_accuracy", s.suggested_accuracy()},
            {"uncertain_share", s.uncertain_share()},
            {"changed_left_uncertain", s.changed_uncertain},
            {"changed_called_correct", s.changed_correct}};
  if (s.has_probabilities) {
    json t = json::array();
    for (double x : s.cl_thresholds) t.push_back(std::isnan(x) ? json(nullptr) : json(x));
    j["confident_learning"] = detection(s.confident_learning);
    j["confident_learning"]["thresholds"] = std::move(t);
  } else {
    j["confident_learning"] = nullptr;
  }
  j["policy"] = s.fixed_rule ? "adaptive" : "fixed";
  if (s.fixed_rule) j["fixed_rule"] = detection(*s.fixed_rule);
  if (timing.seconds) {
    j["seconds"] = *timing.seconds;
    j["images_per_s"] = *timing.seconds > 0 ? static_cast<double>(s.images) / *timing.seconds : 0.0;
  }
  j["targets"] = {{"precision", kTargetPrecision}, {"recall", kTargetRecall},
                  {"suggested_accuracy", kTargetSuggested}, {"uncertain_share", kTargetUncertain}};
  return j;
}

PolicyScores policy_scores(const std::string& name, const VerdictScore& score) {
  if (!score.fixed_rule)
    throw Error(ExitCode::usage, fmt::format("{}: the report is not of verification.policy adaptive: it holds the "
                                             "fixed rule's verdicts only",
                                             name));
  return PolicyScores{name, score.verifier, *score.fixed_rule};
}

std::string format_policy_table(const std::vector<PolicyScores>& rows) {
  const auto cells = [](const DetectionScore& d) {
    return fmt::format("{:>6.3f} {:>6.3f} {:>6.3f}", d.precision(), d.recall(), d.f1());
  };
  std::string out = fmt::format("  {:<26} {:^20}   {:^20}\n", "", "fixed rule", "adaptive");
  out += fmt::format("  {:<26} {:>6} {:>6} {:>6}   {:>6} {:>6} {:>6}\n", "dataset", "P", "R", "F1", "P", "R", "F1");
  for (const PolicyScores& r : rows) out += fmt::format("  {:<26} {}   {}\n", r.name, cells(r.fixed), cells(r.adaptive));
  if (rows.size() < 2) return out;
  const auto worst = [&](DetectionScore PolicyScores::*policy) {
    const PolicyScores* w = &rows[1];
    for (size_t i = 2; i < rows.size(); ++i)
      if ((rows[i].*policy).f1() < (w->*policy).f1()) w = &rows[i];
    return w;
  };
  const PolicyScores* wf = worst(&PolicyScores::fixed);
  const PolicyScores* wa = worst(&PolicyScores::adaptive);
  out += fmt::format("  {:<26} {}   {}\n", "worst shifted case", cells(wf->fixed), cells(wa->adaptive));
  out += fmt::format("  (worst: fixed rule on {}, adaptive on {}; the demo's own scenes: fixed F1 {:.3f}, adaptive "
                     "F1 {:.3f})\n",
                     wf->name, wa->name, rows[0].fixed.f1(), rows[0].adaptive.f1());
  return out;
}

nlohmann::json read_report_file(const std::string& path) {
  nlohmann::json report = nlohmann::json::parse(read_file(path), nullptr, false);
  if (report.is_discarded()) throw Error(ExitCode::input_unreadable, fmt::format("{}: not valid JSON", path));
  return report;
}

void print_figures(const std::string& text, const nlohmann::json& json, const std::string& json_path) {
  const std::string dumped = json.dump(2) + "\n";
  if (json_path == "-") {
    std::cout << dumped;
    return;
  }
  std::cout << text;
  if (!json_path.empty()) write_file_atomic(json_path, dumped);
}

}  // namespace lv::demo
