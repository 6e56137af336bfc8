#include "path_guard.h"

#include <system_error>

#include <fmt/core.h>

#include "byte_text.h"

namespace lv {

namespace fs = std::filesystem;

fs::path canonical_root(const fs::path& root) {
  std::error_code ec;
  fs::path c = fs::canonical(root, ec);
  return ec ? fs::absolute(root).lexically_normal() : c;
}

std::string outside_canonical_root_reason(const fs::path& root, const fs::path& path) {
  std::error_code ec;
  const fs::path target = fs::canonical(path, ec);
  if (ec) {
    if (fs::is_symlink(fs::symlink_status(path)) && !fs::exists(path)) return "dangling symlink";
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
