// verification.policy adaptive end to end: the real orchestrator runs the real image_worker on
// 4 fake GPUs, merges, and runs `image_worker --finalize`, on a dataset whose verdicts under
// both policies are known by construction.
#include <cmath>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "pipeline_util.h"
#include "test_models.h"
#include "test_util.h"
#include "worker_catch.h"

using nlohmann::json;
namespace fs = std::filesystem;
using lv::test::read_text;
using lv::test::write_text;

namespace {

/// The mean-colour classifier (logits 10 x mean R, G, B) on 24 images: a pure red box on the
/// left, labelled red, and a muddy green box on the right (R 0.5, G 0.45), labelled green. The
/// muddy box scores green e^4.5 / (e^4.5 + e^5 + 1) = 0.376 and red 0.62: under the defaults
/// (correct 0.5, mislabel 0.8) it is low_confidence, so the fixed rule leaves every such image
/// uncertain. In every sixth image the red box is labelled green: p(green) ~ 0, p(red) ~ 1.
///
/// The adaptive thresholds: t_green = the mean green score of the boxes labelled green, about
/// (24 x 0.376 + 4 x 0) / 28 = 0.32, so a green label needs 0.5 x 0.32 = 0.16 to be confirmed:
/// the muddy boxes are correct. The wrong labels score ~0 < 0.16 while red reaches 0.8 x t_red
/// (~0.8): mislabeled, as under the fixed rule.
struct Muddy : lv::test::RunDir {
  std::vector<std::string> items;
  static bool wrong(int i) { return i % 6 == 0; }

  Muddy() {
    lv::test::save_mean_colour_classifier(dir / "model.pt", 10.0, true);
    for (int i = 0; i < 24; ++i) {
      const std::string folder = i % 2 ? "cam_a" : "cam_b";
      const std::string name = fmt::format("img_{:02d}", i);
      cv::Mat m(48, 64, CV_8UC3, cv::Scalar(0, 115, 128));  // BGR: muddy green (R 0.5, G 0.45)
      m(cv::Rect(0, 0, 32, 48)).setTo(cv::Scalar(0, 0, 255));
      const fs::path image = dir / "data" / folder / "JPEGImages" / (name + ".png");
      fs::create_directories(image.parent_path());
      REQUIRE(cv::imwrite(image.string(), m));
      write_text(dir / "data" / folder / "labels" / (name + ".txt"),
                 fmt::format("{} 0.25 0.5 0.5 1\n1 0.75 0.5 0.5 1\n", wrong(i) ? 1 : 0));
      items.push_back(folder + "/JPEGImages/" + name + ".png");
    }
    write_text(dir / "config.yaml",
               "input:\n  images: data\n  classes: [red, green, blue]\n"
               "output:\n  dir: output\n  debug_images: issues\n"
               "model:\n  path: model.pt\n  type: classifier\n  input_size: 16\n"
               "verification:\n  policy: adaptive\n"
               "processing:\n  batch_size: 4\n  num_threads: 1\n  decode_threads: 1\n"
               "worker:\n  executable: " LV_IMAGE_WORKER "\n"
               "orchestrator:\n  stop_grace_s: 2\n  status_interval_s: 0.5\n");
  }

  int index(const std::string& item) const { return std::stoi(item.substr(item.find("img_") + 4, 2)); }
  fs::path out(const std::string& rel) const { return dir / "output" / rel; }
  static std::string label_path(const std::string& item, const char* folder) {
    std::string p = item;
    p.replace(p.find("JPEGImages"), 10, folder);
    return p.substr(0, p.size() - 4) + ".txt";
  }

