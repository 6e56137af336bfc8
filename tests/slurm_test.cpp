// The Slurm launcher's words with Slurm: sbatch argv and `scontrol -o show job` parsing, on
// output captured from Slurm 22.05 (tests/fixtures/slurm/README.md).
#include <csignal>

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
                                      "--output=/runs/a b/gpu%a.log", "--open-mode=append", "--chdir=/runs/a b",
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
