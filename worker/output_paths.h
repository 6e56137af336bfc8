#pragma once
/// Where one input item's outputs go in a worker's output tree (DESIGN §7). Paths are built
/// from the item's path relative to the input root, so two items never share an output path.
#include <filesystem>
#include <string>

#include "verdict.h"

namespace lv {

/// `<dir>/<verdict>/<item>`: the image keeps its folders (`indoor/day/JPEGImages/a.jpg`).
std::filesystem::path output_image_path(const std::filesystem::path& dir, Verdict verdict, const std::string& item);

/// The label file of an output image: the YOLO rule applied to the item part only
/// (`<dir>/<verdict>/indoor/day/labels/a.txt`), else the `.txt` beside the image.
std::filesystem::path output_label_path(const std::filesystem::path& dir, Verdict verdict, const std::string& item);

/// Where a mislabeled image's original label file goes: as output_label_path with `labels`
/// replaced by `labels_original`, or `labels_original/<stem>.txt` beside the image.
std::filesystem::path original_label_path(const std::filesystem::path& dir, Verdict verdict, const std::string& item);

/// `<dir>/debug_images/<item>.jpg`: appending a fixed suffix keeps names distinct
/// (`a.png` and `a.jpg` give `a.png.jpg` and `a.jpg.jpg`).
std::filesystem::path debug_image_path(const std::filesystem::path& dir, const std::string& item);

}  // namespace lv
