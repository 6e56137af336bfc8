#include "shard_plan.h"

#include <vector>

#include "catch.h"

namespace fs = std::filesystem;

namespace {

/// Checks the invariants every plan must hold: indices 0..n-1, contiguous from 0 to
/// `items`, sizes differing by at most one with the larger ones first.
void check_invariants(const std::vector<lv::Shard>& shards, int64_t items, int count) {
  INFO(items << " items in " << count << " shards");
  REQUIRE(shards.size() == static_cast<size_t>(count));
  int64_t next = 0;
  for (int i = 0; i < count; ++i) {
    CHECK(shards[i].index == i);
    CHECK(shards[i].begin == next);
    CHECK(shards[i].end >= shards[i].begin);
    CHECK(shards[i].size() == shards[i].end - shards[i].begin);
    // floor(items / count) or one more; never increasing along the plan.
    CHECK(shards[i].size() * count <= items + count - 1);
    CHECK(shards[i].size() * count >= items - count + 1);
    if (i > 0) CHECK(shards[i].size() <= shards[i - 1].size());
    next = shards[i].end;
  }
  CHECK(next == items);
}

std::vector<int64_t> sizes(const std::vector<lv::Shard>& shards) {
  std::vector<int64_t> out;
  for (const auto& s : shards) out.push_back(s.size());
  return out;
}

}  // namespace

TEST_CASE("shard_plan: 10 items in 4 shards are 3, 3, 2, 2", "[shard_plan]") {
  const auto shards = lv::plan_shards(10, 4);
  REQUIRE(shards.size() == 4);
  CHECK(sizes(shards) == std::vector<int64_t>{3, 3, 2, 2});
  CHECK(shards[0].begin == 0);
  CHECK(shards[0].end == 3);
  CHECK(shards[1].begin == 3);
  CHECK(shards[1].end == 6);
  CHECK(shards[2].begin == 6);
  CHECK(shards[2].end == 8);
  CHECK(shards[3].begin == 8);
  CHECK(shards[3].end == 10);
  check_invariants(shards, 10, 4);
}

TEST_CASE("shard_plan: an even split and a single shard", "[shard_plan]") {
  CHECK(sizes(lv::plan_shards(12, 4)) == std::vector<int64_t>{3, 3, 3, 3});
  CHECK(sizes(lv::plan_shards(7, 1)) == std::vector<int64_t>{7});
  CHECK(sizes(lv::plan_shards(11, 3)) == std::vector<int64_t>{4, 4, 3});
  CHECK(sizes(lv::plan_shards(1000001, 8)) ==
        std::vector<int64_t>{125001, 125000, 125000, 125000, 125000, 125000, 125000, 125000});
}

TEST_CASE("shard_plan: zero items give empty shards", "[shard_plan]") {
  const auto shards = lv::plan_shards(0, 3);
  REQUIRE(shards.size() == 3);
  for (const auto& s : shards) {
    CHECK(s.begin == 0);
    CHECK(s.end == 0);
  }
  check_invariants(shards, 0, 3);
}

TEST_CASE("shard_plan: more shards than items", "[shard_plan]") {
  const auto shards = lv::plan_shards(2, 5);
  CHECK(sizes(shards) == std::vector<int64_t>{1, 1, 0, 0, 0});
  CHECK(shards[4].begin == 2);
  CHECK(shards[4].end == 2);
  check_invariants(shards, 2, 5);
}

TEST_CASE("shard_plan: invariants hold over many sizes", "[shard_plan]") {
  for (int64_t items : {0, 1, 2, 3, 5, 7, 8, 9, 10, 31, 64, 97, 1000}) {
    for (int count : {1, 2, 3, 4, 7, 8, 16}) check_invariants(lv::plan_shards(items, count), items, count);
  }
}

TEST_CASE("shard_plan: no shards requested gives none", "[shard_plan]") {
  CHECK(lv::plan_shards(10, 0).empty());
}

TEST_CASE("shard_plan: file names", "[shard_plan]") {
  CHECK(lv::split_file(0) == fs::path("splits/split_00.txt"));
  CHECK(lv::split_file(2) == fs::path("splits/split_02.txt"));
  CHECK(lv::split_file(12) == fs::path("splits/split_12.txt"));
  CHECK(lv::split_file(123) == fs::path("splits/split_123.txt"));
  CHECK(lv::log_file(0) == fs::path("gpu0.log"));
  CHECK(lv::log_file(2) == fs::path("gpu2.log"));
  CHECK(lv::log_file(15) == fs::path("gpu15.log"));
}

TEST_CASE("shard_plan: shard output dirs sit beside the output dir", "[shard_plan]") {
  CHECK(lv::shard_output_dir("/x/output", 2) == fs::path("/x/output_gpu2"));
  CHECK(lv::shard_output_dir("/x/output/", 2) == fs::path("/x/output_gpu2"));
  CHECK(lv::shard_output_dir("/x/results/run1", 0) == fs::path("/x/results/run1_gpu0"));
  CHECK(lv::shard_output_dir("output", 3) == fs::path("output_gpu3"));
  CHECK(lv::shard_output_dir("rel/out", 10) == fs::path("rel/out_gpu10"));
}
