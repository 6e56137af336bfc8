// train_doc_model: trains the text demo's topic classifier (a bag of hashed words and
// bigrams) on make_doc_dataset's train.jsonl, chooses verification thresholds on a held-out
// part of it, prints the accuracy on test.jsonl's true labels, and exports two TorchScript
// files built in C++: the classifier (verify task) and the encoder (embed task).
//
//   train_doc_model --data demo/docs --out demo/models/doc_classifier.pt
//       --encoder-out demo/models/doc_encoder.pt --seed 1
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "doc_training.h"
#include "error.h"
#include "message.h"
#include "program.h"

int main(int argc, char** argv) {
  lv::set_program_name("train_doc_model");

  // Options.
  CLI::App app{"Trains the text demo's topic classifier (hashed words + bigrams) and exports TorchScript."};
  lv::demo::DocTrainOptions o;
  std::string data = "demo/docs", out = "demo/models/doc_classifier.pt", encoder_out = "demo/models/doc_encoder.pt";
  app.add_option("--data", data, "make_doc_dataset's folder (train.jsonl, test.jsonl, truth.jsonl)")->capture_default_str();
  app.add_option("--out", out, "TorchScript classifier to write")->capture_default_str();
  app.add_option("--encoder-out", encoder_out, "TorchScript encoder to write")->capture_default_str();
  app.add_option("--seed", o.seed, "random seed (same seed and --threads: same model)")->capture_default_str();
  app.add_option("--epochs", o.epochs, "passes over the training docs")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--batch-size", o.batch_size, "training batch size")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--lr", o.learning_rate, "initial Adagrad learning rate (decays linearly to 0)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--dim", o.dim, "embedding size")->capture_default_str()->check(CLI::Range(2, 1024));
  app.add_option("--buckets", o.buckets, "hash buckets (model.hash_buckets)")->capture_default_str()->check(CLI::Range(int64_t{2}, int64_t{1} << 24));
  app.add_option("--bigrams", o.bigrams, "hash word bigrams too (model.hash_bigrams)")->capture_default_str();
  app.add_option("--max-length", o.max_length, "tokens per document (model.max_length)")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--threads", o.threads, "LibTorch threads")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--validation-fraction", o.validation_fraction, "share of train.jsonl held out (whole sources) to choose the thresholds")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--max-uncertain", o.max_uncertain, "uncertain share the threshold choice may leave")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;
  o.data_dir = data;
  o.classifier_out = out;
  o.encoder_out = encoder_out;
  o.log = [](const std::string& line) {
    fmt::print("train_doc_model: {}\n", line);
    std::fflush(stdout);  // progress shows in logs and pipes as it happens
  };

  return lv::run_guarded([&] {
    // Train, choose thresholds, evaluate, export, check.
    const lv::demo::DocTrainResult r = lv::demo::train_doc_model(o);
    const auto& t = r.thresholds;
    fmt::print("train_doc_model: held-out accuracy {:.4f} on {} docs; test accuracy {:.4f} on {} docs (true labels, "
               "target >= 0.80)\n",
               r.validation_accuracy, r.validation_docs, r.test_accuracy, r.test_docs);
    fmt::print("train_doc_model: thresholds chosen on the held-out docs with {} of {} labels swapped: "
               "correct_threshold {}, mislabel_threshold {} (precision {:.3f}, recall {:.3f}, F1 {:.3f}, "
               "suggestions {:.3f} right, {:.3f} uncertain; confident learning F1 {:.3f})\n",
               t.swapped, t.docs, t.correct_threshold, t.mislabel_threshold, t.verifier.precision(), t.verifier.recall(),
               t.verifier.f1(), t.suggested_accuracy, t.uncertain_share, t.confident_learning.f1());
    fmt::print("train_doc_model: wrote {} ({:.1f} MB) and {} ({:.1f} MB); reloaded TorchScript matches the trained net "
               "(max |diff| {:.2e}); training {:.1f} s  [{:.1f} s in all]\n",
               out, r.classifier_bytes / 1e6, encoder_out, r.encoder_bytes / 1e6, r.export_max_diff, r.train_seconds,
               r.seconds);
    return 0;
  });
}
