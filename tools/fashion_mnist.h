#pragma once
/// Fashion-MNIST as the demo uses it: the two splits Debian's dataset-fashion-mnist installs,
/// and the class names written to classes.txt and into the demo model.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "idx_reader.h"

namespace lv::demo {

/// Where Debian's dataset-fashion-mnist package puts the idx files.
inline const char* const kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// The ten classes in label order, spelled as file-safe identifiers (the official names are
/// "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
/// "Ankle boot").
inline const std::array<std::string, 10> kFashionClassNames = {
    "tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"};

/// One split: images and their labels, the same count, every label in [0, 10).
struct FashionSplit {
  IdxImages images;
  std::vector<uint8_t> labels;
};

/// Reads `<dir>/<split>-images-idx3-ubyte.gz` and `<dir>/<split>-labels-idx1-ubyte.gz`
/// (split: "train" or "t10k"). Throws lv::Error (input_unreadable) naming the file when one is
/// missing or bad, when the counts differ, or when a label is out of range.
FashionSplit load_fashion_split(const std::filesystem::path& dir, const std::string& split);

/// Checks that `labels` fit `images` (same count, each < num_classes); `images_name` and
/// `labels_name` are the files named in the error.
void check_labels_fit(const IdxImages& images, const std::vector<uint8_t>& labels, int num_classes,
                      const std::string& images_name, const std::string& labels_name);

}  // namespace lv::demo
