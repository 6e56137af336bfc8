// Runs the real fake_worker binary: the protocol it follows is what the launcher tests rely on.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.h"
#include "journal.h"
#include "report.h"
#include "test_util.h"

extern char** environ;

namespace fs = std::filesystem;
using nlohmann::json;
using lv::test::read_text;
using lv::test::TempDir;
using lv::test::write_text;

namespace {

/// How a child ended: exit code, or the signal that killed it.
struct Ended {
  bool exited = false;
  int code = -1;
  int signal = 0;
};

/// Starts fake_worker with `args` (argv[0] is added), stdout and stderr appended to `log`.
/// The environment is ours without the variables the worker reacts to, plus `env`.
pid_t spawn_worker(const std::vector<std::string>& args, const std::vector<std::string>& env,
                   const fs::path& log) {
  std::vector<std::string> argv_s = {LV_FAKE_WORKER};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (key == "FAKE_WORKER_FAULT" || key == "FAKE_WORKER_RECORD" || key == "CUDA_VISIBLE_DEVICES" ||
        key == "OMP_NUM_THREADS")
      continue;
    env_s.push_back(kv);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());

  std::vector<char*> argv, envp;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (std::string& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

/// Waits for `pid` until `timeout`; nullopt if it is still running then.
std::optional<Ended> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      Ended e;
      e.exited = WIFEXITED(status);
      if (e.exited) e.code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
      return e;
    }
    if (r != 0) FAIL("waitpid(" << pid << ") failed: " << std::strerror(errno));
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

/// Runs the worker to its end (killing it and failing the test after 20 s).
Ended run_worker(const std::vector<std::string>& args, const std::vector<std::string>& env, const fs::path& log) {
  const pid_t pid = spawn_worker(args, env, log);
  const std::optional<Ended> e = wait_for(pid, std::chrono::seconds(20));
  if (!e) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    FAIL("fake_worker did not end within 20 s; log:\n" << read_text(log));
  }
  return *e;
}

size_t count_lines(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

/// A config file, an items file with `n` items, and the standard arguments for shard 0.
struct Setup {
  TempDir dir;
  std::vector<std::string> items;
  fs::path out = dir / "output_gpu0";
  fs::path log = dir / "gpu0.log";

  explicit Setup(int n) {
    write_text(dir / "config.yaml", "worker:\n  executable: fake_worker\n");
    std::string list;
    for (int i = 0; i < n; ++i) {
      items.push_back("set" + std::to_string(i % 2) + "/JPEGImages/img" + std::to_string(i) + ".jpg");
      list += items.back() + "\n";
    }
    write_text(dir / "splits" / "split_00.txt", list);
  }

  std::vector<std::string> args(bool resume = false, int shard = 0) const {
    std::vector<std::string> a = {"--config", (dir / "config.yaml").string(), "--items",
                                  (dir / "splits" / "split_00.txt").string(), "--output-dir",
                                  out.string(), "--shard", std::to_string(shard)};
    if (resume) a.push_back("--resume");
    return a;
  }
};

}  // namespace

TEST_CASE("fake_worker crashes at an item then resumes without redoing the others", "[fake_worker]") {
  Setup s(10);
  const Ended crashed = run_worker(s.args(), {"FAKE_WORKER_FAULT=crash_at=4"}, s.log);
  CHECK_FALSE(crashed.exited);
  CHECK(crashed.signal == SIGABRT);
  const fs::path journal = s.out / lv::kJournalFileName;
  CHECK(lv::read_journal(journal).records.size() == 4);
  CHECK_FALSE(fs::exists(s.out / lv::kReportFileName));

  const Ended resumed = run_worker(s.args(/*resume=*/true), {}, s.log);
  INFO(read_text(s.log));
  REQUIRE(resumed.exited);
  REQUIRE(resumed.code == 0);

  // 4 lines from the first run plus 6 from the second: nothing was done twice.
  CHECK(count_lines(read_text(journal)) == 10);
  const lv::JournalContents j = lv::read_journal(journal);
  CHECK(j.records.size() == 10);
  CHECK(j.paths == std::unordered_set<std::string>(s.items.begin(), s.items.end()));
  CHECK(j.skipped_lines == 0);

  const json report = json::parse(read_text(s.out / lv::kReportFileName));
  CHECK(report.at("status") == "complete");
  CHECK(report.at("shard") == 0);
  CHECK(report.at("tool").at("name") == "fake_worker");
  const json& images = report.at("images");
  REQUIRE(images.size() == 10);
  for (size_t i = 0; i < 10; ++i) {
    const json& img = images[i];
    CHECK(img.at("path") == s.items[i]);
    const std::string verdict = img.at("verdict").get<std::string>();
    // The output file lies under the verdict folder and names the item.
    CHECK(read_text(s.out / verdict / (s.items[i] + ".txt")) == s.items[i] + "\n");
    // The image verdict follows its boxes (DESIGN §7).
    bool any_mislabeled = false, any_uncertain = false;
    for (const json& b : img.at("boxes")) {
      any_mislabeled |= b.at("verdict") == "mislabeled";
      any_uncertain |= b.at("verdict") == "uncertain";
    }
    CHECK(verdict == (any_mislabeled ? "mislabeled" : any_uncertain ? "uncertain" : "correct"));
  }
  CHECK(report.at("summary").at("total_images") == 10);

  const std::string log = read_text(s.log);
  CHECK(log.find("[fake_worker] shard=0 CUDA_VISIBLE_DEVICES=(unset) OMP_NUM_THREADS=(unset)") != std::string::npos);
  CHECK(log.find("[progress] 4/10 failed=0") != std::string::npos);
  CHECK(log.find("[progress] 10/10 failed=0") != std::string::npos);
}

