#pragma once
/// Scores a detector's verification report against the demo's truth file with every kind of
/// label noise (label_noise.h): per kind, precision and recall of the verifier's flags, and the
/// detector's own mAP@0.5 from the report's predictions against the garments really in the
/// scenes. Plain C++.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "average_precision.h"
#include "label_noise.h"
#include "verdict_score.h"

namespace lv::demo {

/// Which report entries flag which kind of noise:
///   class_swap  a box with reason "other_class"     location   a box with reason "bad_location"
///   spurious    a box with reason "spurious"         duplicate  a box with reason "duplicate"
///   missing     an entry of the image's "missing" list; it finds a left-out garment when their
///               IoU is >= 0.5 (each garment found once, the most confident entry first).
/// A flag on a box counts as a true positive when the truth gives that box that kind of noise.
struct NoiseKindScore {
  LabelNoise kind = LabelNoise::none;
  const char* flag = "";      ///< the reason (or "missing") that flags it
  int64_t truth = 0;          ///< boxes (or garments) with this noise in the scored images
  DetectionScore flags;       ///< flags against them
  int64_t hint_right = 0;     ///< class_swap: suggested class is the true class; location:
                              ///< suggested_box has IoU >= 0.5 with the garment; missing: class right
};

/// Everything the detector demo's scorer prints.
struct DetectorScore {
  int64_t images = 0;          ///< images of the report with boxes scored (errors left out)
  int64_t error_images = 0;    ///< images of the report that failed
  int64_t boxes = 0;           ///< label boxes scored
  int64_t missing_from_report = 0;  ///< truth label lines of images the report lacks
  std::map<std::string, int64_t> verdicts;  ///< box verdicts: correct, mislabeled, uncertain
  /// reasons[noise kind][reason]: how the verifier judged the boxes of each kind (missing:
  /// "found" / "not found").
  std::map<std::string, std::map<std::string, int64_t>> reasons;
  std::vector<NoiseKindScore> kinds;  ///< class_swap, missing, location, spurious, duplicate
  bool has_predictions = false;       ///< the report lists "predictions" (report.include_predictions)
  MeanAveragePrecision map;           ///< mAP@0.5 of the predictions against every garment
  int64_t map_images = 0;
  /// The score of one kind (the kinds vector holds each once).
  const NoiseKindScore& of(LabelNoise kind) const;
};

/// Scores `report` (verification_report.json) against `truth` (read_truth). Boxes are matched
/// by (image path, box index); pixel boxes come from the report's normalised boxes and each
/// image's "width" and "height". Throws lv::Error (input_unreadable) naming `report_name` and
/// the image when the report is not a report, a box is not in the truth or its label differs
/// from the truth's written class (report and truth of different datasets), or an image
/// record lacks its size.
DetectorScore score_detector_verdicts(const nlohmann::json& report, const std::vector<TruthBox>& truth,
                                      const std::string& report_name, int num_classes);

/// The human-readable summary, with the demo's targets beside each figure.
std::string format_detector_score(const DetectorScore& score, const Timing& timing);

/// The same figures as JSON.
nlohmann::json detector_score_to_json(const DetectorScore& score, const Timing& timing);

}  // namespace lv::demo
