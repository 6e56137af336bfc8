#include "output_paths.h"

#include "labels.h"

namespace lv {

namespace fs = std::filesystem;

fs::path output_image_path(const fs::path& dir, Verdict verdict, const std::string& item) {
  return dir / std::string(to_string(verdict)) / fs::path(item);
}

fs::path output_label_path(const fs::path& dir, Verdict verdict, const std::string& item) {
  const fs::path rel(item);
  const auto yolo = yolo_label_path(rel);
  return dir / std::string(to_string(verdict)) / (yolo ? *yolo : sibling_label_path(rel));
}

fs::path original_label_path(const fs::path& dir, Verdict verdict, const std::string& item) {
  const fs::path rel(item);
  if (const auto yolo = yolo_label_path(rel)) {
    // yolo_label_path replaced the last images/JPEGImages component with "labels".
    std::vector<fs::path> parts(rel.begin(), rel.end());
    for (size_t i = parts.size() - 1; i-- > 0;) {
      if (parts[i] == "images" || parts[i] == "JPEGImages") {
        parts[i] = "labels_original";
        break;
      }
    }
    fs::path out;
    for (const auto& p : parts) out /= p;
    return dir / std::string(to_string(verdict)) / out.replace_extension(".txt");
  }
  return dir / std::string(to_string(verdict)) / rel.parent_path() / "labels_original" /
         rel.filename().replace_extension(".txt");
}

fs::path debug_image_path(const fs::path& dir, const std::string& item) {
  return dir / "debug_images" / fs::path(item + ".jpg");
}

}  // namespace lv
