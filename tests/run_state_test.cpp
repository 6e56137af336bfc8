#include "run_state.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "catch.h"
#include "error.h"
#include "test_util.h"

namespace fs = std::filesystem;
using lv::RunState;
using lv::ShardState;
using lv::ShardStatus;
using lv::test::TempDir;
using lv::test::wait_until;
using lv::test::write_text;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

RunState sample_state() {
  RunState s;
  s.version = 1;
  s.tool_version = "0.3.1";
  s.config_path = "/home/u/proj/config.yaml";
  s.config_hash = "crc32:0badf00d:123";
  s.input = "/home/u/proj/data";
  s.items_hash = "crc32:12345678:9999";
  s.item_count = 10;
  s.output_dir = "/home/u/proj/output";
  s.worker = "/usr/local/bin/image_worker";
  s.created_at = "2026-11-22T13:12:31Z";

  ShardState a;
  a.index = 0;
  a.begin = 0;
  a.end = 6;
  a.device = "GPU 2";
  a.is_gpu = true;
  a.device_index = 2;
  a.cuda_visible_devices = "2";
  a.status = ShardStatus::failed;
  a.exit_code = 137;
  a.signal = 9;
  a.failure = "killed (out of memory?)";
  a.attempts = 3;
  a.started_at = "2026-11-22T13:12:32Z";
  a.ended_at = "2026-11-22T13:20:00Z";
  a.seconds = 447.25;
  a.done = 4;

  ShardState b;
  b.index = 1;
  b.begin = 6;
  b.end = 10;
  b.device = "CPU 0";
  b.is_gpu = false;
  b.device_index = 0;
  b.cuda_visible_devices = "";
  b.status = ShardStatus::pending;
  // exit_code and signal left empty: null in the file.

  s.shards = {a, b};
  return s;
}

void check_shard_equal(const ShardState& got, const ShardState& want) {
  INFO("shard " << want.index);
  CHECK(got.index == want.index);
  CHECK(got.begin == want.begin);
  CHECK(got.end == want.end);
  CHECK(got.device == want.device);
  CHECK(got.is_gpu == want.is_gpu);
  CHECK(got.device_index == want.device_index);
  CHECK(got.cuda_visible_devices == want.cuda_visible_devices);
  CHECK(got.status == want.status);
  CHECK(got.exit_code == want.exit_code);
  CHECK(got.signal == want.signal);
  CHECK(got.failure == want.failure);
  CHECK(got.attempts == want.attempts);
  CHECK(got.started_at == want.started_at);
  CHECK(got.ended_at == want.ended_at);
  CHECK(got.seconds == want.seconds);
  CHECK(got.done == want.done);
}

/// Whether taking the lock on `dir` fails right now (lv::Error); the message goes to `message`.
bool lock_refused(const fs::path& dir, std::string* message = nullptr) {
  try {
    lv::WorkDirLock lock(dir);
    return false;
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::usage);
    if (message) *message = e.what();
    return true;
  }
}

}  // namespace

TEST_CASE("run_state: status names", "[run_state]") {
  CHECK(lv::to_string(ShardStatus::pending) == "pending");
  CHECK(lv::to_string(ShardStatus::running) == "running");
  CHECK(lv::to_string(ShardStatus::succeeded) == "succeeded");
  CHECK(lv::to_string(ShardStatus::failed) == "failed");
  CHECK(lv::to_string(ShardStatus::interrupted) == "interrupted");
  CHECK(lv::shard_status_from_string("interrupted") == ShardStatus::interrupted);
  CHECK(lv::shard_status_from_string("succeeded") == ShardStatus::succeeded);
  CHECK_FALSE(lv::shard_status_from_string("done").has_value());
  CHECK_FALSE(lv::shard_status_from_string("").has_value());
}

TEST_CASE("run_state: save and load round trip every field", "[run_state]") {
  TempDir dir;
  const RunState want = sample_state();
  lv::save_run_state(dir.path(), want);
  REQUIRE(fs::exists(dir / "run_state.json"));

  const std::optional<RunState> got = lv::load_run_state(dir.path());
  REQUIRE(got.has_value());
  CHECK(got->version == 1);
  CHECK(got->tool_version == want.tool_version);
  CHECK(got->config_path == want.config_path);
  CHECK(got->config_hash == want.config_hash);
  CHECK(got->input == want.input);
  CHECK(got->items_hash == want.items_hash);
  CHECK(got->item_count == want.item_count);
  CHECK(got->output_dir == want.output_dir);
  CHECK(got->worker == want.worker);
  CHECK(got->created_at == want.created_at);
  REQUIRE(got->shards.size() == 2);
  check_shard_equal(got->shards[0], want.shards[0]);
  check_shard_equal(got->shards[1], want.shards[1]);
  CHECK(got->shards[0].exit_code == std::optional<int>(137));
  CHECK(got->shards[0].signal == std::optional<int>(9));
  CHECK_FALSE(got->shards[1].exit_code.has_value());
  CHECK_FALSE(got->shards[1].signal.has_value());
}

