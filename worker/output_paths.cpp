#include "output_paths.h"

#include "item_list.h"
#include "labels.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

/// The label path of an item, relative: the YOLO rule, else the `.txt` beside it.
fs::path label_rel(const fs::path& item) {
  const auto yolo = yolo_label_path(item);
  return yolo ? *yolo : sibling_label_path(item);
}

/// `labels/a.txt` made `labels/a.jpg.txt` for the image `a.jpg` when `keep_extension`.
fs::path label_name(fs::path label, const fs::path& image, bool keep_extension) {
  if (keep_extension) label.replace_filename(image.filename().string() + ".txt");
  return label;
}

}  // namespace

fs::path output_image_path(const fs::path& dir, std::string_view folder, const std::string& item) {
  return dir / folder / fs::path(item);
}

fs::path output_label_path(const fs::path& dir, std::string_view folder, const std::string& item, bool keep_extension) {
  const fs::path rel(item);
  return dir / folder / label_name(label_rel(rel), rel, keep_extension);
}

fs::path original_label_path(const fs::path& dir, std::string_view folder, const std::string& item,
                             bool keep_extension) {
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
    return dir / folder / label_name(out.replace_extension(".txt"), rel, keep_extension);
  }
  return dir / folder / rel.parent_path() / "labels_original" /
         label_name(rel.filename().replace_extension(".txt"), rel, keep_extension);
}

fs::path debug_image_path(const fs::path& dir, const std::string& item) {
  return dir / "debug_images" / fs::path(item + ".jpg");
}

const StemIndex::Listing& StemIndex::listing(const fs::path& folder) {
  const auto [it, inserted] = listings_.try_emplace(folder.string());
  if (inserted) {
    // Names only (no stat): cheap even for folders of 100k images.
    std::error_code ec;
    for (fs::directory_iterator entry(root_ / folder, ec), end; !ec && entry != end; entry.increment(ec)) {
      const fs::path name = entry->path().filename();
      if (has_image_extension(name)) it->second[name.stem().string()].push_back(name.string());
    }
  }
  return it->second;
}

bool StemIndex::shares_label(const std::string& item) {
  const fs::path rel(item);
  const fs::path mine = label_rel(rel);
  // Where another image with this label path can lie: this folder, or one whose images /
  // JPEGImages / labels component is swapped for another of the three (the YOLO rule maps
  // images/ and JPEGImages/ to labels/; the sibling rule keeps labels/). Each candidate
  // found is checked with the rule itself, so the list only needs to be wide enough.
  const fs::path folder = rel.parent_path();
  std::vector<fs::path> candidates{folder};
  const std::vector<fs::path> parts(folder.begin(), folder.end());
  static const char* const kSwappable[] = {"images", "JPEGImages", "labels"};
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] != kSwappable[0] && parts[i] != kSwappable[1] && parts[i] != kSwappable[2]) continue;
    for (const char* other : kSwappable) {
      if (parts[i] == other) continue;
      fs::path swapped;
      for (size_t k = 0; k < parts.size(); ++k) swapped /= k == i ? fs::path(other) : parts[k];
      candidates.push_back(swapped);
    }
  }
  const std::string stem = rel.stem().string();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const fs::path& candidate : candidates) {
    const Listing& images = listing(candidate);
    const auto same_stem = images.find(stem);
    if (same_stem == images.end()) continue;
    for (const std::string& name : same_stem->second) {
      const fs::path other = candidate / name;
      if (other != rel && label_rel(other) == mine) return true;
    }
  }
  return false;
}

}  // namespace lv
