#pragma once
/// Verdicts on label boxes (issue 3 §5): the classifier rule, detector matching, duplicates,
/// and the image verdict. Torch-free; the inputs are scores per dataset class.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "geometry.h"
#include "labels.h"

namespace lv {

/// An image or box verdict. `unlabeled` is an image's only: it has no label file at all.
enum class Verdict { correct, mislabeled, uncertain, unlabeled, error };

/// "correct", "mislabeled", "uncertain", "unlabeled", "error".
std::string_view to_string(Verdict v);

/// The output folder of a verdict: its name, except that unlabeled images go to "uncertain"
/// (they need a person's look, like every image the verifier cannot vouch for).
std::string_view folder_of(Verdict v);

/// Why a box got its verdict (the report's "reason").
namespace reason {
inline constexpr const char* kConfirmed = "label_confirmed";          ///< p(label) >= correct_threshold
inline constexpr const char* kOtherClass = "other_class";             ///< another class >= mislabel_threshold
inline constexpr const char* kLowConfidence = "low_confidence";       ///< neither
inline constexpr const char* kNotDetected = "not_detected";           ///< detectors: nothing matched, but not clearly background
inline constexpr const char* kBadLocation = "bad_location";           ///< detectors: a confident same-class prediction overlaps only partly
inline constexpr const char* kSpurious = "spurious";                  ///< detectors: no prediction even at background_threshold there
inline constexpr const char* kDuplicate = "duplicate";                ///< same class, IoU > 0.9 with an earlier box
inline constexpr const char* kNotInModel = "label_class_not_in_model";///< no model class maps to the label's class
inline constexpr const char* kModelOutputNan = "model_output_nan";    ///< the model's scores held NaN
}  // namespace reason

/// The verdict on one label box.
struct BoxResult {
  Verdict verdict = Verdict::uncertain;
  std::string reason;
  int predicted = -1;        ///< the most likely dataset class, -1 when none
  float confidence = 0;      ///< its score
  float label_prob = 0;      ///< the score of the labelled class
  int suggested = -1;        ///< mislabeled: the class to relabel to
  int matched = -1;          ///< detectors: index of the matched prediction
  std::optional<Box> suggested_box;  ///< bad_location: the predicted box (pixels), the correction
  bool remove = false;       ///< spurious: the label line should go
  std::vector<float> probs;  ///< scores per dataset class (classifier crop or matched prediction)
};

/// IoU above which two labels of the same class are duplicates.
inline constexpr double kDuplicateIou = 0.9;

/// For each box, whether it duplicates an earlier box of the same class (IoU > 0.9).
std::vector<bool> find_duplicates(const std::vector<Box>& boxes, const std::vector<int>& classes);

/// The verdict on a box the model gave NaN scores for: uncertain, reason model_output_nan,
/// no predicted class.
BoxResult model_output_nan_result();

/// The classifier rule: a NaN among `probs` gives model_output_nan_result(); else correct
/// when p(label) >= correct_threshold; else mislabeled with the
/// most likely other class when its p >= mislabel_threshold; else uncertain. `covered[c]`
/// says whether any model class maps to dataset class c.
BoxResult judge_classification(const std::vector<float>& probs, int label, const std::vector<bool>& covered,
                               const Config::Verification& v);

struct DetectionJudgement {
  std::vector<BoxResult> boxes;      ///< one per label box
  std::vector<Detection> missing;    ///< confident predictions that overlap no label box
};

/// Matches label boxes (pixels, dataset classes) to predictions `dets` (score >=
/// model.conf_threshold), each prediction used once, in phases:
///  1. predictions with IoU >= iou_threshold whose score for the label's class is >=
///     correct_threshold (their own score when they are of that class, else that class's
///     entry of their `probs`: the model's second guess) confirm a label (label_confirmed;
///     highest IoU first);
///  2. other-class predictions with score >= mislabel_threshold and IoU >= iou_threshold
///     (highest score first) make it mislabeled (other_class, suggested = that class);
///  3. same-class predictions with score >= mislabel_threshold whose IoU lies in
///     [location_min_iou, iou_threshold), and above 0, (highest score first) make it mislabeled
///     (bad_location, suggested_box = the prediction's box);
///  4. any remaining prediction with IoU >= iou_threshold leaves it uncertain (low_confidence);
///  5. the rest are spurious (mislabeled, remove) when background_threshold > 0 and no
///     prediction of `dets` or `weak` (predictions scoring in [background_threshold,
///     conf_threshold)) with score >= background_threshold overlaps it (IoU > 0 and >=
///     location_min_iou); else not_detected (uncertain).
/// Unused predictions with score >= missing_threshold that overlap no label box at
/// iou_threshold are missing labels, highest score first; one overlapping a missing label
/// already listed at iou_threshold (the same object under another class) is left out. Boxes flagged in `duplicate` are uncertain (duplicate)
/// and take no prediction.
DetectionJudgement judge_detections(const std::vector<Box>& labels, const std::vector<int>& classes,
                                    const std::vector<bool>& duplicate, const std::vector<Detection>& dets,
                                    const std::vector<Detection>& weak, const std::vector<bool>& covered,
                                    const Config::Verification& v);

/// mislabeled if any box is; else uncertain if any box is, a label is missing or a label line
/// was refused; else correct. (An image without a label file is `unlabeled`: the worker
/// decides that before any box is judged.)
Verdict image_verdict(const std::vector<BoxResult>& boxes, bool any_missing, bool any_label_errors);

}  // namespace lv
