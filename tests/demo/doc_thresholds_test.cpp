// Threshold choice for the text demo's verify task, on made-up probabilities.
#include "doc_thresholds.h"

#include "catch.h"

using lv::demo::choose_thresholds;

TEST_CASE("with a model that is always sure and right, the chosen thresholds find every swap and nothing else", "[thresholds]") {
  std::vector<std::vector<float>> probs;
  std::vector<int> labels;
  for (int i = 0; i < 200; ++i) {
    const int label = i % 4;
    std::vector<float> p(4, 0.01f);
    p[static_cast<size_t>(label)] = 0.97f;
    probs.push_back(p);
    labels.push_back(label);
  }
  const auto c = choose_thresholds(probs, labels, 0.10, 7, 0.10);
  CHECK(c.docs == 200);
  CHECK(c.swapped == 20);
  CHECK(c.verifier.true_positives == 20);
  CHECK(c.verifier.false_positives == 0);
  CHECK(c.verifier.false_negatives == 0);
  CHECK(c.suggested_accuracy == Approx(1.0));
  CHECK(c.uncertain_share == Approx(0.0));
  CHECK(c.confident_learning.f1() == Approx(1.0));
  // The lowest pair of the grid that does it (ties go to the lower thresholds).
  CHECK(c.correct_threshold == Approx(0.01));
  CHECK(c.mislabel_threshold == Approx(0.3));
}

TEST_CASE("when every pair leaves more uncertain than allowed, the least uncertain pair is chosen", "[thresholds]") {
  // Two classes, each doc 0.6 / 0.4 for its true class: a swapped label has p = 0.4, which
  // every correct_threshold of the grid up to 0.4 accepts; no pair leaves anything uncertain
  // except those above 0.4 with mislabel_threshold above 0.6.
  std::vector<std::vector<float>> probs;
  std::vector<int> labels;
  for (int i = 0; i < 50; ++i) {
    probs.push_back(i % 2 ? std::vector<float>{0.4f, 0.6f} : std::vector<float>{0.6f, 0.4f});
    labels.push_back(i % 2);
  }
  const auto c = choose_thresholds(probs, labels, 0.2, 1, 0.0);
  CHECK(c.uncertain_share == Approx(0.0));
  // Flagging needs p(label) = 0.4 < correct_threshold (0.5) and p(other) = 0.6 >= mislabel_threshold.
  CHECK(c.correct_threshold == Approx(0.5));
  CHECK(c.mislabel_threshold <= 0.6);
  CHECK(c.verifier.recall() == Approx(1.0));
  CHECK(c.verifier.precision() == Approx(1.0));
}
