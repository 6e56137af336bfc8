#pragma once
/// The adaptive policy (verification.policy: adaptive): per-class thresholds taken from the
/// run's own probabilities, as confident learning computes them (Northcutt et al. 2021), on
/// top of the fixed classifier rule. Torch-free; the whole run's boxes are needed, so the
/// worker applies it after the merge (image_worker --finalize, finalize.h).
#include <string_view>
#include <vector>

#include "config.h"
#include "verdict.h"

namespace lv {

namespace reason {
/// adaptive: the label's probability is below its class's threshold while another class's
/// reaches its own (the suggested class).
inline constexpr const char* kBelowClassThreshold = "below_class_threshold";
}  // namespace reason

/// Whether a box with this reason was judged on its class scores alone (label_confirmed,
/// other_class, low_confidence, below_class_threshold), so the adaptive policy may judge it
/// again. Duplicates, NaN scores and labels no model class covers keep their verdict.
bool judged_on_scores(std::string_view reason);

/// t_j = the mean of p_j over the boxes labelled j (`probs[i]` one score per dataset class,
/// `labels[i]` its label); NaN for a class no box is labelled with. Boxes whose label is out
/// of range of their scores are left out.
std::vector<double> class_thresholds(const std::vector<std::vector<float>>& probs, const std::vector<int>& labels,
                                     size_t classes);

/// The adaptive verdict on a box: the fixed rule (judge_classification) first; a box it
/// calls mislabeled stays so. Then, with the confident class c = the most likely covered
/// class whose score reaches its threshold t_c:
///  - mislabeled (below_class_threshold, suggested c) when c exists, c != label and
///    p(label) < t_label;
///  - correct (label_confirmed) when p(label) >= min(correct_threshold, t_label);
///  - else what the fixed rule said.
/// NaN thresholds never pass. `thresholds` has one entry per dataset class.
BoxResult judge_adaptive(const std::vector<float>& probs, int label, const std::vector<bool>& covered,
                         const Config::Verification& v, const std::vector<double>& thresholds);

}  // namespace lv
