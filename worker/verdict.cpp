#include "verdict.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace lv {

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::correct: return "correct";
    case Verdict::mislabeled: return "mislabeled";
    case Verdict::uncertain: return "uncertain";
    case Verdict::error: return "error";
  }
  return "?";
}

std::vector<bool> find_duplicates(const std::vector<Box>& boxes, const std::vector<int>& classes) {
  std::vector<bool> dup(boxes.size(), false);
  for (size_t i = 0; i < boxes.size(); ++i)
    for (size_t j = 0; j < i && !dup[i]; ++j)
      if (!dup[j] && classes[i] == classes[j] && iou(boxes[i], boxes[j]) > kDuplicateIou) dup[i] = true;
  return dup;
}

namespace {

bool is_covered(const std::vector<bool>& covered, int c) {
  return c >= 0 && static_cast<size_t>(c) < covered.size() && covered[static_cast<size_t>(c)];
}

}  // namespace

BoxResult model_output_nan_result() {
  BoxResult r;
  r.verdict = Verdict::uncertain;
  r.reason = reason::kModelOutputNan;
  return r;
}

BoxResult judge_classification(const std::vector<float>& probs, int label, const std::vector<bool>& covered,
                               const Config::Verification& v) {
  // NaN compares false with everything: the argmax below would silently pick class 0.
  if (std::any_of(probs.begin(), probs.end(), [](float p) { return std::isnan(p); })) return model_output_nan_result();
  BoxResult r;
  r.probs = probs;
  int best = -1, best_other = -1;
  for (int c = 0; c < static_cast<int>(probs.size()); ++c) {
    if (!is_covered(covered, c)) continue;
    if (best < 0 || probs[c] > probs[best]) best = c;
    if (c != label && (best_other < 0 || probs[c] > probs[best_other])) best_other = c;
  }
  r.predicted = best;
  r.confidence = best >= 0 ? probs[best] : 0.0f;
  r.label_prob = label >= 0 && label < static_cast<int>(probs.size()) ? probs[label] : 0.0f;
  if (!is_covered(covered, label)) {
    r.reason = reason::kNotInModel;
  } else if (r.label_prob >= v.correct_threshold) {
    r.verdict = Verdict::correct;
    r.reason = reason::kConfirmed;
  } else if (best_other >= 0 && probs[best_other] >= v.mislabel_threshold) {
    r.verdict = Verdict::mislabeled;
    r.reason = reason::kOtherClass;
    r.suggested = best_other;
  } else {
    r.reason = reason::kLowConfidence;
  }
  return r;
}

DetectionJudgement judge_detections(const std::vector<Box>& labels, const std::vector<int>& classes,
                                    const std::vector<bool>& duplicate, const std::vector<Detection>& dets,
                                    const std::vector<bool>& covered, const Config::Verification& v) {
  const size_t nl = labels.size(), nd = dets.size();
  DetectionJudgement out;
  out.boxes.resize(nl);
  std::vector<bool> label_done(nl, false), det_used(nd, false);
  std::vector<std::vector<double>> overlap(nl, std::vector<double>(nd, 0.0));
  for (size_t i = 0; i < nl; ++i)
    for (size_t j = 0; j < nd; ++j) overlap[i][j] = iou(labels[i], dets[j].box);

  for (size_t i = 0; i < nl; ++i) {
    BoxResult& r = out.boxes[i];
    for (size_t j = 0; j < nd; ++j)
      if (overlap[i][j] >= v.iou_threshold && dets[j].cls == classes[i]) r.label_prob = std::max(r.label_prob, dets[j].score);
    if (duplicate[i]) {
      r.reason = reason::kDuplicate;
      label_done[i] = true;
    } else if (!is_covered(covered, classes[i])) {
      r.reason = reason::kNotInModel;
      label_done[i] = true;
    }
  }

  // One phase: candidate pairs accepted by `accept`, ordered by `key` (largest first), then
  // assigned greedily so that every label and every prediction is used at most once.
  struct Pair {
    double k1, k2;
    size_t label, det;
  };
  auto phase = [&](auto accept, auto key, auto assign) {
    std::vector<Pair> pairs;
    for (size_t i = 0; i < nl; ++i) {
      if (label_done[i]) continue;
      for (size_t j = 0; j < nd; ++j) {
        if (det_used[j] || overlap[i][j] < v.iou_threshold || !accept(i, j)) continue;
        const auto [k1, k2] = key(i, j);
        pairs.push_back({k1, k2, i, j});
      }
    }
    std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
      return std::tie(a.k1, a.k2) > std::tie(b.k1, b.k2);
    });
    for (const Pair& p : pairs) {
      if (label_done[p.label] || det_used[p.det]) continue;
      label_done[p.label] = det_used[p.det] = true;
      BoxResult& r = out.boxes[p.label];
      const Detection& d = dets[p.det];
      r.matched = static_cast<int>(p.det);
      r.predicted = d.cls;
      r.confidence = d.score;
      r.probs = d.probs;
      assign(r, d);
    }
  };
  phase([&](size_t i, size_t j) { return dets[j].cls == classes[i] && dets[j].score >= v.correct_threshold; },
        [&](size_t i, size_t j) { return std::pair<double, double>(overlap[i][j], dets[j].score); },
        [](BoxResult& r, const Detection&) {
          r.verdict = Verdict::correct;
          r.reason = reason::kConfirmed;
        });
  phase([&](size_t i, size_t j) { return dets[j].cls != classes[i] && dets[j].score >= v.mislabel_threshold; },
        [&](size_t i, size_t j) { return std::pair<double, double>(dets[j].score, overlap[i][j]); },
        [](BoxResult& r, const Detection& d) {
          r.verdict = Verdict::mislabeled;
          r.reason = reason::kOtherClass;
          r.suggested = d.cls;
        });
  phase([](size_t, size_t) { return true; },
        [&](size_t i, size_t j) { return std::pair<double, double>(overlap[i][j], dets[j].score); },
        [](BoxResult& r, const Detection&) {
          r.verdict = Verdict::uncertain;
          r.reason = reason::kLowConfidence;
        });
  for (size_t i = 0; i < nl; ++i)
    if (!label_done[i]) out.boxes[i].reason = reason::kNotDetected;

  for (size_t j = 0; j < nd; ++j) {
    if (det_used[j] || dets[j].score < v.missing_threshold || !is_covered(covered, dets[j].cls)) continue;
    bool near_label = false;
    for (size_t i = 0; i < nl && !near_label; ++i) near_label = overlap[i][j] >= v.iou_threshold;
    if (!near_label) out.missing.push_back(dets[j]);
  }
  return out;
}

Verdict image_verdict(const std::vector<BoxResult>& boxes, bool any_missing, bool any_label_errors) {
  bool uncertain = any_missing || any_label_errors;
  for (const auto& b : boxes) {
    if (b.verdict == Verdict::mislabeled) return Verdict::mislabeled;
    if (b.verdict != Verdict::correct) uncertain = true;
  }
  return uncertain ? Verdict::uncertain : Verdict::correct;
}

}  // namespace lv
