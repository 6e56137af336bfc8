#pragma once
/// NumPy .npy files (format 1.0, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
/// the header that workers write in front of their embedding rows, and the merge that joins
/// the parts of a run into one matrix without holding it in memory.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace lv {

/// The complete version 1.0 header of a C-order array of type `descr` (e.g. "<f4") and
/// `shape`: magic, version, little-endian header length and the dictionary, padded with spaces
/// and ended by '\n' so that the data start at a multiple of 64 bytes. Throws lv::Error for a
/// negative dimension.
std::string npy_header(std::string_view descr, const std::vector<int64_t>& shape);

/// What a .npy header says.
struct NpyInfo {
  std::string descr;             ///< the dtype string, e.g. "<f4"
  bool fortran_order = false;
  std::vector<int64_t> shape;    ///< empty for a 0-d array
  size_t data_offset = 0;        ///< where the data start in the file
};

/// Reads the header of a version 1.0 or 2.0 .npy file. Throws lv::Error (exit 1) naming the
/// file when it cannot be read or the header is malformed.
NpyInfo read_npy_header(const std::filesystem::path& file);

/// Writes to `output` the rows of the C-order arrays `inputs`, in the given order, as one
/// array. The inputs must share descr and every dimension but the first; each must hold
/// exactly the data its header announces. Data are streamed in chunks and the output is
/// written atomically. Throws lv::Error (exit 1) naming the file(s) at fault; zero inputs are
/// an error.
void concat_npy(const std::vector<std::filesystem::path>& inputs, const std::filesystem::path& output);

}  // namespace lv
