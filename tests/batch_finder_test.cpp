// The batch-size finder's search on constructed probes (issue 10): a fake clock that the probe
// advances by a modelled time, a fake GPU whose memory grows with the batch.
#include "batch_finder.h"

#include <algorithm>

#include "catch.h"

using namespace lv;

namespace {

/// CPU: a forward of b rows takes 4 ms + 1 ms a row, plus 0.5 ms a row beyond 8 (caches
/// overflow): 200, 333, 500, 667 items/s at 1, 2, 4, 8, then flat.
class CpuProbe : public BatchProbe {
 public:
  double now = 0;
  std::vector<int> runs;
  bool run(int b) override {
    runs.push_back(b);
    now += 0.004 + 0.001 * b + (b > 8 ? 0.0005 * (b - 8) : 0.0);
    return true;
  }
  uint64_t memory_total() const override { return 0; }
  uint64_t last_peak() const override { return 0; }
  std::string device() const override { return "cpu"; }
};

/// GPU of 10 GB: a batch of b needs 1 GB + 0.1 GB a row; above 10 GB it runs out of memory.
class GpuProbe : public BatchProbe {
 public:
  uint64_t peak = 0;
  bool run(int b) override {
    const double need = 1e9 + 1e8 * b;
    if (need > 10e9) {
      peak = 0;
      return false;
    }
    peak = static_cast<uint64_t>(need);
    return true;
  }
  uint64_t memory_total() const override { return 10'000'000'000ull; }
  uint64_t last_peak() const override { return peak; }
  std::string device() const override { return "cuda:0"; }
};

}  // namespace

TEST_CASE("batch finder on the CPU: the batch where throughput stops rising, with the table", "[batch_finder]") {
  CpuProbe probe;
  const BatchPick pick = find_batch_size(probe, 512, [&] { return probe.now; });
  CHECK(pick.batch == 8);
  // It tried 1..32: two doublings past 8 without a gain, then stopped.
  REQUIRE(pick.tries.size() == 6);
  CHECK(pick.tries.back().batch == 32);
  CHECK(pick.tries[0].items_per_s == Approx(200.0));
  CHECK(pick.tries[3].items_per_s == Approx(666.7).epsilon(0.01));
  const std::string text = format_batch_pick(probe, pick);
  CHECK(text.find("items/s") != std::string::npos);
  CHECK(text.find("[batch-size] 8") != std::string::npos);
  // A cap below the knee is respected.
  CpuProbe capped;
  CHECK(find_batch_size(capped, 4, [&] { return capped.now; }).batch == 4);
}

TEST_CASE("batch finder on a GPU: the largest batch within the tier's margin, to a multiple of 4", "[batch_finder]") {
  CHECK(memory_margin(80'000'000'000ull) == Approx(0.20));
  CHECK(memory_margin(24'000'000'000ull) == Approx(0.20));
  CHECK(memory_margin(12'000'000'000ull) == Approx(0.15));
  CHECK(memory_margin(6'000'000'000ull) == Approx(0.10));
  GpuProbe probe;
  const BatchPick pick = find_batch_size(probe, 1024, [] { return 0.0; });
  // 10 GB, 15 % margin: 8.5 GB -> 1 + 0.1 b <= 8.5 -> 75, rounded down to 72.
  CHECK(pick.batch == 72);
  const auto oom = std::find_if(pick.tries.begin(), pick.tries.end(), [](const BatchTry& t) { return t.batch == 128; });
  REQUIRE(oom != pick.tries.end());
  CHECK_FALSE(oom->fits);
  const auto over = std::find_if(pick.tries.begin(), pick.tries.end(), [](const BatchTry& t) { return t.batch == 76; });
  if (over != pick.tries.end()) CHECK_FALSE(over->fits);  // fits in memory, but past the margin
  CHECK(format_batch_pick(probe, pick).find("[batch-size] 72") != std::string::npos);
  CHECK(find_batch_size(probe, 16, [] { return 0.0; }).batch == 16);
}

TEST_CASE("batch finder on the CPU stops at a batch that runs out of memory", "[batch_finder]") {
  struct Limited : CpuProbe {
    bool run(int b) override { return b <= 4 && CpuProbe::run(b); }
  } probe;
  const BatchPick pick = find_batch_size(probe, 512, [&] { return probe.now; });
  CHECK(pick.batch == 4);
  REQUIRE(pick.tries.size() == 4);
  CHECK_FALSE(pick.tries.back().fits);
  CHECK(format_batch_pick(probe, pick).find("out of memory") != std::string::npos);
}
