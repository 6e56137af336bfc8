// Verdicts: the classifier rule, detector matching, duplicates, image verdicts.
#include <limits>

#include "worker_catch.h"
#include "verdict.h"

using namespace lv;

namespace {
// correct 0.5, mislabel 0.8, iou 0.5, missing 0.9, location_min_iou 0.1; spurious off (the
// cases below that want it set background_threshold).
Config::Verification thresholds() {
  Config::Verification v;
  v.background_threshold = 0;
  return v;
}
const std::vector<bool> kAll{true, true, true};
const std::vector<Detection> kNoWeak;
}  // namespace

TEST_CASE("classifier: correct, mislabeled, uncertain by thresholds", "[worker][verdict]") {
  BoxResult r = judge_classification({0.7f, 0.2f, 0.1f}, 0, kAll, thresholds());
  CHECK(r.verdict == Verdict::correct);
  CHECK(r.reason == "label_confirmed");
  CHECK(r.predicted == 0);
  CHECK(r.label_prob == 0.7f);
  CHECK(r.suggested == -1);

  r = judge_classification({0.05f, 0.9f, 0.05f}, 0, kAll, thresholds());
  CHECK(r.verdict == Verdict::mislabeled);
  CHECK(r.reason == "other_class");
  CHECK(r.suggested == 1);
  CHECK(r.confidence == 0.9f);
  CHECK(r.label_prob == 0.05f);

  r = judge_classification({0.3f, 0.4f, 0.3f}, 0, kAll, thresholds());
  CHECK(r.verdict == Verdict::uncertain);
  CHECK(r.reason == "low_confidence");
  CHECK(r.predicted == 1);

  // Exactly at the thresholds counts.
  CHECK(judge_classification({0.5f, 0.5f, 0.0f}, 0, kAll, thresholds()).verdict == Verdict::correct);
  CHECK(judge_classification({0.2f, 0.0f, 0.8f}, 0, kAll, thresholds()).suggested == 2);
}

TEST_CASE("classifier: classes no model class maps to are never suggested", "[worker][verdict]") {
  const std::vector<bool> covered{true, false, true};
  // Class 1 has no model class: its label can't be judged...
  BoxResult r = judge_classification({0.1f, 0.0f, 0.9f}, 1, covered, thresholds());
  CHECK(r.verdict == Verdict::uncertain);
  CHECK(r.reason == "label_class_not_in_model");
  // ...and a score on it is never a suggestion.
  r = judge_classification({0.1f, 0.95f, 0.0f}, 0, covered, thresholds());
  CHECK(r.verdict == Verdict::uncertain);
  CHECK(r.predicted == 0);
}

TEST_CASE("duplicates: same class and IoU above 0.9 flags the later box", "[worker][verdict]") {
  // IoU of the first two = 100 / 105 = 0.952; the third has another class.
  const auto dup = find_duplicates({{0, 0, 10, 10}, {0, 0, 10, 10.5}, {0, 0, 10, 10}, {0, 0, 10, 12}}, {0, 0, 1, 0});
  CHECK(dup == std::vector<bool>{false, true, false, false});  // IoU 100/120 = 0.83 for the last
}

TEST_CASE("duplicates: a box duplicating only a duplicate is kept", "[worker][verdict]") {
  // IoU(a, b) = IoU(b, c) = 9.5 / 10.5 = 0.905, IoU(a, c) = 9 / 11 = 0.82: b duplicates a;
  // c duplicates only b, which is not kept, so c is kept.
  const auto dup = find_duplicates({{0, 0, 10, 1}, {0.5, 0, 10.5, 1}, {1, 0, 11, 1}}, {0, 0, 0});
  CHECK(dup == std::vector<bool>{false, true, false});
}

TEST_CASE("duplicates among 20 000 boxes: exactly the planted copies are flagged", "[worker][verdict]") {
  // 10 000 boxes of 10 x 10 on a grid 20 apart (no two overlap), each followed by a copy one
  // pixel to the right (IoU 90 / 110 = 0.82, not a duplicate) when i % 3 == 0, by a copy 0.2
  // px right (IoU 98 / 102 = 0.96: a duplicate) when i % 3 == 1, and by that same near copy in
  // another class (not a duplicate) when i % 3 == 2.
  std::vector<Box> boxes;
  std::vector<int> classes;
  std::vector<bool> expected;
  for (int i = 0; i < 10000; ++i) {
    const double x = (i % 100) * 20.0, y = (i / 100) * 20.0;
    const int cls = i % 5;
    boxes.push_back({x, y, x + 10, y + 10});
    classes.push_back(cls);
    expected.push_back(false);
    const double shift = i % 3 == 0 ? 1.0 : 0.2;
    boxes.push_back({x + shift, y, x + shift + 10, y + 10});
    classes.push_back(i % 3 == 2 ? (cls + 1) % 5 : cls);
    expected.push_back(i % 3 == 1);
  }
  CHECK(find_duplicates(boxes, classes) == expected);
}

