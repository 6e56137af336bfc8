#include "output_claim.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <system_error>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"
#include "run_state.h"

namespace lv {

namespace fs = std::filesystem;
using nlohmann::json;

OutputLock::OutputLock(const fs::path& output_dir, const fs::path& work_dir) : dir_(output_dir) {
  std::error_code ec;
  if (fs::exists(output_dir, ec) && !fs::is_directory(output_dir, ec))
    throw usage_error(fmt::format("output dir '{}' is not a folder; pass another --output", output_dir.string()));
  created_dir_ = fs::create_directories(output_dir, ec);
  if (ec)
    throw usage_error(fmt::format("output dir '{}': cannot create: {}", output_dir.string(), ec.message()));
  const fs::path file = output_dir / kOutputLockFile;
  // O_CLOEXEC: workers must not inherit the lock and keep it after we are gone.
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw usage_error(fmt::format("output dir '{}' is not writable: {}", output_dir.string(), std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[4096] = {};
    const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    throw usage_error(fmt::format("output dir '{}' is being written by another orchestrator{}; two runs must not "
                                  "write one output. Wait for it, or pass another --output",
                                  output_dir.string(),
                                  n > 0 ? fmt::format(" ({})", std::string(holder, static_cast<size_t>(n))) : ""));
  }
  const std::string me = fmt::format("pid {}, work dir {}", ::getpid(), work_dir.string());
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t w = ::pwrite(fd_, me.data(), me.size(), 0);
  }
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  if (created_dir_ && !holds_results(dir_)) {
    // We made the dir only to lock it and nothing came of it: leave no trace.
    std::error_code ec;
    fs::remove(dir_ / kOutputOwnerFile, ec);
    fs::remove(dir_ / kOutputLockFile, ec);
    fs::remove(dir_, ec);
  }
  ::close(fd_);
}

std::optional<OutputOwner> read_output_owner(const fs::path& output_dir) {
  const fs::path file = output_dir / kOutputOwnerFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  try {
    const json j = json::parse(read_file(file));
    return OutputOwner{j.at("run_id").get<std::string>(), get_bytes_field(j, "work_dir"), j.value("created_at", "")};
  } catch (const json::exception& e) {
    throw usage_error(fmt::format("{}: corrupt owner record ({})", file.string(), e.what()));
  }
}

void write_output_owner(const fs::path& output_dir, const OutputOwner& owner) {
  json j{{"run_id", owner.run_id}, {"created_at", owner.created_at}};
  set_bytes_field(j, "work_dir", owner.work_dir.string());
  write_file_atomic(output_dir / kOutputOwnerFile, j.dump(2) + "\n");
}

bool holds_results(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name != kOutputLockFile && name != kOutputOwnerFile) return true;
  }
  return false;
}

std::string new_run_id() {
  std::random_device rd;
  const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("{:016x}", v);
}

}  // namespace lv
