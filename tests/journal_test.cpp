#include "journal.h"

#include <future>
#include <string>
#include <thread>

#include <fmt/core.h>

#include "atomic_file.h"
#include "byte_text.h"
#include "catch.h"
#include "error.h"
#include "test_util.h"
#include "worker_kit.h"

namespace fs = std::filesystem;
using nlohmann::json;
using lv::test::read_text;
using lv::test::TempDir;
using lv::test::write_text;

namespace {
json rec(const std::string& path, const std::string& verdict) {
  return {{"path", path}, {"verdict", verdict}, {"shard", 1}, {"error", nullptr}};
}
}  // namespace

TEST_CASE("journal round trip keeps records in written order", "[journal]") {
  TempDir dir;
  const auto file = dir / ".journal.jsonl";
  {
    lv::JournalWriter w(file, /*truncate=*/true);
    w.append(rec("a/x.jpg", "correct"));
    w.append(rec("b/y.jpg", "mislabeled"));
    w.append(rec("c/z.jpg", "uncertain"));
    // Flushed after each record: a reader sees all three before the writer closes.
    CHECK(read_text(file) ==
          "{\"error\":null,\"path\":\"a/x.jpg\",\"shard\":1,\"verdict\":\"correct\"}\n"
          "{\"error\":null,\"path\":\"b/y.jpg\",\"shard\":1,\"verdict\":\"mislabeled\"}\n"
          "{\"error\":null,\"path\":\"c/z.jpg\",\"shard\":1,\"verdict\":\"uncertain\"}\n");
  }
  const lv::JournalContents j = lv::read_journal(file);
  REQUIRE(j.records.size() == 3);
  CHECK(j.records[0] == rec("a/x.jpg", "correct"));
  CHECK(j.records[1] == rec("b/y.jpg", "mislabeled"));
  CHECK(j.records[2] == rec("c/z.jpg", "uncertain"));
  CHECK(j.paths == std::unordered_set<std::string>{"a/x.jpg", "b/y.jpg", "c/z.jpg"});
  CHECK(j.skipped_lines == 0);
}

TEST_CASE("a missing journal is empty", "[journal]") {
  TempDir dir;
  const lv::JournalContents j = lv::read_journal(dir / "nope.jsonl");
  CHECK(j.records.empty());
  CHECK(j.paths.empty());
  CHECK(j.skipped_lines == 0);
}

TEST_CASE("a torn last line is skipped and counted and appending after it is safe", "[journal]") {
  TempDir dir;
  const auto file = dir / ".journal.jsonl";
  write_text(file,
             "{\"path\":\"a.jpg\",\"verdict\":\"correct\"}\n"
             "{\"path\":\"b.jpg\",\"verdict\":\"correct\"}\n"
             "{\"path\":\"c.jpg\",\"verd");
  lv::JournalContents j = lv::read_journal(file);
  REQUIRE(j.records.size() == 2);
  CHECK(j.records[1].at("path") == "b.jpg");
  CHECK(j.skipped_lines == 1);
  CHECK(j.paths.count("c.jpg") == 0);

  {
    lv::JournalWriter w(file, /*truncate=*/false);
    w.append(rec("c.jpg", "uncertain"));
  }
  j = lv::read_journal(file);
  REQUIRE(j.records.size() == 3);
  CHECK(j.records[2] == rec("c.jpg", "uncertain"));
  CHECK(j.skipped_lines == 1);
}

TEST_CASE("garbage lines are skipped and counted while blank lines are ignored", "[journal]") {
  TempDir dir;
  const auto file = dir / "j.jsonl";
  write_text(file,
             "not json\n"
             "\n"
             "[1,2]\n"
             "{\"nopath\":1}\n"
             "{\"path\":\"\"}\n"
             "{\"path\":7}\n"
             "{\"path\":\"ok.jpg\"}\r\n");
  const lv::JournalContents j = lv::read_journal(file);
  REQUIRE(j.records.size() == 1);
  CHECK(j.records[0] == json{{"path", "ok.jpg"}});
  CHECK(j.skipped_lines == 5);
}

