#include "catch.h"
#include "status_printer.h"

using namespace lv;

TEST_CASE("durations read like a person would write them", "[status]") {
  CHECK(format_duration(0) == "0s");
  CHECK(format_duration(42.4) == "42s");
  CHECK(format_duration(185) == "3m05s");
  CHECK(format_duration(3720) == "1h02m");
  CHECK(format_duration(-1) == "--");
}

TEST_CASE("a status line shows device, bar, percent, counts, rate and ETA", "[status]") {
  ShardState s;
  s.begin = 0;
  s.end = 10000;
  s.status = ShardStatus::running;
  ShardRun run;
  run.have_progress = true;
  run.progress = Progress{5200, 10000, 3};
  run.rate = 31.2;
  // 4800 left at 31.2/s = 153.8 s -> "2m34s"; 52% of 20 bar cells = 10 filled.
  CHECK(format_status_line("GPU 2", run, s, false) ==
        "GPU 2   [##########..........]  52.0%  5200/10000  31.2 it/s  ETA 2m34s  item errors=3");
  s.status = ShardStatus::failed;
  s.failure = "stalled";
  const std::string coloured = format_status_line("GPU 2", run, s, true);
  CHECK(coloured.rfind("\033[31m", 0) == 0);
  CHECK(coloured.find("FAILED (stalled)") != std::string::npos);
  CHECK(format_status_line("GPU 2", run, s, false).find('\033') == std::string::npos);
}
