#pragma once
/// Choosing the verify task's thresholds (verification.correct_threshold and
/// mislabel_threshold) for the text demo on documents the scored test set does not hold:
/// labels swapped as make_doc_dataset swaps them, each document judged by the worker's own
/// rule (judge_classification), the pair with the best mislabeled F1 kept.
#include <cstdint>
#include <vector>

#include "verdict_score.h"

namespace lv::demo {

/// One (correct_threshold, mislabel_threshold) pair and what it gave.
struct ThresholdChoice {
  double correct_threshold = 0.5;
  double mislabel_threshold = 0.8;
  DetectionScore verifier;        ///< mislabeled against the injected swaps
  double uncertain_share = 0;
  double suggested_accuracy = 0;  ///< of the swaps found, suggestion = true class
  DetectionScore confident_learning;  ///< the baseline on the same probabilities and labels
  int64_t docs = 0, swapped = 0;  ///< documents judged, labels swapped among them
};

/// Swaps round(noise * n) of `true_labels` (swap_labels with `seed`), judges each document's
/// `probs` against its possibly swapped label with judge_classification for every pair of a
/// fixed grid (correct_threshold 0.01 .. 0.5, mislabel_threshold 0.3 .. 0.9), and returns the
/// pair with the highest F1 among those leaving at most `max_uncertain` of the documents
/// uncertain (ties: fewer uncertain, then the lower thresholds; no pair within the budget:
/// the least uncertain pair). Throws lv::Error (usage)
/// when probs and labels differ in number or there are none.
ThresholdChoice choose_thresholds(const std::vector<std::vector<float>>& probs, const std::vector<int>& true_labels,
                                  double noise, uint64_t seed, double max_uncertain);

}  // namespace lv::demo
