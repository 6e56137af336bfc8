#include "atomic_file.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catch.h"
#include "error.h"
#include "test_util.h"

namespace fs = std::filesystem;
using lv::test::read_text;
using lv::test::TempDir;
using lv::test::write_text;

TEST_CASE("temporary names are unique per call, across threads, and recognisable", "[atomic_file]") {
  std::vector<std::vector<std::string>> names(4);
  std::vector<std::thread> threads;
  for (auto& mine : names)
    threads.emplace_back([&mine] {
      for (int i = 0; i < 200; ++i) mine.push_back(lv::temporary_path("d/labels/a.txt").string());
    });
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& mine : names)
    for (const auto& n : mine) {
      CHECK(n.rfind("d/labels/a.txt.tmp.", 0) == 0);
      CHECK(lv::is_temporary_name(fs::path(n).filename().string()));
      all.insert(n);
    }
  CHECK(all.size() == 800);
}

TEST_CASE("is_temporary_name knows the current and the older form and nothing else", "[atomic_file]") {
  CHECK(lv::is_temporary_name("scene_00145.txt.tmp.25734.3"));
  CHECK(lv::is_temporary_name("scene_00145.txt.tmp.25734"));  // written before the counter
  CHECK(lv::is_temporary_name("verification_report.json.tmp.9.0"));
  CHECK(lv::fixed_temporary_path("d/x.jpg") == fs::path("d/x.jpg.tmp.0.0"));
  CHECK(lv::is_temporary_name(lv::fixed_temporary_path("x.jpg").string()));
  CHECK_FALSE(lv::is_temporary_name("scene_00145.txt"));
  CHECK_FALSE(lv::is_temporary_name("a.tmp"));
  CHECK_FALSE(lv::is_temporary_name("a.tmp."));
  CHECK_FALSE(lv::is_temporary_name(".tmp.12"));
  CHECK_FALSE(lv::is_temporary_name("a.tmp.x1"));
  CHECK_FALSE(lv::is_temporary_name("a.tmp.1.2.3"));
  CHECK_FALSE(lv::is_temporary_name("img.tmp1.jpg"));
  CHECK_FALSE(lv::is_temporary_name(""));
}

TEST_CASE("threads writing one path atomically all succeed and leave one whole file", "[atomic_file]") {
  // With a temporary named after the process only, one thread renamed another's temporary
  // away and that one failed with "cannot rename into place" (issue 7, case 7).
  TempDir dir;
  const fs::path target = dir / "labels/scene_1.txt";
  fs::create_directories(target.parent_path());
  std::vector<std::string> errors(8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < errors.size(); ++t)
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < 50; ++i) lv::write_file_atomic(target, std::string(1000, static_cast<char>('a' + t)));
      } catch (const lv::Error& e) {
        errors[t] = e.what();
      }
    });
  for (auto& th : threads) th.join();
  for (const auto& e : errors) CHECK(e.empty());
  const std::string content = read_text(target);
  REQUIRE(content.size() == 1000);
  CHECK(content == std::string(1000, content[0]));
  CHECK(std::distance(fs::directory_iterator(target.parent_path()), fs::directory_iterator()) == 1);
}

TEST_CASE("a streamed atomic write that throws leaves the old file and no temporary", "[atomic_file]") {
  TempDir dir;
  const fs::path target = dir / "report.json";
  write_text(target, "old");
  CHECK_THROWS_WITH(lv::write_file_atomic(target,
                                          [](std::ostream& out) {
                                            out << "half";
                                            throw std::runtime_error("disk on fire");
                                          }),
                    "disk on fire");
  CHECK(read_text(target) == "old");
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
  lv::write_file_atomic(target, [](std::ostream& out) { out << "new"; });
  CHECK(read_text(target) == "new");
}

TEST_CASE("remove_temporaries removes leftovers at any depth and keeps results", "[atomic_file]") {
  TempDir dir;
  write_text(dir / "out/correct/a/labels/x.txt", "0 0.5 0.5 0.1 0.1\n");
  write_text(dir / "out/correct/a/labels/x.txt.tmp.25734", "0 0.5");
  write_text(dir / "out/correct/a/JPEGImages/x.jpg.tmp.25734.7", "\xff\xd8");
  write_text(dir / "out/verification_report.json.tmp.1.0", "{");
  write_text(dir / "out/.journal.jsonl", "{}\n");
  CHECK(lv::remove_temporaries(dir / "out") == 3);
  CHECK(fs::exists(dir / "out/correct/a/labels/x.txt"));
  CHECK(fs::exists(dir / "out/.journal.jsonl"));
  CHECK_FALSE(fs::exists(dir / "out/correct/a/labels/x.txt.tmp.25734"));
  CHECK_FALSE(fs::exists(dir / "out/correct/a/JPEGImages/x.jpg.tmp.25734.7"));
  CHECK(lv::remove_temporaries(dir / "out") == 0);
  CHECK(lv::remove_temporaries(dir / "missing") == 0);
}

TEST_CASE("a fixed-name atomic write replaces the leftover of a crashed writer", "[atomic_file]") {
  TempDir dir;
  const fs::path target = dir / "verification_report.json";
  write_text(dir / "verification_report.json.tmp.0.0", "{\"half");  // killed mid-write
  lv::write_file_atomic(target, [](std::ostream& out) { out << "{}"; }, lv::TemporaryName::fixed);
  CHECK(read_text(target) == "{}");
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}
