#include "path_guard.h"

#include <system_error>

#include <fmt/core.h>

#include "byte_text.h"

namespace lv {

namespace fs = std::filesystem;

fs::path canonical_root(const fs::path& root) {
  std::error_code ec;
  fs::path c = fs::canonical(root, ec);
  if (!ec) return c;
  // "data/" would keep an empty last component that no resolved path ever matches.
  c = fs::absolute(root).lexically_normal();
  if (!c.has_filename() && c != c.root_path()) c = c.parent_path();
  return c;
}

std::string outside_canonical_root_reason(const fs::path& root, const fs::path& path) {
  std::error_code ec;
  const fs::path target = fs::canonical(path, ec);
  if (ec) {
    // Every probe takes an error_code: a loop or an unreadable folder is a reason to report,
    // never an exception out of a scan.
    if (ec == std::errc::too_many_symbolic_link_levels) return "symlink loop";
    std::error_code link_ec;
    const bool link = fs::is_symlink(fs::symlink_status(path, link_ec));
    if (link && (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory))
      return "dangling symlink";
    return fmt::format("cannot resolve: {}", ec.message());
  }
  // Inside means: root's components are a prefix of target's.
  auto r = root.begin(), t = target.begin();
  for (; r != root.end() && t != target.end(); ++r, ++t)
    if (*r != *t) break;
  if (r == root.end()) return "";
  return fmt::format("symlink resolves outside the input root ({})", printable(target.string()));
}

std::string outside_root_reason(const fs::path& root, const fs::path& path) {
  return outside_canonical_root_reason(canonical_root(root), path);
}

}  // namespace lv
