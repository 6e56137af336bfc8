// image_worker: verifies the YOLO labels of one shard of images with a TorchScript model
// (DESIGN §6). Reads like its protocol: options, config, threads, signals, run, exit code.
#include <malloc.h>

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
#if defined(__GLIBC__)
  // Images are decoded on pool threads and freed elsewhere; with one malloc arena per thread
  // that grows the heap with the shard (318 -> 485 MiB for 1k -> 3k images); two keep it flat.
  mallopt(M_ARENA_MAX, 2);
  // Each batch's forward allocates and frees megabytes of activations. glibc returned them to
  // the system after every batch and faulted them in again (46 page faults a crop: 7.3 s of CPU
  // for 4 000 crops whose forward alone takes 1.4 s). Blocks under 32 MiB come from the heap,
  // and up to 256 MiB of free heap is kept for the next batch; the peak is unchanged.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif

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
