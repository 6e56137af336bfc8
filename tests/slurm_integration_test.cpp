// The Slurm launcher end to end (issue 11): the real orchestrator with fake_worker, its shards
// run as the tasks of job arrays on the real local Slurm of tools/slurm_local.sh (4 fake GPUs).
// ctest starts that cluster first (fixture `slurm`, label `slurm`); run by hand, start it with
// `tools/slurm_local.sh start`.
#include <csignal>
#include <cstdlib>
#include <regex>

#include <fmt/core.h>

#include "catch.h"
#include "scenario.h"

using namespace lv::test;

namespace {

std::string slurm_conf() {
  if (const char* conf = std::getenv("SLURM_CONF")) return conf;
  const char* dir = std::getenv("LV_SLURM_DIR");
  return std::string(dir ? dir : "/tmp/lv-slurm-local") + "/slurm.conf";
}

/// A Slurm command's output, run as the orchestrator runs it (against the local cluster).
std::string slurm(std::vector<std::string> argv, const Scenario& s) {
  const RunResult r = run_program(argv, {{"SLURM_CONF", slurm_conf()}}, s.dir.path());
  return r.output;
}

/// comparable(report) without the shards' devices.
json without_devices(json report) {
  report = comparable(report);
  for (auto& shard : report["shards"]) shard.erase("device");
  return report;
}

/// Runs of the orchestrator against the local Slurm: `--launcher slurm` and SLURM_CONF.
struct SlurmScenario : Scenario {
  explicit SlurmScenario(int count, const std::string& extra = "") : Scenario(count, extra) {}

  RunResult run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) const {
    args.insert(args.begin(), {"--launcher", "slurm"});
    env["SLURM_CONF"] = slurm_conf();
    return orchestrate(args, env);
  }
  std::unique_ptr<Child> start_slurm(std::vector<std::string> args, std::map<std::string, std::string> env = {}) const {
    args.insert(args.begin(), {"--launcher", "slurm"});
    env["SLURM_CONF"] = slurm_conf();
    return start(args, env);
  }
  /// comparable(report), and each shard's device ("Slurm task 2" here, "GPU 2" on one machine).
  json same_as_local() const {
    json r = comparable(report());
    for (auto& shard : r["shards"]) {
      CHECK(shard["device"] == fmt::format("Slurm task {}", shard["index"].get<int>()));
      shard.erase("device");
    }
    return r;
  }
  json state() const { return json::parse(read_text(dir / "run_state.json")); }
  /// The array task of shard `i` in the run state ("12_3").
  std::string task(int i) const { return state()["shards"][i].value("slurm_job", ""); }
};

}  // namespace

