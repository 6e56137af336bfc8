// image_worker on one image with thousands of label boxes (issue 7, case 13): every box gets the
// verdict its construction implies. Speed is shown by tools/bench_worker --box-counts, not here.
#include <fmt/core.h>
#include <opencv2/imgcodecs.hpp>

#include <nlohmann/json.hpp>

#include "process_util.h"
#include "test_models.h"
#include "test_util.h"
#include "worker_catch.h"
#include "worker_run.h"

using nlohmann::json;
namespace fs = std::filesystem;
using lv::test::read_text;
using lv::test::write_text;

TEST_CASE("image_worker judges each box of a 2 000-box image as its construction implies", "[worker][e2e]") {
  lv::test::TempDir dir;
  lv::test::save_mean_colour_classifier(dir / "model.pt", 10.0, true);
  // A 1000 x 800 image cut into 20-pixel cells, 50 across and 40 down; box i fills cell i but
  // for a 2-pixel black border, in colour i % 3 (red, green, blue). The mean-colour model gives
  // its colour p >= 0.999 (at least 16 x 16 of 18 x 18 pixels coloured: logit >= 7.9 vs 0).
  const int across = 50, down = 40, cell = 20, n = across * down;
  cv::Mat image(down * cell, across * cell, CV_8UC3, cv::Scalar(0, 0, 0));
  const cv::Scalar bgr[3] = {cv::Scalar(0, 0, 255), cv::Scalar(0, 255, 0), cv::Scalar(255, 0, 0)};
  // Label lines: box i labelled with its colour, except every tenth (i % 10 == 9) labelled
  // with the next colour: mislabeled, to be corrected to its colour. After every twentieth box
  // (i % 20 == 0) the same line again: a duplicate, uncertain, and left out of the corrected
  // labels.
  std::string labels, corrected;
  std::vector<std::string> verdict, reason;
  std::vector<int> suggested;
  for (int i = 0; i < n; ++i) {
    const int x = (i % across) * cell, y = (i / across) * cell, colour = i % 3;
    image(cv::Rect(x + 2, y + 2, cell - 4, cell - 4)).setTo(bgr[colour]);
    const bool wrong = i % 10 == 9;
    const std::string where = fmt::format(" {} {} {} {}\n", (x + cell / 2.0) / image.cols, (y + cell / 2.0) / image.rows,
                                          (cell - 4.0) / image.cols, (cell - 4.0) / image.rows);
    labels += std::to_string(wrong ? (colour + 1) % 3 : colour) + where;
    corrected += std::to_string(colour) + where;
    verdict.push_back(wrong ? "mislabeled" : "correct");
    reason.push_back(wrong ? "other_class" : "label_confirmed");
    suggested.push_back(wrong ? colour : -1);
    if (i % 20 == 0) {
      labels += std::to_string(colour) + where;
      verdict.push_back("uncertain");
      reason.push_back("duplicate");
      suggested.push_back(-1);
    }
  }
  std::vector<uint8_t> png;
  REQUIRE(cv::imencode(".png", image, png));
  fs::create_directories(dir / "data/images");
  write_text(dir / "data/images/grid.png", std::string(png.begin(), png.end()));
  write_text(dir / "data/labels/grid.txt", labels);
  write_text(dir / "split.txt", "images/grid.png\n");
  write_text(dir / "config.yaml",
             "input:\n  images: data\n  classes: [red, green, blue]\noutput:\n  debug_images: issues\n"
             "model:\n  path: model.pt\n  type: classifier\n  input_size: 16\nprocessing:\n  batch_size: 64\n");

  const fs::path log = dir / "w.log";
  const int rc = lv::test::run_worker_in(dir.path(), log);
  INFO(read_text(log));
  REQUIRE(rc == 0);
  const json report = json::parse(read_text(dir / "out/verification_report.json"));
  CHECK(report["summary"]["total_boxes"] == 2100);
  CHECK(report["summary"]["correct"] == 1800);
  CHECK(report["summary"]["mislabeled"] == 200);
  CHECK(report["summary"]["uncertain"] == 100);
  const json& img = report["images"][0];
  CHECK(img["verdict"] == "mislabeled");
  REQUIRE(img["boxes"].size() == verdict.size());
  int wrong = 0;
  for (size_t k = 0; k < verdict.size(); ++k) {
    const json& b = img["boxes"][k];
    const bool ok = b["verdict"] == verdict[k] && b["reason"] == reason[k] && b["line"] == k + 1 &&
                    (suggested[k] < 0 ? b["suggested"].is_null() : b["suggested"] == suggested[k]);
    if (!ok && ++wrong <= 5) UNSCOPED_INFO("box " << k << ": " << b.dump() << " expected " << verdict[k] << " " << reason[k]);
  }
  CHECK(wrong == 0);
  CHECK(read_text(dir / "out/mislabeled/labels/grid.txt") == corrected);
  CHECK(read_text(dir / "out/mislabeled/labels_original/grid.txt") == labels);
  CHECK(fs::exists(dir / "out/debug_images/images/grid.png.jpg"));
}
