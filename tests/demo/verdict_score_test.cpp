// The verdict scorer on a hand-made report and truth file whose figures are worked out below.
#include "verdict_score.h"

#include <cmath>

#include "catch.h"
#include "error.h"
#include "test_util.h"

using lv::demo::confident_learning_issues;
using lv::demo::read_truth;
using lv::demo::score_verdicts;
using lv::demo::TruthBox;
using nlohmann::json;

namespace {

// Ten boxes, three classes. Per box: image, index, true class, written class (= the report's
// label), the verifier's verdict and suggestion, and the model's probabilities.
//
//  box  true written changed  verdict     suggested  probabilities
//  a0   0    0       no       correct     -          .80 .10 .10
//  a1   1    2       yes      mislabeled  1 (right)  .10 .80 .10
//  a2   2    2       no       mislabeled  0          .65 .05 .30
//  a3   0    1       yes      uncertain   -          .70 .20 .10
//  a4   1    1       no       uncertain   -          .20 .60 .20
//  b0   2    0       yes      mislabeled  1 (wrong)  .05 .50 .45
//  b1   1    1       no       correct     -          .00 .54 .46
//  b2   0    2       yes      correct     -          .50 .05 .45
//  b3   2    2       no       correct     -          .00 .45 .55
//  b4   0    0       no       correct     -          .90 .05 .05
//
// The model's argmax is the true class except on a2 (0, true 2) and b0 (1, true 2): 8 of 10.
// Verifier: found a1, b0 (TP 2); false alarm a2 (FP 1); missed a3 (uncertain), b2 (correct)
// (FN 2). Precision 2/3, recall 2/4, F1 = 2 (2/3)(1/2) / (2/3 + 1/2) = 4/7. Suggested class
// right on a1 only: 1/2. Uncertain: 2 of 10.
//
// Confident learning, thresholds from the boxes by written label:
//   t0 = (.80 + .05 + .90) / 3 = .5833   (a0, b0, b4)
//   t1 = (.20 + .60 + .54) / 3 = .4467   (a3, a4, b1)
//   t2 = (.10 + .30 + .45 + .55) / 4 = .35  (a1, a2, b2, b3)
// confident class = argmax over classes with p >= t:
//   a0 {0} -> 0 ok; a1 {1} -> 1 issue; a2 {0} -> 0 issue; a3 {0} -> 0 issue; a4 {1} ok;
//   b0 {1, 2} -> 1 issue; b1 {1, 2} -> 1 ok; b2 {2} ok (.50 < t0); b3 {1, 2} -> 2 ok
//   (argmax, not the first class passing); b4 {0} ok.
// Issues a1, a2, a3, b0: TP 3 (a1, a3, b0), FP 1 (a2), FN 1 (b2): precision = recall = F1 = .75.
struct Row {
  const char* image;
  int index, truth, written;
  const char* verdict;
  int suggested;  // -1: null
  std::vector<double> probs;
};
const std::vector<Row> kRows = {
    {"set/JPEGImages/a.jpg", 0, 0, 0, "correct", -1, {.80, .10, .10}},
    {"set/JPEGImages/a.jpg", 1, 1, 2, "mislabeled", 1, {.10, .80, .10}},
    {"set/JPEGImages/a.jpg", 2, 2, 2, "mislabeled", 0, {.65, .05, .30}},
    {"set/JPEGImages/a.jpg", 3, 0, 1, "uncertain", -1, {.70, .20, .10}},
    {"set/JPEGImages/a.jpg", 4, 1, 1, "uncertain", -1, {.20, .60, .20}},
    {"set/JPEGImages/b.jpg", 0, 2, 0, "mislabeled", 1, {.05, .50, .45}},
    {"set/JPEGImages/b.jpg", 1, 1, 1, "correct", -1, {.00, .54, .46}},
    {"set/JPEGImages/b.jpg", 2, 0, 2, "correct", -1, {.50, .05, .45}},
    {"set/JPEGImages/b.jpg", 3, 2, 2, "correct", -1, {.00, .45, .55}},
    {"set/JPEGImages/b.jpg", 4, 0, 0, "correct", -1, {.90, .05, .05}},
};

std::vector<TruthBox> truth_of(const std::vector<Row>& rows) {
  std::vector<TruthBox> out;
  for (const auto& r : rows) {
    TruthBox t;
    t.image = r.image;
    t.box = r.index;
    t.true_class = r.truth;
    t.written_class = r.written;
    t.changed = r.truth != r.written;
    out.push_back(t);
  }
  return out;
}

json report_of(const std::vector<Row>& rows, bool with_probabilities) {
  json images = json::array();
  for (const auto& r : rows) {
    if (images.empty() || images.back()["path"] != r.image) images.push_back({{"path", r.image}, {"verdict", "mislabeled"}, {"boxes", json::array()}});
    int predicted = 0;  // argmax of the probabilities
    for (int c = 1; c < static_cast<int>(r.probs.size()); ++c)
      if (r.probs[static_cast<size_t>(c)] > r.probs[static_cast<size_t>(predicted)]) predicted = c;
    json box = {{"index", r.index},
                {"label", r.written},
                {"predicted", predicted},
                {"verdict", r.verdict},
                {"suggested", r.suggested < 0 ? json(nullptr) : json(r.suggested)}};
    if (with_probabilities) box["probabilities"] = r.probs;
    images.back()["boxes"].push_back(box);
  }
  return {{"schema_version", 1}, {"images", images}};
}

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

TEST_CASE("the scorer's figures match the hand-worked example", "[score]") {
  const auto s = score_verdicts(report_of(kRows, true), truth_of(kRows), "report.json");
  CHECK(s.images == 2);
  CHECK(s.boxes == 10);
  CHECK(s.changed == 4);
  CHECK(s.missing_from_report == 0);
  CHECK(s.correct == 5);
  CHECK(s.mislabeled == 3);
  CHECK(s.uncertain == 2);

  CHECK(s.verifier.true_positives == 2);
  CHECK(s.verifier.false_positives == 1);
  CHECK(s.verifier.false_negatives == 2);
  CHECK(s.verifier.precision() == Approx(2.0 / 3));
  CHECK(s.verifier.recall() == Approx(0.5));
  CHECK(s.verifier.f1() == Approx(4.0 / 7));
  CHECK(s.suggested_accuracy() == Approx(0.5));
  CHECK(s.uncertain_share() == Approx(0.2));
  CHECK(s.model_accuracy() == Approx(0.8));
  CHECK(s.changed_uncertain == 1);
  CHECK(s.changed_correct == 1);

  REQUIRE(s.has_probabilities);
  REQUIRE(s.cl_thresholds.size() == 3);
  CHECK(s.cl_thresholds[0] == Approx(1.75 / 3));
  CHECK(s.cl_thresholds[1] == Approx(1.34 / 3));
  CHECK(s.cl_thresholds[2] == Approx(0.35));
  CHECK(s.confident_learning.true_positives == 3);
  CHECK(s.confident_learning.false_positives == 1);
  CHECK(s.confident_learning.false_negatives == 1);
  CHECK(s.confident_learning.f1() == Approx(0.75));
}

TEST_CASE("confident learning flags by argmax over the classes that pass their threshold", "[score]") {
  std::vector<std::vector<double>> probs;
  std::vector<int> labels;
  for (const auto& r : kRows) probs.push_back(r.probs), labels.push_back(r.written);
  const std::vector<bool> issues = confident_learning_issues(probs, labels);
  CHECK(issues == std::vector<bool>{false, true, true, true, false, true, false, false, false, false});
}

TEST_CASE("a class nobody is labelled with never becomes a confident class", "[score]") {
  // Class 2 has no labelled box: its threshold is undefined and p2 = .9 does not count.
  const std::vector<bool> issues = confident_learning_issues({{.05, .05, .90}, {.6, .3, .1}}, {0, 1});
  // Box 0: t0 = .05 passes (.05 >= .05) -> 0 = label. Box 1: t1 = .3: {0 (.6 >= .05), 1} -> 0 != 1.
  CHECK(issues == std::vector<bool>{false, true});
}

TEST_CASE("the text and JSON outputs carry the figures and the targets", "[score]") {
  const auto s = score_verdicts(report_of(kRows, true), truth_of(kRows), "report.json");
  lv::demo::Timing timing;
  timing.seconds = 4.0;
  const std::string text = lv::demo::format_score(s, timing);
  CHECK_THAT(text, Catch::Contains("mislabeled precision") && Catch::Contains("0.667") && Catch::Contains("BELOW TARGET"));
  CHECK_THAT(text, Catch::Contains("> 0.750 (baseline)"));
  CHECK_THAT(text, Catch::Contains("run time 4.0 s, 0.5 images/s"));
  const json j = lv::demo::score_to_json(s, timing);
  CHECK(j["mislabeled"]["precision"].get<double>() == Approx(2.0 / 3));
  CHECK(j["confident_learning"]["f1"].get<double>() == Approx(0.75));
  CHECK(j["images_per_s"].get<double>() == Approx(0.5));
}

TEST_CASE("without probabilities there is no baseline", "[score]") {
  const auto s = score_verdicts(report_of(kRows, false), truth_of(kRows), "report.json");
  CHECK_FALSE(s.has_probabilities);
  CHECK(s.verifier.true_positives == 2);
  CHECK(lv::demo::score_to_json(s, {})["confident_learning"].is_null());
  CHECK_THAT(lv::demo::format_score(s, {}), Catch::Contains("no probabilities in the report"));
}

TEST_CASE("truth boxes missing from a partial report are counted, not scored", "[score]") {
  std::vector<Row> rows = kRows;
  rows.push_back({"set/JPEGImages/c.jpg", 0, 1, 0, "correct", -1, {.3, .3, .4}});
  const auto s = score_verdicts(report_of(kRows, true), truth_of(rows), "report.json");
  CHECK(s.boxes == 10);
  CHECK(s.missing_from_report == 1);
  CHECK(s.verifier.false_negatives == 2);
}

TEST_CASE("a report that does not fit the truth file is rejected", "[score]") {
  const auto truth = truth_of(kRows);
  json wrong_label = report_of(kRows, true);
  wrong_label["images"][1]["boxes"][0]["label"] = 2;
  CHECK_THAT(error_text([&] { score_verdicts(wrong_label, truth, "r.json"); }),
             Catch::Contains("r.json: set/JPEGImages/b.jpg: boxes[0]: label 2 but the truth file wrote class 0"));

  json unknown = report_of(kRows, true);
  unknown["images"][0]["path"] = "other.jpg";
  CHECK_THAT(error_text([&] { score_verdicts(unknown, truth, "r.json"); }), Catch::Contains("other.jpg: boxes[0]: not in the truth file"));

  json ragged = report_of(kRows, true);
  ragged["images"][1]["boxes"][2]["probabilities"] = {0.5, 0.5};
  CHECK_THAT(error_text([&] { score_verdicts(ragged, truth, "r.json"); }), Catch::Contains("2 probabilities for label 2; earlier boxes had 3"));

  CHECK_THAT(error_text([&] { score_verdicts(json{{"summary", {}}}, truth, "r.json"); }), Catch::Contains("not a verification report"));
}

TEST_CASE("the truth file is read line by line with clear errors", "[score]") {
  lv::test::TempDir dir;
  lv::test::write_text(dir / "truth.jsonl",
                       "{\"image\":\"x/a.jpg\",\"box\":0,\"true_class\":3,\"written_class\":5,\"changed\":true}\n"
                       "{\"image\":\"x/a.jpg\",\"box\":1,\"true_class\":2,\"written_class\":2,\"changed\":false}\n");
  const auto truth = read_truth(dir / "truth.jsonl");
  REQUIRE(truth.size() == 2);
  CHECK(truth[0].image == "x/a.jpg");
  CHECK(truth[0].true_class == 3);
  CHECK(truth[0].written_class == 5);
  CHECK(truth[0].changed);
  CHECK_FALSE(truth[1].changed);

  lv::test::write_text(dir / "bad.jsonl", "{\"image\":\"x/a.jpg\",\"box\":0,\"true_class\":3,\"written_class\":5,\"changed\":true}\n"
                                          "{\"image\":\"x/a.jpg\",\"box\":1,\"true_class\":2}\n");
  CHECK_THAT(error_text([&] { read_truth(dir / "bad.jsonl"); }),
             Catch::Contains("bad.jsonl:2: \"written_class\" is missing or not an integer"));
  lv::test::write_text(dir / "dup.jsonl", "{\"image\":\"a\",\"box\":0,\"true_class\":1,\"written_class\":1,\"changed\":false}\n"
                                          "{\"image\":\"a\",\"box\":0,\"true_class\":1,\"written_class\":1,\"changed\":false}\n");
  CHECK_THAT(error_text([&] { read_truth(dir / "dup.jsonl"); }), Catch::Contains("dup.jsonl:2: box 0 of a is already on line 1"));
  lv::test::write_text(dir / "lie.jsonl", "{\"image\":\"a\",\"box\":0,\"true_class\":1,\"written_class\":1,\"changed\":true}\n");
  CHECK_THAT(error_text([&] { read_truth(dir / "lie.jsonl"); }), Catch::Contains("\"changed\" is true but the true and written classes are 1 and 1"));
}

TEST_CASE("a report of the adaptive policy is also scored under the fixed rule, from the boxes' \"fixed\"",
          "[score][adaptive]") {
  json report = report_of(kRows, true);
  // Without "policy": one policy's verdicts, no fixed-rule figures.
  CHECK_FALSE(score_verdicts(report, truth_of(kRows), "r.json").fixed_rule);
  report["policy"] = {{"name", "adaptive"}, {"thresholds", {0.5, 0.5, 0.5}}};
  // Say the fixed rule had left a3 uncertain and flagged b4 (the policy cleared it): under the
  // fixed rule a1, a2, b0 and b4 are flagged: TP 2 (a1, b0), FP 2 (a2, b4), FN 2 (a3, b2).
  report["images"][1]["boxes"][4]["fixed"] = {{"verdict", "mislabeled"}, {"reason", "other_class"}, {"suggested", 1}};
  report["images"][0]["boxes"][3]["fixed"] = {{"verdict", "uncertain"}, {"reason", "low_confidence"}, {"suggested", nullptr}};
  const auto s = score_verdicts(report, truth_of(kRows), "r.json");
  REQUIRE(s.fixed_rule);
  CHECK(s.fixed_rule->true_positives == 2);
  CHECK(s.fixed_rule->false_positives == 2);
  CHECK(s.fixed_rule->false_negatives == 2);
  CHECK(s.verifier.true_positives == 2);  // the report's own verdicts, as in the hand-worked example
  CHECK(s.verifier.false_positives == 1);
  CHECK(lv::demo::format_score(s, {}).find("the fixed rule on the same run: precision 0.500, recall 0.500") !=
        std::string::npos);
  CHECK(lv::demo::score_to_json(s, {})["fixed_rule"]["precision"] == 0.5);
}

TEST_CASE("the policy table puts the worst shifted case of each policy beside the demo's own", "[score][adaptive]") {
  const auto score = [](int tp, int fp, int fn) {
    lv::demo::DetectionScore d;
    d.true_positives = tp;
    d.false_positives = fp;
    d.false_negatives = fn;
    return d;
  };
  // F1: demo fixed 0.8 / adaptive 0.9; "busy" 0.5 / 0.85; "tight" 0.6 / 0.7. Worst: busy
  // under the fixed rule, tight under adaptive.
  const std::vector<lv::demo::PolicyScores> rows = {{"demo", score(9, 1, 1), score(8, 2, 2)},
                                                    {"busy", score(17, 3, 3), score(5, 5, 5)},
                                                    {"tight", score(7, 3, 3), score(6, 4, 4)}};
  const std::string table = lv::demo::format_policy_table(rows);
  INFO(table);
  CHECK(table.find("worst: fixed rule on busy, adaptive on tight; the demo's own scenes: fixed F1 0.800, adaptive "
                   "F1 0.900") != std::string::npos);
  const size_t worst = table.find("worst shifted case");
  REQUIRE(worst != std::string::npos);
  CHECK(table.find("0.500  0.500  0.500    0.700  0.700  0.700", worst) < table.find('\n', worst));
  lv::demo::VerdictScore fixed_only;
  CHECK_THROWS_AS(lv::demo::policy_scores("x", fixed_only), lv::Error);
}
