#pragma once
/// Listing the work items: a folder scanned recursively for images, or a list file with one
/// path per line. Items are paths relative to the input root, '/'-separated, and never escape it.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lv {

struct RejectedItem {
  int64_t line = 0;      ///< line in the list file (1-based)
  std::string entry;     ///< the text of the line
  std::string reason;
};

struct ItemList {
  std::filesystem::path root;          ///< what items are relative to
  std::vector<std::string> items;      ///< in input order (folder scan: sorted bytewise)
  std::vector<RejectedItem> rejected;  ///< list-file lines that were refused, with reasons
  bool from_list_file = false;
};

/// True for .jpg .jpeg .png .bmp .tif .tiff .webp in any case.
bool has_image_extension(const std::filesystem::path& path);

/// Lists items from `images` (a folder or a list file). For a list file, `root` (when not
/// empty) replaces the list file's folder as the root; absolute entries must lie inside it.
/// Throws lv::Error (exit 4) naming the path when `images` cannot be read.
ItemList list_items(const std::filesystem::path& images, const std::filesystem::path& root = {});

/// `entry` made relative to `root`, lexically normalised, or "" when it is empty or escapes
/// the root ("../x", "/elsewhere/x").
std::string relative_inside(const std::filesystem::path& root, const std::string& entry);

/// Writes items, one a line (the format of split files and the plan's items file).
std::string join_lines(const std::vector<std::string>& items, size_t begin, size_t end);

/// Writes items [begin, end) one a line to `path` atomically (temporary file, rename), without
/// building the whole text in memory. Throws lv::Error naming the file.
void write_lines_atomic(const std::filesystem::path& path, const std::vector<std::string>& items, size_t begin,
                        size_t end);

/// content_hash() of join_lines(items, 0, items.size()), computed without building that text.
std::string lines_hash(const std::vector<std::string>& items);

/// Reads an items file written by join_lines (no validation beyond splitting lines; a
/// trailing '\r' is dropped). Throws lv::Error (exit 4) naming the file when unreadable.
std::vector<std::string> read_lines(const std::filesystem::path& file);

}  // namespace lv
