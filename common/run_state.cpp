#include "run_state.h"

#include <algorithm>
#include <fstream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <boost/crc.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"
#include "shard_plan.h"

namespace lv {

namespace fs = std::filesystem;
using nlohmann::json;

std::string_view to_string(ShardStatus s) {
  switch (s) {
    case ShardStatus::pending: return "pending";
    case ShardStatus::running: return "running";
    case ShardStatus::succeeded: return "succeeded";
    case ShardStatus::failed: return "failed";
    case ShardStatus::interrupted: return "interrupted";
  }
  return "?";
}

std::optional<ShardStatus> shard_status_from_string(std::string_view s) {
  for (ShardStatus v : {ShardStatus::pending, ShardStatus::running, ShardStatus::succeeded, ShardStatus::failed,
                        ShardStatus::interrupted})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

namespace {

json optional_int(const std::optional<int>& v) { return v ? json(*v) : json(nullptr); }

json shard_to_json(const ShardState& s) {
  json j{{"index", s.index},
              {"begin", s.begin},
              {"end", s.end},
              {"device", s.device},
              {"is_gpu", s.is_gpu},
              {"device_index", s.device_index},
              {"cuda_visible_devices", s.cuda_visible_devices},
              {"status", to_string(s.status)},
              {"exit_code", optional_int(s.exit_code)},
              {"signal", optional_int(s.signal)},
              {"failure", s.failure},
              {"attempts", s.attempts},
              {"started_at", s.started_at},
              {"ended_at", s.ended_at},
              {"seconds", s.seconds},
              {"done", s.done},
              {"batch_size", optional_int(s.batch_size)},
              {"split_from", optional_int(s.split_from)},
              {"log", shard_log(s).string()},
              {"pid", s.pid}};
  if (!s.slurm_job.empty()) j["slurm_job"] = s.slurm_job;
  return j;
}

ShardState shard_from_json(const json& j) {
  ShardState s;
  s.index = j.at("index").get<int>();
  s.begin = j.at("begin").get<int64_t>();
  s.end = j.at("end").get<int64_t>();
  s.device = j.at("device").get<std::string>();
  s.is_gpu = j.at("is_gpu").get<bool>();
  s.device_index = j.at("device_index").get<int>();
  s.cuda_visible_devices = j.at("cuda_visible_devices").get<std::string>();
  const std::string status = j.at("status").get<std::string>();
  const auto parsed = shard_status_from_string(status);
  if (!parsed) throw std::invalid_argument("unknown shard status '" + status + "'");
  s.status = *parsed;
  if (!j.at("exit_code").is_null()) s.exit_code = j.at("exit_code").get<int>();
  if (!j.at("signal").is_null()) s.signal = j.at("signal").get<int>();
  s.failure = j.value("failure", "");
  s.attempts = j.at("attempts").get<int>();
  s.started_at = j.value("started_at", "");
  s.ended_at = j.value("ended_at", "");
  s.seconds = j.value("seconds", 0.0);
  s.done = j.value("done", int64_t{0});
  if (j.contains("batch_size") && !j.at("batch_size").is_null()) s.batch_size = j.at("batch_size").get<int>();
  if (j.contains("split_from") && !j.at("split_from").is_null()) s.split_from = j.at("split_from").get<int>();
  s.log = j.value("log", "");
  s.pid = j.value("pid", 0L);
  s.slurm_job = j.value("slurm_job", "");
  if (s.log == log_file(s.index).string()) s.log.clear();
  if (fs::path(s.log).is_absolute() || s.log.find("..") != std::string::npos)
    throw std::invalid_argument(fmt::format("shard {}: log '{}' is not a file name in the work dir", s.index, s.log));
  return s;
}

}  // namespace

fs::path shard_log(const ShardState& s) { return s.log.empty() ? log_file(s.index) : fs::path(s.log); }

std::vector<const ShardState*> in_input_order(const RunState& state) {
  std::vector<const ShardState*> out;
  for (const auto& s : state.shards) out.push_back(&s);
  std::stable_sort(out.begin(), out.end(), [](const ShardState* a, const ShardState* b) { return a->begin < b->begin; });
  return out;
}

void save_run_state(const fs::path& work_dir, const RunState& state) {
  json shards = json::array();
  for (const auto& s : state.shards) shards.push_back(shard_to_json(s));
  json j{{"version", state.version},
         {"tool_version", state.tool_version},
         {"config_hash", state.config_hash},
         {"items_file", kItemsFile},
         {"items_hash", state.items_hash},
         {"item_count", state.item_count},
         {"created_at", state.created_at},
         {"run_id", state.run_id},
         {"classes_hash", state.classes_hash}};
  // Paths are bytes on Linux: escaped when they are not UTF-8 (byte_text.h), never a crash.
  set_bytes_field(j, "config_path", state.config_path.string());
  set_bytes_field(j, "input", state.input.string());
  set_bytes_field(j, "output_dir", state.output_dir.string());
  set_bytes_field(j, "worker", state.worker.string());
  set_bytes_field(j, "config_text", state.config_text);
  j["shards"] = shards;
  j["quarantined"] = state.quarantined;
  // The work dir is locked: one writer, so a fixed temporary name, which the next save replaces
  // when a crash left it behind.
  const std::string text = j.dump(2) + "\n";
  write_file_atomic(
      work_dir / kRunStateFile, [&](std::ostream& out) { out.write(text.data(), static_cast<std::streamsize>(text.size())); },
      TemporaryName::fixed);
}

std::optional<RunState> load_run_state(const fs::path& work_dir) {
  const fs::path file = work_dir / kRunStateFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  try {
    const json j = json::parse(read_file(file));
    RunState s;
    s.version = j.at("version").get<int>();
    if (s.version != 1) throw std::invalid_argument(fmt::format("unsupported version {}", s.version));
    s.tool_version = j.value("tool_version", "");
    s.config_path = get_bytes_field(j, "config_path");
    s.config_hash = j.at("config_hash").get<std::string>();
    s.input = get_bytes_field(j, "input");
    s.items_hash = j.at("items_hash").get<std::string>();
    s.item_count = j.at("item_count").get<int64_t>();
    s.output_dir = get_bytes_field(j, "output_dir");
    if (j.contains("worker")) s.worker = get_bytes_field(j, "worker");
    s.created_at = j.value("created_at", "");
    s.run_id = j.value("run_id", "");
    s.classes_hash = j.value("classes_hash", "");
    if (j.contains("config_text")) s.config_text = get_bytes_field(j, "config_text");
    for (const auto& sj : j.at("shards")) s.shards.push_back(shard_from_json(sj));
    if (j.contains("quarantined")) s.quarantined = j.at("quarantined").get<std::vector<std::string>>();
    return s;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw usage_error(fmt::format("{}: corrupt run state ({}); remove it to start a new run", file.string(), e.what()));
  }
}

std::string content_hash(std::string_view bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return fmt::format("crc32:{:08x}:{}", crc.checksum(), bytes.size());
}

std::string file_content_hash(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ExitCode::input_unreadable, fmt::format("{}: cannot read", file.string()));
  // A corpus can be gigabytes: std::hash (libstdc++: 64-bit Murmur, GB/s) of each MiB, chained,
  // instead of CRC-32 (400 MB/s here). It only has to match between a plan and its retries on
  // one installation; a different standard library can only make a retry refuse, never accept.
  std::vector<char> buffer(1 << 20);
  uint64_t h = 0, size = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = in.gcount();
    const uint64_t chunk = std::hash<std::string_view>{}(std::string_view(buffer.data(), static_cast<size_t>(got)));
    h = (h ^ chunk) * 0x100000001b3ULL + static_cast<uint64_t>(got);
    size += static_cast<uint64_t>(got);
  }
  if (in.bad()) throw Error(ExitCode::input_unreadable, fmt::format("{}: read failed", file.string()));
  return fmt::format("chunks64:{:016x}:{}", h, size);
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

WorkDirLock::WorkDirLock(const fs::path& work_dir) {
  const fs::path file = work_dir / ".orchestrator.lock";
  // O_CLOEXEC: workers must not inherit the lock and keep it after we are gone.
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw usage_error(fmt::format("{}: cannot open lock file: {}", file.string(), std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    throw usage_error(fmt::format("another orchestrator{} is already running in work dir '{}'",
                                  n > 0 ? fmt::format(" (pid {})", std::string(pid, static_cast<size_t>(n))) : "",
                                  work_dir.string()));
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t w = ::pwrite(fd_, me.data(), me.size(), 0);
  }
}

WorkDirLock::~WorkDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace lv
