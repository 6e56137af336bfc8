#include "gpu_discovery.h"

#include <cstdlib>
#include <cstring>

#include <boost/algorithm/string.hpp>
#include <fmt/core.h>

#include "error.h"

namespace lv {
namespace {

std::string trimmed(std::string s) {
  boost::algorithm::trim(s);
  return s;
}

int64_t parse_memory_mib(const std::string& field, size_t line_no) {
  // "81920 MiB" (default units) or "81920" (nounits).
  std::string digits = field;
  if (boost::algorithm::iends_with(digits, "MiB")) digits = trimmed(digits.substr(0, digits.size() - 3));
  try {
    size_t used = 0;
    const long long v = std::stoll(digits, &used);
    if (used == digits.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  if (digits == "[N/A]" || digits == "N/A") return 0;
  throw Error(ExitCode::failed, fmt::format("nvidia-smi output line {}: memory '{}' is not a number of MiB", line_no, field));
}

}  // namespace

std::vector<GpuInfo> parse_nvidia_smi_csv(std::string_view text) {
  std::vector<GpuInfo> gpus;
  std::vector<std::string> lines;
  boost::algorithm::split(lines, text, boost::is_any_of("\n"));
  size_t line_no = 0;
  for (std::string line : lines) {
    ++line_no;
    line = trimmed(line);
    if (line.empty()) continue;
    std::vector<std::string> f;
    boost::algorithm::split(f, line, boost::is_any_of(","));
    for (auto& s : f) s = trimmed(s);
    // index, name, memory.total[, compute_cap], uuid
    if (f.size() != 4 && f.size() != 5)
      throw Error(ExitCode::failed,
                  fmt::format("nvidia-smi output line {}: expected 'index, name, memory, [compute_cap,] uuid', got '{}'",
                              line_no, line));
    GpuInfo g;
    try {
      size_t used = 0;
      g.index = std::stoi(f[0], &used);
      if (used != f[0].size() || g.index < 0) throw std::invalid_argument("index");
    } catch (const std::exception&) {
      throw Error(ExitCode::failed, fmt::format("nvidia-smi output line {}: GPU index '{}' is not a number", line_no, f[0]));
    }
    g.name = f[1];
    g.memory_mib = parse_memory_mib(f[2], line_no);
    if (f.size() == 5) {
      g.compute_capability = (f[3] == "[N/A]" || f[3] == "N/A") ? "" : f[3];
      g.uuid = f[4];
    } else {
      g.uuid = f[3];
    }
    gpus.push_back(std::move(g));
  }
  return gpus;
}

std::string nvidia_smi_program() {
  const char* env = std::getenv(kNvidiaSmiEnv);
  return env && *env ? std::string(env) : std::string("nvidia-smi");
}

GpuDiscovery discover_gpus(const CaptureFn& run) {
  const std::string program = nvidia_smi_program();
  GpuDiscovery result;
  // compute_cap exists in drivers >= 510; ask without it when an older driver refuses.
  for (const char* fields : {"index,name,memory.total,compute_cap,uuid", "index,name,memory.total,uuid"}) {
    const CaptureResult r = run({program, fmt::format("--query-gpu={}", fields), "--format=csv,noheader,nounits"});
    if (!r.started) {
      result.problem = fmt::format("{} could not be run ({})", program, r.error);
      return result;
    }
    if (r.exit_code != 0) {
      result.problem = fmt::format("{} exited with code {}: {}", program, r.exit_code, trimmed(r.error.empty() ? r.out : r.error));
      continue;
    }
    try {
      result.gpus = parse_nvidia_smi_csv(r.out);
      result.problem.clear();
    } catch (const Error& e) {
      result.problem = e.what();
    }
    return result;
  }
  return result;
}

std::vector<std::string> gpu_sampling_command(int interval_ms) {
  return {nvidia_smi_program(), "--query-gpu=index,utilization.gpu,memory.used,memory.total",
          "--format=csv,noheader,nounits", "-lms", std::to_string(interval_ms)};
}

std::optional<GpuSample> parse_gpu_sample(std::string_view line) {
  std::vector<std::string> f;
  boost::algorithm::split(f, line, boost::is_any_of(","));
  if (f.size() != 4) return std::nullopt;
  std::vector<int64_t> v;
  for (std::string field : f) {
    field = trimmed(field);
    for (const char* unit : {"MiB", "%"})
      if (boost::algorithm::iends_with(field, unit)) field = trimmed(field.substr(0, field.size() - std::strlen(unit)));
    try {
      size_t used = 0;
      const long long n = std::stoll(field, &used);
      if (used != field.size() || n < 0) return std::nullopt;
      v.push_back(n);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (v[1] > 100) return std::nullopt;
  return GpuSample{static_cast<int>(v[0]), static_cast<int>(v[1]), v[2], v[3]};
}

}  // namespace lv
