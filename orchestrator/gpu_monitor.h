#pragma once
/// GPU utilisation and memory while a run goes (issue 10): one nvidia-smi process samples every
/// GPU (`-lms`); its lines feed the live status lines, and, per GPU, the samples taken while a
/// worker ran on it give the run summary's figures and hints (input-bound, memory nearly full).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gpu_discovery.h"
#include "launcher.h"

namespace lv {

class GpuMonitor {
 public:
  struct Stats {
    int busy_samples = 0;        ///< samples taken while a worker ran on the GPU
    double busy_util_sum = 0;
    int64_t peak_used_mib = 0;   ///< over the whole run
    int64_t total_mib = 0;
    double mean_busy_util() const { return busy_samples ? busy_util_sum / busy_samples : 0; }
  };

  /// `sampler`: the command and its log (`<work>/gpu_utilisation.csv`); `busy(index)`: whether a
  /// worker runs on GPU `index` now.
  GpuMonitor(LaunchSpec sampler, std::function<bool(int)> busy);

  const LaunchSpec& sampler() const { return sampler_; }
  /// Feeds the sampler's output; returns the samples of the complete lines in it.
  std::vector<GpuSample> feed(const std::string& text);
  /// The sampler could not run or stopped early: why (shown with the run summary).
  void set_problem(std::string why) { problem_ = std::move(why); }
  const std::string& problem() const { return problem_; }
  const std::map<int, Stats>& stats() const { return stats_; }

 private:
  LaunchSpec sampler_;
  std::function<bool(int)> busy_;
  std::string partial_;
  std::string problem_;
  std::map<int, Stats> stats_;
};

}  // namespace lv
