#include "catch.h"
#include "gpu_monitor.h"
#include "status_printer.h"

using namespace lv;

namespace {

/// Everything written to a tmpfile, which is closed.
std::string read_and_close(std::FILE* out) {
  std::rewind(out);
  std::string text;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, out)) text.append(buf, n);
  std::fclose(out);
  return text;
}

}  // namespace

TEST_CASE("durations read like a person would write them", "[status]") {
  CHECK(format_duration(0) == "0s");
  CHECK(format_duration(42.4) == "42s");
  CHECK(format_duration(185) == "3m05s");
  CHECK(format_duration(3720) == "1h02m");
  CHECK(format_duration(-1) == "--");
}

TEST_CASE("a status line shows device, bar, percent, counts, rate and ETA", "[status]") {
  ShardView v;
  v.device = "GPU 2";
  v.total = 10000;
  v.state = ShardView::State::running;
  v.progress = Progress{5200, 10000, 3};
  v.rate = 31.2;
  // 4800 left at 31.2/s = 153.8 s -> "2m34s"; 52% of 20 bar cells = 10 filled.
  CHECK(format_status_line(v, false) ==
        "GPU 2   [##########..........]  52.0%  5200/10000  31.2 it/s  ETA 2m34s  item errors=3");
  v.state = ShardView::State::failed;
  v.failure = FailureKind::stalled;
  const std::string coloured = format_status_line(v, true);
  CHECK(coloured.rfind("\033[31m", 0) == 0);
  CHECK(coloured.find("FAILED (stalled)") != std::string::npos);
  CHECK(format_status_line(v, false).find('\033') == std::string::npos);
}

TEST_CASE("a starting shard shows the phase its worker reported", "[status]") {
  ShardView v;
  v.device = "GPU 0";
  v.total = 500;
  v.state = ShardView::State::starting;
  v.phase = "loading model";
  CHECK(format_status_line(v, false) == "GPU 0   [....................]   0.0%  0/500  starting: loading model");
}

TEST_CASE("the printer follows events: started, phase, progress, done", "[status]") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  SteadyClock clock;
  StatusPrinter printer(out, false, false, 0, clock);
  PlanReady plan;
  plan.status_interval_s = 0;  // print at every tick
  plan.selected.push_back(PlannedShard{0, "GPU 0", 0, 10, "0", "", "gpu0.log"});
  printer.on(plan);
  printer.on(ShardStarted{0, "GPU 0", 1, 10, false, "gpu0.log", ""});
  printer.on(ShardPhase{0, "warm-up"});
  printer.tick();
  printer.on(ShardProgress{0, Progress{4, 10, 0}, 2.0});
  printer.tick();
  printer.on(ShardDone{0, "GPU 0", 10, 5.0, 5.0, 1});
  printer.finish_live();
  const std::string text = read_and_close(out);
  INFO(text);
  CHECK(text.find("starting: warm-up") != std::string::npos);
  CHECK(text.find("4/10  2.0 it/s  ETA 3s") != std::string::npos);
  CHECK(text.find("shard 0 (GPU 0): done, 10 items in 5.0 s") != std::string::npos);
  CHECK(text.find("[####################] 100.0%  10/10  done in 5s") != std::string::npos);
}

TEST_CASE("the summary names a worker's own counters, leaving out those that are zero", "[status]") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  SteadyClock clock;
  StatusPrinter printer(out, false, false, 0, clock);
  printer.on(Summary{nlohmann::json{{"total_documents", 5}, {"correct", 3}, {"embedded", 0}, {"errors", 2}}, 0,
                     "out/verification_report.json", {}, {}, 0});
  printer.on(Summary{nlohmann::json{{"total_images", 2}, {"total_boxes", 3}, {"correct", 3}}, 1, "r.json", {}, {}, 0});
  const std::string text = read_and_close(out);
  INFO(text);
  CHECK(text.find("Summary: correct 3, errors 2, total_documents 5\n") != std::string::npos);
  CHECK(text.find("Summary: 2 images, 3 boxes: 3 correct, 0 mislabeled") != std::string::npos);
  CHECK(text.find("Not processed: 1 item(s)") != std::string::npos);
}

