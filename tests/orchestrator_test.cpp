// End-to-end tests of the real orchestrator binary with the real fake_worker on a machine that
// poses as having 4 GPUs (tests/fixtures/fake_nvidia_smi through LV_NVIDIA_SMI).
#include <dirent.h>
#include <sys/stat.h>

#include <map>
#include <set>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "catch.h"
#include "process_util.h"
#include "scenario.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace lv::test;

TEST_CASE("4 fake GPUs: one worker per GPU, each pinned, results merged", "[integration]") {
  Scenario s(24);
  const RunResult r = s.orchestrate({"--num-gpus", "4"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  for (int i = 0; i < 4; ++i) {
    CHECK(s.recorded_env(i).find("CUDA_VISIBLE_DEVICES=" + std::to_string(i) + "\n") != std::string::npos);
    CHECK(fs::exists(s.dir / ("gpu" + std::to_string(i) + ".log")));
    CHECK(read_text(s.dir / "splits" / ("split_0" + std::to_string(i) + ".txt")).size() > 0);
    CHECK_FALSE(fs::exists(s.dir / ("output_gpu" + std::to_string(i))));  // removed after a clean merge
  }
  const json report = s.report();
  CHECK(report["status"] == "complete");
  CHECK(image_paths(report) == s.items);  // every item once, in input order
  CHECK(report["summary"]["total_images"] == 24);
  CHECK(report["shards"].size() == 4);
  // 24 items over 4 shards: 6 each, contiguous.
  for (const auto& image : report["images"]) {
    const auto pos = std::find(s.items.begin(), s.items.end(), image["path"].get<std::string>()) - s.items.begin();
    CHECK(image["shard"] == pos / 6);
  }
  // One output file per item, under its verdict and its own folder.
  CHECK(tree(s.dir / "output").size() == 24);
  CHECK(r.output.find("Summary: 24 images") != std::string::npos);
}

TEST_CASE("the parent's CUDA_VISIBLE_DEVICES is respected", "[integration]") {
  Scenario s(9);
  const RunResult r = s.orchestrate({"--num-gpus", "3"}, {{"CUDA_VISIBLE_DEVICES", "0,1,3"}});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(s.recorded_env(0).find("CUDA_VISIBLE_DEVICES=0\n") != std::string::npos);
  CHECK(s.recorded_env(1).find("CUDA_VISIBLE_DEVICES=1\n") != std::string::npos);
  CHECK(s.recorded_env(2).find("CUDA_VISIBLE_DEVICES=3\n") != std::string::npos);
}

TEST_CASE("CPU workers get an empty CUDA_VISIBLE_DEVICES", "[integration]") {
  Scenario s(6);
  const RunResult r = s.orchestrate({"--gpus", "cpu", "--cpu-workers", "2"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(s.recorded_env(0).find("CUDA_VISIBLE_DEVICES=\n") != std::string::npos);
  CHECK(s.recorded_env(1).find("CUDA_VISIBLE_DEVICES=\n") != std::string::npos);
  CHECK(s.report()["shards"][1]["device"] == "CPU 1");
}

TEST_CASE("each worker is told its share of the cores: model threads and LV_CORES_PER_WORKER", "[integration]") {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  for (const int workers : {1, 2, 3}) {
    INFO(workers << " workers on " << cores << " cores");
    Scenario s(6);
    const RunResult r = s.orchestrate({"--gpus", "cpu", "--cpu-workers", std::to_string(workers)});
    INFO(r.output);
    REQUIRE(r.code == 0);
    const std::string share = std::to_string(std::max(1u, cores / static_cast<unsigned>(workers)));
    for (int i = 0; i < workers; ++i) {
      CHECK(s.recorded_env(i).find("LV_CORES_PER_WORKER=" + share + "\n") != std::string::npos);
      CHECK(s.recorded_env(i).find("OMP_NUM_THREADS=" + share + "\n") != std::string::npos);  // num_threads: auto
    }
  }
}

TEST_CASE("a crash in shard 2 gives a partial report, --retry-failed resumes it and equals a clean run",
          "[integration]") {
  Scenario clean(40);
  const RunResult c = clean.orchestrate({"--num-gpus", "4"});
  REQUIRE(c.code == 0);

  Scenario s(40);
  const RunResult r = s.orchestrate({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "shard=2,crash_at=6"}});
  INFO(r.output);
  REQUIRE(r.code == 1);
  CHECK(r.output.find("FAILED shard 2 (GPU 2)") != std::string::npos);
  CHECK(r.output.find("SIGABRT") != std::string::npos);
  CHECK(r.output.find("--retry-failed") != std::string::npos);
  const json partial = s.report();
  CHECK(partial["status"] == "partial");
  REQUIRE(partial["unprocessed"].size() == 10);  // all of shard 2: items 20..29
  CHECK(partial["unprocessed"][0] == s.items[20]);
  CHECK(partial["images"].size() == 30);
  const json state = json::parse(read_text(s.dir / "run_state.json"));
  CHECK(state["shards"][2]["status"] == "failed");
  CHECK(state["shards"][2]["signal"] == 6);

  const RunResult retry = s.orchestrate({"--retry-failed"});
  INFO(retry.output);
  REQUIRE(retry.code == 0);
  // Resumed from its journal: the second attempt did only the 4 items after the crash.
  const std::string log = read_text(s.dir / "gpu2.log");
  CHECK(log.find("attempt 2") != std::string::npos);
  CHECK(log.find("[progress] 6/10") != std::string::npos);
  CHECK(log.find("attempt 1") < log.find("attempt 2"));  // appended, not truncated

  CHECK(comparable(s.report()) == comparable(clean.report()));
  CHECK(tree(s.dir / "output") == tree(clean.dir / "output"));
  CHECK(s.report()["shards"][2]["attempts"] == 2);
}

TEST_CASE("a hung worker is stopped by the stall watchdog and reported", "[integration]") {
  Scenario s(8);
  const RunResult r = s.orchestrate({"--num-gpus", "2", "--stall-timeout", "1"}, {{"FAKE_WORKER_FAULT", "shard=1,hang_at=1"}});
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK(r.output.find("no progress for 1 s") != std::string::npos);
  CHECK(r.output.find("FAILED shard 1 (GPU 1)") != std::string::npos);
  CHECK(r.output.find("stalled") != std::string::npos);
  CHECK(processes_mentioning(s.dir.path().string()).empty());
}

TEST_CASE("a worker that ignores SIGTERM is killed after the grace period", "[integration]") {
  Scenario s(4);
  const RunResult r = s.orchestrate({"--num-gpus", "1", "--timeout", "1"}, {{"FAKE_WORKER_FAULT", "hang_at=0,ignore_term=1"}});
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK(r.output.find("sent SIGKILL") != std::string::npos);
  CHECK(r.output.find("timed out") != std::string::npos);
  CHECK(processes_mentioning(s.dir.path().string()).empty());
}

TEST_CASE("Ctrl-C stops every worker, saves the state and exits 130, --retry-failed then completes",
          "[integration]") {
  Scenario s(40);
  auto child = s.start({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "slow_ms=150"}});
  REQUIRE(child->started());
  REQUIRE(wait_until([&] { return all_logs_progressed(s, 4); }));
  child->signal(SIGINT);
  const auto code = child->wait(std::chrono::seconds(20));
  INFO(child->output());
  REQUIRE(code == 130);
  CHECK(processes_mentioning(s.dir.path().string()).empty());
  const json state = json::parse(read_text(s.dir / "run_state.json"));
  for (const auto& shard : state["shards"]) CHECK(shard["status"] == "interrupted");

  const RunResult retry = s.orchestrate({"--retry-failed"});
  INFO(retry.output);
  REQUIRE(retry.code == 0);
  CHECK(image_paths(s.report()) == s.items);
  CHECK(s.report()["status"] == "complete");
}

TEST_CASE("with --keep-gpu-outputs the per-GPU trees stay, and the per-GPU trees and --merge-only rebuilds output/", "[integration]") {
  Scenario s(12);
  const RunResult r = s.orchestrate({"--num-gpus", "4", "--keep-gpu-outputs"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  const auto merged = tree(s.dir / "output");
  size_t shard_files = 0;
  for (int i = 0; i < 4; ++i) {
    const fs::path gpu_tree = s.dir / ("output_gpu" + std::to_string(i));
    REQUIRE(fs::exists(gpu_tree / "verification_report.json"));
    for (const auto& [path, content] : tree(gpu_tree)) {
      if (path == "verification_report.json" || path[0] == '.') continue;
      ++shard_files;
      CHECK(merged.at(path) == content);
      CHECK(fs::hard_link_count(s.dir / "output" / path) >= 2);  // linked, not copied
    }
  }
  CHECK(shard_files == 12);

  fs::remove_all(s.dir / "output");
  const RunResult m = s.orchestrate({"--merge-only", "--keep-gpu-outputs"});
  INFO(m.output);
  REQUIRE(m.code == 0);
  CHECK(tree(s.dir / "output") == merged);

  // Merging again is a no-op.
  const RunResult again = s.orchestrate({"--merge-only", "--keep-gpu-outputs"});
  REQUIRE(again.code == 0);
  CHECK(tree(s.dir / "output") == merged);
}

TEST_CASE("bad config and bad device strings exit 2 with a message naming the problem", "[integration]") {
  Scenario s(4);
  SECTION("unknown key") {
    s.write_config("processing:\n  batchsize: 8\n");
    const RunResult r = s.orchestrate({});
    CHECK(r.code == 2);
    CHECK(r.output.find("config.yaml:9: processing.batchsize: unknown key") != std::string::npos);
  }
  SECTION("wrong type") {
    s.write_config("processing:\n  batch_size: many\n");
    const RunResult r = s.orchestrate({});
    CHECK(r.code == 2);
    CHECK(r.output.find("processing.batch_size: expected an integer, got 'many'") != std::string::npos);
  }
  SECTION("missing config file") {
    const RunResult r = run_program({LV_ORCHESTRATOR, "--config", "nope.yaml"}, s.base_env({}), s.dir.path());
    CHECK(r.code == 2);
    CHECK(r.output.find("nope.yaml: config file not found") != std::string::npos);
  }
  SECTION("a GPU that does not exist") {
    const RunResult r = s.orchestrate({"--gpus", "0,5"});
    CHECK(r.code == 2);
    CHECK(r.output.find("GPU 5 not available. Only 4 GPU(s) detected.") != std::string::npos);
  }
  SECTION("more GPUs than the machine has") {
    const RunResult r = s.orchestrate({"--num-gpus", "8"});
    CHECK(r.code == 2);
    CHECK(r.output.find("--gpus cpu --cpu-workers 8") != std::string::npos);
  }
  SECTION("an unknown option") {
    const RunResult r = s.orchestrate({"--num-gpu", "2"});
    CHECK(r.code == 2);
    CHECK(r.output.find("--num-gpu") != std::string::npos);
  }
  CHECK_FALSE(fs::exists(s.dir / "output"));
}

TEST_CASE("retrying refuses when the config or the input changed", "[integration]") {
  Scenario s(8);
  REQUIRE(s.orchestrate({"--num-gpus", "2"}, {{"FAKE_WORKER_FAULT", "shard=1,exit_at=1,code=1"}}).code == 1);
  SECTION("a key that changes results changed: refused, naming the key, ending with the restart command") {
    s.write_config("verification:\n  correct_threshold: 0.3\n");
    const RunResult r = s.orchestrate({"--retry-failed"});
    CHECK(r.code == 2);
    CHECK(r.output.find("verification.correct_threshold") != std::string::npos);
    CHECK(r.output.find("--restart\n") != std::string::npos);
  }
  SECTION("input changed") {
    write_text(s.dir / "data/extra/JPEGImages/new.jpg", "x");
    const RunResult r = s.orchestrate({"--retry-failed"});
    CHECK(r.code == 2);
    CHECK(r.output.find("lists 9 items, the plan had 8") != std::string::npos);
  }
  SECTION("a fresh run refuses to overwrite the unfinished one") {
    const RunResult r = s.orchestrate({"--num-gpus", "2"});
    CHECK(r.code == 2);
    CHECK(r.output.find("unfinished run") != std::string::npos);
  }
  SECTION("--shards moves the failed shard to another GPU") {
    const RunResult r = s.orchestrate({"--shards", "1", "--gpus", "3"});
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(s.recorded_env(1).find("CUDA_VISIBLE_DEVICES=3\n") != std::string::npos);
    CHECK(s.report()["shards"][1]["device"] == "GPU 3");
    CHECK(image_paths(s.report()) == s.items);
  }
}

TEST_CASE("a second orchestrator on the same work dir refuses to start", "[integration]") {
  Scenario s(8);
  auto first = s.start({"--num-gpus", "2"}, {{"FAKE_WORKER_FAULT", "slow_ms=200"}});
  REQUIRE(wait_until([&] { return fs::exists(s.dir / "run_state.json"); }));
  const RunResult second = s.orchestrate({"--num-gpus", "2", "--output", "other"});
  CHECK(second.code == 2);
  CHECK(second.output.find("already running") != std::string::npos);
  CHECK(first->wait() == 0);
}

TEST_CASE("list-file entries outside the input root are rejected and reported", "[integration]") {
  Scenario s(4);
  write_text(s.dir / "list.txt", s.items[0] + "\n../secret.jpg\n" + s.items[1] + "\n/etc/passwd.jpg\n");
  write_text(s.dir / "config.yaml", "input:\n  images: list.txt\n  root: data\nworker:\n  executable: " LV_FAKE_WORKER "\n");
  const RunResult r = s.orchestrate({"--num-gpus", "1"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("2 input entries skipped") != std::string::npos);
  const std::string rejected = read_text(s.dir / "rejected_items.txt");
  CHECK(rejected.find("line 2: ../secret.jpg") != std::string::npos);
  CHECK(rejected.find("line 4: /etc/passwd.jpg") != std::string::npos);
  CHECK(image_paths(s.report()) == std::vector<std::string>{s.items[0], s.items[1]});
  // Nothing was written outside the output tree.
  CHECK_FALSE(fs::exists(s.dir / "secret.jpg.txt"));
}

TEST_CASE("a dry run prints the plan and the commands, and runs nothing", "[integration]") {
  Scenario s(10);
  const RunResult r = s.orchestrate({"--num-gpus", "4", "--dry-run"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("10 items") != std::string::npos);
  CHECK(r.output.find("shard  3  GPU 3   items 8..10 (2)") != std::string::npos);
  CHECK(r.output.find("--output-dir") != std::string::npos);
  CHECK_FALSE(fs::exists(s.dir / "run_state.json"));
  CHECK_FALSE(fs::exists(s.dir / "gpu0.log"));
}

TEST_CASE("workers do not outlive an orchestrator killed with SIGKILL, --retry-failed recovers", "[integration]") {
  Scenario s(40);
  auto child = s.start({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "slow_ms=150"}});
  REQUIRE(wait_until([&] { return all_logs_progressed(s, 4); }));
  child->signal(SIGKILL);
  REQUIRE(child->wait(std::chrono::seconds(10)) == 128 + SIGKILL);
  // PR_SET_PDEATHSIG delivers SIGTERM to each worker; they flush their journals and exit.
  CHECK(wait_until([&] { return processes_mentioning(s.dir.path().string()).empty(); }));
  const json state = json::parse(read_text(s.dir / "run_state.json"));
  CHECK(state["shards"][0]["status"] == "running");  // what was known when it died

  const RunResult retry = s.orchestrate({"--retry-failed"});
  INFO(retry.output);
  REQUIRE(retry.code == 0);
  CHECK(image_paths(s.report()) == s.items);
}

TEST_CASE("the failure block names the likely cause from the log", "[integration]") {
  Scenario s(8);
  SECTION("CUDA out of memory") {
    const RunResult r = s.orchestrate({"--num-gpus", "2"}, {{"FAKE_WORKER_FAULT", "shard=0,oom_at=1"}});
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK(r.output.find("FAILED shard 0 (GPU 0) exit code 1 (CUDA out of memory)") != std::string::npos);
    CHECK(r.output.find("processing.batch_size") != std::string::npos);
    CHECK(r.output.find("| RuntimeError: CUDA out of memory") != std::string::npos);
  }
  SECTION("model cannot be loaded by any worker: exit 3, and nothing merged that would block a re-run") {
    const RunResult r = s.orchestrate({"--num-gpus", "2"}, {{"FAKE_WORKER_FAULT", "model_error=1"}});
    INFO(r.output);
    CHECK(r.code == 3);
    CHECK(r.output.find("FAILED shard 1 (GPU 1) exit code 3 (model load error)") != std::string::npos);
    CHECK(r.output.find("No shard succeeded") != std::string::npos);
    CHECK_FALSE(fs::exists(s.dir / "output" / "verification_report.json"));
  }
}

TEST_CASE("a worker flooding its log does not slow or break the orchestrator", "[integration]") {
  Scenario s(8);
  const RunResult r = s.orchestrate({"--num-gpus", "2"}, {{"FAKE_WORKER_FAULT", "flood=1"}});
  INFO(r.output.substr(0, 2000));
  REQUIRE(r.code == 0);
  CHECK(fs::file_size(s.dir / "gpu0.log") > 4 * 64 * 1024);
  CHECK(image_paths(s.report()) == s.items);
}

TEST_CASE("a second Ctrl-C kills workers that ignore SIGTERM at once", "[integration]") {
  Scenario s(8);
  write_text(s.dir / "config.yaml", "input:\n  images: data\nworker:\n  executable: " LV_FAKE_WORKER
                                    "\norchestrator:\n  stop_grace_s: 60\n");
  auto child = s.start({"--num-gpus", "2"}, {{"FAKE_WORKER_FAULT", "hang_at=1,ignore_term=1"}});
  // Both workers are up (they ignore SIGTERM from their first line on).
  REQUIRE(wait_until([&] {
    return read_text(s.dir / "gpu0.log").find("[fake_worker]") != std::string::npos &&
           read_text(s.dir / "gpu1.log").find("[fake_worker]") != std::string::npos;
  }));
  child->signal(SIGINT);
  REQUIRE(wait_until([&] { return child->output().find("stopping all workers") != std::string::npos; }));
  CHECK_FALSE(child->wait(std::chrono::milliseconds(500)).has_value());  // still in its 60 s grace
  child->signal(SIGINT);
  const auto code = child->wait(std::chrono::seconds(10));
  INFO(child->output());
  CHECK(code == 130);
  CHECK(processes_mentioning(s.dir.path().string()).empty());
}

// --- The run lifecycle (issue 7): each case reproduced as a user would meet it -----------

namespace {
/// The command printed after `marker` (the next line, indented by two spaces).
std::string printed_command(const std::string& output, const std::string& marker) {
  const size_t at = output.find(marker);
  if (at == std::string::npos) return "";
  const size_t start = output.find('\n', at) + 1;
  const size_t end = output.find('\n', start);
  std::string line = output.substr(start, end - start);
  while (!line.empty() && line.front() == ' ') line.erase(0, 1);
  return line;
}
}  // namespace

TEST_CASE("two runs of one config from two work dirs: the second refuses, the first's results stay whole",
          "[integration][lifecycle]") {
  Scenario s(8);
  fs::create_directories(s.dir / "run_a");
  fs::create_directories(s.dir / "run_b");
  auto first = s.start({"--num-gpus", "2", "--work-dir", "run_a"}, {{"FAKE_WORKER_FAULT", "slow_ms=150"}});
  REQUIRE(wait_until([&] { return fs::exists(s.dir / "run_a/run_state.json"); }));
  const RunResult second = s.orchestrate({"--num-gpus", "2", "--work-dir", "run_b"});
  INFO(second.output);
  CHECK(second.code == 2);
  CHECK(second.output.find("being written by another orchestrator") != std::string::npos);
  CHECK(second.output.find((s.dir / "run_a").string()) != std::string::npos);
  REQUIRE(first->wait() == 0);
  CHECK(s.report()["status"] == "complete");
  CHECK(image_paths(s.report()) == s.items);

  // After the first finished, the second still does not touch its results.
  const std::string before = read_text(s.dir / "output/verification_report.json");
  const RunResult third = s.orchestrate({"--num-gpus", "2", "--work-dir", "run_b"});
  CHECK(third.code == 2);
  CHECK(third.output.find("holds the results of another run") != std::string::npos);
  CHECK(read_text(s.dir / "output/verification_report.json") == before);
}

TEST_CASE("out of memory, then a lower batch size, then the printed --retry-failed: identical to a clean run",
          "[integration][lifecycle]") {
  Scenario clean(12);
  REQUIRE(clean.orchestrate({"--num-gpus", "4"}).code == 0);

  Scenario s(12);
  const RunResult failed = s.orchestrate({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "shard=1,oom_at=1"}});
  INFO(failed.output);
  REQUIRE(failed.code == 1);
  CHECK(failed.output.find("CUDA out of memory") != std::string::npos);
  s.write_config("processing:\n  batch_size: 4\n");  // what the hint says
  const std::string retry = printed_command(failed.output, "Fix the cause");
  REQUIRE(retry.find("--retry-failed") != std::string::npos);
  // Pasted in another folder: the command carries everything it needs.
  TempDir elsewhere;
  const RunResult r = run_program({"/bin/sh", "-c", retry}, s.base_env({}), elsewhere.path());
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("processing.batch_size") != std::string::npos);
  CHECK(comparable(s.report()) == comparable(clean.report()));
  CHECK(tree(s.dir / "output") == tree(clean.dir / "output"));
}

TEST_CASE("out of GPU memory: the shard is re-run at half the batch size until it fits, and the report says so",
          "[integration][lifecycle]") {
  Scenario clean(12);
  REQUIRE(clean.orchestrate({"--num-gpus", "4"}).code == 0);

  // Shard 1 runs out of memory at its second item while its batch is above 8: 32 -> 16 -> 8.
  Scenario s(12);
  const RunResult r = s.orchestrate({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "shard=1,oom_at=1,oom_above=8"}});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("shard 1 (GPU 1): CUDA out of memory at processing.batch_size 32; retrying at 16") !=
        std::string::npos);
  CHECK(r.output.find("at processing.batch_size 16; retrying at 8") != std::string::npos);
  const std::string log = lv::test::read_text(s.dir / "gpu1.log");
  CHECK(log.find("--batch-size") == std::string::npos);  // the worker's output only, not its argv
  const json report = s.report();
  CHECK(report["shards"][1]["batch_size"] == 8);
  CHECK(report["shards"][1]["attempts"] == 3);
  CHECK_FALSE(report["shards"][0].contains("batch_size"));
  CHECK(comparable(report) == comparable(clean.report()));
  CHECK(tree(s.dir / "output") == tree(clean.dir / "output"));
  CHECK(lv::test::read_text(s.dir / "config.yaml").find("batch_size") == std::string::npos);  // the user's file
}

TEST_CASE("a wrong model.path exits 3 before any worker starts, writing no output", "[integration][lifecycle]") {
  Scenario s(8, "model:\n  path: models/missing.pt\n");
  const RunResult r = s.orchestrate({"--num-gpus", "2"});
  INFO(r.output);
  CHECK(r.code == 3);
  CHECK(r.output.find((s.dir / "models/missing.pt").string() + ": model.path: file not found") != std::string::npos);
  CHECK_FALSE(fs::exists(s.dir / "gpu0.log"));
  CHECK_FALSE(fs::exists(s.dir / "output"));
  CHECK_FALSE(fs::exists(s.dir / "run_state.json"));
}

TEST_CASE("restarting (--restart) after a failed run says what it removes and gives the clean result", "[integration][lifecycle]") {
  Scenario clean(8);
  REQUIRE(clean.orchestrate({"--num-gpus", "2"}).code == 0);
  Scenario s(8);
  REQUIRE(s.orchestrate({"--num-gpus", "2"}, {{"FAKE_WORKER_FAULT", "shard=0,crash_at=2"}}).code == 1);
  const RunResult r = s.orchestrate({"--num-gpus", "2", "--restart"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("--restart: removing") != std::string::npos);
  CHECK(r.output.find((s.dir / "output_gpu0").string()) != std::string::npos);
  CHECK(comparable(s.report()) == comparable(clean.report()));
  CHECK(tree(s.dir / "output") == tree(clean.dir / "output"));
}

TEST_CASE("an output dir inside the scanned input folder is refused before anything runs", "[integration][lifecycle]") {
  Scenario s(4);
  const RunResult r = s.orchestrate({"--num-gpus", "1", "--output", "data/output"});
  CHECK(r.code == 2);
  CHECK(r.output.find("lies inside the input folder") != std::string::npos);
  CHECK_FALSE(fs::exists(s.dir / "data/output"));
}

TEST_CASE("bad limits and misplaced flags are usage errors, not silent defaults", "[integration][lifecycle]") {
  Scenario s(4);
  for (const char* bad : {"nan", "inf", "-1"}) {
    const RunResult r = s.orchestrate({"--stall-timeout", bad});
    CHECK(r.code == 2);
    CHECK(r.output.find("--stall-timeout") != std::string::npos);
  }
  const RunResult cpu = s.orchestrate({"--num-gpus", "2", "--cpu-workers", "3"});
  CHECK(cpu.code == 2);
  CHECK(cpu.output.find("--gpus cpu") != std::string::npos);
  CHECK_FALSE(fs::exists(s.dir / "output"));
}

TEST_CASE("workers loading their model longer than --stall-timeout are not killed: start-up has its allowance",
          "[integration][lifecycle]") {
  Scenario s(8);
  // Each worker spends 2 x 1.5 s in start-up phases, well past the 1 s stall timeout.
  const RunResult r = s.orchestrate({"--num-gpus", "2", "--stall-timeout", "1"}, {{"FAKE_WORKER_FAULT", "startup_ms=1500"}});
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(r.output.find("stalled") == std::string::npos);
  CHECK(s.report()["status"] == "complete");
}

TEST_CASE("a worker of a new kind (tests/example_worker.cpp) runs and merges with its own counters",
          "[integration][generic]") {
  Scenario s(24);
  int64_t bytes = 0;
  for (size_t i = 0; i < s.items.size(); ++i) {
    const std::string content(10 + i, 'x');  // item i holds 10 + i bytes
    write_text(s.dir / "data" / s.items[i], content);
    bytes += static_cast<int64_t>(content.size());
  }
  write_text(s.dir / "config.yaml", "input:\n  images: data\nworker:\n  executable: " LV_EXAMPLE_WORKER "\n");
  const RunResult r = s.orchestrate({"--num-gpus", "4"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  const json report = s.report();
  CHECK(report["status"] == "complete");
  CHECK(report["summary"] == json{{"files", 24}, {"bytes", bytes}});
  REQUIRE(report["items"].size() == 24);
  for (size_t i = 0; i < s.items.size(); ++i) {
    CHECK(report["items"][i]["item"] == s.items[i]);
    CHECK(report["items"][i]["bytes"] == static_cast<int64_t>(10 + i));
  }
  CHECK_FALSE(report.contains("images"));
  CHECK(r.output.find("Summary: bytes " + std::to_string(bytes) + ", files 24") != std::string::npos);
}

// --- Balancing (issue 10) ------------------------------------------------------------------

namespace {

/// 48 images: 36 quick ones (5 ms), then one folder of 12 slow ones (400 ms) that static shards
/// give to GPU 3 alone. The cost is in the name (fake_worker's name_ms).
std::unique_ptr<Scenario> skewed_scenario() {
  auto s = std::make_unique<Scenario>(0);
  for (int i = 0; i < 48; ++i) {
    const std::string rel = i < 36 ? fmt::format("a_quick/img_{:03d}@5.jpg", i) : fmt::format("z_slow/img_{:03d}@400.jpg", i);
    write_text(s->dir / "data" / rel, "not really a jpeg");
    s->items.push_back(rel);
  }
  return s;
}

/// A report without what differs between a static and a balanced run of the same items: the
/// shard list and the shard each record names.
json comparable_across_plans(json report) {
  report.erase("shards");
  for (auto& image : report["images"]) image.erase("shard");
  return report;
}

}  // namespace

TEST_CASE("balancing: idle GPUs take over the slow folder's shard - tree and report equal a static run's",
          "[integration][balance]") {
  const auto fixed = skewed_scenario();
  const RunResult st = fixed->orchestrate({"--num-gpus", "4", "--static"}, {{"FAKE_WORKER_FAULT", "name_ms=1"}});
  INFO(st.output);
  REQUIRE(st.code == 0);
  CHECK(st.output.find("balancing") == std::string::npos);
  CHECK(json::parse(read_text(fixed->dir / "run_state.json"))["shards"].size() == 4);

  const auto balanced = skewed_scenario();
  const RunResult r = balanced->orchestrate({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "name_ms=1"}});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("balancing: shard 3 (GPU 3) keeps items") != std::string::npos);
  const json state = json::parse(read_text(balanced->dir / "run_state.json"));
  REQUIRE(state["shards"].size() > 4);
  for (size_t i = 4; i < state["shards"].size(); ++i) {
    const json& s = state["shards"][i];
    CHECK(s["status"] == "succeeded");
    CHECK(s["begin"].get<int>() >= 36);
    CHECK_FALSE(s["split_from"].is_null());
    // One log per GPU: a shard split off onto GPU g appends to gpug.log.
    CHECK(s["log"] == fmt::format("gpu{}.log", s["device_index"].get<int>()));
    CHECK(read_text(balanced->dir / s["log"].get<std::string>()).find(fmt::format("shard {} attempt 1", i)) !=
          std::string::npos);
    CHECK_FALSE(fs::exists(balanced->dir / fmt::format("gpu{}.log", i)));
  }
  CHECK(comparable_across_plans(balanced->report()) == comparable_across_plans(fixed->report()));
  CHECK(image_paths(balanced->report()) == balanced->items);
  CHECK(tree(balanced->dir / "output") == tree(fixed->dir / "output"));
  CHECK(balanced->report()["shards"].size() == state["shards"].size());
}

TEST_CASE("balancing: a shard split off and then killed is resumed by --retry-failed - the result equals a clean run",
          "[integration][balance]") {
  const auto clean = skewed_scenario();
  REQUIRE(clean->orchestrate({"--num-gpus", "4", "--static"}, {{"FAKE_WORKER_FAULT", "name_ms=1"}}).code == 0);

  const auto s = skewed_scenario();
  // Shard 4 exists only when shard 3 was split; it aborts at its second item.
  const RunResult r = s->orchestrate({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "name_ms=1,shard=4,crash_at=1"}});
  INFO(r.output);
  REQUIRE(r.code == 1);
  CHECK(r.output.find("FAILED shard 4") != std::string::npos);
  CHECK(s->report()["status"] == "partial");
  const RunResult retry = s->orchestrate({"--retry-failed"}, {{"FAKE_WORKER_FAULT", "name_ms=1"}});
  INFO(retry.output);
  REQUIRE(retry.code == 0);
  CHECK(comparable_across_plans(s->report()) == comparable_across_plans(clean->report()));
  CHECK(tree(s->dir / "output") == tree(clean->dir / "output"));
}

TEST_CASE("quarantine: a GPU that fails twice gets no more work, its shard finishes on another GPU, the report says so",
          "[integration][quarantine]") {
  Scenario clean(40);
  REQUIRE(clean.orchestrate({"--num-gpus", "4"}).code == 0);

  Scenario s(40, "  max_retries: 1\n");
  // GPU 2 (whatever shard it runs) fails with a CUDA error at the 4th item it processes.
  const RunResult r = s.orchestrate({"--num-gpus", "4"}, {{"FAKE_WORKER_FAULT", "gpu=2,cuda_error_at=3"}});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("GPU 2 quarantined: 2 failures in this run (the last: CUDA error)") != std::string::npos);
  const json state = json::parse(read_text(s.dir / "run_state.json"));
  CHECK(state["quarantined"] == json::array({"GPU 2"}));
  CHECK(state["shards"][2]["status"] == "succeeded");
  CHECK(state["shards"][2]["device"] != "GPU 2");
  CHECK(state["shards"][2]["attempts"] == 3);
  const json report = s.report();
  CHECK(report["status"] == "complete");
  CHECK(report["quarantined_devices"] == json::array({"GPU 2"}));
  json a = comparable_across_plans(report), b = comparable_across_plans(clean.report());
  a.erase("quarantined_devices");
  CHECK(a == b);
  CHECK(tree(s.dir / "output") == tree(clean.dir / "output"));
}

