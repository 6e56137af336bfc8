#include "fashion_mnist.h"

#include <fmt/core.h>

#include "error.h"

namespace lv::demo {

void check_labels_fit(const IdxImages& images, const std::vector<uint8_t>& labels, int num_classes,
                      const std::string& images_name, const std::string& labels_name) {
  if (labels.size() != static_cast<size_t>(images.count))
    throw Error(ExitCode::input_unreadable, fmt::format("{}: {} labels for the {} images of {}", labels_name,
                                                        labels.size(), images.count, images_name));
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes)
      throw Error(ExitCode::input_unreadable, fmt::format("{}: label {} of item {} is out of range (0..{})",
                                                          labels_name, labels[i], i, num_classes - 1));
  }
}

FashionSplit load_fashion_split(const std::filesystem::path& dir, const std::string& split) {
  const auto images_file = dir / (split + "-images-idx3-ubyte.gz");
  const auto labels_file = dir / (split + "-labels-idx1-ubyte.gz");
  FashionSplit out;
  out.images = read_idx_images(images_file);
  out.labels = read_idx_labels(labels_file);
  check_labels_fit(out.images, out.labels, static_cast<int>(kFashionClassNames.size()), images_file.string(),
                   labels_file.string());
  return out;
}

}  // namespace lv::demo