TEST_CASE("the throughput summary: items/s per device, efficiency against the median device, hints", "[status]") {
  lv::Throughput t;
  t.wall_s = 10;
  t.items = 300;
  t.devices.push_back({"GPU 0", 100, 10, 5, 30.0, 2000, 81920});
  t.devices.push_back({"GPU 1", 200, 10, 5, 95.0, 80000, 81920});
  t.devices.push_back({"GPU 2", 0, 0, 0, 0, 0, 0});  // quarantined before it did anything: left out
  const std::string text = lv::format_throughput(t);
  INFO(text);
  CHECK(text.find("Throughput: 300 items in 10s (30.0 items/s); GPU 0 10.0/s (busy 100%, GPU 30%), GPU 1 20.0/s") !=
        std::string::npos);
  CHECK(text.find("GPU 2") == std::string::npos);
  // 30 items/s against 2 x 20 (the upper median): 0.75.
  CHECK(text.find("Efficiency 0.75") != std::string::npos);
  CHECK(text.find("hint: GPU 0 averaged 30% utilisation while its worker ran: the input side is the limit") !=
        std::string::npos);
  CHECK(text.find("hint: GPU 1 averaged") == std::string::npos);
  CHECK(text.find("hint: GPU 1 memory reached 78.1 of 80.0 GB: lower processing.batch_size") != std::string::npos);
  CHECK(text.find("hint: GPU 0 memory") == std::string::npos);

  // Too few samples to judge: no utilisation hint; a sampler that failed is named.
  t.devices[0].busy_samples = 2;
  t.sampling_problem = "nvidia-smi stopped sampling (exit code 9)";
  const std::string few = lv::format_throughput(t);
  CHECK(few.find("hint: GPU 0 averaged") == std::string::npos);
  CHECK(few.find("(no GPU utilisation figures: nvidia-smi stopped sampling (exit code 9))") != std::string::npos);
}

TEST_CASE("the GPU monitor counts utilisation only while a worker runs on the GPU, and keeps the peak memory",
          "[status]") {
  bool gpu1_busy = true;
  lv::GpuMonitor m(lv::LaunchSpec{}, [&](int index) { return index == 1 && gpu1_busy; });
  CHECK(m.feed("0, 10, 100, 1000\n1, 80, 500, 1000\n1, 6").size() == 2);  // the torn line waits
  CHECK(m.feed("0, 700, 1000\n").size() == 1);
  gpu1_busy = false;
  m.feed("1, 0, 100, 1000\n");
  const auto& stats = m.stats();
  CHECK(stats.at(0).busy_samples == 0);
  CHECK(stats.at(1).busy_samples == 2);
  CHECK(stats.at(1).mean_busy_util() == Approx(70.0));
  CHECK(stats.at(1).peak_used_mib == 700);
  CHECK(stats.at(1).total_mib == 1000);
}

TEST_CASE("status lines name their shard once shards outnumber devices (a split)", "[status]") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  SteadyClock clock;
  StatusPrinter printer(out, /*live=*/false, /*color=*/false, 0, clock);
  PlanReady plan{0, 0, 2, {PlannedShard{0, "GPU 0", 0, 10, "0", "", "gpu0.log"}}, {}, {}, {}, {}, false, 10};
  plan.status_interval_s = 0;
  plan.selected.push_back(PlannedShard{1, "GPU 1", 10, 20, "1", "", "gpu1.log"});
  printer.on(plan);
  printer.tick();
  printer.on(ShardSplit{1, "GPU 1", 10, 15, {PlannedShard{2, "GPU 0", 15, 20, "0", "", "gpu0.log"}}, ""});
  printer.tick();
  printer.finish_live();
  const std::string text = read_and_close(out);
  INFO(text);
  CHECK(text.find("GPU 0   [") != std::string::npos);  // before the split: devices alone
  CHECK(text.find("GPU 1 s1 [") != std::string::npos);
  CHECK(text.find("GPU 0 s2 [") != std::string::npos);
  CHECK(text.find("balancing: shard 1 (GPU 1) keeps items 10..15; split off: shard 2 (GPU 0) items 15..20") !=
        std::string::npos);
}
