#include "adaptive.h"

#include <cmath>
#include <limits>

namespace lv {

bool judged_on_scores(std::string_view r) {
  return r == reason::kConfirmed || r == reason::kOtherClass || r == reason::kLowConfidence ||
         r == reason::kBelowClassThreshold;
}

std::vector<double> class_thresholds(const std::vector<std::vector<float>>& probs, const std::vector<int>& labels,
                                     size_t classes) {
  std::vector<double> sum(classes, 0.0);
  std::vector<int64_t> count(classes, 0);
  for (size_t i = 0; i < probs.size() && i < labels.size(); ++i) {
    const int j = labels[i];
    if (j < 0 || static_cast<size_t>(j) >= classes || static_cast<size_t>(j) >= probs[i].size()) continue;
    sum[static_cast<size_t>(j)] += probs[i][static_cast<size_t>(j)];
    ++count[static_cast<size_t>(j)];
  }
  std::vector<double> t(classes, std::numeric_limits<double>::quiet_NaN());
  for (size_t j = 0; j < classes; ++j)
    if (count[j] > 0) t[j] = sum[j] / static_cast<double>(count[j]);
  return t;
}

BoxResult judge_adaptive(const std::vector<float>& probs, int label, const std::vector<bool>& covered,
                         const Config::Verification& v, const std::vector<double>& thresholds) {
  BoxResult r = judge_classification(probs, label, covered, v);
  if (!judged_on_scores(r.reason) || r.verdict == Verdict::mislabeled) return r;
  const auto passes = [&](size_t j) { return j < thresholds.size() && probs[j] >= thresholds[j]; };  // NaN: false
  int confident = -1;
  for (size_t j = 0; j < probs.size(); ++j)
    if (j < covered.size() && covered[j] && passes(j) &&
        (confident < 0 || probs[j] > probs[static_cast<size_t>(confident)]))
      confident = static_cast<int>(j);
  const auto l = static_cast<size_t>(label);  // judged_on_scores: the label is covered, in range
  if (confident >= 0 && confident != label && !passes(l)) {
    r.verdict = Verdict::mislabeled;
    r.reason = reason::kBelowClassThreshold;
    r.suggested = confident;
  } else if (r.verdict != Verdict::correct && l < thresholds.size() && r.label_prob >= thresholds[l]) {
    r.verdict = Verdict::correct;
    r.reason = reason::kConfirmed;
  }
  return r;
}

}  // namespace lv
