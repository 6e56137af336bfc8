#pragma once
/// Training the text demo's topic classifier, behind a header free of LibTorch so the
/// trainer's main() compiles in a second. The work is in doc_classifier.cpp.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "doc_thresholds.h"

namespace lv::demo {

/// How to train. Defaults are the ones tools/demo.sh trains with.
struct DocTrainOptions {
  std::filesystem::path data_dir;        ///< make_doc_dataset's folder: train.jsonl, test.jsonl, truth.jsonl
  std::filesystem::path classifier_out;  ///< TorchScript classifier to write
  std::filesystem::path encoder_out;     ///< TorchScript encoder to write
  uint64_t seed = 1;
  int epochs = 3;               ///< the held-out accuracy stops rising after 2 to 3
  int batch_size = 32;
  double learning_rate = 0.1;  ///< Adagrad, decayed linearly to 0 over all steps
  int dim = 64;                ///< embedding size D
  int64_t buckets = 262144;    ///< hash buckets (model.hash_buckets)
  bool bigrams = true;         ///< model.hash_bigrams
  int max_length = 256;        ///< tokens per document (model.max_length)
  int threads = 1;             ///< LibTorch intra-op threads (2 ran 3x slower on a busy 2-core machine)
  double validation_fraction = 0.1;  ///< of train.jsonl, whole sources, held out for the thresholds
  double noise = 0.10;               ///< labels swapped in the held-out part to choose the thresholds
  double max_uncertain = 0.10;       ///< uncertain share the threshold choice may leave
  std::function<void(const std::string&)> log;  ///< progress lines (may be empty)
};

/// What training measured.
struct DocTrainResult {
  int64_t train_docs = 0, validation_docs = 0, test_docs = 0;
  double validation_accuracy = 0;
  double test_accuracy = 0;      ///< on test.jsonl against truth.jsonl's true labels
  ThresholdChoice thresholds;    ///< chosen on the held-out part of train.jsonl
  double export_max_diff = 0;    ///< max |difference|, reloaded TorchScript vs trained net (both files)
  int64_t classifier_bytes = 0, encoder_bytes = 0;
  double train_seconds = 0;      ///< the training loop alone
  double seconds = 0;            ///< everything: reading, tokenizing, training, export
};

/// Trains the bag-of-hashed-words classifier on train.jsonl minus a held-out part (by source),
/// chooses verification thresholds on the held-out part, measures accuracy on test.jsonl's
/// true labels, exports the classifier and the encoder as TorchScript (config.txt in each)
/// and checks the reloaded files against the trained net. Deterministic for a seed and
/// thread count. Throws lv::Error: input_unreadable for bad dataset files, failed when an
/// export check fails or a file cannot be written.
DocTrainResult train_doc_model(const DocTrainOptions& options);

}  // namespace lv::demo