TEST_CASE("detectors: matching gives every verdict and reason", "[worker][verdict]") {
  const std::vector<Box> labels = {{0, 0, 10, 10}, {20, 0, 30, 10}, {40, 0, 50, 10}, {60, 0, 70, 10}, {0, 0, 10, 10.2}};
  const std::vector<int> classes = {0, 1, 0, 2, 0};
  const auto dup = find_duplicates(labels, classes);
  REQUIRE(dup[4]);
  const std::vector<Detection> dets = {
      {{0, 0, 10, 10}, 0, 0.95f, {}},        // 0: confirms label 0
      {{20, 0, 30, 10}, 0, 0.9f, {}},        // 1: other class, confident: label 1 mislabeled
      {{41, 0, 51, 10}, 0, 0.3f, {}},        // 2: IoU 0.82 but weak: label 2 uncertain
      {{100, 100, 110, 110}, 1, 0.95f, {}},  // 3: no label here, confident: missing
      {{0, 0, 10, 10}, 2, 0.99f, {}},        // 4: unused but on label 0: not missing
      {{200, 200, 210, 210}, 1, 0.5f, {}},   // 5: no label, not confident: ignored
  };
  const auto j = judge_detections(labels, classes, dup, dets, kNoWeak, kAll, thresholds());
  REQUIRE(j.boxes.size() == 5);
  CHECK(j.boxes[0].verdict == Verdict::correct);
  CHECK(j.boxes[0].matched == 0);
  CHECK(j.boxes[0].label_prob == 0.95f);
  CHECK(j.boxes[1].verdict == Verdict::mislabeled);
  CHECK(j.boxes[1].suggested == 0);
  CHECK(j.boxes[1].confidence == 0.9f);
  CHECK(j.boxes[1].label_prob == 0.0f);
  CHECK(j.boxes[2].verdict == Verdict::uncertain);
  CHECK(j.boxes[2].reason == "low_confidence");
  CHECK(j.boxes[2].label_prob == 0.3f);
  CHECK(j.boxes[3].verdict == Verdict::uncertain);
  CHECK(j.boxes[3].reason == "not_detected");
  CHECK(j.boxes[3].matched == -1);
  CHECK(j.boxes[4].verdict == Verdict::uncertain);
  CHECK(j.boxes[4].reason == "duplicate");
  REQUIRE(j.missing.size() == 1);
  CHECK(j.missing[0].cls == 1);
  CHECK(j.missing[0].score == 0.95f);
}

