#include "devices.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <boost/algorithm/string.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "error.h"

namespace lv {

std::string DeviceSlot::label() const {
  return !name.empty() ? name : fmt::format("{} {}", is_gpu ? "GPU" : "CPU", index);
}

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> parts;
  boost::algorithm::split(parts, s, boost::is_any_of(","));
  for (auto& p : parts) boost::algorithm::trim(p);
  return parts;
}

std::optional<int> parse_index(const std::string& s) {
  if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) return std::nullopt;
  return std::stoi(s);
}

std::vector<DeviceSlot> cpu_slots(int count) {
  std::vector<DeviceSlot> slots;
  for (int i = 0; i < count; ++i) slots.push_back(DeviceSlot{false, i, "", ""});
  return slots;
}

DeviceSlot gpu_slot(const GpuInfo& g) { return DeviceSlot{true, g.index, std::to_string(g.index), ""}; }

std::string indices(const std::vector<GpuInfo>& gpus) {
  std::vector<int> v;
  for (const auto& g : gpus) v.push_back(g.index);
  return fmt::format("{}", fmt::join(v, ", "));
}

/// `slots` (GPUs) unless --cpu-workers was given too: it would be ignored, so say so.
std::vector<DeviceSlot> check_no_cpu_workers(const DeviceRequest& request, const std::string& selection,
                                             std::vector<DeviceSlot> slots) {
  if (!request.cpu_workers_given) return slots;
  std::vector<int> v;
  for (const auto& s : slots) v.push_back(s.index);
  throw usage_error(fmt::format(
      "--cpu-workers {} needs --gpus cpu, but {} selects GPU(s) {}; use --gpus cpu --cpu-workers {} to run on CPU, "
      "or drop --cpu-workers",
      request.cpu_workers, selection, fmt::join(v, ", "), request.cpu_workers));
}

}  // namespace

std::vector<GpuInfo> visible_gpus(const std::vector<GpuInfo>& detected, const std::optional<std::string>& parent_visible,
                                  std::vector<std::string>& warnings) {
  if (!parent_visible) return detected;
  std::vector<GpuInfo> visible;
  const std::string value = boost::algorithm::trim_copy(*parent_visible);
  if (value.empty()) return visible;
  for (const std::string& entry : split_list(value)) {
    const auto it = std::find_if(detected.begin(), detected.end(), [&](const GpuInfo& g) {
      const auto idx = parse_index(entry);
      if (idx) return g.index == *idx;
      // CUDA accepts full UUIDs and unique prefixes ("GPU-8f3c").
      return !entry.empty() && boost::algorithm::starts_with(g.uuid, entry);
    });
    if (it == detected.end()) {
      // CUDA itself stops at the first invalid entry; so do we, but say so.
      warnings.push_back(fmt::format("CUDA_VISIBLE_DEVICES entry '{}' matches no detected GPU; ignoring it and the entries after it", entry));
      break;
    }
    if (std::none_of(visible.begin(), visible.end(), [&](const GpuInfo& g) { return g.index == it->index; }))
      visible.push_back(*it);
  }
  return visible;
}

std::vector<DeviceSlot> resolve_devices(const DeviceRequest& request, const std::vector<GpuInfo>& detected,
                                        const std::optional<std::string>& parent_visible,
                                        std::vector<std::string>& warnings) {
  if (request.cpu_workers < 1) throw usage_error(fmt::format("--cpu-workers {}: expected at least 1", request.cpu_workers));
  if (request.num_gpus && *request.num_gpus < 1)
    throw usage_error(fmt::format("--num-gpus {}: expected at least 1 (use --gpus cpu to run on CPU)", *request.num_gpus));

  const std::string spec = boost::algorithm::to_lower_copy(boost::algorithm::trim_copy(request.gpus));
  const std::vector<GpuInfo> visible = visible_gpus(detected, parent_visible, warnings);
  const std::string restriction =
      parent_visible ? fmt::format(" (CUDA_VISIBLE_DEVICES={} allows: {})", *parent_visible, indices(visible)) : "";

  if (spec == "cpu") {
    if (request.num_gpus) throw usage_error("--num-gpus cannot be combined with --gpus cpu (use --cpu-workers N)");
    return cpu_slots(request.cpu_workers);
  }

  if (spec.empty() || spec == "auto") {
    if (request.num_gpus) {
      const int n = *request.num_gpus;
      if (static_cast<int>(visible.size()) < n) {
        const std::string cpu = fmt::format("--gpus cpu --cpu-workers {} to run on CPU", n);
        throw usage_error(visible.empty()
                              ? fmt::format("--num-gpus {}: no GPU detected{}; use {}", n, restriction, cpu)
                              : fmt::format("--num-gpus {}: only {} GPU(s) detected{}; use --num-gpus {} (all detected GPUs), or {}",
                                            n, visible.size(), restriction, visible.size(), cpu));
      }
      std::vector<DeviceSlot> slots;
      for (int i = 0; i < n; ++i) slots.push_back(gpu_slot(visible[i]));
      return check_no_cpu_workers(request, fmt::format("--num-gpus {}", n), slots);
    }
    if (visible.empty()) {
      warnings.push_back(fmt::format("no GPU detected{}; running {} CPU worker(s)", restriction, request.cpu_workers));
      return cpu_slots(request.cpu_workers);
    }
    std::vector<DeviceSlot> slots;
    for (const auto& g : visible) slots.push_back(gpu_slot(g));
    return check_no_cpu_workers(request, spec.empty() ? "no --gpus (auto)" : "--gpus auto", slots);
  }

  // An explicit list: exactly these, each checked.
  std::vector<DeviceSlot> slots;
  std::set<int> seen;
  for (const std::string& entry : split_list(spec)) {
    const auto idx = parse_index(entry);
    if (!idx)
      throw usage_error(fmt::format("--gpus '{}': '{}' is not a GPU index (expected a list like 0,2,3, or auto, or cpu)",
                                    request.gpus, entry));
    if (!seen.insert(*idx).second) throw usage_error(fmt::format("--gpus '{}': GPU {} is listed twice", request.gpus, *idx));
    const auto it = std::find_if(visible.begin(), visible.end(), [&](const GpuInfo& g) { return g.index == *idx; });
    if (it == visible.end())
      throw usage_error(fmt::format("GPU {} not available. Only {} GPU(s) detected{}.", *idx, visible.size(), restriction));
    slots.push_back(gpu_slot(*it));
  }
  if (request.num_gpus && *request.num_gpus != static_cast<int>(slots.size()))
    throw usage_error(fmt::format("--num-gpus {} contradicts --gpus '{}' ({} GPU(s)); give one of them",
                                  *request.num_gpus, request.gpus, slots.size()));
  return check_no_cpu_workers(request, fmt::format("--gpus '{}'", request.gpus), slots);
}

}  // namespace lv
