// Runs the real fake_worker binary: the protocol it follows is what the launcher tests rely on.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.h"
#include "journal.h"
#include "process_util.h"
#include "report.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using lv::test::Child;
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
/// The environment is ours without the variables the worker reacts to, plus `env` ("KEY=value").
std::unique_ptr<Child> spawn_worker(const std::vector<std::string>& args, const std::vector<std::string>& env,
                                    const fs::path& log) {
  std::vector<std::string> argv = {LV_FAKE_WORKER};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> vars;
  for (const char* key : {"FAKE_WORKER_FAULT", "FAKE_WORKER_RECORD", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS"})
    vars[key] = "\x01unset";
  for (const std::string& kv : env) {
    const size_t eq = kv.find('=');
    vars[kv.substr(0, eq)] = eq == std::string::npos ? std::string() : kv.substr(eq + 1);
  }
  auto child = std::make_unique<Child>(argv, vars, fs::path(), log, lv::test::OutputMode::append);
  REQUIRE(child->started());
  return child;
}

/// Waits for `child` until `timeout`; nullopt if it is still running then.
std::optional<Ended> wait_for(Child& child, std::chrono::milliseconds timeout) {
  const std::optional<int> status = child.wait(timeout);
  if (!status) return std::nullopt;
  Ended e;
  e.exited = !child.signalled();
  if (e.exited) e.code = *status;
  e.signal = child.term_signal();
  return e;
}

/// Runs the worker to its end (killing it and failing the test after 20 s).
Ended run_worker(const std::vector<std::string>& args, const std::vector<std::string>& env, const fs::path& log) {
  const std::unique_ptr<Child> child = spawn_worker(args, env, log);
  const std::optional<Ended> e = wait_for(*child, std::chrono::seconds(20));
  if (!e) FAIL("fake_worker did not end within 20 s; log:\n" << read_text(log));  // ~Child kills it
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
  const std::unique_ptr<Child> child = spawn_worker(s.args(), {"FAKE_WORKER_FAULT=slow_ms=20"}, s.log);
  const fs::path journal = s.out / lv::kJournalFileName;
  CHECK(lv::test::wait_until([&] { return fs::exists(journal) && lv::read_journal(journal).records.size() >= 2; }));
  child->signal(SIGTERM);
  const std::optional<Ended> e = wait_for(*child, std::chrono::seconds(5));
  REQUIRE(e);  // if not, ~Child kills it
  CHECK(e->exited);
  CHECK(e->code == 130);
  CHECK_FALSE(fs::exists(s.out / lv::kReportFileName));
  CHECK(lv::read_journal(journal).records.size() < 200);
}

TEST_CASE("fake_worker ignoring SIGTERM while hung needs SIGKILL", "[fake_worker]") {
  Setup s(5);
  const std::unique_ptr<Child> child = spawn_worker(s.args(), {"FAKE_WORKER_FAULT=hang_at=1,ignore_term=1"}, s.log);
  const fs::path journal = s.out / lv::kJournalFileName;
  CHECK(lv::test::wait_until([&] { return fs::exists(journal) && lv::read_journal(journal).records.size() == 1; }));
  child->signal(SIGTERM);
  CHECK_FALSE(wait_for(*child, std::chrono::milliseconds(300)));
  child->signal(SIGKILL);
  const std::optional<Ended> e = wait_for(*child, std::chrono::seconds(5));
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
    CHECK(read_text(s.log).find("not expected: --frobnicate") != std::string::npos);
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

TEST_CASE("fake_worker startup_ms prints the start-up phases before the first progress line", "[fake_worker]") {
  Setup s(2);
  const Ended e = run_worker(s.args(), {"FAKE_WORKER_FAULT=startup_ms=50"}, s.log);
  CHECK(e.code == 0);
  const std::string log = read_text(s.log);
  INFO(log);
  const size_t loading = log.find("[phase] loading model\n");
  const size_t warm = log.find("[phase] warm-up\n");
  REQUIRE(loading != std::string::npos);
  REQUIRE(warm != std::string::npos);
  CHECK(loading < warm);
  CHECK(warm < log.find("[progress] "));
}

TEST_CASE("fake_worker journals a file name that is not UTF-8 and resumes past it", "[fake_worker]") {
  Setup s(0);
  const std::string odd = "set0/JPEGImages/\xff\xfe.jpg";
  write_text(s.dir / "splits" / "split_00.txt", odd + "\nset0/JPEGImages/b.jpg\n");
  REQUIRE(run_worker(s.args(), {"FAKE_WORKER_FAULT=exit_at=1,code=1"}, s.log).code == 1);
  CHECK(lv::read_journal(s.out / lv::kJournalFileName).paths == std::unordered_set<std::string>{odd});
  REQUIRE(run_worker(s.args(true), {}, s.log).code == 0);
  const lv::JournalContents j = lv::read_journal(s.out / lv::kJournalFileName);
  CHECK(j.records.size() == 2);  // the odd name was not done twice
  CHECK(j.paths == std::unordered_set<std::string>{odd, "set0/JPEGImages/b.jpg"});
}
