// Padding token sequences into [B, L] input_ids / attention_mask, and the windowed
// length-sorted reading order (worker/token_batch.h).
#include <algorithm>
#include <vector>

#include "catch.h"
#include "error.h"
#include "token_batch.h"

using namespace lv;
using Ids = std::vector<int64_t>;
using Order = std::vector<size_t>;

TEST_CASE("a batch is padded to its longest sequence, row-major, with a 0/1 mask", "[text][batch]") {
  const Ids a{5, 6, 7}, b{8}, c{9, 10};
  const TokenBatch batch = pad_batch({&a, &b, &c}, 0);
  CHECK(batch.rows == 3);
  CHECK(batch.cols == 3);
  CHECK(batch.ids == Ids{5, 6, 7,
                         8, 0, 0,
                         9, 10, 0});
  CHECK(batch.mask == Ids{1, 1, 1,
                          1, 0, 0,
                          1, 1, 0});
}

TEST_CASE("padding uses the given pad id and only the mask tells padding from tokens", "[text][batch]") {
  const Ids a{3, 3}, b{3};
  const TokenBatch batch = pad_batch({&a, &b}, 3);
  CHECK(batch.ids == Ids{3, 3, 3, 3});
  CHECK(batch.mask == Ids{1, 1, 1, 0});
}

TEST_CASE("a batch of empty sequences still has one column, all padding", "[text][batch]") {
  const Ids empty;
  const TokenBatch batch = pad_batch({&empty, nullptr}, 7);
  CHECK(batch.rows == 2);
  CHECK(batch.cols == 1);
  CHECK(batch.ids == Ids{7, 7});
  CHECK(batch.mask == Ids{0, 0});
}

TEST_CASE("an empty batch has no rows and one column", "[text][batch]") {
  const TokenBatch batch = pad_batch({}, 0);
  CHECK(batch.rows == 0);
  CHECK(batch.cols == 1);
  CHECK(batch.ids.empty());
  CHECK(batch.mask.empty());
}

TEST_CASE("rows keep the order of the sequences given", "[text][batch]") {
  const Ids a{1}, b{2, 2};
  const TokenBatch batch = pad_batch({&b, &a, &b}, 0);
  CHECK(batch.ids == Ids{2, 2, 1, 0, 2, 2});
}

TEST_CASE("each window is ordered longest first, equal lengths in input order", "[text][batch]") {
  //                          0  1  2  3  4  5  6
  const std::vector<size_t> lengths{2, 9, 2, 5, 1, 8, 8};
  CHECK(length_sorted_order(lengths, 3) == Order{1, 0, 2, 5, 3, 4, 6});
  CHECK(length_sorted_order(lengths, 4) == Order{1, 3, 0, 2, 5, 6, 4});
}

TEST_CASE("a window of one keeps the input order, one covering everything sorts it all", "[text][batch]") {
  const std::vector<size_t> lengths{2, 9, 2, 5, 1};
  CHECK(length_sorted_order(lengths, 1) == Order{0, 1, 2, 3, 4});
  CHECK(length_sorted_order(lengths, 5) == Order{1, 3, 0, 2, 4});
  CHECK(length_sorted_order(lengths, 1000) == Order{1, 3, 0, 2, 4});
  CHECK(length_sorted_order(lengths, static_cast<size_t>(-1)) == Order{1, 3, 0, 2, 4});
}

TEST_CASE("the order is a permutation that never moves an item out of its window", "[text][batch]") {
  std::vector<size_t> lengths;
  for (size_t i = 0; i < 103; ++i) lengths.push_back((i * 37) % 11);
  const size_t window = 10;
  const Order order = length_sorted_order(lengths, window);
  REQUIRE(order.size() == lengths.size());
  Order sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) CHECK(sorted[i] == i);
  for (size_t i = 0; i < order.size(); ++i) CHECK(order[i] / window == i / window);
  for (size_t i = 1; i < order.size(); ++i)
    if (i % window != 0) CHECK(lengths[order[i - 1]] >= lengths[order[i]]);
}

TEST_CASE("no lengths give an empty order", "[text][batch]") {
  CHECK(length_sorted_order({}, 4).empty());
}

TEST_CASE("a window of zero items is a usage error", "[text][batch]") {
  try {
    length_sorted_order({1, 2}, 0);
    FAIL("expected lv::Error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
  }
}