  /// The tree and report say what the construction says, and nothing is left where the fixed
  /// rule had put it.
  void check_finalized() const {
    const json report = this->report();
    CHECK(report["status"] == "complete");
    CHECK(report["policy"]["name"] == "adaptive");
    CHECK(report["summary"]["images_by_verdict"]["correct"] == 20);
    CHECK(report["summary"]["images_by_verdict"]["mislabeled"] == 4);
    CHECK(report["summary"]["images_by_verdict"]["uncertain"] == 0);
    CHECK(report["summary"]["uncertain"] == 0);
    // t_green as the header says, against the construction's 0.32 (0.376 x 24 / 28).
    CHECK(std::abs(report["policy"]["thresholds"][1].get<double>() - 0.376 * 24 / 28) < 0.01);
    for (const json& r : report["images"]) {
      const std::string item = r["path"];
      const bool bad = wrong(index(item));
      INFO(item);
      CHECK(r["verdict"] == (bad ? "mislabeled" : "correct"));
      const json& muddy = r["boxes"][1];
      CHECK(muddy["verdict"] == "correct");
      CHECK(muddy["fixed"]["verdict"] == "uncertain");
      CHECK(muddy["fixed"]["reason"] == "low_confidence");
      CHECK(r["boxes"][0]["verdict"] == (bad ? "mislabeled" : "correct"));
      CHECK_FALSE(r["boxes"][0].contains("fixed"));  // the same under both policies
      const std::string folder = bad ? "mislabeled" : "correct";
      CHECK(fs::exists(out(folder + "/" + item)));
      CHECK_FALSE(fs::exists(out("uncertain/" + item)));
      CHECK_FALSE(fs::exists(out("uncertain/" + label_path(item, "labels"))));
      const std::string original = read_text(dir / "data" / label_path(item, "labels"));
      if (bad) {
        CHECK(read_text(out(folder + "/" + label_path(item, "labels"))) == "0 0.25 0.5 0.5 1\n1 0.75 0.5 0.5 1\n");
        CHECK(read_text(out(folder + "/" + label_path(item, "labels_original"))) == original);
        CHECK(fs::exists(out("debug_images/" + item + ".jpg")));
      } else {
        CHECK(read_text(out(folder + "/" + label_path(item, "labels"))) == original);
        CHECK_FALSE(fs::exists(out("debug_images/" + item + ".jpg")));  // the fixed rule's, for an uncertain image
      }
    }
    CHECK_FALSE(fs::exists(out("uncertain")));  // emptied folders go too
  }
};

}  // namespace

TEST_CASE("adaptive policy: after the merge the finalize pass gives the constructed verdicts and tree",
          "[pipeline][adaptive]") {
  Muddy m;
  const auto run = m.orchestrate({"--keep-gpu-outputs"});
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(run.output.find("Finalized the verdicts") != std::string::npos);
  m.check_finalized();
  // Each shard's own report still holds the fixed rule's verdicts: the muddy images uncertain.
  const json shard = json::parse(read_text(m.dir / "output_gpu0/verification_report.json"));
  CHECK(shard["finalize"] == true);
  CHECK(shard["images"][0]["boxes"][1]["verdict"] == "uncertain");

  // --merge-only again: the kept shard trees are merged again (uncertain/ and the fixed rule's
  // debug images come back beside the moved files, as after a kill during the pass) and the
  // pass runs again: the same tree and report.
  const auto tree = lv::test::output_tree(m.dir / "output");
  const json report = m.report();
  const auto again = m.orchestrate({"--merge-only", "--keep-gpu-outputs"});
  INFO(again.output);
  REQUIRE(again.code == 0);
  const auto after = lv::test::output_tree(m.dir / "output");
  for (const auto& [name, text] : after)
    if (!tree.count(name)) FAIL_CHECK("left after the second pass: " << name);
  CHECK(after == tree);
  CHECK(lv::test::comparable_report(m.report()) == lv::test::comparable_report(report));
}

TEST_CASE("adaptive policy: a label file in the output edited since the run fails the pass, naming the image",
          "[pipeline][adaptive]") {
  Muddy m;
  REQUIRE(m.orchestrate({}).code == 0);
  // The pass reads an image's label file from the output tree when it moves the image: turn
  // one verdict back to the fixed rule's in the report (as a kill before the report was
  // written leaves it), so that the next pass moves that image, and change a class in the
  // copy it reads (the same number of lines).
  json report = m.report();
  json& record = report["images"][1];
  const std::string item = record["path"];
  REQUIRE_FALSE(Muddy::wrong(m.index(item)));
  record["verdict"] = "uncertain";
  record["boxes"][1]["verdict"] = "uncertain";
  record["boxes"][1]["reason"] = "low_confidence";
  write_text(m.out("verification_report.json"), report.dump());
  const fs::path copy = m.out("correct/" + Muddy::label_path(item, "labels"));
  const std::string text = read_text(copy);
  write_text(copy, "2" + text.substr(1));

  const auto failed = m.orchestrate({"--merge-only"});
  INFO(failed.output);
  CHECK(failed.code == 1);
  CHECK(failed.output.find("FAILED: the worker's finalize pass") != std::string::npos);
  CHECK(failed.output.find(item + ": its label file in") != std::string::npos);
  CHECK(failed.output.find("is not the one the report judged") != std::string::npos);
  CHECK(failed.output.find("--merge-only") != std::string::npos);

  write_text(copy, text);
  REQUIRE(m.orchestrate({"--merge-only"}).code == 0);
  m.check_finalized();
}
