#pragma once
/// Reads an image's pixel size from its header without decoding it, so that an image too
/// large for memory (a "decompression bomb") is refused before OpenCV allocates anything.
/// Torch-free and OpenCV-free.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lv {

struct ImageSize {
  std::string format;  ///< "png", "jpeg", "bmp", "webp", "tiff"
  int64_t width = 0;
  int64_t height = 0;
};

/// The size recorded in the header of a PNG, JPEG, BMP, WebP or TIFF held in `bytes` (the file
/// or its first part). nullopt when the format is not recognised or the header is cut short;
/// the decoder then has the last word.
std::optional<ImageSize> probe_image_size(std::string_view bytes);

}  // namespace lv
