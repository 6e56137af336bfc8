#include "average_precision.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

namespace lv::demo {

MeanAveragePrecision mean_average_precision(const std::vector<TruthObject>& truth,
                                            const std::vector<ScoredDetection>& detections, int num_classes,
                                            double iou_threshold) {
  const auto k = static_cast<size_t>(std::max(0, num_classes));
  MeanAveragePrecision out;
  out.per_class.assign(k, std::numeric_limits<double>::quiet_NaN());
  out.truths.assign(k, 0);
  out.detections.assign(k, 0);

  // Truth boxes by (class, image): indices into `truth`.
  std::vector<std::map<std::string, std::vector<size_t>>> by_image(k);
  for (size_t i = 0; i < truth.size(); ++i) {
    const TruthObject& t = truth[i];
    if (t.cls < 0 || static_cast<size_t>(t.cls) >= k) continue;
    by_image[static_cast<size_t>(t.cls)][t.image].push_back(i);
    ++out.truths[static_cast<size_t>(t.cls)];
  }
  std::vector<std::vector<size_t>> of_class(k);
  for (size_t i = 0; i < detections.size(); ++i) {
    const int c = detections[i].cls;
    if (c < 0 || static_cast<size_t>(c) >= k) continue;
    of_class[static_cast<size_t>(c)].push_back(i);
    ++out.detections[static_cast<size_t>(c)];
  }

  double sum = 0;
  int classes_with_truth = 0;
  for (size_t c = 0; c < k; ++c) {
    if (out.truths[c] == 0) continue;
    std::vector<size_t>& order = of_class[c];
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return detections[a].score > detections[b].score; });
    std::vector<bool> matched(truth.size(), false);
    // Precision and recall after each detection.
    std::vector<double> precision, recall;
    int64_t tp = 0, fp = 0;
    for (size_t d : order) {
      const ScoredDetection& det = detections[d];
      double best = -1;
      size_t best_truth = 0;
      const auto it = by_image[c].find(det.image);
      if (it != by_image[c].end()) {
        for (size_t t : it->second) {
          const double o = iou(det.box, truth[t].box);
          if (o > best) best = o, best_truth = t;
        }
      }
      if (best >= iou_threshold && !matched[best_truth]) {
        matched[best_truth] = true;
        ++tp;
      } else {
        ++fp;
      }
      precision.push_back(static_cast<double>(tp) / static_cast<double>(tp + fp));
      recall.push_back(static_cast<double>(tp) / static_cast<double>(out.truths[c]));
    }
    // Monotone envelope from the right, then the area under the steps where recall rises.
    for (size_t i = precision.size(); i-- > 1;) precision[i - 1] = std::max(precision[i - 1], precision[i]);
    double ap = 0, previous_recall = 0;
    for (size_t i = 0; i < recall.size(); ++i) {
      ap += (recall[i] - previous_recall) * precision[i];
      previous_recall = recall[i];
    }
    out.per_class[c] = ap;
    sum += ap;
    ++classes_with_truth;
  }
  out.map = classes_with_truth > 0 ? sum / classes_with_truth : 0.0;
  return out;
}

}  // namespace lv::demo
