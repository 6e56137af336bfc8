// The adaptive policy's rule (adaptive.h): per-class thresholds and the scaled classifier rule.
#include <cmath>

#include "worker_catch.h"
#include "adaptive.h"

using namespace lv;

namespace {
Config::Verification demo_thresholds() {
  Config::Verification v;
  v.correct_threshold = 0.02;
  v.mislabel_threshold = 0.7;
  return v;
}
const std::vector<bool> kAll(3, true);
}  // namespace

TEST_CASE("adaptive: t_j is the mean score of class j over the boxes labelled j", "[worker][adaptive]") {
  const std::vector<double> t = class_thresholds({{0.9, 0.1, 0.0}, {0.5, 0.4, 0.1}, {0.2, 0.8, 0.0}, {0.3, 0.3, 0.4}},
                                                 {0, 0, 1, 7}, 3);
  REQUIRE(t.size() == 3);
  CHECK(t[0] == Approx(0.7));  // (0.9 + 0.5) / 2
  CHECK(t[1] == Approx(0.8));
  CHECK(std::isnan(t[2]));     // no box labelled 2; label 7 is out of range and left out
}

TEST_CASE("adaptive: each class's thresholds scale by its t, so a hard class is judged by its own bar",
          "[worker][adaptive]") {
  const Config::Verification v = demo_thresholds();
  // The fixed rule: p(label 1) = 0.005 < 0.02 and red 0.995 >= 0.7: mislabeled.
  CHECK(judge_classification({0.995f, 0.005f, 0.0f}, 1, kAll, v).verdict == Verdict::mislabeled);
  // t_1 = 0.2 (the model rarely trusts class 1 here): confirmed from 0.02 x 0.2 = 0.004.
  const BoxResult hard = judge_adaptive({0.995f, 0.005f, 0.0f}, 1, kAll, v, {0.9, 0.2, 0.8});
  CHECK(hard.verdict == Verdict::correct);
  CHECK(hard.reason == reason::kConfirmed);
  // Below even that: mislabeled, red suggested (0.995 >= 0.7 x 0.9).
  const BoxResult wrong = judge_adaptive({0.997f, 0.003f, 0.0f}, 1, kAll, v, {0.9, 0.2, 0.8});
  CHECK(wrong.verdict == Verdict::mislabeled);
  CHECK(wrong.suggested == 0);
  // The suggested class's bar scales too: 0.6 < 0.7 is enough against 0.7 x 0.8 = 0.56.
  CHECK(judge_classification({0.6f, 0.01f, 0.39f}, 1, kAll, v).verdict == Verdict::uncertain);
  const BoxResult scaled = judge_adaptive({0.6f, 0.01f, 0.39f}, 1, kAll, v, {0.8, 0.9, 0.8});
  CHECK(scaled.verdict == Verdict::mislabeled);
  CHECK(scaled.reason == reason::kOtherClass);
  // A class no box was labelled with (NaN) keeps the fixed threshold.
  CHECK(judge_adaptive({0.6f, 0.01f, 0.39f}, 1, kAll, v, {NAN, 0.9, 0.8}).verdict == Verdict::uncertain);
  // What no score can decide stays so: a label no model class covers.
  CHECK(judge_adaptive({0.6f, 0.01f, 0.39f}, 1, {true, false, true}, v, {0.8, 0.9, 0.8}).reason ==
        reason::kNotInModel);
}

TEST_CASE("adaptive: only boxes judged on their scores are judged again", "[worker][adaptive]") {
  for (const char* r : {reason::kConfirmed, reason::kOtherClass, reason::kLowConfidence}) CHECK(judged_on_scores(r));
  for (const char* r : {reason::kDuplicate, reason::kNotInModel, reason::kModelOutputNan, reason::kBadLocation,
                        reason::kSpurious, reason::kNotDetected})
    CHECK_FALSE(judged_on_scores(r));
}
