#include "verdict.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <tuple>

#include <boost/geometry.hpp>
#include <boost/geometry/index/rtree.hpp>

namespace lv {

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::correct: return "correct";
    case Verdict::mislabeled: return "mislabeled";
    case Verdict::uncertain: return "uncertain";
    case Verdict::unlabeled: return "unlabeled";
    case Verdict::error: return "error";
  }
  return "?";
}

std::string_view folder_of(Verdict v) { return v == Verdict::unlabeled ? to_string(Verdict::uncertain) : to_string(v); }

std::vector<bool> find_duplicates(const std::vector<Box>& boxes, const std::vector<int>& classes) {
  namespace bg = boost::geometry;
  namespace bgi = boost::geometry::index;
  using Point = bg::model::point<double, 2, bg::cs::cartesian>;
  using Corner = std::pair<Point, size_t>;  // a kept box's top-left corner and its index
  // Comparing every pair took seconds at 20 000 boxes. IoU > 0.9 needs the top-left corners
  // within w / 9 and h / 9 of each other (each side of the overlap exceeds 0.9 of both boxes'
  // sides), so only the kept boxes of the same class whose corner falls in a window a quarter
  // of the box wide are compared, found in an R-tree per class. The exact test is the same.
  std::map<int, bgi::rtree<Corner, bgi::quadratic<16>>> kept;
  std::vector<bool> dup(boxes.size(), false);
  std::vector<Corner> near;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const Box& b = boxes[i];
    if (b.area() <= 0) continue;  // IoU 0 with everything: neither a duplicate nor duplicated
    auto& tree = kept[classes[i]];
    const double mx = b.width() / 4, my = b.height() / 4;
    near.clear();
    tree.query(bgi::intersects(bg::model::box<Point>(Point(b.x1 - mx, b.y1 - my), Point(b.x1 + mx, b.y1 + my))),
               std::back_inserter(near));
    for (const Corner& c : near)
      if (iou(b, boxes[c.second]) > kDuplicateIou) dup[i] = true;
    if (!dup[i]) tree.insert({Point(b.x1, b.y1), i});
  }
  return dup;
}

namespace {

bool is_covered(const std::vector<bool>& covered, int c) {
  return c >= 0 && static_cast<size_t>(c) < covered.size() && covered[static_cast<size_t>(c)];
}

}  // namespace

BoxResult model_output_nan_result() {
  BoxResult r;
  r.verdict = Verdict::uncertain;
  r.reason = reason::kModelOutputNan;
  return r;
}

BoxResult judge_classification(const std::vector<float>& probs, int label, const std::vector<bool>& covered,
                               const Config::Verification& v) {
  // NaN compares false with everything: the argmax below would silently pick class 0.
  if (std::any_of(probs.begin(), probs.end(), [](float p) { return std::isnan(p); })) return model_output_nan_result();
  BoxResult r;
  r.probs = probs;
  int best = -1, best_other = -1;
  for (int c = 0; c < static_cast<int>(probs.size()); ++c) {
    if (!is_covered(covered, c)) continue;
    if (best < 0 || probs[c] > probs[best]) best = c;
    if (c != label && (best_other < 0 || probs[c] > probs[best_other])) best_other = c;
  }
  r.predicted = best;
  r.confidence = best >= 0 ? probs[best] : 0.0f;
  r.label_prob = label >= 0 && label < static_cast<int>(probs.size()) ? probs[label] : 0.0f;
  if (!is_covered(covered, label)) {
    r.reason = reason::kNotInModel;
  } else if (r.label_prob >= v.correct_threshold) {
    r.verdict = Verdict::correct;
    r.reason = reason::kConfirmed;
  } else if (best_other >= 0 && probs[best_other] >= v.mislabel_threshold) {
    r.verdict = Verdict::mislabeled;
    r.reason = reason::kOtherClass;
    r.suggested = best_other;
  } else {
    r.reason = reason::kLowConfidence;
  }
  return r;
}

