// train_demo_model: trains the demo's crop classifier on Fashion-MNIST's train split with
// crops made like the demo scenes', prints its accuracy on the t10k split, and exports
// TorchScript built in C++ (model.type: classifier, model.input_size: 32, mean 0, std 1).
//
//   train_demo_model --out models/demo_classifier.pt --seed 1
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "demo_training.h"
#include "error.h"
#include "fashion_mnist.h"
#include "message.h"
#include "program.h"

int main(int argc, char** argv) {
  lv::set_program_name("train_demo_model");

  // Options.
  CLI::App app{"Trains the demo crop classifier (Fashion-MNIST train split) and exports TorchScript."};
  lv::demo::TrainOptions o;
  std::string out = "models/demo_classifier.pt", fashion_dir = lv::demo::kFashionMnistDir;
  app.add_option("--out", out, "TorchScript file to write")->capture_default_str();
  app.add_option("--seed", o.seed, "random seed (same seed and --threads: same model)")->capture_default_str();
  app.add_option("--epochs", o.epochs, "passes over the training images")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--batch-size", o.batch_size, "training batch size")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--lr", o.learning_rate, "peak Adam learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--width", o.width, "channels of the first convolution (x2, x4 in the later blocks)")
      ->capture_default_str()
      ->check(CLI::Range(4, 256));
  app.add_option("--threads", o.threads, "LibTorch threads")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--train-limit", o.train_limit, "train on the first N images only (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--test-limit", o.test_limit, "evaluate on the first N test images only (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--fashion-dir", fashion_dir, "folder with Fashion-MNIST's idx .gz files")->capture_default_str();
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;
  o.out = out;
  o.fashion_dir = fashion_dir;
  o.log = [](const std::string& line) {
    fmt::print("train_demo_model: {}\n", line);
    std::fflush(stdout);  // progress shows in logs and pipes as it happens
  };

  return lv::run_guarded([&] {
    // Train, evaluate, export, check.
    const lv::demo::TrainResult r = lv::demo::train_demo_model(o);
    fmt::print("train_demo_model: test-split accuracy {:.4f} on {} t10k images (target >= 0.91)\n", r.test_accuracy,
               r.test_images);
    fmt::print("train_demo_model: wrote {} ({:.2f} MB); reloaded TorchScript matches the trained net (max |diff| "
               "{:.2e})  [{:.0f} s]\n",
               out, r.model_bytes / 1e6, r.export_max_diff, r.seconds);
    return 0;
  });
}
