#pragma once
/// Token sequences of different lengths made into the two int64 tensors a text model takes,
/// `input_ids` and `attention_mask`, both [B, L] row-major; and the reading order that keeps
/// the padding in each batch small.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lv {

/// A padded batch: `ids` and `mask` each hold rows * cols values, row-major ([rows, cols]).
struct TokenBatch {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> ids;   ///< the tokens, then pad_id to the end of each row
  std::vector<int64_t> mask;  ///< 1 where `ids` holds a real token, 0 on padding
};

/// One row per sequence, in order; cols = the longest sequence's length, at least 1 (so an
/// all-empty batch is still a valid tensor). A null pointer counts as an empty sequence.
TokenBatch pad_batch(const std::vector<const std::vector<int64_t>*>& seqs, int64_t pad_id);

/// A permutation of 0 .. lengths.size() - 1: the positions split into consecutive windows of
/// `window` items (the last may be shorter), each window ordered by length, longest first,
/// equal lengths in input order. Batches cut from it need little padding, while no item moves
/// out of its window. Throws lv::Error (ExitCode::usage) when window is 0.
std::vector<size_t> length_sorted_order(const std::vector<size_t>& lengths, size_t window);

}  // namespace lv