TEST_CASE("a path journaled twice keeps its first place with the later record", "[journal]") {
  TempDir dir;
  const auto file = dir / "j.jsonl";
  {
    lv::JournalWriter w(file, true);
    w.append(rec("a.jpg", "correct"));
    w.append(rec("b.jpg", "correct"));
    w.append(rec("a.jpg", "mislabeled"));
  }
  const lv::JournalContents j = lv::read_journal(file);
  REQUIRE(j.records.size() == 2);
  CHECK(j.records[0] == rec("a.jpg", "mislabeled"));
  CHECK(j.records[1] == rec("b.jpg", "correct"));
  CHECK(j.paths.size() == 2);
}

TEST_CASE("truncate starts a fresh journal and append keeps the old one", "[journal]") {
  TempDir dir;
  const auto file = dir / "j.jsonl";
  { lv::JournalWriter(file, true).append(rec("a.jpg", "correct")); }
  { lv::JournalWriter(file, false).append(rec("b.jpg", "correct")); }
  CHECK(lv::read_journal(file).records.size() == 2);
  { lv::JournalWriter(file, true).append(rec("c.jpg", "correct")); }
  const lv::JournalContents j = lv::read_journal(file);
  REQUIRE(j.records.size() == 1);
  CHECK(j.records[0].at("path") == "c.jpg");
}

TEST_CASE("a journal that cannot be opened throws naming the file", "[journal]") {
  TempDir dir;
  const auto file = dir / "no_such_dir" / "j.jsonl";
  try {
    lv::JournalWriter w(file, false);
    FAIL("expected lv::Error");
  } catch (const lv::Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find(file.string()) != std::string::npos);
    CHECK(msg.find("No such file") != std::string::npos);
  }
}

TEST_CASE("a file name that is not UTF-8 is journalled escaped and read back as its bytes", "[journal][bytes]") {
  TempDir dir;
  const auto file = dir / ".journal.jsonl";
  const std::string name = "set/images/\xff\xfe scene\\1.png";  // bytes no JSON string can hold
  {
    lv::JournalWriter w(file, true);
    json r = rec("", "correct");
    lv::set_bytes_field(r, "path", name);
    w.append(r);
  }
  CHECK(read_text(file).find(R"("path":"set/images/\\xFF\\xFE scene\\\\1.png","path_escaped":true)") != std::string::npos);
  const lv::JournalContents j = lv::read_journal(file);
  CHECK(j.paths == std::unordered_set<std::string>{name});
  CHECK(j.skipped_lines == 0);
}

TEST_CASE("a record with unescaped bytes that are not UTF-8 is still journalled, not lost", "[journal][bytes]") {
  // Before, the dump threw json type_error 316 and the worker lost the whole shard.
  TempDir dir;
  const auto file = dir / ".journal.jsonl";
  lv::JournalWriter w(file, true);
  json r = rec("a/x.jpg", "error");
  r["error"] = "label line 1: \xe9t\xe9";
  CHECK_NOTHROW(w.append(r));
  CHECK_NOTHROW(w.append(rec("a/y.jpg", "correct")));
  const lv::JournalContents j = lv::read_journal(file);
  CHECK(j.paths == std::unordered_set<std::string>{"a/x.jpg", "a/y.jpg"});
}

namespace {
/// A shard's journal in `dir/out`, started afresh.
struct CommitterFixture {
  TempDir dir;
  lv::WorkerArgs args{dir / "config.yaml", dir / "items.txt", dir / "out", 0, false, {}};
  lv::ShardJournal journal{args, {}};
  std::vector<std::string> journalled() const {
    std::vector<std::string> out;
    for (const json& r : lv::read_journal(args.output_dir / lv::kJournalFileName).records) out.push_back(r["path"]);
    return out;
  }
};
}  // namespace

