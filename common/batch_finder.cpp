#include "batch_finder.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "message.h"
#include "program.h"
#include "yaml_edit.h"

namespace lv {

double memory_margin(uint64_t total_bytes) {
  const double gb = static_cast<double>(total_bytes) / 1e9;
  if (gb >= 16) return 0.20;  // high-end (>= 40 GB) and mid-range alike
  if (gb >= 8) return 0.15;
  return 0.10;
}

namespace {

BatchPick find_on_gpu(BatchProbe& probe, int max_batch) {
  BatchPick pick;
  const uint64_t total = probe.memory_total();
  const double limit = (1.0 - memory_margin(total)) * static_cast<double>(total);
  const auto attempt = [&](int batch) {
    BatchTry t;
    t.batch = batch;
    t.fits = probe.run(batch);
    t.peak = probe.last_peak();
    if (t.fits && static_cast<double>(t.peak) > limit) t.fits = false;
    pick.tries.push_back(t);
    return t.fits;
  };
  int good = 0, bad = 0;
  for (int b = 1; b <= max_batch; b *= 2) {
    if (!attempt(b)) {
      bad = b;
      break;
    }
    good = b;
    if (b > max_batch / 2) break;
  }
  if (good == 0) {
    pick.batch = 1;
    pick.why = "not even a batch of 1 fits within the memory limit: free the GPU, or use a smaller model";
    return pick;
  }
  if (bad == 0 && good < max_batch && attempt(max_batch)) good = max_batch;
  else if (bad == 0 && good < max_batch) bad = max_batch;
  while (bad > good + 1) {
    const int mid = good + (bad - good) / 2;
    if (attempt(mid)) good = mid;
    else bad = mid;
  }
  pick.batch = good >= 4 ? good / 4 * 4 : good;
  pick.why = fmt::format("the largest batch within {:.0f}% of the GPU's {:.1f} GB is {}{}", 100 * (1 - memory_margin(total)),
                         static_cast<double>(total) / 1e9, good,
                         pick.batch != good ? fmt::format(", rounded down to a multiple of 4: {}", pick.batch) : "");
  return pick;
}

BatchPick find_on_cpu(BatchProbe& probe, int max_batch, const std::function<double()>& seconds) {
  BatchPick pick;
  double best = 0;
  int since_best = 0;
  for (int b = 1; b <= max_batch; b *= 2) {
    if (!probe.run(b)) {  // out of memory (warm: the first run at a new shape costs more)
      pick.tries.push_back(BatchTry{b, false, 0, 0});
      break;
    }
    int runs = 0;
    const double start = seconds();
    double elapsed = 0;
    do {
      probe.run(b);
      ++runs;
      elapsed = seconds() - start;
    } while (runs < 2 || elapsed < 0.25);
    BatchTry t;
    t.batch = b;
    t.items_per_s = elapsed > 0 ? runs * b / elapsed : 0;
    pick.tries.push_back(t);
    if (t.items_per_s > best * 1.03) {
      best = std::max(best, t.items_per_s);
      since_best = 0;
    } else {
      best = std::max(best, t.items_per_s);
      if (++since_best >= 2) break;  // two doublings without a real gain: it has stopped rising
    }
  }
  for (const BatchTry& t : pick.tries)
    if (t.fits && t.items_per_s >= 0.97 * best) {
      pick.batch = t.batch;
      break;
    }
  pick.why = fmt::format("throughput stops rising at a batch of {} ({:.0f} items/s; the best seen {:.0f})", pick.batch,
                         std::find_if(pick.tries.begin(), pick.tries.end(), [&](const BatchTry& t) { return t.batch == pick.batch; })->items_per_s,
                         best);
  return pick;
}

}  // namespace

BatchPick find_batch_size(BatchProbe& probe, int max_batch, const std::function<double()>& seconds) {
  max_batch = std::max(1, max_batch);
  return probe.memory_total() > 0 ? find_on_gpu(probe, max_batch) : find_on_cpu(probe, max_batch, seconds);
}

std::string format_batch_pick(const BatchProbe& probe, const BatchPick& pick) {
  std::string text = fmt::format("batch-size finder on {}\n", probe.device());
  if (probe.memory_total() > 0) {
    text += fmt::format("  {:>6}  {:>12}  {}\n", "batch", "peak memory", "fits");
    for (const BatchTry& t : pick.tries)
      text += fmt::format("  {:>6}  {:>9.2f} GB  {}\n", t.batch, static_cast<double>(t.peak) / 1e9,
                          t.fits ? "yes" : "no");
  } else {
    text += fmt::format("  {:>6}  {:>10}\n", "batch", "items/s");
    for (const BatchTry& t : pick.tries)
      text += t.fits ? fmt::format("  {:>6}  {:>10.1f}\n", t.batch, t.items_per_s)
                     : fmt::format("  {:>6}  {:>10}\n", t.batch, "out of memory");
  }
  text += fmt::format("pick: {}: {}\n[batch-size] {}\n", pick.batch, pick.why, pick.batch);
  return text;
}

int find_batch_size_main(int argc, char** argv, const std::string& program,
                         const std::function<std::unique_ptr<BatchProbe>(const Config& config)>& make_probe) {
  CLI::App app{fmt::format("{} --find-batch-size: the batch size for this machine, written into the config as "
                           "processing.batch_size (comments and other keys kept)",
                           program)};
  std::string config_path;
  bool find = false, test_only = false;
  int max_batch = 1024;
  app.add_flag("--find-batch-size", find, "find the batch size")->required();
  app.add_option("--config", config_path, "the run's YAML config")->required();
  app.add_flag("--test-only", test_only, "print the table and the pick; leave the config as it is");
  app.add_option("--max-batch", max_batch, "largest batch to try")->capture_default_str()->check(CLI::Range(1, 65536));
  if (const auto code = parse_command_line(app, argc, argv)) return *code;
  return run_guarded([&] {
    const Config config = load_config(config_path);
    std::unique_ptr<BatchProbe> probe = make_probe(config);
    const auto start = std::chrono::steady_clock::now();
    const BatchPick pick = find_batch_size(*probe, max_batch, [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    });
    std::fputs(format_batch_pick(*probe, pick).c_str(), stdout);
    if (!test_only) {
      set_yaml_value_in_file(config.file, "processing", "batch_size", std::to_string(pick.batch));
      print_note(fmt::format("wrote processing.batch_size: {} into {}", pick.batch, config.file.string()));
    }
    std::fflush(stdout);
    return 0;
  });
}

}  // namespace lv
