#pragma once
/// The one rule, used on both sides of the process boundary, for files reached through the
/// input tree: after following every symlink they must still lie inside the input root.
#include <filesystem>
#include <string>

namespace lv {

/// "" when `path` (following symlinks) resolves to a place inside `root` (also resolved);
/// else why not, in words for a report: "symlink resolves outside the input root (/etc/passwd)",
/// "dangling symlink", "cannot resolve: <reason>". `path` need not be inside `root` lexically.
std::string outside_root_reason(const std::filesystem::path& root, const std::filesystem::path& path);

/// `root` resolved once (canonical), for callers that check many paths against it.
std::filesystem::path canonical_root(const std::filesystem::path& root);

/// outside_root_reason() with a root already made canonical (saves one realpath a call).
std::string outside_canonical_root_reason(const std::filesystem::path& canonical_root,
                                          const std::filesystem::path& path);

}  // namespace lv
