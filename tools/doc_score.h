#pragma once
/// Scores a document verification report (the doc_worker's merged verification_report.json)
/// against the text demo's truth.jsonl: the model's accuracy on the true topics, how well the
/// `mislabeled` verdicts find the swapped labels, and the confident-learning baseline on the
/// same probabilities (confident_learning_issues() of verdict_score.h).
///
/// The report fields read: "class_names" (the order of every "probabilities"), "shards"
/// ([{"items", "seconds", ...}]) and "items" ([{"id", "verdict", "label", "suggested",
/// "probabilities", ...}]); labels and suggestions are class names.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doc_dataset.h"
#include "verdict_score.h"

namespace lv::demo {

/// Everything the document scorer prints.
struct DocScore {
  int64_t docs = 0;                 ///< report items scored (in both report and truth, verdict not "error")
  int64_t swapped = 0;              ///< swapped labels among them
  int64_t errors = 0;               ///< report items with verdict "error" (not scored)
  int64_t missing_from_report = 0;  ///< truth docs the report lacks (partial run)
  int64_t correct = 0, mislabeled = 0, uncertain = 0;

  int64_t predicted_true = 0;  ///< docs whose argmax probability (else "predicted") is the true topic
  double model_accuracy() const;  ///< predicted_true / docs
  DetectionScore verifier;      ///< `mislabeled` against `swapped`
  int64_t suggested_right = 0;  ///< true positives whose suggestion is the true topic
  double suggested_accuracy() const;  ///< suggested_right / true positives
  double uncertain_share() const;     ///< uncertain / docs
  int64_t swapped_uncertain = 0, swapped_correct = 0;  ///< swapped docs the verifier missed, by verdict

  bool has_probabilities = false;  ///< every scored doc had "probabilities"
  DetectionScore confident_learning;  ///< the baseline against `swapped`
  std::vector<double> cl_thresholds;  ///< per class of "class_names" (NaN: no doc labelled so)
  std::vector<std::string> class_names;  ///< the report's, in probability order

  int64_t shard_items = 0;     ///< sum of the shards' "items"
  double slowest_shard_s = 0;  ///< the largest shard "seconds" (shards run side by side)
};

/// Scores `report` against `truth`, matching items by "id". Throws lv::Error
/// (input_unreadable) when the report is not a document report (no "items" or "class_names"),
/// when an item's id is not in the truth or its label differs from the truth's given label
/// (report and truth of different datasets), when a label is not a class name, or when a
/// probability vector's length differs from "class_names". `report_name` names the report in
/// errors.
DocScore score_doc_verdicts(const nlohmann::json& report, const std::vector<DocTruth>& truth,
                            const std::string& report_name);

/// The demo's targets for the text pipeline (printed beside the figures).
struct DocTargets {
  double model_accuracy = 0.80;
  double precision = 0.80;
  double recall = 0.70;
  double suggested_accuracy = 0.80;
  double uncertain_share = 0.15;
};

/// The human-readable summary with the targets; docs/s from `seconds` (wall time of the run)
/// when given, and from the shards' items over the slowest shard's seconds.
std::string format_doc_score(const DocScore& score, std::optional<double> seconds, const DocTargets& targets = {});

/// The same figures as JSON.
nlohmann::json doc_score_to_json(const DocScore& score, std::optional<double> seconds, const DocTargets& targets = {});

}  // namespace lv::demo