TEST_CASE("detectors: 20 000 labels against 310 predictions, each label judged by the one on it", "[worker][verdict]") {
  // Labels 10 x 10 on a grid 20 apart, class i % 3. Predictions: exact, same class, 0.95 on
  // labels 0..99 (correct); exact, next class, 0.9 on labels 100..199 (mislabeled); same class,
  // 0.3, one pixel right (IoU 0.82) on labels 200..299 (uncertain, low_confidence); 0.95 on
  // 10 empty spots below the grid (missing). Every other label: not_detected.
  std::vector<Box> labels;
  std::vector<int> classes;
  for (int i = 0; i < 20000; ++i) {
    const double x = (i % 200) * 20.0, y = (i / 200) * 20.0;
    labels.push_back({x, y, x + 10, y + 10});
    classes.push_back(i % 3);
  }
  std::vector<Detection> dets;
  for (int i = 0; i < 100; ++i) dets.push_back({labels[static_cast<size_t>(i)], i % 3, 0.95f, {}});
  for (int i = 100; i < 200; ++i) dets.push_back({labels[static_cast<size_t>(i)], (i + 1) % 3, 0.9f, {}});
  for (int i = 200; i < 300; ++i) {
    Box b = labels[static_cast<size_t>(i)];
    b.x1 += 1;
    b.x2 += 1;
    dets.push_back({b, i % 3, 0.3f, {}});
  }
  for (int k = 0; k < 10; ++k) dets.push_back({{k * 20.0, 3000, k * 20.0 + 10, 3010}, 0, 0.95f, {}});
  const auto j = judge_detections(labels, classes, std::vector<bool>(labels.size(), false), dets, kNoWeak, kAll, thresholds());
  REQUIRE(j.boxes.size() == 20000);
  int wrong = 0;
  for (int i = 0; i < 20000; ++i) {
    const BoxResult& r = j.boxes[static_cast<size_t>(i)];
    const bool ok = i < 100   ? r.verdict == Verdict::correct && r.matched == i
                    : i < 200 ? r.verdict == Verdict::mislabeled && r.suggested == (i + 1) % 3 && r.matched == i
                    : i < 300 ? r.verdict == Verdict::uncertain && r.reason == "low_confidence" && r.matched == i
                              : r.verdict == Verdict::uncertain && r.reason == "not_detected" && r.matched == -1;
    if (!ok) ++wrong;
  }
  CHECK(wrong == 0);
  REQUIRE(j.missing.size() == 10);
  CHECK(j.missing[0].box.x1 == 0.0);
  CHECK(j.missing[9].box.x1 == 180.0);
}

TEST_CASE("detectors: with iou_threshold 0 a prediction anywhere matches a label", "[worker][verdict]") {
  const std::vector<Detection> far = {{{500, 500, 510, 510}, 0, 0.95f, {}}};
  Config::Verification v = thresholds();
  v.iou_threshold = 0.0;
  const auto zero = judge_detections({{0, 0, 10, 10}}, {0}, {false}, far, kNoWeak, kAll, v);
  CHECK(zero.boxes[0].verdict == Verdict::correct);
  CHECK(zero.missing.empty());
  const auto half = judge_detections({{0, 0, 10, 10}}, {0}, {false}, far, kNoWeak, kAll, thresholds());
  CHECK(half.boxes[0].reason == "not_detected");
  CHECK(half.missing.size() == 1);
}

TEST_CASE("detectors: a confident same-class match beats a closer other-class one", "[worker][verdict]") {
  const std::vector<Detection> dets = {
      {{0, 0, 10, 10}, 1, 0.99f, {}},  // IoU 1, other class
      {{1, 0, 11, 10}, 0, 0.6f, {}},   // IoU 0.82, labelled class, above correct_threshold
  };
  const auto j = judge_detections({{0, 0, 10, 10}}, {0}, {false}, dets, kNoWeak, kAll, thresholds());
  CHECK(j.boxes[0].verdict == Verdict::correct);
  CHECK(j.boxes[0].matched == 1);
  CHECK(j.missing.empty());
}

TEST_CASE("detectors: one prediction serves one label only", "[worker][verdict]") {
  // Two labels of class 0 side by side, one prediction overlapping the first better.
  const std::vector<Box> labels = {{0, 0, 10, 10}, {4, 0, 14, 10}};
  const std::vector<Detection> dets = {{{1, 0, 11, 10}, 0, 0.9f, {}}};
  // IoU with label 0: 90/110 = 0.82; with label 1: 70/130 = 0.54.
  const auto j = judge_detections(labels, {0, 0}, {false, false}, dets, kNoWeak, kAll, thresholds());
  CHECK(j.boxes[0].verdict == Verdict::correct);
  CHECK(j.boxes[1].reason == "not_detected");
}

