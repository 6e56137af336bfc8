#include "output_paths.h"

#include <algorithm>

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

/// An image's output label file and labels_original file, relative to the verdict folder.
std::vector<fs::path> label_files(const fs::path& rel, bool keep_extension) {
  return {output_label_rel(rel.string(), keep_extension), original_label_rel(rel.string(), keep_extension)};
}

}  // namespace

fs::path output_image_path(const fs::path& dir, std::string_view folder, const std::string& item) {
  return dir / folder / fs::path(item);
}

fs::path output_label_rel(const std::string& item, bool keep_extension) {
  const fs::path rel(item);
  return label_name(label_rel(rel), rel, keep_extension);
}

fs::path original_label_rel(const std::string& item, bool keep_extension) {
  const fs::path rel(item);
  if (yolo_label_path(rel)) {
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
    return label_name(out.replace_extension(".txt"), rel, keep_extension);
  }
  return rel.parent_path() / "labels_original" / label_name(rel.filename().replace_extension(".txt"), rel, keep_extension);
}

fs::path output_label_path(const fs::path& dir, std::string_view folder, const std::string& item, bool keep_extension) {
  return dir / folder / output_label_rel(item, keep_extension);
}

fs::path original_label_path(const fs::path& dir, std::string_view folder, const std::string& item,
                             bool keep_extension) {
  return dir / folder / original_label_rel(item, keep_extension);
}

fs::path debug_image_path(const fs::path& dir, const std::string& item) {
  return dir / "debug_images" / fs::path(item + ".jpg");
}

fs::path thumbnail_path(const fs::path& dir, const std::string& item, const std::string& tag) {
  return dir / "review" / "thumbs" / fs::path(item + "." + tag + ".jpg");
}

fs::path thumbnail_dir(const fs::path& dir, const std::string& item) {
  return (dir / "review" / "thumbs" / fs::path(item)).parent_path();
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

std::vector<fs::path> StemIndex::neighbour_folders(const fs::path& folder) {
  // Where another image with one of this item's output label paths can lie:
  //  - this folder (two stems, or a stem that is another image's name: a.jpg.png and a.jpg);
  //  - one with any of its images / JPEGImages / labels / labels_original components swapped
  //    for another of the four (the YOLO rule maps the last images/ or JPEGImages/ to labels/
  //    and labels_original/, the sibling rule keeps the folder: images/labels/x.jpg and
  //    labels/images/x.jpg both give labels/labels/x.txt);
  //  - its images/ and JPEGImages/ subfolders and, for such a folder, its parent (a flat
  //    image keeps its original in labels_original/ beside it, where the YOLO rule puts the
  //    original of the image of the same name in images/).
  // Each image found is checked with the rules themselves, so the list only needs to be wide
  // enough. Past 4 such components (4^4 folders) only one at a time is swapped.
  static const char* const kSwappable[] = {"images", "JPEGImages", "labels", "labels_original"};
  const auto swappable = [](const fs::path& part) {
    return std::any_of(std::begin(kSwappable), std::end(kSwappable), [&](const char* s) { return part == s; });
  };
  std::vector<fs::path> out{folder, folder / "images", folder / "JPEGImages"};
  if (folder.filename() == "images" || folder.filename() == "JPEGImages") out.push_back(folder.parent_path());
  const std::vector<fs::path> parts(folder.begin(), folder.end());
  std::vector<size_t> at;
  for (size_t i = 0; i < parts.size(); ++i)
    if (swappable(parts[i])) at.push_back(i);
  const auto with = [&](const std::vector<size_t>& choice) {  // choice[k]: the name at at[k]
    std::vector<fs::path> p = parts;
    for (size_t k = 0; k < at.size(); ++k) p[at[k]] = kSwappable[choice[k]];
    fs::path f;
    for (const auto& c : p) f /= c;
    return f;
  };
  std::vector<size_t> choice(at.size());
  for (size_t k = 0; k < at.size(); ++k)
    choice[k] = static_cast<size_t>(std::find_if(std::begin(kSwappable), std::end(kSwappable),
                                                 [&](const char* s) { return parts[at[k]] == s; }) -
                                    std::begin(kSwappable));
  if (at.size() <= 4) {
    // Every combination: count in base 4 over the swappable components.
    std::vector<size_t> c(at.size(), 0);
    for (;;) {
      if (c != choice) out.push_back(with(c));
      size_t k = 0;
      while (k < c.size() && ++c[k] == 4) c[k++] = 0;
      if (k == c.size()) break;
    }
  } else {
    for (size_t k = 0; k < at.size(); ++k)
      for (size_t n = 0; n < 4; ++n) {
        if (n == choice[k]) continue;
        std::vector<size_t> c = choice;
        c[k] = n;
        out.push_back(with(c));
      }
  }
  return out;
}

template <typename Visit>
bool StemIndex::any_neighbour(const fs::path& rel, const std::vector<std::string>& stems, Visit visit) {
  for (const fs::path& folder : neighbour_folders(rel.parent_path())) {
    const Listing& images = listing(folder);
    for (const std::string& stem : stems) {
      const auto found = images.find(stem);
      if (found == images.end()) continue;
      for (const std::string& name : found->second) {
        const fs::path other = folder / name;
        if (other != rel && visit(other)) return true;
      }
    }
  }
  return false;
}

bool StemIndex::shares_label_locked(const fs::path& rel) {
  const std::string stem = rel.stem().string();
  const std::vector<fs::path> mine = label_files(rel, false);
  // Another image with one of these paths (same stem), or one whose own name is this stem
  // (a.jpg beside a.jpg.png): its name kept in its label names would give this one's.
  return any_neighbour(rel, {stem, fs::path(stem).stem().string()}, [&](const fs::path& other) {
    for (const bool keep : {false, true})
      for (const fs::path& theirs : label_files(other, keep))
        if (std::find(mine.begin(), mine.end(), theirs) != mine.end()) return true;
    return false;
  });
}

bool StemIndex::shares_label(const std::string& item) {
  std::lock_guard<std::mutex> lock(mutex_);
  return shares_label_locked(fs::path(item));
}

std::optional<std::string> StemIndex::output_clash(const std::string& item) {
  std::lock_guard<std::mutex> lock(mutex_);
  const fs::path rel(item);
  const std::vector<fs::path> mine = label_files(rel, shares_label_locked(rel));
  // An output name is `<stem>.txt` or `<name>.txt`: another image's equals one of this one's
  // only when its stem is this stem, this name, or its name is this stem.
  const std::string stem = rel.stem().string();
  std::optional<std::string> clash;
  any_neighbour(rel, {stem, rel.filename().string(), fs::path(stem).stem().string()}, [&](const fs::path& other) {
    for (const fs::path& theirs : label_files(other, shares_label_locked(other)))
      if (std::find(mine.begin(), mine.end(), theirs) != mine.end()) {
        clash = other.generic_string();
        return true;
      }
    return false;
  });
  return clash;
}

}  // namespace lv
