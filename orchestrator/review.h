#pragma once
/// What a person works through after a run (issue 12), written from the merged report at the
/// end of the merge (and by --merge-only):
///
/// - `output/issues.csv`: one row per flagged box (a label box whose verdict is not correct, or
///   a missing box), ranked so the likeliest label errors come first: by the label's quality
///   score ascending, as cleanlab's find_label_issues ranks by self-confidence (the model's
///   probability of the given label; 1 - confidence for a box the labels lack).
/// - `output/review/index.html` with review.js and review.css beside it and the data as script
///   files (`data/summary.js`, `data/page_0001.js`, ...), so the page opens from file:// with
///   no server: browsers refuse fetch() of local files, not <script src>. Pages hold the
///   flagged images in input order, kReviewPageImages a page; the page loads the first, draws,
///   then loads the rest in the background.
///
/// Reports of task verify: images (a row per flagged box, thumbnails) and documents (a row per
/// flagged document: mislabeled, uncertain or unlabeled; its text's start in place of a
/// thumbnail, issues.csv with `document,line` columns). Nothing for other tasks.
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace lv {

/// Flagged images per data page.
inline constexpr int64_t kReviewPageImages = 200;

struct ReviewStats {
  bool written = false;          ///< false: not an image report (nothing written)
  int64_t images = 0;            ///< records in the report
  int64_t flagged_images = 0;    ///< images with at least one flagged box
  int64_t flagged_boxes = 0;     ///< rows of issues.csv
  int64_t pages = 0;             ///< data/page_NNNN.js files
};

/// Writes `output_dir`/issues.csv and `output_dir`/review/ from `output_dir`'s merged report.
/// `run_id` keys the page's saved decisions. Files are written atomically; data pages of an
/// earlier, longer review are removed. Throws lv::Error naming the file that cannot be read or
/// written.
ReviewStats write_review(const std::filesystem::path& output_dir, const std::string& run_id,
                         int64_t page_images = kReviewPageImages);

/// `bytes` as a relative URL path: every byte but unreserved ones and '/' as %HH, so a file
/// name of any bytes (spaces, '#', '?', not UTF-8) is found again.
std::string url_path(const std::string& bytes);

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text);

/// What the suggestion for a flagged label box of a report is, in words: the suggested class,
/// "move box" (bad_location), "remove box" (spurious, duplicate), or "".
std::string box_suggestion(const nlohmann::json& box);

}  // namespace lv