DetectionJudgement judge_detections(const std::vector<Box>& labels, const std::vector<int>& classes,
                                    const std::vector<bool>& duplicate, const std::vector<Detection>& dets,
                                    const std::vector<Detection>& weak, const std::vector<bool>& covered,
                                    const Config::Verification& v) {
  const size_t nl = labels.size(), nd = dets.size();
  DetectionJudgement out;
  out.boxes.resize(nl);
  std::vector<bool> label_done(nl, false), det_used(nd, false), near_label(nd, false);

  // The overlapping pairs (IoU >= the smaller of iou_threshold and location_min_iou) of each
  // label, predictions in index order. A
  // full label x prediction matrix was 48 MB at 20 000 labels; with a positive threshold only
  // predictions whose box meets the label's can qualify, found in an R-tree.
  struct Overlap {
    size_t det;
    double iou;
  };
  std::vector<std::vector<Overlap>> overlaps(nl);
  const double least_iou = std::min(v.iou_threshold, v.location_min_iou);
  {
    namespace bg = boost::geometry;
    namespace bgi = boost::geometry::index;
    using Point = bg::model::point<double, 2, bg::cs::cartesian>;
    using Rect = bg::model::box<Point>;
    auto rect = [](const Box& b) { return Rect(Point(b.x1, b.y1), Point(b.x2, b.y2)); };
    std::vector<std::pair<Rect, size_t>> all;
    // A box without positive width and height (or with NaN) has IoU 0 with everything; left
    // out, it cannot upset the tree.
    for (size_t j = 0; j < nd; ++j)
      if (dets[j].box.x2 > dets[j].box.x1 && dets[j].box.y2 > dets[j].box.y1) all.emplace_back(rect(dets[j].box), j);
    const bgi::rtree<std::pair<Rect, size_t>, bgi::quadratic<16>> tree(all.begin(), all.end());
    std::vector<std::pair<Rect, size_t>> hits;
    for (size_t i = 0; i < nl; ++i) {
      std::vector<Overlap>& o = overlaps[i];
      if (least_iou > 0) {
        hits.clear();
        tree.query(bgi::intersects(rect(labels[i])), std::back_inserter(hits));
        for (const auto& h : hits) o.push_back({h.second, 0.0});
        std::sort(o.begin(), o.end(), [](const Overlap& a, const Overlap& b) { return a.det < b.det; });
      } else {
        for (size_t j = 0; j < nd; ++j) o.push_back({j, 0.0});  // every pair overlaps at threshold 0
      }
      for (Overlap& p : o) p.iou = iou(labels[i], dets[p.det].box);
      o.erase(std::remove_if(o.begin(), o.end(), [&](const Overlap& p) { return p.iou < least_iou; }), o.end());
      for (const Overlap& p : o)
        if (p.iou >= v.iou_threshold) near_label[p.det] = true;
    }
  }

  // A prediction's score for a class: its own score for its own class, else that class's
  // entry of its score vector (a second guess), else 0.
  const auto score_for = [&](size_t j, int c) -> float {
    const Detection& d = dets[j];
    if (d.cls == c) return d.score;
    return c >= 0 && static_cast<size_t>(c) < d.probs.size() ? d.probs[static_cast<size_t>(c)] : 0.0f;
  };
  for (size_t i = 0; i < nl; ++i) {
    BoxResult& r = out.boxes[i];
    for (const Overlap& p : overlaps[i])
      if (p.iou >= v.iou_threshold) r.label_prob = std::max(r.label_prob, score_for(p.det, classes[i]));
    if (duplicate[i]) {
      r.reason = reason::kDuplicate;
      label_done[i] = true;
    } else if (!is_covered(covered, classes[i])) {
      r.reason = reason::kNotInModel;
      label_done[i] = true;
    }
  }

  // One phase: candidate pairs accepted by `accept`, ordered by `key` (largest first), then
  // assigned greedily so that every label and every prediction is used at most once.
  struct Pair {
    double k1, k2;
    size_t label, det;
  };
  auto phase = [&](auto accept, auto key, auto assign) {
    std::vector<Pair> pairs;
    for (size_t i = 0; i < nl; ++i) {
      if (label_done[i]) continue;
      for (const Overlap& o : overlaps[i]) {
        if (det_used[o.det] || !accept(i, o)) continue;
        const auto [k1, k2] = key(o);
        pairs.push_back({k1, k2, i, o.det});
      }
    }
    std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
      return std::tie(a.k1, a.k2) > std::tie(b.k1, b.k2);
    });
    for (const Pair& p : pairs) {
      if (label_done[p.label] || det_used[p.det]) continue;
      label_done[p.label] = det_used[p.det] = true;
      BoxResult& r = out.boxes[p.label];
      const Detection& d = dets[p.det];
      r.matched = static_cast<int>(p.det);
      r.predicted = d.cls;
      r.confidence = d.score;
      r.probs = d.probs;
      assign(r, d);
    }
  };
  const auto full = [&](const Overlap& o) { return o.iou >= v.iou_threshold; };
  // The classifier's rule on the prediction on the box: p(label) >= correct_threshold
  // confirms it, even when another class scores higher there.
  phase([&](size_t i, const Overlap& o) { return full(o) && score_for(o.det, classes[i]) >= v.correct_threshold; },
        [&](const Overlap& o) { return std::pair<double, double>(o.iou, dets[o.det].score); },
        [](BoxResult& r, const Detection&) {
          r.verdict = Verdict::correct;
          r.reason = reason::kConfirmed;
        });
  phase([&](size_t i, const Overlap& o) {
          return full(o) && dets[o.det].cls != classes[i] && dets[o.det].score >= v.mislabel_threshold;
        },
        [&](const Overlap& o) { return std::pair<double, double>(dets[o.det].score, o.iou); },
        [](BoxResult& r, const Detection& d) {
          r.verdict = Verdict::mislabeled;
          r.reason = reason::kOtherClass;
          r.suggested = d.cls;
        });
  // Partly overlapping, confident, same class: the object is there, the box is not on it.
  phase([&](size_t i, const Overlap& o) {
          return !full(o) && o.iou > 0 && o.iou >= v.location_min_iou && dets[o.det].cls == classes[i] &&
                 dets[o.det].score >= v.mislabel_threshold;
        },
        [&](const Overlap& o) { return std::pair<double, double>(dets[o.det].score, o.iou); },
        [](BoxResult& r, const Detection& d) {
          r.verdict = Verdict::mislabeled;
          r.reason = reason::kBadLocation;
          r.label_prob = d.score;  // the labelled class, found beside the box
          r.suggested_box = d.box;
        });
  phase([&](size_t, const Overlap& o) { return full(o); },
        [&](const Overlap& o) { return std::pair<double, double>(o.iou, dets[o.det].score); },
        [](BoxResult& r, const Detection&) {
          r.verdict = Verdict::uncertain;
          r.reason = reason::kLowConfidence;
        });
  // What is left matched nothing. Background, when no prediction of any kind (weak ones
  // included) scores background_threshold near it; else the model may just have missed it.
  const auto something_near = [&](size_t i) {
    for (const Overlap& o : overlaps[i])
      if (o.iou > 0 && o.iou >= v.location_min_iou && dets[o.det].score >= v.background_threshold) return true;
    for (const Detection& w : weak) {
      if (w.score < v.background_threshold) continue;
      const double overlap = iou(labels[i], w.box);
      if (overlap > 0 && overlap >= v.location_min_iou) return true;
    }
    return false;
  };
  for (size_t i = 0; i < nl; ++i) {
    if (label_done[i]) continue;
    BoxResult& r = out.boxes[i];
    if (v.background_threshold > 0 && !something_near(i)) {
      r.verdict = Verdict::mislabeled;
      r.reason = reason::kSpurious;
      r.remove = true;
    } else {
      r.reason = reason::kNotDetected;
    }
  }

  // Class-aware NMS keeps one object seen as two classes twice: it is one missing label, the
  // more confident one. Candidates overlapping a kept one at iou_threshold are dropped.
  std::vector<size_t> order;
  for (size_t j = 0; j < nd; ++j)
    if (!det_used[j] && dets[j].score >= v.missing_threshold && is_covered(covered, dets[j].cls) && !near_label[j])
      order.push_back(j);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return dets[a].score > dets[b].score; });
  for (size_t j : order) {
    const bool seen = std::any_of(out.missing.begin(), out.missing.end(), [&](const Detection& m) {
      return iou(m.box, dets[j].box) >= std::max(v.iou_threshold, 1e-9);
    });
    if (!seen) out.missing.push_back(dets[j]);
  }
  return out;
}

Verdict image_verdict(const std::vector<BoxResult>& boxes, bool any_missing, bool any_label_errors) {
  bool uncertain = any_missing || any_label_errors;
  for (const auto& b : boxes) {
    if (b.verdict == Verdict::mislabeled) return Verdict::mislabeled;
    if (b.verdict != Verdict::correct) uncertain = true;
  }
  return uncertain ? Verdict::uncertain : Verdict::correct;
}

}  // namespace lv