TEST_CASE("run_state: the file is readable JSON with the documented names", "[run_state]") {
  TempDir dir;
  lv::save_run_state(dir.path(), sample_state());
  const std::string text = lv::test::read_text(dir / "run_state.json");
  CHECK(contains(text, "\"items_file\": \"items.txt\""));
  CHECK(contains(text, "\"status\": \"failed\""));
  CHECK(contains(text, "\"status\": \"pending\""));
  CHECK(contains(text, "\"exit_code\": null"));
  CHECK(contains(text, "\"signal\": null"));
  CHECK(contains(text, "\"exit_code\": 137"));
}

TEST_CASE("run_state: every status survives a round trip", "[run_state]") {
  TempDir dir;
  for (ShardStatus st : {ShardStatus::pending, ShardStatus::running, ShardStatus::succeeded, ShardStatus::failed,
                         ShardStatus::interrupted}) {
    RunState s = sample_state();
    s.shards[1].status = st;
    s.shards[1].exit_code = 0;
    lv::save_run_state(dir.path(), s);
    const auto got = lv::load_run_state(dir.path());
    REQUIRE(got);
    CHECK(got->shards[1].status == st);
    CHECK(got->shards[1].exit_code == std::optional<int>(0));
    CHECK_FALSE(got->shards[1].signal.has_value());
  }
}

TEST_CASE("run_state: saving leaves only the state file behind", "[run_state]") {
  TempDir dir;
  lv::save_run_state(dir.path(), sample_state());
  RunState changed = sample_state();
  changed.shards[0].status = ShardStatus::succeeded;
  lv::save_run_state(dir.path(), changed);  // a rewrite replaces the file
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  CHECK(names == std::vector<std::string>{"run_state.json"});
  const auto got = lv::load_run_state(dir.path());
  REQUIRE(got);
  CHECK(got->shards[0].status == ShardStatus::succeeded);
}

TEST_CASE("run_state: no file means no state", "[run_state]") {
  TempDir dir;
  CHECK_FALSE(lv::load_run_state(dir.path()).has_value());
  CHECK_FALSE(lv::load_run_state(dir / "not_created_yet").has_value());
}

TEST_CASE("run_state: a corrupt file is an error naming it", "[run_state]") {
  TempDir dir;
  const fs::path file = dir / "run_state.json";
  const std::string valid = [&] {
    lv::save_run_state(dir.path(), sample_state());
    return lv::test::read_text(file);
  }();
  const std::string cases[] = {
      "",                                           // empty
      "{\"version\": 1, \"config_path\": ",         // truncated
      "not json at all",                            // garbage
      "[]",                                         // wrong shape
      "{\"version\": 2}",                           // unsupported version
      valid.substr(0, valid.size() / 2),            // half written
  };
  for (const std::string& text : cases) {
    INFO("content: " << text);
    write_text(file, text);
    try {
      lv::load_run_state(dir.path());
      FAIL("load_run_state accepted a corrupt file");
    } catch (const lv::Error& e) {
      CHECK(e.code() == lv::ExitCode::usage);
      INFO(e.what());
      CHECK(contains(e.what(), file.string()));
      CHECK(contains(e.what(), "corrupt"));
    }
  }
  SECTION("an unknown shard status") {
    std::string text = valid;
    const std::string from = "\"status\": \"pending\"";
    text.replace(text.find(from), from.size(), "\"status\": \"exploded\"");
    write_text(file, text);
    try {
      lv::load_run_state(dir.path());
      FAIL("load_run_state accepted an unknown status");
    } catch (const lv::Error& e) {
      INFO(e.what());
      CHECK(contains(e.what(), file.string()));
      CHECK(contains(e.what(), "exploded"));
    }
  }
}