TEST_CASE("fake_worker stops on SIGTERM with 130 and no report", "[fake_worker]") {
  Setup s(200);
  const pid_t pid = spawn_worker(s.args(), {"FAKE_WORKER_FAULT=slow_ms=20"}, s.log);
  const fs::path journal = s.out / lv::kJournalFileName;
  CHECK(lv::test::wait_until([&] { return fs::exists(journal) && lv::read_journal(journal).records.size() >= 2; }));
  ::kill(pid, SIGTERM);
  const std::optional<Ended> e = wait_for(pid, std::chrono::seconds(5));
  if (!e) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  REQUIRE(e);
  CHECK(e->exited);
  CHECK(e->code == 130);
  CHECK_FALSE(fs::exists(s.out / lv::kReportFileName));
  CHECK(lv::read_journal(journal).records.size() < 200);
}

TEST_CASE("fake_worker ignoring SIGTERM while hung needs SIGKILL", "[fake_worker]") {
  Setup s(5);
  const pid_t pid = spawn_worker(s.args(), {"FAKE_WORKER_FAULT=hang_at=1,ignore_term=1"}, s.log);
  const fs::path journal = s.out / lv::kJournalFileName;
  CHECK(lv::test::wait_until([&] { return fs::exists(journal) && lv::read_journal(journal).records.size() == 1; }));
  ::kill(pid, SIGTERM);
  CHECK_FALSE(wait_for(pid, std::chrono::milliseconds(300)));
  ::kill(pid, SIGKILL);
  const std::optional<Ended> e = wait_for(pid, std::chrono::seconds(5));
  REQUIRE(e);
  CHECK(e->signal == SIGKILL);
}

TEST_CASE("fake_worker exit codes from faults and usage errors", "[fake_worker]") {
  Setup s(6);
  SECTION("exit_at with a code") {
    const Ended e = run_worker(s.args(), {"FAKE_WORKER_FAULT=exit_at=2,code=7"}, s.log);
    CHECK(e.exited);
    CHECK(e.code == 7);
    CHECK(lv::read_journal(s.out / lv::kJournalFileName).records.size() == 2);
  }
  SECTION("a fault for another shard does not fire") {
    const Ended e = run_worker(s.args(), {"FAKE_WORKER_FAULT=shard=1,exit_at=0"}, s.log);
    CHECK(e.code == 0);
    CHECK(fs::exists(s.out / lv::kReportFileName));
  }
  SECTION("out of memory") {
    const Ended e = run_worker(s.args(), {"FAKE_WORKER_FAULT=oom_at=3"}, s.log);
    CHECK(e.code == 1);
    CHECK(read_text(s.log).find("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB") != std::string::npos);
  }
  SECTION("model error") {
    const Ended e = run_worker(s.args(), {"FAKE_WORKER_FAULT=model_error=1"}, s.log);
    CHECK(e.code == 3);
    CHECK(read_text(s.log).find("cannot load model 'x.pt'") != std::string::npos);
  }
  SECTION("missing config") {
    fs::remove(s.dir / "config.yaml");
    const Ended e = run_worker(s.args(), {}, s.log);
    CHECK(e.code == 2);
    CHECK(read_text(s.log).find((s.dir / "config.yaml").string()) != std::string::npos);
  }
  SECTION("unknown argument") {
    auto args = s.args();
    args.push_back("--frobnicate");
    const Ended e = run_worker(args, {}, s.log);
    CHECK(e.code == 2);
    CHECK(read_text(s.log).find("unknown argument '--frobnicate'") != std::string::npos);
  }
  SECTION("bad fault spec") {
    const Ended e = run_worker(s.args(), {"FAKE_WORKER_FAULT=explode=1"}, s.log);
    CHECK(e.code == 2);
  }
}

TEST_CASE("fake_worker records the environment it saw", "[fake_worker]") {
  Setup s(2);
  const fs::path rec = s.dir / "rec";
  const Ended e = run_worker(s.args(false, 3),
                             {"FAKE_WORKER_RECORD=" + rec.string(), "CUDA_VISIBLE_DEVICES=", "OMP_NUM_THREADS=3"},
                             s.log);
  CHECK(e.code == 0);
  CHECK(read_text(rec / "shard_3.env") == "CUDA_VISIBLE_DEVICES=\nOMP_NUM_THREADS=3\n");
  CHECK(read_text(s.log).find("[fake_worker] shard=3 CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=3") != std::string::npos);
}

TEST_CASE("fake_worker flood mode still reports progress and completes", "[fake_worker]") {
  Setup s(3);
  const Ended e = run_worker(s.args(), {"FAKE_WORKER_FAULT=flood=1"}, s.log);
  CHECK(e.code == 0);
  const std::string log = read_text(s.log);
  CHECK(log.size() > 3 * 128 * 1024);
  CHECK(log.find("[progress] 3/3 failed=0") != std::string::npos);
}
