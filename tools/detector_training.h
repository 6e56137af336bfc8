#pragma once
/// Training the demo detector, behind a header free of LibTorch and OpenCV so the trainer's
/// main() compiles in a second. The work is in demo_detector.cpp.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace lv::demo {

/// The side of the detector's square, letterboxed input (model.input_size in the config).
inline constexpr int kDetectorInputSize = 320;

/// How to train. Defaults are the ones tools/demo.sh trains with.
struct DetectorTrainOptions {
  std::filesystem::path fashion_dir;  ///< folder with Fashion-MNIST's idx .gz files
  std::filesystem::path out;          ///< the TorchScript file to write
  uint64_t seed = 1;
  int steps = 1800;             ///< optimiser steps, each on `batch_size` fresh scenes
  int batch_size = 16;
  double learning_rate = 2e-3;  ///< AdamW; warm-up then cosine decay to 5 % of it
  int width = 16;               ///< network width W (DemoDetectorImpl)
  int min_garments = 3;         ///< garments per training scene: denser than the demo's 1-6, so
  int max_garments = 10;        ///< each step's arithmetic sees more garments
  /// LibTorch intra-op threads. One: the second core draws the next step's scenes, and on a
  /// busy 2-core machine two OpenMP threads waited on each other (1.5-2 s a step against
  /// 0.44 s with one; 0.30 s with two on an idle machine).
  int threads = 1;
  int eval_scenes = 300;        ///< test-split scenes for the closing mAP (0: none)
  int log_every = 50;           ///< steps between progress lines
  std::function<void(const std::string&)> log;  ///< progress lines (may be empty)
};

/// What training measured.
struct DetectorTrainResult {
  double map50 = 0;                  ///< mAP@0.5 on `eval_scenes` clean test-split scenes
  std::vector<double> ap_per_class;  ///< AP@0.5 of each class on them
  int eval_scenes = 0;
  double model_images_per_s = 0;     ///< the backend alone on them (forward, decoding, NMS; batches of 16)
  double export_max_diff = 0;        ///< max |output| difference: reloaded TorchScript vs the trained net
  int64_t model_bytes = 0;
  double train_seconds = 0;
  double seconds = 0;
};

/// Trains the demo detector on scenes of Fashion-MNIST train-split garments made by the demo's
/// own scene maker (noise-free), letterboxed as the image_worker does; measures mAP@0.5 on
/// scenes of test-split garments; exports it to `options.out` as TorchScript in Ultralytics'
/// YOLOv8 export layout (class names in config.txt) and checks the reloaded file against the
/// trained network. Deterministic for a seed and thread count. Throws lv::Error:
/// input_unreadable for bad idx files, failed when the export check fails.
DetectorTrainResult train_demo_detector(const DetectorTrainOptions& options);

}  // namespace lv::demo
