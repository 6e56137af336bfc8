// image_worker: verifies the YOLO labels of one shard of images with a TorchScript model
// (DESIGN §6). Reads like its protocol: options, config, threads, signals, run, exit code.
#include <atomic>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <opencv2/core.hpp>

#include "config.h"
#include "error.h"
#include "image_worker.h"
#include "message.h"
#include "model.h"
#include "program.h"
#include "worker_kit.h"

int main(int argc, char** argv) {
  lv::set_program_name("image_worker");
  lv::tune_allocator_for_batches();

  // Options (DESIGN §6).
  CLI::App app{"Verifies YOLO labels of one shard of images with a TorchScript model."};
  lv::WorkerArgs args;
  lv::add_worker_options(app, args);
  app.set_version_flag("--version", std::string(LV_VERSION));
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;

  const int code = lv::run_guarded([&] {
    // Config, threads, signals.
    const lv::Config config = lv::load_config(args.config);
    const int threads = lv::model_threads(config);
    lv::set_model_threads(threads);
    cv::setNumThreads(1);  // decoding runs on our own pool; OpenCV's would compete with the model
    lv::print_note(fmt::format("{} model threads, {} decode threads", threads, config.processing.decode_threads));
    const std::atomic<bool>& stop = lv::install_stop_signals();

    // Run the shard.
    return lv::to_int(lv::run_image_worker(config, args, stop));
  });
  lv::note_peak_memory_if_asked();  // for tools/bench_worker
  return code;
}
