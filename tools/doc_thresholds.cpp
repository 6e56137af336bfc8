#include "doc_thresholds.h"

#include <cmath>

#include <fmt/core.h>

#include "doc_dataset.h"
#include "error.h"
#include "verdict.h"

namespace lv::demo {

ThresholdChoice choose_thresholds(const std::vector<std::vector<float>>& probs, const std::vector<int>& true_labels,
                                  double noise, uint64_t seed, double max_uncertain) {
  if (probs.empty() || probs.size() != true_labels.size())
    throw usage_error(fmt::format("choose_thresholds: {} probability rows for {} labels", probs.size(), true_labels.size()));
  const int num_classes = static_cast<int>(probs[0].size());
  const std::vector<int> given = swap_labels(true_labels, num_classes, noise, seed, 4);
  const std::vector<bool> covered(static_cast<size_t>(num_classes), true);

  // The baseline does not depend on the thresholds.
  std::vector<std::vector<double>> probs64;
  for (const auto& row : probs) probs64.emplace_back(row.begin(), row.end());
  const std::vector<bool> issues = confident_learning_issues(probs64, given);
  DetectionScore baseline;
  int64_t swapped = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const bool s = given[i] != true_labels[i];
    swapped += s ? 1 : 0;
    if (issues[i] && s) ++baseline.true_positives;
    else if (issues[i]) ++baseline.false_positives;
    else if (s) ++baseline.false_negatives;
  }

  std::vector<ThresholdChoice> candidates;
  for (const double ct : {0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5}) {
    for (const double mt : {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}) {
      Config::Verification v;
      v.correct_threshold = ct;
      v.mislabel_threshold = mt;
      ThresholdChoice c;
      c.correct_threshold = ct;
      c.mislabel_threshold = mt;
      c.docs = static_cast<int64_t>(probs.size());
      c.swapped = swapped;
      c.confident_learning = baseline;
      int64_t uncertain = 0, suggested_right = 0;
      for (size_t i = 0; i < probs.size(); ++i) {
        const BoxResult r = judge_classification(probs[i], given[i], covered, v);
        const bool s = given[i] != true_labels[i];
        if (r.verdict == Verdict::mislabeled) {
          if (s) {
            ++c.verifier.true_positives;
            if (r.suggested == true_labels[i]) ++suggested_right;
          } else {
            ++c.verifier.false_positives;
          }
        } else {
          if (s) ++c.verifier.false_negatives;
          if (r.verdict == Verdict::uncertain) ++uncertain;
        }
      }
      c.uncertain_share = static_cast<double>(uncertain) / static_cast<double>(c.docs);
      c.suggested_accuracy = c.verifier.true_positives > 0
                                 ? static_cast<double>(suggested_right) / static_cast<double>(c.verifier.true_positives)
                                 : 0.0;
      candidates.push_back(c);
    }
  }
  // Best F1 within the uncertain budget; when no pair keeps to it, the least uncertain pair.
  const ThresholdChoice* best = nullptr;
  for (const auto& c : candidates) {
    if (c.uncertain_share > max_uncertain) continue;
    if (!best || c.verifier.f1() > best->verifier.f1() + 1e-12 ||
        (std::abs(c.verifier.f1() - best->verifier.f1()) <= 1e-12 && c.uncertain_share < best->uncertain_share))
      best = &c;
  }
  if (!best)
    for (const auto& c : candidates)
      if (!best || c.uncertain_share < best->uncertain_share) best = &c;
  return *best;
}

}  // namespace lv::demo
