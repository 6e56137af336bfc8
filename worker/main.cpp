// image_worker: verifies the YOLO labels of one shard of images with a TorchScript model
// (DESIGN §6). Reads like its protocol: options, config, threads, signals, run, exit code.
#include <atomic>
#include <filesystem>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <opencv2/core.hpp>

#include "config.h"
#include "error.h"
#include "finalize.h"
#include "image_worker.h"
#include "message.h"
#include "model.h"
#include "program.h"
#include "worker_kit.h"

namespace {

/// image_worker --finalize --config C --output-dir OUT (finalize.h).
int finalize_main(int argc, char** argv) {
  CLI::App app{"The adaptive policy's pass over a merged run (verification.policy: adaptive): judges the boxes "
               "again with per-class thresholds from the whole run and moves the images whose verdict changed. "
               "The orchestrator runs it after the merge."};
  std::filesystem::path config_file, output_dir;
  app.add_flag("--finalize", "run the finalize pass")->required();
  app.add_option("--config", config_file, "the run's YAML config")->required();
  app.add_option("--output-dir", output_dir, "the merged output dir (holds verification_report.json)")->required();
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;
  return lv::run_guarded([&] {
    const lv::Config config = lv::load_config(config_file);
    return lv::to_int(lv::finalize_run(config, output_dir, lv::install_stop_signals()));
  });
}

}  // namespace

int main(int argc, char** argv) {
  lv::set_program_name("image_worker");
  lv::tune_allocator_for_batches();

  // The finalize pass after the merge (verification.policy adaptive): no shard, no model.
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--finalize") return finalize_main(argc, argv);
  // The batch-size finder (issue 10): the model on synthetic batches, no shard.
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--find-batch-size")
      return lv::find_batch_size_main(argc, argv, "image_worker", [](const lv::Config& config) {
        lv::set_model_threads(lv::model_threads(config));
        return lv::make_batch_probe(lv::load_model(config, lv::dataset_classes(config)));
      });

  // Options (DESIGN §6).
  CLI::App app{"Verifies YOLO labels of one shard of images with a TorchScript model.\n"
               "image_worker --find-batch-size --config C [--test-only]: the batch size for this machine.\n"
               "image_worker --finalize --config C --output-dir OUT: the adaptive policy's pass over a merged run."};
  lv::WorkerArgs args;
  lv::add_worker_options(app, args);
  app.set_version_flag("--version", std::string(LV_VERSION));
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;

  const int code = lv::run_guarded([&] {
    // Config, threads, signals.
    const lv::Config config = lv::load_worker_config(args);
    const int threads = lv::model_threads(config);
    lv::set_model_threads(threads);
    cv::setNumThreads(1);  // decoding runs on our own pool; OpenCV's would compete with the model
    lv::print_note(fmt::format("{} model threads (a share of {} core(s))", threads, lv::core_share()));
    const std::atomic<bool>& stop = lv::install_stop_signals();

    // Run the shard.
    return lv::to_int(lv::run_image_worker(config, args, stop));
  });
  lv::note_peak_memory_if_asked();  // for tools/bench_worker
  return code;
}
