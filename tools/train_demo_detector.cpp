// train_demo_detector: trains the demo's small anchor-free detector on scenes of Fashion-MNIST
// train-split garments (made by the demo's own scene maker, letterboxed as the image_worker
// does), prints its mAP@0.5 on scenes of t10k garments, and exports TorchScript built in C++
// in Ultralytics' YOLOv8 export layout (model.type: yolov8, model.input_size: 320).
//
//   train_demo_detector --out demo/models/demo_detector.pt --seed 1
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "detector_training.h"
#include "error.h"
#include "fashion_mnist.h"
#include "message.h"
#include "program.h"

int main(int argc, char** argv) {
  lv::set_program_name("train_demo_detector");

  // Options.
  CLI::App app{"Trains the demo detector (Fashion-MNIST train-split garments in scenes) and exports TorchScript in "
               "the YOLOv8 export layout."};
  lv::demo::DetectorTrainOptions o;
  std::string out = "models/demo_detector.pt", fashion_dir = lv::demo::kFashionMnistDir;
  app.add_option("--out", out, "TorchScript file to write")->capture_default_str();
  app.add_option("--seed", o.seed, "random seed (same seed and --threads: same model)")->capture_default_str();
  app.add_option("--steps", o.steps, "optimiser steps, each on --batch-size fresh scenes")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  app.add_option("--batch-size", o.batch_size, "scenes per step")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--lr", o.learning_rate, "peak AdamW learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--width", o.width, "channels of the first convolution (x2, x4, x8 in the later stages)")
      ->capture_default_str()
      ->check(CLI::Range(4, 256));
  app.add_option("--min-garments", o.min_garments, "garments per training scene, at least")
      ->capture_default_str()
      ->check(CLI::Range(1, 50));
  app.add_option("--max-garments", o.max_garments, "garments per training scene, at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 50));
  app.add_option("--threads", o.threads, "LibTorch threads")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--eval-scenes", o.eval_scenes, "test-split scenes for the closing mAP@0.5 (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  app.add_option("--log-every", o.log_every, "steps between progress lines")->capture_default_str()->check(CLI::Range(1, 1000000));
  app.add_option("--fashion-dir", fashion_dir, "folder with Fashion-MNIST's idx .gz files")->capture_default_str();
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;
  if (o.min_garments > o.max_garments) {
    lv::print_error(fmt::format("--min-garments {} is above --max-garments {}", o.min_garments, o.max_garments));
    return static_cast<int>(lv::ExitCode::usage);
  }
  o.out = out;
  o.fashion_dir = fashion_dir;
  o.log = [](const std::string& line) {
    fmt::print("train_demo_detector: {}\n", line);
    std::fflush(stdout);  // progress shows in logs and pipes as it happens
  };

  return lv::run_guarded([&] {
    // Train, export, check, evaluate.
    const lv::demo::DetectorTrainResult r = lv::demo::train_demo_detector(o);
    fmt::print("train_demo_detector: wrote {} ({:.2f} MB); reloaded TorchScript matches the trained net (max |diff| "
               "{:.2e}); training {:.0f} s\n",
               out, r.model_bytes / 1e6, r.export_max_diff, r.train_seconds);
    if (r.eval_scenes > 0) {
      std::string per_class;
      for (size_t c = 0; c < r.ap_per_class.size(); ++c)
        per_class += fmt::format("{}{} {:.3f}", c ? ", " : "", lv::demo::kFashionClassNames[c], r.ap_per_class[c]);
      fmt::print("train_demo_detector: mAP@0.5 {:.3f} on {} test-split scenes (target >= 0.80), through the "
                 "image_worker's yolov8 backend; AP per class: {}  [{:.0f} s in all]\n",
                 r.map50, r.eval_scenes, per_class, r.seconds);
      fmt::print("train_demo_detector: the backend alone (forward, decoding, NMS; {} threads, batches of 16): {:.1f} "
                 "images/s\n",
                 o.threads, r.model_images_per_s);
    }
    return 0;
  });
}
