#pragma once
/// Listing the work items: a folder scanned recursively for images, or a list file with one
/// path per line. Items are paths relative to the input root, '/'-separated, and never escape it.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lv {

/// An input entry that is not an item, and why (the orchestrator lists them in
/// rejected_items.txt).
struct RejectedItem {
  int64_t line = 0;      ///< line in the list file (1-based); 0 for an entry met by a folder scan
  std::string entry;     ///< the text of the line, or the scanned path relative to the root
  std::string reason;    ///< e.g. "dangling symlink", "not a regular file (fifo)"

  /// Where the entry came from, for messages: "line 12", or "folder scan" when line is 0.
  std::string where() const;
};

struct ItemList {
  std::filesystem::path root;          ///< what items are relative to
  std::vector<std::string> items;      ///< in input order (folder scan: sorted bytewise)
  std::vector<RejectedItem> rejected;  ///< refused entries: list order, or sorted like items for a scan
  bool from_list_file = false;
  /// What else the items depend on: a document corpus file's content hash (items name byte
  /// offsets into it, so an edit that keeps every offset still changes the documents); "" for
  /// images and folders, whose items are whole files.
  std::string content_fingerprint;
};

/// True for .jpg .jpeg .png .bmp .tif .tiff .webp in any case.
bool has_image_extension(const std::filesystem::path& path);

/// Why the file at `path` cannot be an input item, or "" when it can: the one rule of folder
/// scans and list files. `own_type` is the type of the entry itself, not following a symlink
/// (a directory entry's cached type, or symlink_status()). A regular file passes without a
/// system call; a symlink must resolve inside `canonical_root` (path_guard.h) to a regular
/// file; anything else is refused naming what it is: "not a regular file (fifo)", "dangling
/// symlink", "symlink loop", "symlink resolves outside the input root (/dev/zero)".
std::string input_file_problem(const std::filesystem::path& canonical_root, const std::filesystem::path& path,
                               std::filesystem::file_type own_type);

/// Scans `folder` recursively for the files whose name `wanted` accepts: the folder rule of
/// list_items() (below) for any kind of input file. Items are sorted bytewise; refused entries
/// go to `rejected`. Throws lv::Error (exit 4) naming the folder when it cannot be read.
ItemList scan_folder(const std::filesystem::path& folder, bool (*wanted)(const std::filesystem::path& name));

/// Lists items from `images` (a folder or a list file). For a list file, `root` (when not
/// empty) replaces the list file's folder as the root; absolute entries must lie inside it.
/// A folder scan puts the entries input_file_problem() refuses into `rejected` with the
/// reason; it never follows folder symlinks (one leading out is recorded), skips hidden
/// folders, and pays no system call per plain file. A list file's entries are checked only
/// lexically here (inside the root, listed once), with no system call per entry, since lists
/// name millions of files, often on network filesystems: the worker applies
/// input_file_problem() to each file before opening it and records a refusal in the report
/// ("file not found" likewise). A UTF-8 byte order mark at the start of a list file is ignored.
/// Throws lv::Error (exit 4) naming the path when `images` cannot be read.
ItemList list_items(const std::filesystem::path& images, const std::filesystem::path& root = {});

/// `entry` made relative to `root`, lexically normalised, or "" when it is empty or escapes
/// the root ("../x", "/elsewhere/x").
std::string relative_inside(const std::filesystem::path& root, const std::string& entry);

/// Writes items, one a line (the format of split files and the plan's items file).
std::string join_lines(const std::vector<std::string>& items, size_t begin, size_t end);

/// Writes items [begin, end) one a line to `path` atomically (temporary file, rename), without
/// building the whole text in memory. The temporary has a fixed name (plan files are written
/// by one orchestrator at a time, under the work-dir lock). Throws lv::Error naming the file.
void write_lines_atomic(const std::filesystem::path& path, const std::vector<std::string>& items, size_t begin,
                        size_t end);

/// content_hash() of join_lines(items, 0, items.size()), computed without building that text.
std::string lines_hash(const std::vector<std::string>& items);

/// Reads an items file written by join_lines (no validation beyond splitting lines; a
/// trailing '\r' is dropped). Throws lv::Error (exit 4) naming the file when unreadable.
std::vector<std::string> read_lines(const std::filesystem::path& file);

}  // namespace lv
