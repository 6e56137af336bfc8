#include "adaptive.h"

#include <cmath>
#include <limits>

namespace lv {

bool judged_on_scores(std::string_view r) {
  return r == reason::kConfirmed || r == reason::kOtherClass || r == reason::kLowConfidence;
}

std::vector<double> ClassMeans::thresholds() const {
  std::vector<double> t(sum_.size(), std::numeric_limits<double>::quiet_NaN());
  for (size_t j = 0; j < sum_.size(); ++j)
    if (count_[j] > 0) t[j] = sum_[j] / static_cast<double>(count_[j]);
  return t;
}

std::vector<double> class_thresholds(const std::vector<std::vector<double>>& probs, const std::vector<int>& labels,
                                     size_t classes) {
  ClassMeans means(classes);
  for (size_t i = 0; i < probs.size() && i < labels.size(); ++i) means.add(probs[i], labels[i]);
  return means.thresholds();
}

BoxResult judge_adaptive(const std::vector<float>& probs, int label, const std::vector<bool>& covered,
                         const Config::Verification& v, const std::vector<double>& thresholds) {
  const auto scale = [&](int c) {
    const double t = c >= 0 && static_cast<size_t>(c) < thresholds.size() ? thresholds[static_cast<size_t>(c)] : NAN;
    return std::isnan(t) ? 1.0 : t;
  };
  // The other class the rule would suggest: the most likely covered one (as judge_classification).
  int other = -1;
  for (int c = 0; c < static_cast<int>(probs.size()); ++c)
    if (c != label && static_cast<size_t>(c) < covered.size() && covered[static_cast<size_t>(c)] &&
        (other < 0 || probs[static_cast<size_t>(c)] > probs[static_cast<size_t>(other)]))
      other = c;
  Config::Verification scaled = v;
  scaled.correct_threshold = v.correct_threshold * scale(label);
  scaled.mislabel_threshold = v.mislabel_threshold * scale(other);
  return judge_classification(probs, label, covered, scaled);
}

}  // namespace lv
