#include "output_paths.h"

#include "item_list.h"
#include "labels.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

/// `labels/a.txt` made `labels/a.jpg.txt` for the image `a.jpg` when `keep_extension`.
fs::path label_name(fs::path label, const fs::path& image, bool keep_extension) {
  if (keep_extension) label.replace_filename(image.filename().string() + ".txt");
  return label;
}

}  // namespace

fs::path output_image_path(const fs::path& dir, Verdict verdict, const std::string& item) {
  return dir / std::string(to_string(verdict)) / fs::path(item);
}

fs::path output_label_path(const fs::path& dir, Verdict verdict, const std::string& item, bool keep_extension) {
  const fs::path rel(item);
  const auto yolo = yolo_label_path(rel);
  return dir / std::string(to_string(verdict)) / label_name(yolo ? *yolo : sibling_label_path(rel), rel, keep_extension);
}

fs::path original_label_path(const fs::path& dir, Verdict verdict, const std::string& item, bool keep_extension) {
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
    return dir / std::string(to_string(verdict)) / label_name(out.replace_extension(".txt"), rel, keep_extension);
  }
  return dir / std::string(to_string(verdict)) / rel.parent_path() / "labels_original" /
         label_name(rel.filename().replace_extension(".txt"), rel, keep_extension);
}

fs::path debug_image_path(const fs::path& dir, const std::string& item) {
  return dir / "debug_images" / fs::path(item + ".jpg");
}

bool StemIndex::shares_stem(const fs::path& image) {
  const std::string folder = image.parent_path().string();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = shared_.find(folder);
  if (it == shared_.end()) {
    // One listing per folder, names only (no stat): cheap even for folders of 100k images.
    std::unordered_set<std::string> seen, shared;
    std::error_code ec;
    for (fs::directory_iterator entry(image.parent_path(), ec), end; !ec && entry != end; entry.increment(ec)) {
      const fs::path& name = entry->path();
      if (!has_image_extension(name)) continue;
      std::string stem = name.stem().string();
      if (!seen.insert(stem).second) shared.insert(std::move(stem));
    }
    it = shared_.emplace(folder, std::move(shared)).first;
  }
  return it->second.count(image.stem().string()) > 0;
}

}  // namespace lv
