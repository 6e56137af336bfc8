#pragma once
/// The batch-size finder (issue 10; the seeds' auto batch-size tool), for every worker built on
/// the worker kit: `WORKER --find-batch-size --config C [--test-only]`. The worker supplies a
/// probe that runs its model on synthetic batches; the search is here.
///   - On a GPU: the largest batch whose forward fits in (1 - margin) of the GPU's memory
///     (margin by tier: 20 % from 16 GB up, 15 % from 8 GB, else 10 %), found by doubling, then
///     a binary search, catching out-of-memory (the probe empties the cache after one), rounded
///     down to a multiple of 4.
///   - On the CPU: the batch size where throughput stops rising (doubling from 1; the smallest
///     batch within 3 % of the best rate), with the items/s table printed.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config.h"

namespace lv {

class BatchProbe {
 public:
  virtual ~BatchProbe() = default;
  /// One synchronised forward of `batch` synthetic rows; false when it ran out of device
  /// memory (the probe then empties the allocator's cache). Other failures throw lv::Error.
  virtual bool run(int batch) = 0;
  /// GPU memory in bytes (0 on the CPU), and the peak the last run() allocated.
  virtual uint64_t memory_total() const = 0;
  virtual uint64_t last_peak() const = 0;
  /// "cuda:0 (NVIDIA A100 ...)", "cpu".
  virtual std::string device() const = 0;
};

/// The share of GPU memory left free: 20 % for 16 GB and up, 15 % from 8 GB, else 10 %.
double memory_margin(uint64_t total_bytes);

struct BatchTry {
  int batch = 0;
  bool fits = true;          ///< GPU: ran without running out of memory, within the limit
  uint64_t peak = 0;         ///< GPU: bytes
  double items_per_s = 0;    ///< CPU: rows a second
};

struct BatchPick {
  int batch = 1;
  std::vector<BatchTry> tries;  ///< in the order they ran
  std::string why;              ///< one line: how the pick was made
};

/// `seconds()`: a clock (steady; tests pass a fake one that the probe advances).
BatchPick find_batch_size(BatchProbe& probe, int max_batch, const std::function<double()>& seconds);

/// The table and the pick, as the finder prints them; the last line is "[batch-size] N", which
/// the orchestrator's --auto-batch reads.
std::string format_batch_pick(const BatchProbe& probe, const BatchPick& pick);

/// A worker's `--find-batch-size` mode: `WORKER --find-batch-size --config C [--test-only]
/// [--max-batch N]`. Loads the config, gets the worker's probe from `make_probe` (which loads
/// the model), runs the finder and prints the table and the pick; without --test-only writes
/// `processing.batch_size` into C in place (set_yaml_value: comments and other keys kept).
/// Returns the exit code (run_guarded: errors are printed).
int find_batch_size_main(int argc, char** argv, const std::string& program,
                         const std::function<std::unique_ptr<BatchProbe>(const Config& config)>& make_probe);

}  // namespace lv
