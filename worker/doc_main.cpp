// doc_worker: classifies, verifies the labels of, or embeds one shard of documents with a
// TorchScript text model (DESIGN §6 protocol). Reads like its protocol: options, config,
// threads, signals, run, exit code.
#include <atomic>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "config.h"
#include "doc_worker.h"
#include "image_worker.h"
#include "message.h"
#include "model.h"
#include "program.h"
#include "worker_kit.h"

int main(int argc, char** argv) {
  lv::set_program_name("doc_worker");
  lv::tune_allocator_for_batches();

  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--find-batch-size")
      return lv::find_batch_size_main(argc, argv, "doc_worker", [](const lv::Config& config) {
        lv::set_model_threads(lv::model_threads(config));
        return lv::make_batch_probe(lv::load_doc_model(config));
      });

  // Options (DESIGN §6).
  CLI::App app{"Verifies the labels of, classifies or embeds one shard of documents with a TorchScript text model."};
  lv::WorkerArgs args;
  lv::add_worker_options(app, args);
  app.set_version_flag("--version", std::string(LV_VERSION));
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;

  const int code = lv::run_guarded([&] {
    // Config, threads, signals.
    const lv::Config config = lv::load_worker_config(args);
    const int threads = lv::model_threads(config);
    lv::set_model_threads(threads);
    lv::print_note(fmt::format("{} model threads", threads));
    const std::atomic<bool>& stop = lv::install_stop_signals();

    // Run the shard.
    return lv::to_int(lv::run_doc_worker(config, args, stop));
  });
  lv::note_peak_memory_if_asked();  // for benchmarks
  return code;
}
