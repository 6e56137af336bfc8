#pragma once
/// The counters of image records (DESIGN §8): what image workers put in their shard report's
/// "summary" and "per_class" blocks. The merge only adds these blocks up (report.h).
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "report.h"

namespace lv {

/// A counter of image records:
///   summary {total_images, total_boxes, correct, mislabeled, uncertain, missing, unlabeled,
///            errors, images_by_verdict {correct, mislabeled, uncertain, unlabeled, error},
///            reasons {reason: boxes}}
///   per_class {name: {boxes, correct, mislabeled, uncertain}}, keyed by a box's label_name,
///            else its label id as a string, else "unknown".
/// Invariants: correct + mislabeled + uncertain == total_boxes (a box whose verdict is neither
/// "correct" nor "mislabeled" -- absent, "error", a newer name -- counts as uncertain: it needs
/// a person's look); images_by_verdict sums to total_images, and an image with an error (a
/// non-null, non-empty "error", or verdict "error") counts as "error" there and in "errors".
std::unique_ptr<RecordCounter> image_counter();

/// The summary block of `images` (image_counter()).
nlohmann::json summarize(const std::vector<nlohmann::json>& images);

/// The per_class block of `images` (image_counter()).
nlohmann::json per_class_counts(const std::vector<nlohmann::json>& images);

/// A counter of task autolabel's records (to_autolabel_record):
///   summary {images, labeled_images (boxes written from predictions), empty_images (no
///            prediction kept), kept_existing (had a label file), boxes, errors,
///            confidence_histogram {"0.0-0.1": boxes, ..., "0.9-1.0": boxes}}
///   per_class {name: {boxes}}
std::unique_ptr<RecordCounter> autolabel_counter();

/// How task autolabel lays out its shard report: records under "images", autolabel_counter().
ReportLayout autolabel_report_layout();

/// How an image worker lays out its shard report: records under "images", image_counter().
ReportLayout image_report_layout();

}  // namespace lv