TEST_CASE("the run summary gives items/s per GPU from nvidia-smi's samples, and says when the GPUs starve",
          "[integration][utilisation]") {
  Scenario s(16);
  // 4 items of 1 s per GPU: 3 or 4 samples a GPU while its worker runs, at 25 % each.
  const RunResult r = s.orchestrate({"--num-gpus", "4", "--static"},
                                    {{"FAKE_WORKER_FAULT", "slow_ms=1000"}, {"FAKE_GPU_UTIL", "25"}});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("Throughput: 16 items in") != std::string::npos);
  CHECK(r.output.find("GPU 0 ") != std::string::npos);
  CHECK(r.output.find("Efficiency ") != std::string::npos);
  CHECK(r.output.find("averaged 25% utilisation while its worker ran") != std::string::npos);
  // The samples are kept beside the logs.
  CHECK(read_text(s.dir / "gpu_utilisation.csv").find("0, 25, 20480, 81920") != std::string::npos);
}

TEST_CASE("auto-batch: the finder runs once per GPU model and each GPU gets its model's batch size",
          "[integration][batch_finder]") {
  Scenario s(16);
  const std::map<std::string, std::string> env{{"FAKE_GPU_NAMES", "A100,A100,T4,T4"}, {"FAKE_BATCH_PICKS", "0=64,2=16"}};
  const RunResult r = s.orchestrate({"--num-gpus", "4", "--auto-batch"}, env);
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("auto-batch: A100 (GPU 0, GPU 1): batch size 64") != std::string::npos);
  CHECK(r.output.find("auto-batch: T4 (GPU 2, GPU 3): batch size 16") != std::string::npos);
  // Once per model, on its first GPU.
  CHECK(read_text(s.dir / "auto_batch_0.log").find("CUDA_VISIBLE_DEVICES=0)") != std::string::npos);
  CHECK(read_text(s.dir / "auto_batch_1.log").find("CUDA_VISIBLE_DEVICES=2)") != std::string::npos);
  CHECK_FALSE(fs::exists(s.dir / "auto_batch_2.log"));
  const json state = json::parse(read_text(s.dir / "run_state.json"));
  CHECK(state["shards"][0]["batch_size"] == 64);
  CHECK(state["shards"][1]["batch_size"] == 64);
  CHECK(state["shards"][2]["batch_size"] == 16);
  CHECK(state["shards"][3]["batch_size"] == 16);
  CHECK(read_text(s.dir / "gpu3.log").find("batch_size=16") != std::string::npos);
  CHECK(read_text(s.dir / "gpu0.log").find("batch_size=64") != std::string::npos);
  CHECK(read_text(s.dir / "config.yaml").find("batch_size") == std::string::npos);  // the user's file untouched

  // A finder that fails leaves the config's batch size, with a warning naming its log.
  Scenario f(8);
  const RunResult bad = f.orchestrate({"--num-gpus", "2", "--auto-batch"}, {{"FAKE_BATCH_PICKS", "0=0,1=0"}});
  INFO(bad.output);
  REQUIRE(bad.code == 0);
  CHECK(bad.output.find("warning: auto-batch: the batch-size finder failed for NVIDIA A100-SXM4-80GB") != std::string::npos);
  CHECK(bad.output.find("it picked '0', not a batch size") != std::string::npos);
  CHECK(json::parse(read_text(f.dir / "run_state.json"))["shards"][0]["batch_size"].is_null());
}