TEST_CASE("detectors: bad location, spurious and not detected, by hand", "[worker][verdict]") {
  // Boxes 10 x 10 on one row; IoU of two such boxes shifted by dx: (10 - dx) / (10 + dx).
  const std::vector<Box> labels = {
      {0, 0, 10, 10},     // A: a confident same-class prediction 5 px right, IoU 5/15 = 0.333: bad_location
      {20, 0, 30, 10},    // B: the same overlap but score 0.6 < mislabel 0.8: not_detected
      {40, 0, 50, 10},    // C: nothing anywhere near: spurious
      {60, 0, 70, 10},    // D: only a weak prediction (0.1), 1 px right: not_detected
      {80, 0, 90, 10},    // E: only a weak prediction below background_threshold (0.03): spurious
      {100, 0, 110, 10},  // F: confident, 8 px right, IoU 2/18 = 0.111 >= 0.1: bad_location
      {120, 0, 130, 10},  // G: confident, 9 px right, IoU 1/19 = 0.053 < 0.1: spurious; the prediction is missing
  };
  const std::vector<int> classes = {0, 0, 1, 1, 0, 0, 0};
  const std::vector<Detection> dets = {
      {{5, 0, 15, 10}, 0, 0.9f, {}},      // 0 -> A
      {{25, 0, 35, 10}, 0, 0.6f, {}},     // 1 -> B
      {{108, 0, 118, 10}, 0, 0.95f, {}},  // 2 -> F
      {{129, 0, 139, 10}, 0, 0.95f, {}},  // 3 -> G
  };
  const std::vector<Detection> weak = {{{61, 0, 71, 10}, 1, 0.1f, {}}, {{80, 0, 90, 10}, 0, 0.03f, {}}};
  Config::Verification v = thresholds();
  v.background_threshold = 0.05;
  const auto j = judge_detections(labels, classes, std::vector<bool>(labels.size(), false), dets, weak, kAll, v);
  REQUIRE(j.boxes.size() == 7);
  CHECK(j.boxes[0].verdict == Verdict::mislabeled);
  CHECK(j.boxes[0].reason == "bad_location");
  CHECK(j.boxes[0].matched == 0);
  REQUIRE(j.boxes[0].suggested_box);
  CHECK(j.boxes[0].suggested_box->x1 == 5.0);
  CHECK(j.boxes[0].suggested_box->x2 == 15.0);
  CHECK(j.boxes[0].suggested == -1);
  CHECK(j.boxes[0].label_prob == 0.9f);
  CHECK_FALSE(j.boxes[0].remove);
  CHECK(j.boxes[1].verdict == Verdict::uncertain);
  CHECK(j.boxes[1].reason == "not_detected");
  CHECK(j.boxes[2].verdict == Verdict::mislabeled);
  CHECK(j.boxes[2].reason == "spurious");
  CHECK(j.boxes[2].remove);
  CHECK(j.boxes[3].reason == "not_detected");
  CHECK(j.boxes[4].reason == "spurious");
  CHECK(j.boxes[5].reason == "bad_location");
  CHECK(j.boxes[5].matched == 2);
  CHECK(j.boxes[6].reason == "spurious");
  REQUIRE(j.missing.size() == 1);
  CHECK(j.missing[0].box.x1 == 129.0);
  CHECK(image_verdict(j.boxes, false, false) == Verdict::mislabeled);

  // background_threshold 0: no box is called spurious; A and F keep bad_location.
  const auto off = judge_detections(labels, classes, std::vector<bool>(labels.size(), false), dets, weak, kAll,
                                    thresholds());
  CHECK(off.boxes[0].reason == "bad_location");
  CHECK(off.boxes[2].reason == "not_detected");
  CHECK(off.boxes[2].verdict == Verdict::uncertain);
  CHECK_FALSE(off.boxes[2].remove);
  CHECK(off.boxes[4].reason == "not_detected");
  CHECK(off.boxes[6].reason == "not_detected");
  // location_min_iou above the overlap: A is no longer badly placed, but something is there.
  v.location_min_iou = 0.4;
  const auto strict = judge_detections(labels, classes, std::vector<bool>(labels.size(), false), dets, weak, kAll, v);
  CHECK(strict.boxes[0].reason == "spurious");
  CHECK(strict.boxes[0].verdict == Verdict::mislabeled);
  // location_min_iou 0: a prediction must still touch the box. G's prediction (IoU 1/19)
  // moves it; C, with nothing on it, stays spurious rather than taking a far-away box.
  v.location_min_iou = 0;
  const auto any = judge_detections(labels, classes, std::vector<bool>(labels.size(), false), dets, weak, kAll, v);
  CHECK(any.boxes[6].reason == "bad_location");
  CHECK(any.boxes[2].reason == "spurious");
}

