// The Slurm launcher's words with Slurm: sbatch argv and `scontrol -o show job` parsing, on
// output captured from Slurm 22.05 (tests/fixtures/slurm/README.md).
#include <csignal>

#include <fmt/core.h>

#include "catch.h"
#include "error.h"
#include "slurm.h"
#include "test_util.h"

using namespace lv;

namespace {

std::vector<SlurmTask> fixture(const char* name) {
  return parse_scontrol_jobs(test::read_text(std::string(LV_SOURCE_DIR "/tests/fixtures/slurm/") + name));
}

const SlurmTask& task(const std::vector<SlurmTask>& tasks, int id) {
  for (const SlurmTask& t : tasks)
    if (std::find(t.task_ids.begin(), t.task_ids.end(), id) != t.task_ids.end()) return t;
  FAIL("no array task " << id);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("slurm: --array lists are ascending runs, throttled by max_concurrent", "[slurm]") {
  CHECK(array_index_list({0, 1, 2, 3}) == "0-3");
  CHECK(array_index_list({9, 2, 3, 0, 10, 3}) == "0,2-3,9-10");
  CHECK(array_index_list({5}) == "5");
  SlurmOptions o;
  o.max_concurrent = 2;
  o.partition = "gpu";
  o.time_limit = "02:00:00";
  o.memory = "16G";
  o.cpus_per_task = 8;
  o.sbatch_args = {"--constraint=a100", "--exclude=node 7"};
  const auto argv = sbatch_argv(o, "lv-run", "/runs/a b", {0, 1, 2, 3}, "/runs/a b/slurm/array_1.sh");
  const std::vector<std::string> want{"sbatch", "--parsable", "--array=0-3%2", "--job-name=lv-run",
                                      "--output=/runs/a b/gpu%a.log", "--open-mode=append", "--chdir=/runs/a b", "--no-requeue",
                                      "--partition=gpu", "--time=02:00:00", "--gres=gpu:1", "--cpus-per-task=8",
                                      "--mem=16G", "--constraint=a100", "--exclude=node 7",
                                      "/runs/a b/slurm/array_1.sh"};
  CHECK(argv == want);  // one element each: a space in a path or an extra argument stays in place
  o = SlurmOptions{};
  o.gres = "";
  const auto cpu = sbatch_argv(o, "lv", "/w", {2, 5}, "/w/s.sh");
  CHECK(std::find(cpu.begin(), cpu.end(), "--array=2,5") != cpu.end());
  CHECK(std::none_of(cpu.begin(), cpu.end(), [](const std::string& a) { return a.rfind("--gres", 0) == 0; }));
}

TEST_CASE("slurm: sbatch --parsable's job id, with a cluster name or warnings before it", "[slurm]") {
  CHECK(parse_sbatch_job_id("1234\n") == 1234);
  CHECK(parse_sbatch_job_id("77;cluster\n") == 77);
  CHECK(parse_sbatch_job_id("sbatch: warning: something\n88\n") == 88);
  CHECK_FALSE(parse_sbatch_job_id("sbatch: error: Batch job submission failed\n"));
  CHECK_FALSE(parse_sbatch_job_id(""));
}

TEST_CASE("slurm: running tasks and a pending range, as scontrol prints an array", "[slurm]") {
  const auto tasks = fixture("array_running_pending.txt");
  REQUIRE(tasks.size() == 3);
  const SlurmTask& pending = task(tasks, 4);
  CHECK(pending.task_ids == std::vector<int>{2, 3, 4, 5});
  CHECK(pending.state == "PENDING");
  CHECK(pending.node.empty());
  CHECK(slurm_state_text(pending) == "queued (JobArrayTaskLimit)");
  CHECK_FALSE(slurm_state_finished(pending.state));
  const SlurmTask& running = task(tasks, 0);
  CHECK(running.state == "RUNNING");
  CHECK(running.array_job_id == 5);
  CHECK(running.job_id != running.array_job_id);
  CHECK(running.node == "localhost");
  CHECK(slurm_state_text(running) == "running on localhost");
}

TEST_CASE("slurm: finished tasks give the runner's exit status", "[slurm]") {
  const auto done = fixture("array_finished.txt");
  CHECK(slurm_exit_status(task(done, 0)).ok());
  const ExitStatus killed = slurm_exit_status(task(done, 1));  // FAILED 0:9
  CHECK(killed.signaled);
  CHECK(killed.signal == SIGKILL);
  const ExitStatus four = slurm_exit_status(task(done, 2));  // FAILED 4:0
  CHECK_FALSE(four.signaled);
  CHECK(four.code == 4);
  for (const SlurmTask& t : done) CHECK(slurm_state_finished(t.state));

  const auto cancelled = fixture("array_cancelled.txt");
  const ExitStatus trapped = slurm_exit_status(task(cancelled, 2));  // CANCELLED 130:0
  CHECK(trapped.interrupted());
  CHECK(trapped.code == 130);
  const SlurmTask& never = task(cancelled, 5);  // cancelled while pending
  CHECK(never.state == "CANCELLED");
  CHECK(slurm_exit_status(never).interrupted());
  CHECK(slurm_failure_cause(never).find("CANCELLED") != std::string::npos);
}

TEST_CASE("slurm: time limit, memory limit, node failure and preemption are named", "[slurm]") {
  const auto tasks = fixture("array_other_states.txt");
  REQUIRE(tasks.size() == 4);
  const SlurmTask& timeout = task(tasks, 1);
  CHECK(timeout.state == "TIMEOUT");
  CHECK(slurm_failure_cause(timeout).find("time limit") != std::string::npos);
  CHECK(slurm_exit_status(timeout).signal == SIGTERM);  // 0:15 as reported
  const SlurmTask& oom = task(tasks, 2);
  CHECK(slurm_failure_cause(oom).find("memory limit (OUT_OF_MEMORY") != std::string::npos);
  CHECK_FALSE(slurm_exit_status(oom).ok());
  const SlurmTask& node = task(tasks, 3);
  CHECK(slurm_failure_cause(node) == "Slurm: the node localhost failed (NODE_FAIL)");
  CHECK(slurm_exit_status(node).signal == SIGKILL);  // 0:0: none reported
  CHECK(slurm_failure_cause(task(tasks, 4)).find("PREEMPTED") != std::string::npos);
  CHECK(slurm_failure_cause(fixture("array_finished.txt").front()).empty());  // FAILED: the code says it
}

TEST_CASE("slurm: scontrol lines that are not jobs are skipped, broken ones named", "[slurm]") {
  CHECK(parse_scontrol_jobs("No jobs in the system\n\n").empty());
  try {
    parse_scontrol_jobs("JobId=12 ArrayJobId=12 ArrayTaskId=x-3 JobState=PENDING\n");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("ArrayTaskId 'x-3'") != std::string::npos);
  }
  CHECK_THROWS_AS(parse_scontrol_jobs("JobId=12 ArrayJobId=12\n"), Error);
}

// --- The launcher, with sbatch/scontrol/scancel answered by a fake -------------------------

#include <nlohmann/json.hpp>

#include "failure.h"
#include "slurm_launcher.h"

namespace {

/// Answers the Slurm commands as a cluster would: sbatch gives job 42; scontrol prints
/// `lines` (what the test sets); scancel succeeds. Every argv is recorded.
struct FakeSlurm {
  std::vector<std::vector<std::string>> calls;
  std::string scontrol_out;
  std::string sbatch_out = "42\n";
  int sbatch_code = 0;
  int next_job = 0;  ///< > 0: sbatch gives this job id, then the next one (a probe, then an array)