TEST_CASE("slurm: 4 shards as one job array give the same tree and report as local processes", "[slurm]") {
  Scenario local(40);
  REQUIRE(local.orchestrate({"--num-gpus", "4"}).code == 0);

  SlurmScenario s(40);
  const RunResult r = s.run({"--num-gpus", "4"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(s.same_as_local() == without_devices(local.report()));
  CHECK(tree(s.dir / "output") == tree(local.dir / "output"));

  // One array: shard i is task i; Slurm gave each its own (fake) GPU, and the log says where.
  const std::string array = s.task(0).substr(0, s.task(0).find('_'));
  REQUIRE_FALSE(array.empty());
  std::set<std::string> devices;
  for (int i = 0; i < 4; ++i) {
    CHECK(s.task(i) == fmt::format("{}_{}", array, i));
    const std::string log = read_text(s.dir / fmt::format("gpu{}.log", i));
    CHECK_THAT(log, Catch::Contains(fmt::format("as Slurm task {}_{} on ", array, i)));
    std::smatch m;
    const std::string env = s.recorded_env(i);
    REQUIRE(std::regex_search(env, m, std::regex("CUDA_VISIBLE_DEVICES=([0-9]+)\n")));
    devices.insert(m[1]);
  }
  CHECK(devices.size() == 4);
  CHECK(r.output.find("Slurm task 3") != std::string::npos);
}

TEST_CASE("slurm: a crashing task is FAILED with Slurm's words, --retry-failed resubmits only it and equals a clean run",
          "[slurm]") {
  Scenario clean(40);
  REQUIRE(clean.orchestrate({"--num-gpus", "4"}).code == 0);

  SlurmScenario s(40);
  const RunResult r = s.run({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "shard=2,crash_at=6"}});
  INFO(r.output);
  REQUIRE(r.code == 1);
  CHECK_THAT(r.output, Catch::Contains("FAILED shard 2 (Slurm task 2)"));
  CHECK_THAT(r.output, Catch::Contains("Slurm: task " + s.task(2) + " FAILED"));
  CHECK_THAT(r.output, Catch::Contains("--retry-failed"));
  const std::vector<std::string> before{s.task(0), s.task(1), s.task(2), s.task(3)};

  const RunResult retry = s.run({"--retry-failed"});
  INFO(retry.output);
  REQUIRE(retry.code == 0);
  // Only shard 2 went out again, as a new array, and resumed from its journal.
  CHECK(s.task(2) != before[2]);
  CHECK(s.task(2).substr(s.task(2).find('_')) == "_2");
  for (int i : {0, 1, 3}) CHECK(s.task(i) == before[static_cast<size_t>(i)]);
  const std::string log = read_text(s.dir / "gpu2.log");
  CHECK(log.find("attempt 1") < log.find("attempt 2"));
  CHECK_THAT(log, Catch::Contains("[progress] 6/10"));
  CHECK(s.same_as_local() == without_devices(clean.report()));
  CHECK(tree(s.dir / "output") == tree(clean.dir / "output"));
}

TEST_CASE("slurm: Ctrl-C cancels the array, leaves no job in squeue, and --retry-failed completes", "[slurm]") {
  SlurmScenario s(40);
  auto child = s.start_slurm({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "slow_ms=150"}});
  REQUIRE(child->started());
  REQUIRE(wait_until([&] { return all_logs_progressed(s, 4); }, std::chrono::seconds(60)));
  const std::string array = s.task(0).substr(0, s.task(0).find('_'));
  REQUIRE_FALSE(array.empty());
  child->signal(SIGINT);
  const auto code = child->wait(std::chrono::seconds(60));
  INFO(child->output());
  REQUIRE(code == 130);
  CHECK(slurm({"/usr/bin/squeue", "-h", "-j", array, "-o", "%i %T"}, s).empty());
  for (const auto& shard : s.state()["shards"]) CHECK(shard["status"] == "interrupted");

  const RunResult retry = s.run({"--retry-failed"});
  INFO(retry.output);
  REQUIRE(retry.code == 0);
  CHECK(image_paths(s.report()) == s.items);
}

TEST_CASE("slurm: sbatch's refusal fails the shards with its message and exit 2", "[slurm]") {
  SlurmScenario s(8, "slurm:\n  partition: no-such-partition\n");
  const RunResult r = s.run({"--num-gpus", "2"});
  INFO(r.output);
  CHECK(r.code == 2);
  // The probe job goes first, with the same resources: it is the one refused.
  CHECK_THAT(r.output, Catch::Contains("Slurm: sbatch could not submit the shared-filesystem probe job"));
  CHECK_THAT(r.output, Catch::Contains("invalid partition"));
  CHECK_THAT(r.output, Catch::Contains("FAILED shard 1 (Slurm task 1) exit code 2 (Slurm setup), 1 attempt(s)"));
}

TEST_CASE("slurm: a task over its time limit is reported as Slurm's TIMEOUT", "[slurm]") {
  // Slurm counts limits in minutes and checks them about every 30 s: this takes 1-2 minutes.
  SlurmScenario s(4, "slurm:\n  time_limit: \"1\"\n");
  auto child = s.start_slurm({"--num-gpus", "1", "--stall-timeout", "0"}, {{"FAKE_WORKER_FAULT", "hang_at=1"}});
  REQUIRE(child->started());
  const auto code = child->wait(std::chrono::seconds(240));
  INFO(child->output());
  REQUIRE(code == 1);
  CHECK_THAT(child->output(), Catch::Contains("time limit reached (TIMEOUT)"));
  CHECK_THAT(child->output(), Catch::Contains("Slurm time limit"));
  CHECK_THAT(child->output(), Catch::Contains("raise slurm.time_limit"));
}

