#include "gpu_monitor.h"

#include <algorithm>

namespace lv {

GpuMonitor::GpuMonitor(LaunchSpec sampler, std::function<bool(int)> busy)
    : sampler_(std::move(sampler)), busy_(std::move(busy)) {}

std::vector<GpuSample> GpuMonitor::feed(const std::string& text) {
  std::vector<GpuSample> samples;
  partial_ += text;
  size_t start = 0;
  for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    const auto sample = parse_gpu_sample(std::string_view(partial_).substr(start, nl - start));
    if (!sample) continue;
    Stats& s = stats_[sample->index];
    s.peak_used_mib = std::max(s.peak_used_mib, sample->mem_used_mib);
    s.total_mib = sample->mem_total_mib;
    if (busy_(sample->index)) {
      ++s.busy_samples;
      s.busy_util_sum += sample->util_percent;
    }
    samples.push_back(*sample);
  }
  partial_.erase(0, start);
  if (partial_.size() > 4096) partial_.clear();  // not nvidia-smi's output: keep memory bounded
  return samples;
}

}  // namespace lv
