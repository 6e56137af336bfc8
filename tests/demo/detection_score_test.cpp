// The detector demo's scores on hand-made cases whose figures are worked out in the comments:
// VOC mAP@0.5, and precision / recall per kind of label noise from a report and truth file.
#include "detection_score.h"

#include <cmath>

#include "average_precision.h"
#include "catch.h"
#include "error.h"
#include "test_util.h"

using lv::Box;
using lv::demo::LabelNoise;
using lv::demo::mean_average_precision;
using lv::demo::read_truth;
using lv::demo::score_detector_verdicts;
using lv::demo::ScoredDetection;
using lv::demo::TruthObject;
using nlohmann::json;

namespace {

template <typename F>
std::string error_text(F&& f) {
  try {
    f();
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::input_unreadable);
    return e.what();
  }
  FAIL("no lv::Error thrown");
  return "";
}

}  // namespace

// Two images, three classes (class 2 has detections but no truth: left out of the mean).
//
//   truth   A: class 0 [0,0,10,10] (T1), class 1 [50,50,70,70] (T3)
//           B: class 0 [20,20,40,40] (T2), class 0 [60,60,80,80] (T4)
//
//   class 0, by score:
//     d1 A 0.9  [0,0,10,10]       IoU 1 with T1           TP   P 1/1  R 1/3
//     d2 B 0.8  [100,100,110,110] touches nothing         FP   P 1/2  R 1/3
//     d3 B 0.7  [20,20,40,40]     IoU 1 with T2           TP   P 2/3  R 2/3
//     d5 B 0.65 [60,60,80,80]     IoU 1 with T4           TP   P 3/4  R 3/3
//     d4 A 0.6  [0,0,10,10]       T1 already matched      FP   P 3/5  R 3/3
//   monotone precision from the right: 1, 3/4, 3/4, 3/4, 3/5 (d3's 2/3 is raised to d5's 3/4)
//   AP0 = 1/3 * 1 + 1/3 * 3/4 + 1/3 * 3/4 = 5/6  (without the envelope: 1/3 + 2/9 + 1/4 = 0.806)
//
//   class 1, by score:
//     e0 A 0.99 [60,50,80,70]   IoU 200 / 600 = 1/3 < 0.5  FP   P 0    R 0
//     e1 A 0.95 [50,50,70,74]   IoU 400 / 480 = 5/6       TP   P 1/2  R 1
//     e2 B 0.30 [50,50,70,70]   no class-1 truth in B     FP   P 1/3  R 1
//   monotone precision: 1/2, 1/2, 1/3;  AP1 = (1 - 0) * 1/2 = 1/2
//
//   mAP = (5/6 + 1/2) / 2 = 2/3
TEST_CASE("mAP@0.5 is VOC's all-point AP per class, averaged over classes with truth", "[detection_score]") {
  const std::vector<TruthObject> truth = {
      {"A", 0, Box{0, 0, 10, 10}}, {"A", 1, Box{50, 50, 70, 70}}, {"B", 0, Box{20, 20, 40, 40}},
      {"B", 0, Box{60, 60, 80, 80}}};
  // Given out of score order: the function sorts.
  const std::vector<ScoredDetection> detections = {
      {"A", 0, 0.6, Box{0, 0, 10, 10}},    {"B", 0, 0.8, Box{100, 100, 110, 110}}, {"A", 0, 0.9, Box{0, 0, 10, 10}},
      {"B", 0, 0.7, Box{20, 20, 40, 40}},  {"A", 1, 0.95, Box{50, 50, 70, 74}},    {"B", 1, 0.3, Box{50, 50, 70, 70}},
      {"A", 1, 0.99, Box{60, 50, 80, 70}}, {"A", 2, 0.5, Box{0, 0, 10, 10}},    {"B", 0, 0.65, Box{60, 60, 80, 80}},
  };
  const auto m = mean_average_precision(truth, detections, 3);
  REQUIRE(m.per_class.size() == 3);
  CHECK(m.per_class[0] == Approx(5.0 / 6));
  CHECK(m.per_class[1] == Approx(0.5));
  CHECK(std::isnan(m.per_class[2]));
  CHECK(m.map == Approx(2.0 / 3));
  CHECK(m.truths == std::vector<int64_t>{3, 1, 0});
  CHECK(m.detections == std::vector<int64_t>{5, 3, 1});

  // A stricter IoU turns e1 (5/6) into a false positive too: AP1 = 0.
  CHECK(mean_average_precision(truth, detections, 3, 0.9).per_class[1] == Approx(0.0));
  // No detections at all: every AP is 0, not undefined.
  CHECK(mean_average_precision(truth, {}, 3).map == 0.0);
}

