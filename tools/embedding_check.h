#pragma once
/// The embed task's sanity figure for the text demo: how often a document's nearest
/// neighbour (cosine) among the embedded documents has the same true topic, against chance.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lv::demo {

/// A row-major float32 matrix.
struct FloatMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> data;  ///< rows * cols values, row after row
};

/// Reads a NumPy .npy file (format version 1.0 or 2.0; header by lv::read_npy_header) holding
/// a 2-D little-endian float32 array in C order ('<f4', fortran_order False). Throws lv::Error
/// naming the file for anything else (input_unreadable), a file shorter than its header says
/// (input_unreadable) or a malformed header (read_npy_header's error).
FloatMatrix read_npy_float32_matrix(const std::filesystem::path& file);

/// Reads one id a line (embeddings_ids.txt). Throws lv::Error (input_unreadable).
std::vector<std::string> read_id_lines(const std::filesystem::path& file);

/// The nearest-neighbour figure.
struct NeighbourAgreement {
  int64_t queries = 0;     ///< documents whose neighbour was looked up
  int64_t same_topic = 0;  ///< of them, neighbour with the same topic
  double chance = 0;       ///< sum over topics of (share of documents)^2: a random neighbour's rate
  double share() const { return queries > 0 ? static_cast<double>(same_topic) / static_cast<double>(queries) : 0.0; }
};

/// For each query row, its nearest other row by cosine similarity (ties: the lower row); the
/// queries are all rows, or `max_queries` of them drawn without replacement with `seed` when
/// there are more. `topics[i]` is row i's topic. Rows of zero length are never anyone's
/// neighbour. Throws lv::Error (usage) when topics and rows differ in number.
NeighbourAgreement nearest_neighbour_agreement(const FloatMatrix& embeddings, const std::vector<int>& topics,
                                               size_t max_queries, uint64_t seed);

}  // namespace lv::demo
