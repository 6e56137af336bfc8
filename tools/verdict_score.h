#pragma once
/// Scores a verification report against the demo's truth file: how well the `mislabeled`
/// verdicts find the injected label errors, and the confident-learning baseline (Northcutt
/// et al. 2021, "Confident Learning") on the same predicted probabilities.
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "label_noise.h"

namespace lv::demo {

/// A box in pixels: x, y of the top-left corner, width, height.
using PixelBox = std::array<double, 4>;

/// One entry of the truth file (truth.jsonl): a label line, or a garment left unlabelled.
struct TruthBox {
  std::string image;       ///< path relative to the dataset root
  int box = 0;             ///< index in the image's label file; -1 for a garment without a line
  int true_class = 0;      ///< the garment's class; -1 for a spurious box (no garment)
  int written_class = 0;   ///< the class written; -1 for a garment without a line
  bool changed = false;    ///< the written class is not the garment's
  LabelNoise noise = LabelNoise::none;  ///< "noise" when given, else class_swap or none by `changed`
  std::optional<PixelBox> true_px;      ///< the garment's box ("box_px"); none for a spurious box
  std::optional<PixelBox> written_px;   ///< the box written ("written_px", else "box_px"); none when not written
  int duplicate_of = -1;   ///< a duplicate: the index of the line it repeats
  bool written() const { return box >= 0; }
};

/// Reads truth.jsonl (both the class-swap-only form and the one with the other kinds of noise,
/// demo_scene.h). Throws lv::Error (input_unreadable) naming the file and line of a malformed
/// entry, or a box listed twice.
std::vector<TruthBox> read_truth(const std::filesystem::path& file);

/// Detection counts and the figures made from them (0 when undefined).
struct DetectionScore {
  int64_t true_positives = 0;   ///< flagged and changed
  int64_t false_positives = 0;  ///< flagged, not changed
  int64_t false_negatives = 0;  ///< changed, not flagged
  double precision() const;
  double recall() const;
  double f1() const;
};

/// Everything the scorer prints.
struct VerdictScore {
  int64_t images = 0;              ///< images in the report that have truth boxes
  int64_t boxes = 0;               ///< boxes scored (in both report and truth)
  int64_t changed = 0;             ///< injected errors among them
  int64_t missing_from_report = 0; ///< truth boxes the report lacks (partial runs)
  int64_t correct = 0, mislabeled = 0, uncertain = 0;

  int64_t predicted_true = 0;   ///< boxes whose "predicted" class is the true class
  double model_accuracy() const;  ///< predicted_true / boxes: the model alone on the scene crops
  DetectionScore verifier;      ///< `mislabeled` against `changed`
  int64_t suggested_right = 0;  ///< true positives whose suggested class is the true class
  double suggested_accuracy() const;  ///< suggested_right / true positives
  double uncertain_share() const;     ///< uncertain / boxes
  /// Of the changed boxes: flagged mislabeled, left uncertain, called correct.
  int64_t changed_uncertain = 0, changed_correct = 0;

  /// A report of verification.policy adaptive: the fixed rule's flags on the same run (a box's
  /// "fixed" verdict where the policy changed it, else its verdict).
  std::optional<DetectionScore> fixed_rule;

  bool has_probabilities = false;  ///< every scored box had "probabilities"
  DetectionScore confident_learning;
  std::vector<double> cl_thresholds;  ///< t_j per class (NaN when no box is labelled j)
};

/// Scores `report` (verification_report.json, DESIGN §8) against `truth`. Boxes are matched by
/// (image path, box index). Throws lv::Error (input_unreadable) when the report is not a
/// report, when a report box has no truth entry or its label differs from the truth's
/// written class (report and truth from different datasets), or when probability vectors
/// disagree in length. `report_name` names the report in errors.
VerdictScore score_verdicts(const nlohmann::json& report, const std::vector<TruthBox>& truth,
                            const std::string& report_name);

/// Confident learning's label issues on `probs` (rows: boxes, one probability per class)
/// with given labels `labels`: t_j = mean p_j over boxes labelled j; a box's confident class
/// is the argmax of p_j over classes with p_j >= t_j (none when no class passes, or when no
/// box is labelled j for every j that would); an issue when that class exists and differs from
/// the label. Returns one flag per box; `thresholds` (if set) receives t_j.
std::vector<bool> confident_learning_issues(const std::vector<std::vector<double>>& probs,
                                            const std::vector<int>& labels, std::vector<double>* thresholds = nullptr);

/// One dataset's flags under both policies, from one report of verification.policy adaptive.
struct PolicyScores {
  std::string name;          ///< "demo", "busy background", ...
  DetectionScore adaptive;   ///< the report's verdicts
  DetectionScore fixed;      ///< the fixed rule's on the same run (VerdictScore::fixed_rule)
};

/// PolicyScores of a scored report. Throws lv::Error (usage) when the report is not of
/// verification.policy adaptive (it holds one policy's verdicts only).
PolicyScores policy_scores(const std::string& name, const VerdictScore& score);

/// The table of both policies' precision, recall and F1 per dataset (the first is the demo's
/// own), then the worst case of the others (lowest F1) under each policy beside the demo's.
std::string format_policy_table(const std::vector<PolicyScores>& rows);

/// Run time figures, when known.
struct Timing {
  std::optional<double> seconds;  ///< wall time of the run that made the report
};

/// One line of a scorer's table: `  name  value  target  ok|BELOW TARGET` (the image and the
/// text demo print the same columns).
std::string format_target_row(std::string_view name, double value, std::string_view target, bool ok);

/// A report file (verification_report.json) parsed. Throws lv::Error (input_unreadable) naming
/// the file when it cannot be read or is not JSON.
nlohmann::json read_report_file(const std::string& path);

/// What a scorer prints: `text` on stdout, and `json` to the file `json_path` when it is set;
/// `json_path` "-" prints `json` on stdout instead of the text.
void print_figures(const std::string& text, const nlohmann::json& json, const std::string& json_path);

/// The human-readable summary, with the demo's targets beside each figure.
std::string format_score(const VerdictScore& score, const Timing& timing);

/// The same figures as JSON.
nlohmann::json score_to_json(const VerdictScore& score, const Timing& timing);

}  // namespace lv::demo