namespace {

// Two 100 x 100 images. Pixel boxes are [x, y, w, h].
//
//   a.jpg  line 0  class 0 [10,10,20,20]            right
//          line 1  true 1, written 2 [40,10,20,20]  class swapped
//          line 2  class 3, written [20,55,20,20]   bad location (garment [10,50,20,20], IoU 150/650)
//          line 3  class 4 [70,70,20,20]            spurious (no garment)
//          line 4  class 0 [10,10,20,20]            duplicate of line 0
//          -       class 5 [60,20,20,20]            left out (missing)
//   b.jpg  line 0  class 1 [10,10,30,30]            right
//          line 1  true 0, written 1 [50,50,30,30]  class swapped
//          line 2  class 3 [80,10,15,15]            right
//          -       class 2 [10,60,30,30]            left out (missing)
const char* kTruth =
    R"({"image":"s/a.jpg","box":0,"true_class":0,"written_class":0,"changed":false,"box_px":[10,10,20,20]}
{"image":"s/a.jpg","box":1,"true_class":1,"written_class":2,"changed":true,"box_px":[40,10,20,20]}
{"image":"s/a.jpg","box":2,"true_class":3,"written_class":3,"changed":false,"box_px":[10,50,20,20],"noise":"location","written_px":[20,55,20,20]}
{"image":"s/a.jpg","box":3,"true_class":null,"written_class":4,"changed":false,"box_px":null,"noise":"spurious","written_px":[70,70,20,20]}
{"image":"s/a.jpg","box":4,"true_class":0,"written_class":0,"changed":false,"box_px":[10,10,20,20],"noise":"duplicate","duplicate_of":0}
{"image":"s/a.jpg","box":null,"written":false,"true_class":5,"changed":false,"box_px":[60,20,20,20],"noise":"missing"}
{"image":"s/b.jpg","box":0,"true_class":1,"written_class":1,"changed":false,"box_px":[10,10,30,30]}
{"image":"s/b.jpg","box":1,"true_class":0,"written_class":1,"changed":true,"box_px":[50,50,30,30]}
{"image":"s/b.jpg","box":2,"true_class":3,"written_class":3,"changed":false,"box_px":[80,10,15,15]}
{"image":"s/b.jpg","box":null,"written":false,"true_class":2,"changed":false,"box_px":[10,60,30,30],"noise":"missing"}
)";

json box(int index, int label, const char* verdict, const char* reason) {
  return {{"index", index}, {"label", label}, {"verdict", verdict}, {"reason", reason}};
}

json missing(int cls, double confidence, std::vector<double> yolo) {
  return {{"class", cls}, {"confidence", confidence}, {"box", yolo}};
}

// The verifier's flags:
//   a0 label_confirmed; a1 other_class, suggests 1 (right); a2 bad_location, suggests the
//   garment's box [10,50,20,20] = cx .2 cy .6 w .2 h .2; a3 not_detected (the spurious box is
//   missed); a4 duplicate; a's missing list: class 5 at [60,20,20,20] = (.7, .3, .2, .2) (finds
//   the left-out garment, class right) and class 7 at (.5, .9, .1, .1) (nothing there).
//   b0 other_class (a false alarm); b1 label_confirmed (the swap is missed); b2 spurious (a
//   false alarm); b's missing list is empty (its left-out garment is missed).
//
// Per kind (truth / TP / FP / FN -> precision, recall):
//   wrong class   a1, b1       1 / 1 (b0) / 1 (b1)  -> 1/2, 1/2   suggestion right 1
//   missing       a, b         1 / 1      / 1       -> 1/2, 1/2   class right 1
//   bad location  a2           1 / 0      / 0       -> 1, 1       suggested box right 1
//   spurious      a3           0 / 1 (b2) / 1 (a3)  -> 0, 0
//   duplicate     a4           1 / 0      / 0       -> 1, 1
//
// Predictions (for the mAP): every garment of both images exactly, at 0.9, except b's
// left-out class-2 garment. The garments are a0 (0), a1 (1), a2 (3), a's left-out (5), b0 (1),
// b1 (0), b2 (3), b's left-out (2): neither the spurious box nor the duplicate line is a
// garment. AP: class 0, 1, 3, 5 = 1; class 2 = 0 (its only garment never predicted):
// mAP = 4 / 5 = 0.8. (Counting the duplicate as a garment would make AP0 = 2/3; leaving the
// left-out garments out would make it 1.)
json report(bool with_predictions) {
  json a = {{"path", "s/a.jpg"}, {"verdict", "mislabeled"}, {"width", 100}, {"height", 100}};
  a["boxes"] = {box(0, 0, "correct", "label_confirmed"), box(1, 2, "mislabeled", "other_class"),
                box(2, 3, "mislabeled", "bad_location"), box(3, 4, "uncertain", "not_detected"),
                box(4, 0, "uncertain", "duplicate")};
  a["boxes"][1]["suggested"] = 1;
  a["boxes"][2]["suggested_box"] = {0.2, 0.6, 0.2, 0.2};
  a["missing"] = {missing(7, 0.92, {0.5, 0.9, 0.1, 0.1}), missing(5, 0.95, {0.7, 0.3, 0.2, 0.2})};
  json b = {{"path", "s/b.jpg"}, {"verdict", "mislabeled"}, {"width", 100}, {"height", 100}};
  b["boxes"] = {box(0, 1, "mislabeled", "other_class"), box(1, 1, "correct", "label_confirmed"),
                box(2, 3, "mislabeled", "spurious")};
  b["boxes"][0]["suggested"] = 2;
  b["missing"] = json::array();
  if (with_predictions) {
    auto p = [](int cls, std::vector<double> yolo) { return json{{"class", cls}, {"confidence", 0.9}, {"box", yolo}}; };
    a["predictions"] = {p(0, {0.2, 0.2, 0.2, 0.2}), p(1, {0.5, 0.2, 0.2, 0.2}), p(3, {0.2, 0.6, 0.2, 0.2}),
                        p(5, {0.7, 0.3, 0.2, 0.2})};
    b["predictions"] = {p(1, {0.25, 0.25, 0.3, 0.3}), p(0, {0.65, 0.65, 0.3, 0.3}), p(3, {0.875, 0.175, 0.15, 0.15})};
  }
  return {{"images", {a, b}}};
}

}  // namespace