TEST_CASE("run_state: content_hash", "[run_state]") {
  // 0xCBF43926 is the published CRC-32 check value of "123456789".
  CHECK(lv::content_hash("123456789") == "crc32:cbf43926:9");
  CHECK(lv::content_hash("") == "crc32:00000000:0");
  CHECK(lv::content_hash("a/1.jpg\nb/2.jpg\n") == lv::content_hash(std::string("a/1.jpg\nb/2.jpg\n")));
  CHECK(lv::content_hash("a/1.jpg\nb/2.jpg\n") != lv::content_hash("a/1.jpg\nb/3.jpg\n"));
  CHECK(lv::content_hash("ab") != lv::content_hash("ba"));
  CHECK(lv::content_hash(std::string("a\0b", 3)) != lv::content_hash(std::string("a\0c", 3)));
}

TEST_CASE("run_state: now_iso8601 has the documented shape", "[run_state]") {
  const std::string t = lv::now_iso8601();
  REQUIRE(t.size() == 20);
  CHECK(t[4] == '-');
  CHECK(t[7] == '-');
  CHECK(t[10] == 'T');
  CHECK(t[13] == ':');
  CHECK(t[16] == ':');
  CHECK(t[19] == 'Z');
  CHECK(t.substr(0, 2) == "20");
}

TEST_CASE("run_state: a second lock in the same process is refused", "[run_state]") {
  TempDir dir;
  {
    lv::WorkDirLock first(dir.path());
    std::string msg;
    CHECK(lock_refused(dir.path(), &msg));
    INFO(msg);
    CHECK(contains(msg, dir.path().string()));
    CHECK(contains(msg, "pid " + std::to_string(::getpid())));
    // The refused attempt closed its own descriptor only: the first lock still holds.
    CHECK(lock_refused(dir.path()));
  }
  // Released with the object.
  CHECK_FALSE(lock_refused(dir.path()));
  lv::WorkDirLock again(dir.path());
  CHECK(lock_refused(dir.path()));
}

TEST_CASE("run_state: a lock in a missing folder is an error", "[run_state]") {
  TempDir dir;
  std::string msg;
  CHECK(lock_refused(dir / "no" / "such", &msg));
  CHECK(contains(msg, (dir / "no" / "such").string()));
}

TEST_CASE("run_state: a lock held by another process is refused until it exits", "[run_state]") {
  TempDir dir;
  int locked[2], release[2];
  REQUIRE(::pipe(locked) == 0);
  REQUIRE(::pipe(release) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child: take the lock, say so, hold it until the parent writes or closes the pipe.
    ::close(locked[0]);
    ::close(release[1]);
    int code = 0;
    try {
      lv::WorkDirLock lock(dir.path());
      const char c = 'L';
      if (::write(locked[1], &c, 1) != 1) code = 2;
      char r = 0;
      [[maybe_unused]] const ssize_t n = ::read(release[0], &r, 1);
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  ::close(locked[1]);
  ::close(release[0]);

  // Wait for the child's word that it holds the lock (blocking read: no sleep).
  char c = 0;
  REQUIRE(::read(locked[0], &c, 1) == 1);
  CHECK(c == 'L');
  std::string msg;
  CHECK(wait_until([&] { return lock_refused(dir.path(), &msg); }));
  INFO(msg);
  CHECK(contains(msg, dir.path().string()));
  CHECK(contains(msg, "pid " + std::to_string(child)));

  // Let the child go; once it has exited the lock is ours.
  const char go = 'G';
  REQUIRE(::write(release[1], &go, 1) == 1);
  ::close(release[1]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  ::close(locked[0]);
  CHECK(wait_until([&] { return !lock_refused(dir.path()); }));
  lv::WorkDirLock mine(dir.path());
}

TEST_CASE("file_content_hash changes with any byte, even when the size stays", "[run_state]") {
  lv::test::TempDir dir;
  std::string text(3 << 20, 'a');  // three chunks and more
  text += "tail";
  lv::test::write_text(dir / "a.jsonl", text);
  const std::string before = lv::file_content_hash(dir / "a.jsonl");
  CHECK(before == lv::file_content_hash(dir / "a.jsonl"));
  CHECK(before.find(":" + std::to_string(text.size())) != std::string::npos);
  text[(2 << 20) + 5] = 'b';
  lv::test::write_text(dir / "a.jsonl", text);
  CHECK(lv::file_content_hash(dir / "a.jsonl") != before);
  CHECK_THROWS_AS(lv::file_content_hash(dir / "missing.jsonl"), lv::Error);
}
