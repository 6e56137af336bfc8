#pragma once
/// The adaptive policy (verification.policy: adaptive): the classifier rule with per-class
/// thresholds taken from the run's own scores. t_j, the mean score the model gives the boxes
/// labelled j in this run, is confident learning's per-class threshold (Northcutt et al.
/// 2021); a class the model finds hard in this data (t_j low: other backgrounds, other box
/// fits) needs proportionally less to be confirmed or suggested. Torch-free; it needs the
/// whole run's boxes, so the worker applies it after the merge (image_worker --finalize).
#include <cstdint>
#include <string_view>
#include <vector>

#include "config.h"
#include "verdict.h"

namespace lv {

/// Whether a box with this reason was judged on its class scores alone (label_confirmed,
/// other_class, low_confidence), so the adaptive policy judges it again. Duplicates, NaN
/// scores and labels no model class covers keep their verdict.
bool judged_on_scores(std::string_view reason);

/// t_j accumulated one box at a time (a run's boxes need not be held).
class ClassMeans {
 public:
  explicit ClassMeans(size_t classes) : sum_(classes, 0.0), count_(classes, 0) {}
  /// One box: its scores, one per dataset class, and its label. A label out of range of
  /// either is left out.
  template <typename Scores>
  void add(const Scores& probs, int label) {
    if (label < 0 || static_cast<size_t>(label) >= sum_.size() || static_cast<size_t>(label) >= probs.size()) return;
    sum_[static_cast<size_t>(label)] += probs[static_cast<size_t>(label)];
    ++count_[static_cast<size_t>(label)];
  }
  /// t_j per class; NaN for a class no box was labelled with.
  std::vector<double> thresholds() const;

 private:
  std::vector<double> sum_;
  std::vector<int64_t> count_;
};

/// t_j = the mean of p_j over the boxes labelled j (`probs[i]` one score per dataset class,
/// `labels[i]` its label); NaN for a class no box is labelled with. Boxes whose label is out
/// of range of their scores are left out.
std::vector<double> class_thresholds(const std::vector<std::vector<double>>& probs, const std::vector<int>& labels,
                                     size_t classes);

/// judge_classification with correct_threshold x t_label and mislabel_threshold x t_c for the
/// most likely other class c (a NaN t_j counts as 1: the fixed threshold). `thresholds` has
/// one entry per dataset class.
BoxResult judge_adaptive(const std::vector<float>& probs, int label, const std::vector<bool>& covered,
                         const Config::Verification& v, const std::vector<double>& thresholds);

}  // namespace lv