TEST_CASE("slurm: an orchestrator killed mid-run - a retry refuses while its tasks run, --attach follows them and merges",
          "[slurm]") {
  SlurmScenario s(40);
  auto child = s.start_slurm({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "slow_ms=1000"}});
  REQUIRE(child->started());
  REQUIRE(wait_until([&] { return all_logs_progressed(s, 4); }, std::chrono::seconds(60)));
  child->signal(SIGKILL);  // the login node dropped
  REQUIRE(child->wait(std::chrono::seconds(20)));
  const std::vector<std::string> before{s.task(0), s.task(1), s.task(2), s.task(3)};

  // Submitting them again would put a second worker on each shard's tree.
  const RunResult retry = s.run({"--retry-failed"});
  INFO(retry.output);
  CHECK(retry.code == 2);
  CHECK_THAT(retry.output, Catch::Contains("still run in Slurm as " + before[0] + " (RUNNING)"));
  CHECK_THAT(retry.output, Catch::Contains("--attach"));

  const RunResult attach = s.orchestrate({"--attach"}, {{"SLURM_CONF", slurm_conf()}});
  INFO(attach.output);
  REQUIRE(attach.code == 0);
  CHECK_THAT(attach.output, Catch::Contains("following Slurm task " + before[2]));
  CHECK(image_paths(s.report()) == s.items);
  for (int i = 0; i < 4; ++i) {
    CHECK(s.task(i) == before[static_cast<size_t>(i)]);  // followed, not submitted again
    const std::string log = read_text(s.dir / fmt::format("gpu{}.log", i));
    CHECK(log.find("attempt 2") == std::string::npos);
    CHECK(s.state()["shards"][i]["attempts"] == 1);
  }
}

TEST_CASE("slurm: a work dir the tasks cannot write fails the run with the shared-filesystem message", "[slurm]") {
  // The tasks run as nobody, who cannot write the work dir (as a node that does not mount it).
  SlurmScenario s(8, "slurm:\n  sbatch_args: [\"--uid=nobody\"]\n");
  const RunResult r = s.run({"--num-gpus", "2"});
  INFO(r.output);
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Catch::Contains("could not write to the work dir"));
  CHECK_THAT(r.output, Catch::Contains("must be on a filesystem the compute nodes share"));
  // Nothing ran: no worker started, nothing is left queued.
  CHECK_FALSE(fs::exists(s.dir / "output_gpu0"));
  for (int i = 0; i < 2; ++i) CHECK(read_text(s.dir / fmt::format("gpu{}.log", i)).find("[fake_worker]") == std::string::npos);
}

TEST_CASE("slurm: a work dir named with a space, a quote, a percent sign and a byte that is not UTF-8", "[slurm]") {
  SlurmScenario s(12);
  const std::string work = "runs 50%'s \xff";
  const RunResult r = s.run({"--num-gpus", "2", "--work-dir", work});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(image_paths(s.report()) == s.items);
  for (int i = 0; i < 2; ++i)  // one log per task, where %a put it, under the literal name
    CHECK_THAT(read_text(s.dir / work / fmt::format("gpu{}.log", i)), Catch::Contains("as Slurm task"));
}

TEST_CASE("slurm: the stall watchdog stops a hung task through scancel, and the shard resumes on retry", "[slurm]") {
  SlurmScenario s(8);
  const RunResult r = s.run({"--num-gpus", "2", "--stall-timeout", "1"}, {{"FAKE_WORKER_FAULT", "shard=1,hang_at=2"}});
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Catch::Contains("FAILED shard 1 (Slurm task 1)"));
  CHECK_THAT(r.output, Catch::Contains("stalled"));
  const std::string array = s.task(1).substr(0, s.task(1).find('_'));
  CHECK(slurm({"/usr/bin/squeue", "-h", "-j", array, "-o", "%i %T"}, s).empty());
  const RunResult retry = s.run({"--retry-failed"});
  INFO(retry.output);
  REQUIRE(retry.code == 0);
  CHECK(image_paths(s.report()) == s.items);
  CHECK_THAT(read_text(s.dir / "gpu1.log"), Catch::Contains("[progress] 2/4"));
}