TEST_CASE("the committer journals records in the order pushed, whatever order their writers finish in",
          "[journal][committer]") {
  CommitterFixture f;
  std::vector<std::promise<json>> writers(6);
  {
    lv::JournalCommitter committer(f.journal, f.args.output_dir, 4);
    std::thread finisher([&] {
      // Backwards: the last record is ready first.
      for (size_t i = writers.size(); i-- > 0;) writers[i].set_value(rec(fmt::format("{}.jpg", i), "correct"));
    });
    for (auto& w : writers) committer.push(w.get_future());  // blocks at 4 until the finisher runs
    committer.finish();
    finisher.join();
  }
  CHECK(f.journalled() == std::vector<std::string>{"0.jpg", "1.jpg", "2.jpg", "3.jpg", "4.jpg", "5.jpg"});
  CHECK(f.journal.done() == 6);
}

TEST_CASE("a writer that threw stops the commits after the records before it, and the worker hears of it",
          "[journal][committer]") {
  CommitterFixture f;
  lv::JournalCommitter committer(f.journal, f.args.output_dir, 8);
  std::promise<json> first, broken, after;
  first.set_value(rec("first.jpg", "correct"));
  broken.set_exception(std::make_exception_ptr(lv::Error(lv::ExitCode::failed, "out/x.txt: write failed (disk full?)")));
  after.set_value(rec("after.jpg", "correct"));
  committer.push(first.get_future());
  committer.push(broken.get_future());
  committer.push(after.get_future());
  CHECK_THROWS_WITH(committer.finish(), Catch::Contains("disk full"));
  // "after" was written but is not journalled: --resume does it again; nothing is lost.
  CHECK(f.journalled() == std::vector<std::string>{"first.jpg"});
}

TEST_CASE("a committer on an output tree it cannot open fails at once, naming it", "[journal][committer]") {
  CommitterFixture f;
  CHECK_THROWS_WITH(lv::JournalCommitter(f.journal, f.dir / "gone", 8),
                    Catch::Contains("gone") && Catch::Contains("cannot open to sync"));
}

TEST_CASE("syncfs stands for an fsync a file only where it reports writeback errors", "[journal][committer]") {
  constexpr long ext4 = 0xEF53, fuse = 0x65735546;
  CHECK(lv::syncfs_reports_errors("6.1.0-27-amd64", ext4));
  CHECK(lv::syncfs_reports_errors("5.8.0", ext4));
  CHECK(lv::syncfs_reports_errors("5.15.0-105-generic", ext4));
  CHECK_FALSE(lv::syncfs_reports_errors("5.4.0-150-generic", ext4));          // Ubuntu 20.04
  CHECK_FALSE(lv::syncfs_reports_errors("4.18.0-513.el8.x86_64", ext4));      // RHEL 8
  CHECK_FALSE(lv::syncfs_reports_errors("6.1.0", fuse));                      // s3fs, gcsfuse
  CHECK_FALSE(lv::syncfs_reports_errors("", ext4));
  CHECK_FALSE(lv::syncfs_reports_errors("six", ext4));
  // This machine: a fresh folder can be synced, and the durability follows the kernel's answer.
  TempDir dir;
  const lv::FileSystemSync sync(dir.path());
  CHECK_NOTHROW(sync.sync());
  CHECK(sync.durability() == (sync.batched() ? lv::Durability::deferred : lv::Durability::synced));
}

TEST_CASE("a committer dropped without finish ends once its writers do and journals no more", "[journal][committer]") {
  CommitterFixture f;
  {
    lv::JournalCommitter committer(f.journal, f.args.output_dir, 8);
    std::promise<json> pending;
    committer.push(pending.get_future());
    // The worker unwinds (an exception): the writer's task goes with its pool.
  }  // `pending` is destroyed first: broken_promise wakes the committer, which ends.
  CHECK(f.journalled().empty());
}
