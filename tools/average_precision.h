#pragma once
/// A detector's mean average precision (VOC style), shared by the detector trainer (its own
/// test-split figure) and the detector demo's scorer (figure from the verification report).
/// Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "geometry.h"

namespace lv::demo {

/// A box that is really in an image: its class and pixels.
struct TruthObject {
  std::string image;
  int cls = 0;
  Box box;
};

/// A detector's prediction: class, score and pixels.
struct ScoredDetection {
  std::string image;
  int cls = 0;
  double score = 0;
  Box box;
};

/// AP per class and their mean.
struct MeanAveragePrecision {
  double map = 0;                     ///< mean of `per_class` over classes with truth boxes (0 when none)
  std::vector<double> per_class;      ///< AP of each class; NaN for a class without truth boxes
  std::vector<int64_t> truths;        ///< truth boxes per class
  std::vector<int64_t> detections;    ///< detections per class
};

/// VOC-style mAP at `iou_threshold`: per class, detections in descending score (ties: input
/// order) are matched to the truth box of that class in the same image with the highest IoU;
/// a true positive when that IoU >= `iou_threshold` and the box is not matched yet, else a
/// false positive. AP is the area under the precision-recall curve made monotone (all-point
/// interpolation, VOC 2010 and later). Classes are 0..num_classes-1; others are ignored.
MeanAveragePrecision mean_average_precision(const std::vector<TruthObject>& truth,
                                            const std::vector<ScoredDetection>& detections, int num_classes,
                                            double iou_threshold = 0.5);

}  // namespace lv::demo
