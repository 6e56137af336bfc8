// A complete worker in 40 lines (README, "Writing a worker"): counts the bytes of each item
// file. It follows the whole protocol through common/worker_kit.h; the orchestrator runs,
// retries and merges it with no change, adding up counters whose names it has never seen.
#include <chrono>
#include <filesystem>

#include <CLI/CLI.hpp>

#include "config.h"
#include "message.h"
#include "program.h"
#include "worker_kit.h"

/// Counts what the records say; the merge adds these blocks up across shards.
struct ByteCounter : lv::RecordCounter {
  int64_t files = 0, bytes = 0;
  void add(const nlohmann::json& r) override { ++files, bytes += r.value("bytes", int64_t{0}); }
  nlohmann::json summary() const override { return {{"files", files}, {"bytes", bytes}}; }
  nlohmann::json per_class() const override { return nlohmann::json::object(); }
};

int main(int argc, char** argv) {
  lv::set_program_name("example_worker");
  CLI::App app{"Counts the bytes of each item."};
  lv::WorkerArgs args;
  lv::add_worker_options(app, args);  // --config --items --output-dir --shard --resume
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;
  return lv::run_guarded([&] {
    const auto started = std::chrono::steady_clock::now();
    const lv::Config config = lv::load_worker_config(args);
    const std::atomic<bool>& stop = lv::install_stop_signals();
    const std::vector<std::string> items = lv::read_shard_items(args.items);
    lv::ShardJournal journal(args, items);  // with --resume: what is already done
    lv::ProgressTicker progress(journal.done(), journal.failed(), static_cast<int64_t>(items.size()));
    for (const std::string& item : journal.todo(items)) {
      if (stop) break;  // SIGTERM: the item in flight is finished, then exit 130
      std::error_code ec;
      const auto size = std::filesystem::file_size(config.input.images / item, ec);
      journal.append({{"item", item}, {"bytes", ec ? 0 : static_cast<int64_t>(size)}, {"error", ec ? ec.message() : ""}});
    }
    const lv::ReportLayout layout{"items", [] { return std::make_unique<ByteCounter>(); }, /*unique_field=*/""};
    return lv::to_int(lv::finish_shard(args, journal, items, "example_worker", started, stop, layout));
  });
}
