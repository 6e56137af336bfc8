#pragma once
/// Where one input item's outputs go in a worker's output tree (DESIGN §7). Paths are built
/// from the item's path relative to the input root, so two items never share an output path.
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "verdict.h"

namespace lv {

/// The output folder of task autolabel.
inline constexpr std::string_view kAutolabelFolder = "autolabeled";

/// `<dir>/<folder>/<item>`: the image keeps its folders (`indoor/day/JPEGImages/a.jpg`).
/// `folder` is a verdict's (folder_of: correct, mislabeled, uncertain, error) or "autolabeled".
std::filesystem::path output_image_path(const std::filesystem::path& dir, std::string_view folder, const std::string& item);

/// The label file of an output image: the YOLO rule applied to the item part only
/// (`<dir>/<folder>/indoor/day/labels/a.txt`), else the `.txt` beside the image. With
/// `keep_extension` (another image has the same label path, see StemIndex) the image's
/// extension stays in the name: `labels/a.jpg.txt`, so `a.jpg` and `a.png` never share one.
std::filesystem::path output_label_path(const std::filesystem::path& dir, std::string_view folder,
                                        const std::string& item, bool keep_extension = false);

/// output_label_path() and original_label_path() relative to `<dir>/<folder>`.
std::filesystem::path output_label_rel(const std::string& item, bool keep_extension);
std::filesystem::path original_label_rel(const std::string& item, bool keep_extension);

/// Where a mislabeled image's original label file goes: as output_label_path with `labels`
/// replaced by `labels_original`, or `labels_original/<stem>.txt` beside the image
/// (`<name>.txt` with `keep_extension`).
std::filesystem::path original_label_path(const std::filesystem::path& dir, std::string_view folder,
                                          const std::string& item, bool keep_extension = false);

/// `<dir>/debug_images/<item>.jpg`: appending a fixed suffix keeps names distinct
/// (`a.png` and `a.jpg` give `a.png.jpg` and `a.jpg.jpg`).
std::filesystem::path debug_image_path(const std::filesystem::path& dir, const std::string& item);

/// The review thumbnail of one box: `<dir>/review/thumbs/<item>.<tag>.jpg`, tag `b<index>` for
/// label box <index>, `m<k>` for the k-th missing box. The tag is the last dot-separated part
/// before `.jpg`, so two items never share a thumbnail.
std::filesystem::path thumbnail_path(const std::filesystem::path& dir, const std::string& item, const std::string& tag);
/// The thumbnail folder's path of `item` and the prefix of its thumbnails' names in it.
std::filesystem::path thumbnail_dir(const std::filesystem::path& dir, const std::string& item);

/// Which items share their output label file with another image of the input tree: two
/// images of one folder with one stem (`scene_1.jpg`, `scene_1.png`), an image whose stem is
/// another's name (`a.jpg.png` beside `a.jpg`), or images of sibling `images/` and
/// `JPEGImages/` folders (both map to `labels/`). Decided from the input tree alone (folder
/// listings: names with an image extension, has_image_extension), never from the items one
/// worker was given, so every shard agrees. Each folder is listed once; thread-safe.
class StemIndex {
 public:
  explicit StemIndex(std::filesystem::path root) : root_(std::move(root)) {}

  /// True when `item` (relative to the root) keeps its extension in its label names: another
  /// image under the root has the label or labels_original path output_label_path() or
  /// original_label_path() give it, or would have it with its own extension kept. A folder
  /// that cannot be listed holds no images.
  bool shares_label(const std::string& item);

  /// Another image under the root whose output label or labels_original file is one of
  /// `item`'s even with extensions kept: images of one name in sibling `images/` and
  /// `JPEGImages/` (both `labels/x.jpg.txt`), or a flat `x.jpg` beside `JPEGImages/x.jpg`
  /// (both `labels_original/x.jpg.txt`). Such an item cannot be given outputs of its own;
  /// nullopt when none.
  std::optional<std::string> output_clash(const std::string& item);

 private:
  /// folder (relative to the root) -> stem -> names of its images with that stem
  using Listing = std::unordered_map<std::string, std::vector<std::string>>;
  const Listing& listing(const std::filesystem::path& folder);
  static std::vector<std::filesystem::path> neighbour_folders(const std::filesystem::path& folder);
  /// Calls `visit(other)` for every other image with one of `stems` in a neighbour folder
  /// of `rel`, until it returns true; returns whether one did.
  template <typename Visit>
  bool any_neighbour(const std::filesystem::path& rel, const std::vector<std::string>& stems, Visit visit);
  bool shares_label_locked(const std::filesystem::path& rel);

  const std::filesystem::path root_;
  std::mutex mutex_;
  std::unordered_map<std::string, Listing> listings_;
};

}  // namespace lv
