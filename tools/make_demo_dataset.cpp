// make_demo_dataset: the demo's detection dataset, made from Fashion-MNIST's test split (the
// demo model never trains on it): scenes of 1-6 garments, YOLO labels with noise (classes
// swapped; with the other rates, labels left out, badly placed, duplicated, or spurious boxes
// on background), and truth.jsonl recording every injected error (layout in demo_scene.h).
//
//   make_demo_dataset --out demo/data --scenes 2000 --noise 0.10 --seed 1
//   make_demo_dataset --out demo/detector_data --noise-class 0.05 --noise-missing 0.05
//       --noise-location 0.05 --noise-duplicate 0.05 --noise-spurious 0.05 --seed 7
//   make_demo_dataset --out demo/shifted --background busy --min-side 20 --max-side 60 --box-fit tight
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <opencv2/core.hpp>

#include "demo_scene.h"
#include "error.h"
#include "fashion_mnist.h"
#include "message.h"
#include "program.h"

/// Adds option `name`, which takes one of the spellings (to_string) of `all` into `value`.
template <class E, size_t N>
CLI::Option* add_choice(CLI::App& app, const std::string& name, E& value, const E (&all)[N], const std::string& help) {
  std::vector<std::string> spellings;
  for (const E e : all) spellings.emplace_back(lv::demo::to_string(e));
  const auto set = [&value, &all](const std::string& s) {
    for (const E e : all)
      if (lv::demo::to_string(e) == s) value = e;
  };
  return app.add_option_function<std::string>(name, set, help)
      ->check(CLI::IsMember(spellings))
      ->default_str(std::string(lv::demo::to_string(value)));
}

int main(int argc, char** argv) {
  lv::set_program_name("make_demo_dataset");

  // Options.
  CLI::App app{"Makes the demo dataset: Fashion-MNIST (t10k) garments in scenes, YOLO labels with injected "
               "label noise, and truth.jsonl recording it."};
  lv::demo::SceneOptions options;
  std::string out, fashion_dir = lv::demo::kFashionMnistDir;
  int scenes = 2000;
  bool force = false;
  app.add_option("--out", out, "dataset folder to create")->required();
  app.add_option("--scenes", scenes, "number of scenes")->capture_default_str()->check(CLI::Range(1, 10000000));
  app.add_option("--noise,--noise-class", options.noise, "probability that a box's class is swapped for another")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--noise-missing", options.noise_missing, "probability that a garment's label line is left out")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--noise-location", options.noise_location,
                 "probability that a garment's box is moved and resized to IoU 0.2-0.5 with it")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--noise-duplicate", options.noise_duplicate,
                 "probability that a garment's line is written twice (exact or 1 px off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--noise-spurious", options.noise_spurious,
                 "per garment, probability of an extra box on background (no garment under it)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", options.seed, "random seed: the same seed gives identical files")->capture_default_str();
  app.add_option("--width", options.geometry.scene_size.width, "scene width in pixels")
      ->capture_default_str()
      ->check(CLI::Range(112, 8192));
  app.add_option("--height", options.geometry.scene_size.height, "scene height in pixels")
      ->capture_default_str()
      ->check(CLI::Range(112, 8192));
  app.add_option("--min-side", options.geometry.min_side, "smallest garment tile side in pixels (at least 8)")
      ->capture_default_str();
  app.add_option("--max-side", options.geometry.max_side,
                 "largest garment tile side in pixels (at least --min-side, at most the scene's width and height)")
      ->capture_default_str();
  app.add_option("--max-garments", options.max_garments, "garments per scene: 1 to this")
      ->capture_default_str()
      ->check(CLI::Range(1, 50));
  add_choice(app, "--background", options.background, lv::demo::kBackgroundStyles,
             "scene backgrounds: textured (the default make), plain (one flat grey a scene) or busy "
             "(high-contrast stripes, lines and rectangles)");
  add_choice(app, "--box-fit", options.box_fit, lv::demo::kBoxFits,
             "a correct label's box: tile (the garment's square tile), tight (its visible pixels) or loose (the "
             "tile grown by 20 % of its side on each side); the noise kinds move that box");
  app.add_option("--fashion-dir", fashion_dir, "folder with Fashion-MNIST's idx .gz files")->capture_default_str();
  app.add_flag("--force", force, "replace a dataset already in --out (removes only what this tool writes)");
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;
  if (const double sum = options.noise + options.noise_missing + options.noise_location + options.noise_duplicate;
      sum > 1 + 1e-9) {
    lv::print_error(fmt::format("--noise-class, --noise-missing, --noise-location and --noise-duplicate add up to {}; "
                                "a garment gets one kind of noise at most, so they must add up to 1 or less",
                                sum));
    return static_cast<int>(lv::ExitCode::usage);
  }

  return lv::run_guarded([&] {
    // Garments: the test split only.
    cv::setNumThreads(1);
    const auto start = std::chrono::steady_clock::now();
    const lv::demo::FashionSplit split = lv::demo::load_fashion_split(fashion_dir, "t10k");

    // Scenes, labels, truth.
    const auto summary = lv::demo::write_demo_dataset(options, split, scenes, out, force, [](int done, int total) {
      if (done % 500 != 0 && done != total) return;
      fmt::print("make_demo_dataset: {}/{} scenes\n", done, total);
      std::fflush(stdout);
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("make_demo_dataset: {} scenes, {} boxes, {} labels changed ({:.1f} %, asked {:.1f} %) in {}  [{:.1f} s]\n",
               summary.scenes, summary.boxes, summary.changed,
               summary.boxes ? 100.0 * summary.changed / summary.boxes : 0.0, 100 * options.noise, out, seconds);
    if (summary.missing + summary.location + summary.duplicate + summary.spurious > 0)
      fmt::print("make_demo_dataset: also {} garments left unlabelled, {} boxes badly placed, {} lines duplicated, {} "
                 "spurious boxes on background\n",
                 summary.missing, summary.location, summary.duplicate, summary.spurious);
    return 0;
  });
}
