#include "devices.h"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

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

namespace {

/// `text` (surrounding blanks ignored) as a whole number; nullopt otherwise.
std::optional<long long> whole_number(std::string_view text) {
  const std::string t = boost::algorithm::trim_copy(std::string(text));
  long long value = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return value;
}

std::optional<std::string> read_small_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<double> cpu_max_limit(std::string_view cpu_max) {
  std::vector<std::string> words;
  const std::string text = boost::algorithm::trim_copy(std::string(cpu_max));
  boost::algorithm::split(words, text, boost::is_any_of(" \t"), boost::token_compress_on);
  if (words.size() != 2) return std::nullopt;
  const auto quota = whole_number(words[0]), period = whole_number(words[1]);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;  // "max": no limit
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> cfs_quota_limit(std::string_view quota_us, std::string_view period_us) {
  const auto quota = whole_number(quota_us), period = whole_number(period_us);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;  // -1: no limit
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> cgroup_cpu_limit(const std::filesystem::path& cgroup_root, const std::filesystem::path& self_cgroup) {
  namespace fs = std::filesystem;
  std::optional<double> limit;
  const auto keep_lowest = [&](std::optional<double> l) {
    if (l && (!limit || *l < *limit)) limit = l;
  };
  // Every ancestor's quota binds too: from the process's own cgroup up to the root.
  const auto each_ancestor = [](const fs::path& base, const std::string& path, const auto& visit) {
    fs::path p = fs::path(path).relative_path();
    for (;;) {
      visit(base / p);
      if (p.empty()) break;
      p = p.parent_path();
    }
  };
  const std::optional<std::string> lines = read_small_file(self_cgroup);
  if (!lines) return std::nullopt;
  std::istringstream in(*lines);
  for (std::string line; std::getline(in, line);) {
    // "<id>:<controllers>:<path>"; v2 is "0::<path>".
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.empty()) {
      for (const fs::path& base : {cgroup_root, cgroup_root / "unified"})
        each_ancestor(base, path, [&](const fs::path& dir) {
          if (const auto text = read_small_file(dir / "cpu.max")) keep_lowest(cpu_max_limit(*text));
        });
      continue;
    }
    std::vector<std::string> names;
    boost::algorithm::split(names, controllers, boost::is_any_of(","));
    if (std::find(names.begin(), names.end(), "cpu") == names.end()) continue;
    for (const fs::path& base : {cgroup_root / "cpu", cgroup_root / controllers})
      each_ancestor(base, path, [&](const fs::path& dir) {
        const auto quota = read_small_file(dir / "cpu.cfs_quota_us"), period = read_small_file(dir / "cpu.cfs_period_us");
        if (quota && period) keep_lowest(cfs_quota_limit(*quota, *period));
      });
  }
  return limit;
}

unsigned usable_cpus() {
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) cpus = static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
  if (const auto quota = cgroup_cpu_limit())
    cpus = std::min(cpus, static_cast<unsigned>(std::max(1.0, std::ceil(*quota - 1e-9))));
  return cpus;
}

}  // namespace lv
