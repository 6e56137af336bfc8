#pragma once
/// Whole-file writes that never leave a half-written file behind.
#include <filesystem>
#include <string_view>

namespace lv {

/// Writes `content` to `path` through a temporary file in the same folder and a rename, so a
/// reader sees the old file or the new one, never a mix. Throws lv::Error on I/O failure.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// Reads a whole file. Throws lv::Error naming the file when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace lv
