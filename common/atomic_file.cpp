#include "atomic_file.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/core.h>

#include "byte_text.h"
#include "error.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

std::atomic<uint64_t> g_temporary_counter{0};

/// Strips a trailing `.<digits>` from `name`; false when there is none.
bool strip_number(std::string_view& name) {
  size_t i = name.size();
  while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9') --i;
  if (i == name.size() || i == 0 || name[i - 1] != '.') return false;
  name.remove_suffix(name.size() - i + 1);
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

fs::path temporary_path(const fs::path& path) {
  return path.string() + fmt::format(".tmp.{}.{}", ::getpid(), g_temporary_counter.fetch_add(1));
}

fs::path fixed_temporary_path(const fs::path& path) { return path.string() + ".tmp.0.0"; }

bool is_temporary_name(std::string_view name) {
  if (!strip_number(name)) return false;
  strip_number(name);  // the counter of temporary_path(); absent in the older `<path>.tmp.<pid>`
  // Something must come before ".tmp": ".tmp.1" alone is not a temporary of any file.
  return name.size() > 4 && ends_with(name, ".tmp");
}

int64_t remove_temporaries(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return 0;
  int64_t removed = 0;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) throw Error(ExitCode::failed, fmt::format("{}: cannot list: {}", printable(dir.string()), ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error(ExitCode::failed, fmt::format("{}: cannot list: {}", printable(dir.string()), ec.message()));
    if (!it->is_regular_file(ec) || !is_temporary_name(it->path().filename().native())) continue;
    if (!fs::remove(it->path(), ec) || ec)
      throw Error(ExitCode::failed, fmt::format("{}: cannot remove a leftover temporary file: {}",
                                                printable(it->path().string()), ec.message()));
    ++removed;
  }
  return removed;
}

void write_file_atomic(const fs::path& path, const std::function<void(std::ostream&)>& write, TemporaryName name,
                       Durability durability) {
  const fs::path tmp = name == TemporaryName::fixed ? fixed_temporary_path(path) : temporary_path(path);
  const auto fail = [&](const std::string& what) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw Error(ExitCode::failed, fmt::format("{}: {}", printable(tmp.string()), what));
  };
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(fmt::format("cannot write: {}", std::strerror(errno)));
    try {
      write(out);
    } catch (...) {
      // Not swallowed: the temporary goes, the caller's exception goes on.
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      throw;
    }
    out.flush();
    if (!out) fail("write failed (disk full?)");
    out.close();
    if (!out) fail("write failed (disk full?)");
  }
  // fsync so that a crash right after the rename cannot leave an empty file under the new name.
  if (durability == Durability::synced) {
    const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      const int err = errno;
      if (fd >= 0) ::close(fd);
      fail(fmt::format("cannot sync: {}", std::strerror(err)));
    }
    ::close(fd);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::error_code ec;
    fs::remove(tmp, ec);
    throw Error(ExitCode::failed,
                fmt::format("{}: cannot rename into place: {}", printable(path.string()), std::strerror(err)));
  }
}

void write_file_atomic(const fs::path& path, std::string_view content, Durability durability) {
  write_file_atomic(
      path, [&](std::ostream& out) { out.write(content.data(), static_cast<std::streamsize>(content.size())); },
      TemporaryName::unique, durability);
}

bool syncfs_reports_errors(std::string_view kernel_release, long fs_type) {
  constexpr long kFuseSuperMagic = 0x65735546;
  if (fs_type == kFuseSuperMagic) return false;
  int major = 0, minor = 0;
  const char* end = kernel_release.data() + kernel_release.size();
  const auto [after_major, e1] = std::from_chars(kernel_release.data(), end, major);
  if (e1 != std::errc() || after_major == end || *after_major != '.') return false;
  const auto [after_minor, e2] = std::from_chars(after_major + 1, end, minor);
  if (e2 != std::errc()) return false;
  return major > 5 || (major == 5 && minor >= 8);
}

FileSystemSync::FileSystemSync(const fs::path& dir) : dir_(dir) {
  fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0)
    throw Error(ExitCode::failed, fmt::format("{}: cannot open to sync: {}", printable(dir.string()), std::strerror(errno)));
  struct utsname kernel {};
  struct statfs fs {};
  batched_ = ::uname(&kernel) == 0 && ::fstatfs(fd_, &fs) == 0 &&
             syncfs_reports_errors(kernel.release, static_cast<long>(fs.f_type));
}

FileSystemSync::~FileSystemSync() {
  if (fd_ >= 0) ::close(fd_);
}

void FileSystemSync::sync() const {
  if (batched_ && ::syncfs(fd_) != 0)
    throw Error(ExitCode::failed,
                fmt::format("{}: cannot sync its file system: {}", printable(dir_.string()), std::strerror(errno)));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ExitCode::input_unreadable, fmt::format("{}: cannot open: {}", printable(path.string()), std::strerror(errno)));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(ExitCode::input_unreadable, fmt::format("{}: read failed", printable(path.string())));
  return buffer.str();
}

}  // namespace lv