TEST_CASE("each kind of noise is scored against the flag that names it", "[detection_score]") {
  lv::test::TempDir dir;
  lv::test::write_text(dir / "truth.jsonl", kTruth);
  const auto truth = read_truth(dir / "truth.jsonl");
  REQUIRE(truth.size() == 10);
  CHECK(truth[5].box == -1);
  CHECK(truth[3].true_class == -1);

  const auto s = score_detector_verdicts(report(true), truth, "r.json", 10);
  CHECK(s.images == 2);
  CHECK(s.boxes == 8);
  auto check = [&](LabelNoise kind, int64_t n, int64_t tp, int64_t fp, int64_t fn, double p, double r, int64_t hint) {
    INFO(to_string(kind));
    const auto& k = s.of(kind);
    CHECK(k.truth == n);
    CHECK(k.flags.true_positives == tp);
    CHECK(k.flags.false_positives == fp);
    CHECK(k.flags.false_negatives == fn);
    CHECK(k.flags.precision() == Approx(p));
    CHECK(k.flags.recall() == Approx(r));
    CHECK(k.hint_right == hint);
  };
  check(LabelNoise::class_swap, 2, 1, 1, 1, 0.5, 0.5, 1);
  check(LabelNoise::missing, 2, 1, 1, 1, 0.5, 0.5, 1);
  check(LabelNoise::location, 1, 1, 0, 0, 1.0, 1.0, 1);
  check(LabelNoise::spurious, 1, 0, 1, 1, 0.0, 0.0, 0);
  check(LabelNoise::duplicate, 1, 1, 0, 0, 1.0, 1.0, 0);
  CHECK(s.reasons.at("spurious").at("not_detected") == 1);
  CHECK(s.reasons.at("none").at("label_confirmed") == 1);  // a0 (b1 is a swap)
  CHECK(s.reasons.at("class").at("label_confirmed") == 1);

  REQUIRE(s.has_predictions);
  CHECK(s.map.map == Approx(0.8));
  CHECK(s.map.per_class[0] == Approx(1.0));
  CHECK(s.map.per_class[2] == Approx(0.0));
  CHECK(s.map.truths[0] == 2);

  // Without predictions there is no mAP, and the text says how to get one.
  const auto bare = score_detector_verdicts(report(false), truth, "r.json", 10);
  CHECK_FALSE(bare.has_predictions);
  CHECK_THAT(format_detector_score(bare, {}), Catch::Contains("report.include_predictions: true"));
  CHECK_THAT(format_detector_score(s, {}), Catch::Contains("wrong class precision"));
}

TEST_CASE("a report that does not fit the truth file is refused, naming the entry", "[detection_score]") {
  lv::test::TempDir dir;
  lv::test::write_text(dir / "truth.jsonl", kTruth);
  const auto truth = read_truth(dir / "truth.jsonl");
  json r = report(false);
  r["images"][0]["boxes"][1]["label"] = 1;
  CHECK_THAT(error_text([&] { score_detector_verdicts(r, truth, "r.json", 10); }),
             Catch::Contains("r.json: s/a.jpg: boxes[1]: label 1 but the truth file wrote class 2"));
  r = report(false);
  r["images"][1].erase("width");
  CHECK_THAT(error_text([&] { score_detector_verdicts(r, truth, "r.json", 10); }),
             Catch::Contains("r.json: s/b.jpg: \"width\" is missing"));

  lv::test::write_text(dir / "bad.jsonl", R"({"image":"a","box":0,"true_class":1,"written_class":1,"changed":false,"noise":"sideways"})"
                                          "\n");
  CHECK_THAT(error_text([&] { read_truth(dir / "bad.jsonl"); }), Catch::Contains("bad.jsonl:1: \"noise\" is \"sideways\""));
  lv::test::write_text(dir / "dup.jsonl", R"({"image":"a","box":1,"true_class":1,"written_class":1,"changed":false,"box_px":[0,0,5,5],"noise":"duplicate","duplicate_of":1})"
                                          "\n");
  CHECK_THAT(error_text([&] { read_truth(dir / "dup.jsonl"); }), Catch::Contains("\"duplicate_of\" 1 is not an earlier line"));
}