  CaptureResult operator()(const std::vector<std::string>& argv) {
    calls.push_back(argv);
    CaptureResult r;
    r.started = true;
    r.exit_code = 0;
    if (argv.front() == "sbatch") {
      if (next_job > 0) sbatch_out = std::to_string(next_job++) + "\n";
      r.exit_code = sbatch_code;
      (sbatch_code == 0 ? r.out : r.error) = sbatch_out;
    } else if (argv.front() == "scontrol") {
      r.out = scontrol_out;
    }
    return r;
  }
  size_t count(const std::string& program) const {
    return static_cast<size_t>(std::count_if(calls.begin(), calls.end(), [&](const auto& c) { return c.front() == program; }));
  }
};

std::string task_line(int job, int task, const std::string& state, const std::string& reason, const std::string& exit) {
  return fmt::format("JobId={} ArrayJobId=42 ArrayTaskId={} JobName=lv UserId=u(1) JobState={} Reason={} "
                     "ExitCode={} NodeList=node7\n",
                     job, task, state, reason, exit);
}

LaunchSpec shard_spec(const test::TempDir& dir, int shard) {
  LaunchSpec spec;
  spec.argv = {"/opt/lv/image_worker", "--items", "/w/splits/it's.txt", "--shard", std::to_string(shard)};
  spec.env = {{"CUDA_VISIBLE_DEVICES", "3"}, {"OMP_NUM_THREADS", "4"}};
  spec.log = dir / fmt::format("gpu{}.log", shard);
  spec.log_header = fmt::format("==== shard {} ====\n", shard);
  spec.shard = shard;
  return spec;
}

/// A launcher's settings with `fake` answering for Slurm, polling without delay.
SlurmLauncherSettings fake_settings(const test::TempDir& dir, const std::shared_ptr<FakeSlurm>& fake, bool probe) {
  SlurmLauncherSettings s;
  s.work_dir = dir.path();
  s.job_name = "lv-test";
  s.orchestrator = "/opt/lv/orchestrator";
  s.run = [fake](const std::vector<std::string>& argv) { return (*fake)(argv); };
  s.poll_interval_s = 0;
  s.probe_shared_fs = probe;
  return s;
}

}  // namespace

TEST_CASE("slurm launcher: started shards go out as one array, run by the orchestrator's task entry", "[slurm]") {
  test::TempDir dir;
  auto fake = std::make_shared<FakeSlurm>();
  SlurmLauncherSettings s = fake_settings(dir, fake, false);  // the probe: tests below
  s.options.max_concurrent = 1;
  s.orchestrator = "/opt/lv/orche'strator";
  auto launcher = make_slurm_launcher(s);
  test::write_text(dir / "gpu2.log", "an earlier run's log\n");
  const JobId a = launcher->start(shard_spec(dir, 0));
  const JobId b = launcher->start(shard_spec(dir, 2));
  CHECK(fake->calls.empty());  // nothing submitted before the first poll
  CHECK(launcher->queued(a) == "queued (submitting)");
  CHECK(test::read_text(dir / "gpu2.log") == "==== shard 2 ====\n");  // a fresh start truncates

  fake->scontrol_out = task_line(42, 0, "PENDING", "Resources", "0:0") + task_line(42, 2, "PENDING", "JobArrayTaskLimit", "0:0");
  CHECK_FALSE(launcher->poll(a));
  CHECK_FALSE(launcher->poll(b));
  REQUIRE(fake->count("sbatch") == 1);
  const auto& sbatch = fake->calls.front();
  CHECK(std::find(sbatch.begin(), sbatch.end(), "--array=0,2%1") != sbatch.end());
  CHECK(sbatch.back() == (dir / "slurm" / "array_1.sh").string());
  CHECK(launcher->scheduler_id(b) == "42_2");
  CHECK(launcher->queued(a) == "queued (Resources)");
  CHECK(launcher->queued(b) == "queued (JobArrayTaskLimit)");

  // The script execs the orchestrator's task entry; the argv stays a list in the tasks file.
  const std::string script = test::read_text(dir / "slurm" / "array_1.sh");
  CHECK(script.find("exec '/opt/lv/orche'\\''strator' --slurm-task '" + (dir / "slurm" / "tasks_1.json").string() + "'") !=
        std::string::npos);
  const auto tasks = nlohmann::json::parse(test::read_text(dir / "slurm" / "tasks_1.json"));
  CHECK(tasks.at("2").at("argv").get<std::vector<std::string>>() == shard_spec(dir, 2).argv);
  // Slurm sets the devices: the orchestrator's CUDA_VISIBLE_DEVICES is not passed on.
  const auto env = tasks.at("2").at("env").dump();
  CHECK(env.find("CUDA_VISIBLE_DEVICES") == std::string::npos);
  CHECK(env.find("OMP_NUM_THREADS") != std::string::npos);

  // Running: a stop reaches the worker as a signal in the batch step; finished states end it.
  fake->scontrol_out = task_line(43, 0, "RUNNING", "None", "0:0") + task_line(42, 2, "PENDING", "JobArrayTaskLimit", "0:0");
  CHECK_FALSE(launcher->poll(a));
  CHECK(launcher->queued(a).empty());
  launcher->signal(a, SIGTERM);
  CHECK(fake->calls.back() == std::vector<std::string>{"scancel", "--full", "--signal=TERM", "42_0"});
  launcher->signal(b, SIGTERM);  // pending: nothing runs, it is cancelled
  CHECK(fake->calls.back() == std::vector<std::string>{"scancel", "42_2"});

  fake->scontrol_out = task_line(43, 0, "TIMEOUT", "TimeLimit", "0:15") + task_line(44, 2, "COMPLETED", "None", "0:0");
  const auto ended = launcher->poll(a);
  REQUIRE(ended);
  CHECK(ended->signaled);
  const auto done = launcher->poll(b);
  REQUIRE(done);
  CHECK((!done->signaled && done->code == 0));
  // What Slurm said is the last line of the log, and it classifies the failure.
  const std::string log = launcher->read_output(a);
  CHECK(log.find("orchestrator: Slurm: time limit reached (TIMEOUT)") != std::string::npos);
  CHECK(classify_failure(*ended, StopReason::none, {"[progress] 10/20", log.substr(0, log.size() - 1)}) ==
        FailureKind::slurm_time_limit);
  const size_t scontrols = fake->count("scontrol");
  CHECK(launcher->poll(a));  // finished tasks ask Slurm nothing more
  CHECK(fake->count("scontrol") == scontrols);
}

TEST_CASE("slurm launcher: sbatch's refusal fails the shards with its words, and a forgotten job ends its tasks", "[slurm]") {
  test::TempDir dir;
  auto fake = std::make_shared<FakeSlurm>();
  SlurmLauncherSettings s = fake_settings(dir, fake, false);
  {
    auto launcher = make_slurm_launcher(s);
    fake->sbatch_code = 1;
    fake->sbatch_out = "sbatch: error: invalid partition specified: gpu\n";
    const JobId a = launcher->start(shard_spec(dir, 1));
    const auto status = launcher->poll(a);
    REQUIRE(status);
    CHECK(status->code == 2);
    CHECK_THAT(launcher->read_output(a), Catch::Contains("could not submit shard(s) 1: sbatch: error: invalid partition"));
  }
  // scontrol fails for a job the controller forgot (MinJobAge): the task ends, unknown.
  auto forget = std::make_shared<FakeSlurm>();
  SlurmLauncherSettings s2 = s;
  s2.run = [forget](const std::vector<std::string>& argv) {
    CaptureResult r = (*forget)(argv);
    if (argv.front() == "scontrol") {
      r.exit_code = 1;
      r.error = "slurm_load_jobs error: Invalid job id specified\n";
    }
    return r;
  };
  auto forgetful = make_slurm_launcher(s2);
  const JobId f = forgetful->start(shard_spec(dir, 3));
  const auto status = forgetful->poll(f);
  REQUIRE(status);
  CHECK(status->code != 0);
  CHECK_THAT(test::read_text(dir / "gpu3.log"), Catch::Contains("Invalid job id specified"));
}

TEST_CASE("slurm launcher: the array waits for a probe job, and a work dir the nodes do not see fails every shard",
          "[slurm]") {
  test::TempDir dir;
  auto fake = std::make_shared<FakeSlurm>();
  fake->next_job = 40;  // the probe, then the array
  auto launcher = make_slurm_launcher(fake_settings(dir, fake, true));
  const JobId a = launcher->start(shard_spec(dir, 0));
  const JobId b = launcher->start(shard_spec(dir, 1));
  fake->scontrol_out = "JobId=40 JobName=lv-test-probe JobState=RUNNING Reason=None ExitCode=0:0 NodeList=node7\n";
  CHECK_FALSE(launcher->poll(a));
  REQUIRE(fake->count("sbatch") == 2);
  const auto& probe = fake->calls.at(0);
  CHECK(probe.back() == (dir / "slurm" / "probe_1.sh").string());
  CHECK(std::find(probe.begin(), probe.end(), "--output=" + (dir / "slurm" / "probe_1.log").string()) != probe.end());
  const auto& array = fake->calls.at(1);
  CHECK(std::find(array.begin(), array.end(), "--dependency=afterok:40") != array.end());
  CHECK(std::find(array.begin(), array.end(), "--kill-on-invalid-dep=yes") != array.end());
  CHECK_THAT(test::read_text(dir / "slurm" / "probe_1.sh"), Catch::Contains("--slurm-probe '" + (dir / "slurm" / "probe_1.txt").string() + "' "));

  // The probe completed on its node, but its file is not here: the nodes write elsewhere.
  fake->scontrol_out = "JobId=40 JobName=lv-test-probe JobState=COMPLETED Reason=None ExitCode=0:0 NodeList=node7\n";
  const auto ended = launcher->poll(a);
  REQUIRE(ended);
  CHECK(ended->code == 2);
  REQUIRE(launcher->poll(b));
  const std::string log = test::read_text(dir / "gpu1.log");
  CHECK_THAT(log, Catch::Contains("ran on node7 and wrote " + (dir / "slurm" / "probe_1.txt").string() +
                                  ", but this machine does not see it"));
  CHECK_THAT(log, Catch::Contains("must be on a filesystem the compute nodes share"));
  CHECK(fake->calls.back() == std::vector<std::string>{"scancel", "41"});  // the array waiting for it
}

TEST_CASE("slurm launcher: a probe whose token is here lets the array run, and is not asked again", "[slurm]") {
  test::TempDir dir;
  auto fake = std::make_shared<FakeSlurm>();
  fake->next_job = 41;  // the probe, then the array
  auto launcher = make_slurm_launcher(fake_settings(dir, fake, true));
  const JobId a = launcher->start(shard_spec(dir, 0));
  fake->scontrol_out = "JobId=41 JobName=lv-probe JobState=PENDING Reason=Priority ExitCode=0:0 NodeList=(null)\n";
  CHECK_FALSE(launcher->poll(a));
  // What the probe job does on the node: run_slurm_probe with the token from its script.
  const std::string script = test::read_text(dir / "slurm" / "probe_1.sh");
  const std::string token = script.substr(script.rfind(' ') + 1, 16);
  REQUIRE(run_slurm_probe(dir / "slurm" / "probe_1.txt", token) == 0);
  fake->scontrol_out = "JobId=41 JobName=lv-probe JobState=COMPLETED Reason=None ExitCode=0:0 NodeList=node7\n" +
                       task_line(43, 0, "RUNNING", "None", "0:0");
  CHECK_FALSE(launcher->poll(a));
  const size_t asked = fake->calls.size();
  CHECK_FALSE(launcher->poll(a));
  // Only the array is asked about now.
  for (size_t i = asked; i < fake->calls.size(); ++i) CHECK(fake->calls[i] == std::vector<std::string>{"scontrol", "-o", "show", "job", "42"});
  CHECK(launcher->queued(a).empty());
}

TEST_CASE("slurm launcher: a shard stopped before its array went out is never submitted", "[slurm]") {
  test::TempDir dir;
  auto fake = std::make_shared<FakeSlurm>();
  auto launcher = make_slurm_launcher(fake_settings(dir, fake, false));
  const JobId a = launcher->start(shard_spec(dir, 0));
  const JobId b = launcher->start(shard_spec(dir, 1));
  launcher->signal(a, SIGTERM);  // Ctrl-C before the first poll
  fake->scontrol_out = task_line(43, 1, "RUNNING", "None", "0:0");
  const auto stopped = launcher->poll(a);
  REQUIRE(stopped);
  CHECK(stopped->signaled);
  CHECK_FALSE(launcher->poll(b));
  REQUIRE(fake->count("sbatch") == 1);
  const auto& sbatch = fake->calls.front();
  CHECK(std::find(sbatch.begin(), sbatch.end(), "--array=1") != sbatch.end());  // only the shard left
}

TEST_CASE("slurm: a pending range with a step, as scontrol prints a retry over every other shard", "[slurm]") {
  const auto tasks = parse_scontrol_jobs(
      "JobId=9 ArrayJobId=9 ArrayTaskId=1-7:2%4 JobState=PENDING Reason=Resources ExitCode=0:0 NodeList=(null)\n");
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].task_ids == std::vector<int>{1, 3, 5, 7});
  CHECK_THROWS_AS(parse_scontrol_jobs("JobId=9 ArrayJobId=9 ArrayTaskId=1,3,5... JobState=PENDING\n"), Error);
}

TEST_CASE("slurm launcher: a controller that does not answer for a while ends no task", "[slurm]") {
  test::TempDir dir;
  auto fake = std::make_shared<FakeSlurm>();
  bool down = true;
  SlurmLauncherSettings s = fake_settings(dir, fake, false);
  s.run = [fake, &down](const std::vector<std::string>& argv) {
    CaptureResult r = (*fake)(argv);
    if (argv.front() == "scontrol" && down) {
      r.exit_code = 1;
      r.error = "slurm_load_jobs error: Socket timed out on send/recv operation\n";
    }
    return r;
  };
  auto launcher = make_slurm_launcher(s);
  const JobId a = launcher->start(shard_spec(dir, 0));
  for (int i = 0; i < 3; ++i) CHECK_FALSE(launcher->poll(a));  // still its task, still waiting
  CHECK(fake->count("scancel") == 0);
  down = false;
  fake->scontrol_out = task_line(43, 0, "COMPLETED", "None", "0:0");
  const auto done = launcher->poll(a);
  REQUIRE(done);
  CHECK(done->code == 0);
}
