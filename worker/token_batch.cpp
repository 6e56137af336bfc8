#include "token_batch.h"

#include <algorithm>
#include <numeric>

#include "error.h"

namespace lv {

TokenBatch pad_batch(const std::vector<const std::vector<int64_t>*>& seqs, int64_t pad_id) {
  size_t longest = 1;
  for (const auto* s : seqs)
    if (s != nullptr) longest = std::max(longest, s->size());

  TokenBatch batch;
  batch.rows = static_cast<int64_t>(seqs.size());
  batch.cols = static_cast<int64_t>(longest);
  batch.ids.assign(seqs.size() * longest, pad_id);
  batch.mask.assign(seqs.size() * longest, 0);
  for (size_t r = 0; r < seqs.size(); ++r) {
    if (seqs[r] == nullptr) continue;
    const std::vector<int64_t>& s = *seqs[r];
    std::copy(s.begin(), s.end(), batch.ids.begin() + static_cast<std::ptrdiff_t>(r * longest));
    std::fill_n(batch.mask.begin() + static_cast<std::ptrdiff_t>(r * longest), s.size(), int64_t{1});
  }
  return batch;
}

std::vector<size_t> length_sorted_order(const std::vector<size_t>& lengths, size_t window) {
  if (window == 0) throw usage_error("length-sorted order: the window must hold at least one item");
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), size_t{0});
  for (size_t begin = 0, end = 0; begin < order.size(); begin = end) {
    end = begin + std::min(window, order.size() - begin);
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(begin), order.begin() + static_cast<std::ptrdiff_t>(end),
                     [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  }
  return order;
}

}  // namespace lv
