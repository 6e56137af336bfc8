#pragma once
/// Training the demo classifier, behind a header free of LibTorch and OpenCV so the trainer's
/// main() compiles in a second. The work is in demo_classifier.cpp.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace lv::demo {

/// How to train. Defaults are the ones the committed demo model was made with.
struct TrainOptions {
  std::filesystem::path fashion_dir;  ///< folder with Fashion-MNIST's idx .gz files
  std::filesystem::path out;          ///< the TorchScript file to write
  uint64_t seed = 1;
  int epochs = 8;
  int batch_size = 128;
  double learning_rate = 3e-3;  ///< Adam; warm-up then cosine decay to 0
  int width = 32;               ///< channels of the network's first convolution (DemoNetImpl)
  int threads = 2;              ///< LibTorch intra-op threads
  int train_limit = 0;          ///< use only the first N training images (0: all 60 000)
  int test_limit = 0;           ///< evaluate on the first N test images (0: all 10 000)
  int background_pool = 96;     ///< whole-scene backgrounds that training crops are cut from
  std::function<void(const std::string&)> log;  ///< progress lines (may be empty)
};

/// What training measured.
struct TrainResult {
  double test_accuracy = 0;    ///< on the t10k split, crops made the same way as in training
  int test_images = 0;
  double export_max_diff = 0;  ///< max |logit| difference: reloaded TorchScript vs the trained net
  int64_t model_bytes = 0;
  double seconds = 0;
};

/// Trains the demo classifier on the Fashion-MNIST train split, evaluates it on t10k, exports
/// it to `options.out` as TorchScript (class names in the extra file config.txt) and checks
/// the reloaded file against the trained network. Deterministic for a seed and thread count.
/// Throws lv::Error: input_unreadable for bad idx files, failed when the export check fails.
TrainResult train_demo_model(const TrainOptions& options);

}  // namespace lv::demo
