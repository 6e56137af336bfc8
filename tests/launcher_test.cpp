// The real launcher (Boost.Process) with real child processes.
#include <csignal>

#include "catch.h"
#include "error.h"
#include "launcher.h"
#include "process_util.h"
#include "test_util.h"

using namespace lv;
using namespace lv::test;

namespace {

std::optional<ExitStatus> wait_exit(Launcher& l, JobId job, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  std::optional<ExitStatus> status;
  wait_until([&] { return (status = l.poll(job)).has_value(); }, timeout);
  return status;
}

LaunchSpec shell(const std::string& script, const std::filesystem::path& log, bool append = false) {
  LaunchSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.log = log;
  spec.append_log = append;
  return spec;
}

}  // namespace

TEST_CASE("the log is truncated on a fresh start and appended after a header on retry", "[launcher]") {
  TempDir dir;
  const auto log = dir / "gpu0.log";
  write_text(log, "old run\n");
  auto launcher = make_process_launcher();

  LaunchSpec first = shell("echo out; echo err >&2", log);
  first.log_header = "==== attempt 1 ====\n";
  const JobId a = launcher->start(first);
  REQUIRE(wait_exit(*launcher, a)->ok());
  CHECK(read_text(log) == "==== attempt 1 ====\nout\nerr\n");

  LaunchSpec second = shell("echo again; exit 3", log, true);
  second.log_header = "==== attempt 2 ====\n";
  const JobId b = launcher->start(second);
  const auto status = wait_exit(*launcher, b);
  REQUIRE(status);
  CHECK(status->code == 3);
  CHECK(read_text(log) == "==== attempt 1 ====\nout\nerr\n==== attempt 2 ====\nagain\n");
  // read_output follows only this attempt's output.
  CHECK(launcher->read_output(b) == "==== attempt 2 ====\nagain\n");
}

TEST_CASE("environment overrides reach the child, an empty value stays set", "[launcher]") {
  TempDir dir;
  auto launcher = make_process_launcher();
  LaunchSpec spec = shell("echo \"[${CUDA_VISIBLE_DEVICES-unset}] [${OMP_NUM_THREADS}]\"", dir / "log");
  spec.env = {{"CUDA_VISIBLE_DEVICES", ""}, {"OMP_NUM_THREADS", "3"}};
  const JobId job = launcher->start(spec);
  REQUIRE(wait_exit(*launcher, job));
  CHECK(read_text(dir / "log") == "[] [3]\n");
}

TEST_CASE("signals reach the whole process group, and nothing of it survives the worker", "[launcher]") {
  TempDir dir;
  auto launcher = make_process_launcher();
  // The worker starts a grandchild, records its pid, and waits.
  const JobId job = launcher->start(shell("sleep 60 & echo $! > " + (dir / "grandchild").string() + "; wait", dir / "log"));
  REQUIRE(wait_until([&] { return read_text(dir / "grandchild").size() > 1; }));
  const pid_t grandchild = std::stoi(read_text(dir / "grandchild"));
  CHECK(process_alive(grandchild));
  launcher->signal(job, SIGTERM);
  const auto status = wait_exit(*launcher, job);
  REQUIRE(status);
  CHECK(status->signaled);
  CHECK(status->signal == SIGTERM);
  CHECK(wait_until([&] { return !process_alive(grandchild); }));
}

TEST_CASE("a grandchild left behind by an exited worker is killed with its group", "[launcher]") {
  TempDir dir;
  auto launcher = make_process_launcher();
  const JobId job = launcher->start(shell("sleep 60 & echo $! > " + (dir / "grandchild").string(), dir / "log"));
  REQUIRE(wait_exit(*launcher, job));
  const pid_t grandchild = std::stoi(read_text(dir / "grandchild"));
  CHECK(wait_until([&] { return !process_alive(grandchild); }));
}

TEST_CASE("a flooding worker's output is read in bounded chunks, newest kept", "[launcher]") {
  TempDir dir;
  auto launcher = make_process_launcher();
  // ~2 MB of junk, then a last line.
  const JobId job = launcher->start(
      shell("i=0; while [ $i -lt 20000 ]; do echo 'junk junk junk junk junk junk junk junk junk junk junk junk junk junk junk junk junk junk'; "
            "i=$((i+1)); done; echo '[progress] 7/7 failed=0'",
            dir / "log"));
  REQUIRE(wait_exit(*launcher, job, std::chrono::seconds(60)));
  const std::string out = launcher->read_output(job);
  CHECK(out.size() <= 256 * 1024 + 1);
  CHECK(out.find("[progress] 7/7 failed=0\n") != std::string::npos);
  CHECK(out.substr(0, 1) == "\n");  // the torn first line was dropped
  CHECK(launcher->read_output(job).empty());
}

TEST_CASE("a worker that cannot be started is an error naming it", "[launcher]") {
  TempDir dir;
  auto launcher = make_process_launcher();
  LaunchSpec spec;
  spec.argv = {(dir / "no_such_worker").string()};
  spec.log = dir / "log";
  try {
    const JobId job = launcher->start(spec);
    // Some Boost.Process versions report exec failure only as exit 127-like codes.
    const auto status = wait_exit(*launcher, job);
    REQUIRE(status);
    CHECK_FALSE(status->ok());
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("no_such_worker") != std::string::npos);
  }
}

TEST_CASE("capture_output returns stdout, the exit code, and kills what hangs", "[launcher]") {
  const CaptureResult ok = capture_output({"/bin/sh", "-c", "echo hello; exit 4"});
  CHECK(ok.started);
  CHECK(ok.exit_code == 4);
  CHECK(ok.out == "hello\n");
  const CaptureResult missing = capture_output({"lv-no-such-program-anywhere"});
  CHECK_FALSE(missing.started);
  const CaptureResult hang = capture_output({"/bin/sh", "-c", "sleep 30"}, std::chrono::milliseconds(300));
  CHECK(hang.error.find("timed out") != std::string::npos);
}