TEST_CASE("detectors: the label class as the model's second guess confirms a box, as for a classifier",
          "[worker][verdict]") {
  // One prediction on the box, argmax class 1 at 0.9; its score vector holds the label's class 0.
  const Detection second_guess{{0, 0, 10, 10}, 1, 0.9f, {0.6f, 0.9f, 0.1f}};
  const auto confirmed = judge_detections({{0, 0, 10, 10}}, {0}, {false}, {second_guess}, kNoWeak, kAll, thresholds());
  CHECK(confirmed.boxes[0].verdict == Verdict::correct);  // p(label) 0.6 >= correct 0.5
  CHECK(confirmed.boxes[0].label_prob == 0.6f);
  CHECK(confirmed.boxes[0].predicted == 1);
  const Detection sure{{0, 0, 10, 10}, 1, 0.9f, {0.3f, 0.9f, 0.1f}};
  const auto wrong = judge_detections({{0, 0, 10, 10}}, {0}, {false}, {sure}, kNoWeak, kAll, thresholds());
  CHECK(wrong.boxes[0].verdict == Verdict::mislabeled);  // p(label) 0.3: the other class wins at 0.9
  CHECK(wrong.boxes[0].label_prob == 0.3f);
  CHECK(wrong.boxes[0].suggested == 1);
}

TEST_CASE("detectors: an unlabelled object seen as two classes is one missing label", "[worker][verdict]") {
  const std::vector<Detection> dets = {
      {{0, 0, 10, 10}, 1, 0.92f, {}},   // the same object as the next, class 1
      {{0, 0, 10, 11}, 2, 0.95f, {}},   // class 2, more confident: kept (IoU 100/110 = 0.91)
      {{20, 0, 30, 10}, 1, 0.91f, {}},  // another object: kept
      {{24, 0, 34, 10}, 1, 0.93f, {}},  // overlaps the previous at 6/14 = 0.43 < 0.5: kept too
  };
  const auto j = judge_detections({}, {}, {}, dets, kNoWeak, kAll, thresholds());
  REQUIRE(j.missing.size() == 3);
  CHECK(j.missing[0].cls == 2);
  CHECK(j.missing[1].box.x1 == 24.0);
  CHECK(j.missing[2].box.x1 == 20.0);
}

TEST_CASE("detectors: a full-overlap match comes before a partial one", "[worker][verdict]") {
  // The label's own object (IoU 1, 0.7) confirms it; a confident partial overlap (IoU 0.33)
  // of the same class is another object, left for a label of its own or reported missing.
  const std::vector<Detection> dets = {{{0, 0, 10, 10}, 0, 0.7f, {}}, {{5, 0, 15, 10}, 0, 0.99f, {}}};
  const auto j = judge_detections({{0, 0, 10, 10}}, {0}, {false}, dets, kNoWeak, kAll, thresholds());
  CHECK(j.boxes[0].verdict == Verdict::correct);
  CHECK(j.boxes[0].matched == 0);
  CHECK(j.missing.size() == 1);
}

TEST_CASE("image verdict: mislabeled over uncertain over correct", "[worker][verdict]") {
  BoxResult ok, bad, unsure;
  ok.verdict = Verdict::correct;
  bad.verdict = Verdict::mislabeled;
  unsure.verdict = Verdict::uncertain;
  CHECK(image_verdict({}, false, false) == Verdict::correct);
  CHECK(image_verdict({ok, ok}, false, false) == Verdict::correct);
  CHECK(image_verdict({ok, unsure}, false, false) == Verdict::uncertain);
  CHECK(image_verdict({unsure, bad}, false, false) == Verdict::mislabeled);
  CHECK(image_verdict({ok}, true, false) == Verdict::uncertain);
  CHECK(image_verdict({ok}, false, true) == Verdict::uncertain);
  CHECK(image_verdict({bad}, true, true) == Verdict::mislabeled);
  CHECK(to_string(Verdict::mislabeled) == "mislabeled");
  CHECK(to_string(Verdict::unlabeled) == "unlabeled");
  CHECK(folder_of(Verdict::unlabeled) == "uncertain");
  CHECK(folder_of(Verdict::mislabeled) == "mislabeled");
}

TEST_CASE("classifier: NaN scores give uncertain model_output_nan, not class 0", "[worker][verdict]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const BoxResult r = judge_classification({nan, nan, nan}, 1, kAll, thresholds());
  CHECK(r.verdict == Verdict::uncertain);
  CHECK(r.reason == "model_output_nan");
  CHECK(r.predicted == -1);
  CHECK(r.suggested == -1);
  // One NaN is enough: the argmax cannot be trusted.
  CHECK(judge_classification({0.9f, nan, 0.0f}, 0, kAll, thresholds()).reason == "model_output_nan");
}
