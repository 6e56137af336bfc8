#include "shard_plan.h"

#include <algorithm>

#include <fmt/core.h>

namespace lv {

std::vector<Shard> plan_shards(int64_t item_count, int shard_count) {
  std::vector<Shard> shards;
  if (shard_count < 1) return shards;
  const int64_t base = item_count / shard_count;
  const int64_t extra = item_count % shard_count;
  int64_t begin = 0;
  for (int i = 0; i < shard_count; ++i) {
    const int64_t size = base + (i < extra ? 1 : 0);
    shards.push_back(Shard{i, begin, begin + size});
    begin += size;
  }
  return shards;
}

std::vector<Shard> split_remainder(int64_t begin, int64_t end, int64_t kept_until, int parts) {
  const int64_t left = end - kept_until;
  const int count = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(parts, left)));
  std::vector<Shard> out = plan_shards(left, count);
  for (Shard& s : out) {
    s.begin += kept_until;
    s.end += kept_until;
  }
  out.front().begin = begin;
  return out;
}

std::filesystem::path split_file(int shard_index) {
  return std::filesystem::path("splits") / fmt::format("split_{:02d}.txt", shard_index);
}

std::filesystem::path log_file(int shard_index) { return fmt::format("gpu{}.log", shard_index); }

std::filesystem::path shard_output_dir(const std::filesystem::path& output_dir, int shard_index) {
  std::filesystem::path dir = output_dir;
  if (!dir.has_filename()) dir = dir.parent_path();  // "output/" -> "output"
  return dir.parent_path() / fmt::format("{}_gpu{}", dir.filename().string(), shard_index);
}

}  // namespace lv
