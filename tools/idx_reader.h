#pragma once
/// Readers for the idx files MNIST and Fashion-MNIST come in (gzip'd or plain). Plain C++ and
/// zlib; every header field is checked against the data before anything is used.
///
///   idx3 (images): magic 0x00000803, then big-endian uint32 count, rows, cols, then
///                  count * rows * cols unsigned bytes
///   idx1 (labels): magic 0x00000801, then big-endian uint32 count, then count unsigned bytes
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lv::demo {

/// `count` grey images of rows x cols bytes each, row-major, stored one after another.
struct IdxImages {
  int count = 0;
  int rows = 0;
  int cols = 0;
  std::vector<uint8_t> pixels;  ///< count * rows * cols bytes

  /// The first pixel of image `i` (0 <= i < count).
  const uint8_t* image(int i) const { return pixels.data() + static_cast<size_t>(i) * rows * cols; }
};

/// The whole decompressed content of `file`: gzip is decoded, a plain file is read as it is.
/// Throws lv::Error (input_unreadable) naming the file: missing, unreadable, corrupt or
/// truncated gzip stream.
std::string read_maybe_gzip(const std::filesystem::path& file);

/// Parses idx3 bytes. `name` (the file) starts every error message. Throws lv::Error
/// (input_unreadable) on a short header, a wrong magic number, zero dimensions, or data whose
/// length differs from count * rows * cols.
IdxImages parse_idx_images(const std::string& bytes, const std::string& name);

/// Parses idx1 bytes; same checks as parse_idx_images, data length must equal count.
std::vector<uint8_t> parse_idx_labels(const std::string& bytes, const std::string& name);

/// read_maybe_gzip + parse_idx_images.
IdxImages read_idx_images(const std::filesystem::path& file);

/// read_maybe_gzip + parse_idx_labels.
std::vector<uint8_t> read_idx_labels(const std::filesystem::path& file);

}  // namespace lv::demo
