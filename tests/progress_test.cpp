#include "progress.h"

#include "catch.h"

using lv::parse_progress_line;
using lv::Progress;

namespace {
Progress progress(int64_t done, int64_t total, int64_t failed) {
  Progress p;
  p.done = done;
  p.total = total;
  p.failed = failed;
  return p;
}
}  // namespace

TEST_CASE("progress: the line has the protocol's exact shape", "[progress]") {
  CHECK(lv::format_progress(progress(3, 10, 1)) == "[progress] 3/10 failed=1");
  CHECK(lv::format_progress(progress(0, 0, 0)) == "[progress] 0/0 failed=0");
  CHECK(lv::format_progress(progress(1234567890123, 9876543210987, 42)) ==
        "[progress] 1234567890123/9876543210987 failed=42");
}

TEST_CASE("progress: format and parse round trip", "[progress]") {
  for (const Progress& p : {progress(0, 0, 0), progress(0, 5, 0), progress(5, 5, 5), progress(17, 100, 3),
                            progress(int64_t{1} << 40, int64_t{1} << 41, 7)}) {
    const std::string line = lv::format_progress(p);
    INFO(line);
    const auto parsed = parse_progress_line(line);
    REQUIRE(parsed.has_value());
    CHECK(*parsed == p);
  }
}

TEST_CASE("progress: parses hand-written lines", "[progress]") {
  auto p = parse_progress_line("[progress] 7/20 failed=2");
  REQUIRE(p);
  CHECK(p->done == 7);
  CHECK(p->total == 20);
  CHECK(p->failed == 2);

  // failed= is optional and then 0.
  p = parse_progress_line("[progress] 4/9");
  REQUIRE(p);
  CHECK(*p == progress(4, 9, 0));
}

TEST_CASE("progress: text before [progress] is allowed", "[progress]") {
  auto p = parse_progress_line("2026-11-22 13:12:31 INFO worker: [progress] 12/40 failed=1");
  REQUIRE(p);
  CHECK(*p == progress(12, 40, 1));
  p = parse_progress_line("gpu2| [progress] 1/2 failed=0");
  REQUIRE(p);
  CHECK(*p == progress(1, 2, 0));
}

TEST_CASE("progress: CRLF and trailing blanks are tolerated", "[progress]") {
  auto p = parse_progress_line("[progress] 3/4 failed=0\r");
  REQUIRE(p);
  CHECK(*p == progress(3, 4, 0));
  p = parse_progress_line("[progress] 3/4\r");
  REQUIRE(p);
  CHECK(*p == progress(3, 4, 0));
  p = parse_progress_line("[progress] 3/4 failed=1  ");
  REQUIRE(p);
  CHECK(*p == progress(3, 4, 1));
}

TEST_CASE("progress: malformed lines are rejected", "[progress]") {
  const char* bad[] = {
      "",                                  // nothing
      "progress 1/2 failed=0",             // no tag
      "[progress]",                        // tag only
      "[progress] ",                       // tag only
      "[progress] 5/3 failed=0",           // done > total
      "[progress] -1/3 failed=0",          // negative done
      "[progress] 1/-3 failed=0",          // negative total
      "[progress] 1/3 failed=-1",          // negative failed
      "[progress] 1/3 failed=0 extra",     // trailing junk
      "[progress] 1/3 failed=0x",          // trailing junk glued on
      "[progress] 1/3x",                   // trailing junk after total
      "[progress] 1/3 done",               // unknown field
      "[progress] 1/",                     // missing total
      "[progress] 1",                      // missing slash and total
      "[progress] /3",                     // missing done
      "[progress] 1/3 failed=",            // missing failed count
      "[progress] a/3 failed=0",           // not a number
      "[progress] 1.5/3 failed=0",         // not an integer
      "[progress] 1 / 3 failed=0",         // spaces inside the fraction
      "[progress] 99999999999999999999/99999999999999999999",  // overflows int64
      "[PROGRESS] 1/3 failed=0",           // the tag is case-sensitive
  };
  for (const char* line : bad) {
    INFO("line: '" << line << "'");
    CHECK_FALSE(parse_progress_line(line).has_value());
  }
}

TEST_CASE("a phase line names the worker's start-up step, other lines are not phases", "[progress]") {
  CHECK(lv::format_phase("loading model") == "[phase] loading model");
  CHECK(lv::parse_phase_line("[phase] loading model") == std::optional<std::string>("loading model"));
  CHECK(lv::parse_phase_line("2026-12-02 [phase] warm-up \r") == std::optional<std::string>("warm-up"));
  CHECK_FALSE(lv::parse_phase_line("[phase] "));
  CHECK_FALSE(lv::parse_phase_line("[progress] 1/2 failed=0"));
  CHECK_FALSE(lv::parse_phase_line("phase loading"));
  CHECK(lv::parse_phase_line("[phase] " + std::string(200, 'x'))->size() == 60);
}