TEST_CASE("balancing: a retry of one slow shard shares it with the plan's idle GPUs", "[integration][balance]") {
  const auto clean = skewed_scenario();
  REQUIRE(clean->orchestrate({"--num-gpus", "4", "--static"}, {{"FAKE_WORKER_FAULT", "name_ms=1"}}).code == 0);

  const auto s = skewed_scenario();
  REQUIRE(s->orchestrate({"--num-gpus", "4", "--static"}, {{"FAKE_WORKER_FAULT", "name_ms=1,shard=3,crash_at=1"}}).code ==
          1);
  const RunResult retry = s->orchestrate({"--retry-failed"}, {{"FAKE_WORKER_FAULT", "name_ms=1"}});
  INFO(retry.output);
  REQUIRE(retry.code == 0);
  CHECK(retry.output.find("balancing: shard 3 (GPU 3) keeps items") != std::string::npos);
  const json state = json::parse(read_text(s->dir / "run_state.json"));
  REQUIRE(state["shards"].size() > 4);
  std::set<std::string> devices;
  for (size_t i = 4; i < state["shards"].size(); ++i) devices.insert(state["shards"][i]["device"].get<std::string>());
  CHECK(devices.count("GPU 3") == 0);  // the idle GPUs took the parts
  CHECK(comparable_across_plans(s->report()) == comparable_across_plans(clean->report()));
  CHECK(tree(s->dir / "output") == tree(clean->dir / "output"));
}
