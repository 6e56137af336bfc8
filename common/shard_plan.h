#pragma once
/// Contiguous shards of the item list, one per device; sizes differ by at most one.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lv {

struct Shard {
  int index = 0;
  int64_t begin = 0;  ///< first item
  int64_t end = 0;    ///< one past the last item
  int64_t size() const { return end - begin; }
};

/// Splits `item_count` items into `shard_count` contiguous shards in order; the first
/// `item_count % shard_count` shards get one more item. Requires shard_count >= 1.
std::vector<Shard> plan_shards(int64_t item_count, int shard_count);

/// Balancing: re-splits shard [begin, end) whose worker was stopped with every item before
/// `kept_until` possibly done (journaled, or in flight). The first range [begin, x) stays with
/// that shard (it resumes); the items from `kept_until` on are divided into `parts` near-equal
/// contiguous ranges, the first joining the kept range. Returns fewer ranges when there are
/// fewer items than parts (a single range: nothing to split). Requires parts >= 1 and
/// begin <= kept_until <= end.
std::vector<Shard> split_remainder(int64_t begin, int64_t end, int64_t kept_until, int parts);

/// "splits/split_02.txt" (relative to the work dir).
std::filesystem::path split_file(int shard_index);
/// "gpu2.log" (relative to the work dir); N is the shard index.
std::filesystem::path log_file(int shard_index);
/// "<output.dir>_gpu2", beside the output dir.
std::filesystem::path shard_output_dir(const std::filesystem::path& output_dir, int shard_index);

}  // namespace lv
