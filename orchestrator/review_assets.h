#pragma once
/// The review page's static files (orchestrator/review/: index.html, review.js, review.css),
/// built into the program (cmake/EmbedFiles.cmake) so that an installed orchestrator writes
/// them without looking for files beside itself.
#include <string_view>
#include <vector>

namespace lv {

struct ReviewAsset {
  std::string_view name;     ///< file name in output/review/
  std::string_view content;
};

const std::vector<ReviewAsset>& review_assets();

}  // namespace lv
