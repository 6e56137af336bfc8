// The whole product end to end: the real orchestrator runs the real image_worker on 4 fake
// GPUs over a nested dataset whose correct verdicts are known by construction; a worker
// killed mid-shard is retried with --retry-failed to the same result as a clean run.
#include <dirent.h>
#include <signal.h>

#include <map>
#include <random>
#include <thread>
#include <opencv2/imgcodecs.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "byte_text.h"
#include "item_list.h"
#include "colour_pipeline.h"
#include "pipeline_util.h"
#include "process_util.h"
#include "test_models.h"
#include "test_util.h"
#include "worker_catch.h"

using nlohmann::json;
namespace fs = std::filesystem;
using lv::test::read_text;
using lv::test::write_text;

using lv::test::Pipeline;

TEST_CASE("orchestrator + image_worker on 4 fake GPUs: merged tree and report as constructed", "[pipeline]") {
  Pipeline p(24, 0);
  const auto r = p.orchestrate({"--num-gpus", "4"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  const json report = p.report();
  CHECK(report["status"] == "complete");
  REQUIRE(report["images"].size() == 24);
  // By construction: 48 boxes; images 0, 5, 10, 15, 20 have one wrong box each.
  CHECK(report["summary"]["total_boxes"] == 48);
  CHECK(report["summary"]["mislabeled"] == 5);
  CHECK(report["summary"]["correct"] == 43);
  CHECK(report["summary"]["uncertain"] == 0);
  CHECK(report["summary"]["images_by_verdict"]["mislabeled"] == 5);
  for (size_t k = 0; k < p.items.size(); ++k) CHECK(report["images"][k]["path"] == p.items[k]);
  for (int s = 0; s < 4; ++s) CHECK(report["shards"][s]["device"] == "GPU " + std::to_string(s));

  // img_105 (i = 5): left blue... i%3 = 2 -> blue left, right red labelled blue -> suggest red.
  const std::string wrong = "outdoor/day/JPEGImages/img_105.png";
  CHECK(fs::exists(p.dir / "output/mislabeled/outdoor/day/JPEGImages/img_105.png"));
  CHECK(read_text(p.dir / "output/mislabeled/outdoor/day/labels_original/img_105.txt") ==
        "2 0.25 0.5 0.5 1\n2 0.75 0.5 0.5 1\n");
  CHECK(read_text(p.dir / "output/mislabeled/outdoor/day/labels/img_105.txt").rfind("2 0.25 0.5 0.5 1\n0 ", 0) == 0);
  CHECK(fs::exists(p.dir / "output/correct/indoor/night/JPEGImages/img_101.png"));
  CHECK(fs::exists(p.dir / "output/correct/indoor/night/labels/img_101.txt"));
  for (int s = 0; s < 4; ++s) CHECK_FALSE(fs::exists(p.dir / ("output_gpu" + std::to_string(s))));
}

TEST_CASE("a model that does not take the configured input fails every shard once, as a model/config mismatch",
          "[pipeline]") {
  Pipeline p(8, 0);
  // Traced at 32 with no imgsz in its config.txt; the config leaves model.input_size out (64).
  lv::test::save_ultralytics_like_detector(p.dir / "model.pt", 32, R"({"names": ["red", "green", "blue"]})");
  std::string config = read_text(p.dir / "config.yaml");
  const std::string classifier = "  type: classifier\n  input_size: 16\n";
  REQUIRE(config.find(classifier) != std::string::npos);
  config.replace(config.find(classifier), classifier.size(), "  type: yolov8\n");
  write_text(p.dir / "config.yaml", config + "  max_retries: 2\n");
  const auto r = p.orchestrate({"--num-gpus", "4"});
  INFO(r.output);
  CHECK(r.code == 3);  // every shard failed with the model exit code
  for (int s = 0; s < 4; ++s) {
    CHECK(r.output.find(fmt::format("FAILED shard {} (GPU {}) exit code 3 (model/config mismatch), 1 attempt(s)", s, s)) !=
          std::string::npos);
    CHECK(read_text(p.dir / fmt::format("gpu{}.log", s)).find("model/config mismatch: the model failed on its warm-up "
                                                              "input [2, 3, 64, 64]") != std::string::npos);
  }
  CHECK(r.output.find("hint: the model does not take the input the config gives it: change model.input_size") !=
        std::string::npos);
  CHECK(r.output.find("retrying, resuming") == std::string::npos);
  const json state = json::parse(read_text(p.dir / "run_state.json"));
  for (const auto& s : state["shards"]) CHECK(s["attempts"] == 1);
}

TEST_CASE("a worker killed mid-shard is retried to the same tree and report as a clean run", "[pipeline]") {
  Pipeline clean(40, 0);
  REQUIRE(clean.orchestrate({"--num-gpus", "4"}).code == 0);

  Pipeline p(40, /*spin=*/300);
  lv::test::Child orchestrator({LV_ORCHESTRATOR, "--config", "config.yaml", "--num-gpus", "4"}, p.env(), p.dir.path(),
                               p.dir / "run.out");
  REQUIRE(lv::test::wait_until([&] { return lv::test::last_progress(read_text(p.dir / "gpu2.log")) >= 2; },
                               std::chrono::seconds(120)));
  const pid_t victim = lv::test::worker_pid("image_worker", p.dir.path(), 2);
  REQUIRE(victim > 0);
  ::kill(victim, SIGKILL);
  const auto code = orchestrator.wait(std::chrono::seconds(240));
  INFO(orchestrator.output());
  REQUIRE(code == 1);
  CHECK(orchestrator.output().find("FAILED shard 2 (GPU 2) signal 9 (SIGKILL)") != std::string::npos);
  CHECK(p.report()["status"] == "partial");
  // What a SIGKILL between a write and its rename leaves (the kill above may or may not).
  write_text(p.dir / "output_gpu2/correct/indoor/day/labels/img_999.txt.tmp.4242.0", "0 0.2");

  const auto retry = p.orchestrate({"--retry-failed"});
  INFO(retry.output);
  REQUIRE(retry.code == 0);
  CHECK(read_text(p.dir / "gpu2.log").find("resuming: ") != std::string::npos);
  CHECK(read_text(p.dir / "gpu2.log").find("leftover temporary file(s)") != std::string::npos);
  CHECK(lv::test::comparable_report(p.report()) == lv::test::comparable_report(clean.report()));
  CHECK(lv::test::output_tree(p.dir / "output") == lv::test::output_tree(clean.dir / "output"));
  for (const auto& e : fs::recursive_directory_iterator(p.dir / "output"))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("a file name and a label line that are not UTF-8 go through 4 workers and the merge intact",
          "[pipeline][bytes]") {
  // Before, the shard holding them failed (json type_error 316) and the orchestrator died in
  // the merge, leaving only verification_report.json.tmp.
  Pipeline p(12, 0);
  const std::string odd = "indoor/day/JPEGImages/\xff\xfe.png";
  const fs::path image = p.dir / "data" / odd;
  // A copy of img_106, correct by construction.
  fs::copy_file(p.dir / "data/indoor/day/JPEGImages/img_106.png", image);
  write_text(p.dir / "data/indoor/day/labels/\xff\xfe.txt", read_text(p.dir / "data/indoor/day/labels/img_106.txt"));
  write_text(p.dir / "data/indoor/day/labels/img_103.txt", "0 0.25 0.5 0.5 1\n1 0.75 0.5 0.5 1 caf\xe9\n");
  const auto r = p.orchestrate({"--num-gpus", "4"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  const json report = p.report();
  CHECK(report["status"] == "complete");
  REQUIRE(report["images"].size() == 13);
  int odd_records = 0;
  for (const json& img : report["images"]) {
    CHECK(img["error"].is_null());
    if (img.value("path_escaped", false)) {
      ++odd_records;
      CHECK(lv::get_bytes_field(img, "path") == odd);
      CHECK(img["verdict"] == "correct");
    }
    if (img["path"] == "indoor/day/JPEGImages/img_103.png") {
      REQUIRE(img["label_errors"].size() == 1);
      CHECK(img["label_errors"][0]["reason"] == "not UTF-8 text: '1 0.75 0.5 0.5 1 caf\\xE9'");
    }
  }
  CHECK(odd_records == 1);
  CHECK(read_text(p.dir / "output/correct" / odd) == read_text(image));
  CHECK(fs::exists(p.dir / "output/correct/indoor/day/labels/\xff\xfe.txt"));
}

TEST_CASE("ten SIGKILLs at random points, then --retry-failed: the clean run's tree and report, no temporaries",
          "[pipeline][kill]") {
  Pipeline clean(40, 0);
  REQUIRE(clean.orchestrate({"--num-gpus", "4"}).code == 0);

  Pipeline p(40, /*spin=*/200);
  std::mt19937 random(20261202);  // fixed: a failure replays the same kill points
  int kills = 0;
  for (int round = 0; round < 30 && kills < 10; ++round) {
    std::vector<std::string> args{LV_ORCHESTRATOR, "--config", "config.yaml"};
    if (round == 0) args.insert(args.end(), {"--num-gpus", "4"});
    else args.push_back("--retry-failed");
    lv::test::Child orchestrator(args, p.env(), p.dir.path(), p.dir / "run.out");
    // The victim: a random shard among those this round runs; the moment: a random delay
    // after its worker appeared (during start-up, between items, or in the middle of writes).
    std::vector<int> running;
    REQUIRE(lv::test::wait_until(
        [&] {
          running.clear();
          for (int shard = 0; shard < 4; ++shard)
            if (lv::test::worker_pid("image_worker", p.dir.path(), shard) > 0) running.push_back(shard);
          return !running.empty() || orchestrator.poll();
        },
        std::chrono::seconds(60)));
    if (!running.empty()) {
      const int shard = running[std::uniform_int_distribution<size_t>(0, running.size() - 1)(random)];
      // The kill point: after a random number of the items it has left (its journal says how
      // far it is), plus 0-5 random milliseconds, so it lands in start-up, mid-item, between
      // a write and its rename, or while the report is written.
      const fs::path journal = p.dir / ("output_gpu" + std::to_string(shard)) / ".journal.jsonl";
      const auto journaled = [&] {
        const std::string text = read_text(journal);
        return static_cast<int64_t>(std::count(text.begin(), text.end(), '\n'));
      };
      const int64_t size = static_cast<int64_t>(
          lv::read_lines(p.dir / "splits" / fmt::format("split_{:02d}.txt", shard)).size());
      const int64_t done = journaled();
      const int64_t target =
          done + std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(0, size - done - 1))(random);
      lv::test::wait_until([&] { return journaled() >= target || lv::test::worker_pid("image_worker", p.dir.path(), shard) == 0; },
                           std::chrono::seconds(120));
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 5)(random)));
      const pid_t victim = lv::test::worker_pid("image_worker", p.dir.path(), shard);
      if (victim > 0 && ::kill(victim, SIGKILL) == 0) ++kills;
    }
    const auto code = orchestrator.wait(std::chrono::seconds(240));
    INFO(orchestrator.output());
    REQUIRE(code.has_value());
    REQUIRE((*code == 0 || *code == 1));
    if (*code == 0 && kills < 10) {
      // Everything finished before the next kill: start over on a fresh tree.
      INFO("round " << round << " completed before ten kills");
      break;
    }
  }
  CHECK(kills == 10);
  for (int tries = 0; tries < 3 && p.report().value("status", "") != "complete"; ++tries) {
    const auto retry = p.orchestrate({"--retry-failed"});
    INFO(retry.output);
    REQUIRE((retry.code == 0 || retry.code == 1));
  }
  CHECK(p.report()["status"] == "complete");
  CHECK(lv::test::comparable_report(p.report()) == lv::test::comparable_report(clean.report()));
  CHECK(lv::test::output_tree(p.dir / "output") == lv::test::output_tree(clean.dir / "output"));
  for (const auto& e : fs::recursive_directory_iterator(p.dir / "output"))
    CHECK_FALSE(lv::is_temporary_name(e.path().filename().string()));
}
