#pragma once
// A dataset whose correct verdicts are known by construction, the real image_worker with a
// constructed model, and the real orchestrator over it on 4 posed GPUs (pipeline and review
// tests).
#include <algorithm>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "pipeline_util.h"
#include "test_models.h"
#include "test_util.h"
#include "worker_catch.h"

namespace lv::test {

namespace fs = std::filesystem;

inline const char* const kFolders[] = {"indoor/day", "indoor/night", "outdoor/day"};

/// Image i: left half colour i%3, right half colour (i+1)%3 (red, green, blue). Box 0 (left)
/// is labelled right; box 1 (right) is labelled with the left colour when i%5 == 0 (wrong).
struct Pipeline : RunDir {
  std::vector<std::string> items;
  int count;

  explicit Pipeline(int n, int spin) : count(n) {
    save_mean_colour_classifier(dir / "model.pt", 10.0, true, spin);
    const cv::Scalar bgr[] = {cv::Scalar(0, 0, 255), cv::Scalar(0, 255, 0), cv::Scalar(255, 0, 0)};
    for (int i = 0; i < n; ++i) {
      const std::string folder = kFolders[i % 3];
      const std::string name = "img_" + std::to_string(100 + i);
      cv::Mat m(48, 64, CV_8UC3, bgr[(i + 1) % 3]);
      m(cv::Rect(0, 0, 32, 48)).setTo(bgr[i % 3]);
      const fs::path image = dir / "data" / folder / "JPEGImages" / (name + ".png");
      fs::create_directories(image.parent_path());
      REQUIRE(cv::imwrite(image.string(), m));
      const int right_label = (i % 5 == 0) ? i % 3 : (i + 1) % 3;
      write_text(dir / "data" / folder / "labels" / (name + ".txt"),
                 std::to_string(i % 3) + " 0.25 0.5 0.5 1\n" + std::to_string(right_label) + " 0.75 0.5 0.5 1\n");
      items.push_back(folder + "/JPEGImages/" + name + ".png");
    }
    std::sort(items.begin(), items.end());
    write_text(dir / "config.yaml",
               "input:\n  images: data\n  classes: [red, green, blue]\n"
               "output:\n  dir: output\n  debug_images: none\n"
               "model:\n  path: model.pt\n  type: classifier\n  input_size: 16\n"
               "processing:\n  batch_size: 2\n  num_threads: 1\n  decode_threads: 1\n"
               "worker:\n  executable: " LV_IMAGE_WORKER "\n"
               "orchestrator:\n  stop_grace_s: 2\n  status_interval_s: 0.5\n");
  }

};

}  // namespace lv::test
