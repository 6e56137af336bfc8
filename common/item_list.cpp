#include "item_list.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>
#include <system_error>


#include <boost/crc.hpp>

#include <fmt/core.h>

#include "atomic_file.h"
#include "error.h"
#include "path_guard.h"

namespace lv {

namespace fs = std::filesystem;

std::string RejectedItem::where() const { return line > 0 ? fmt::format("line {}", line) : "folder scan"; }

bool has_image_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".tif" || ext == ".tiff" ||
         ext == ".webp";
}

namespace {

/// True when `s` is already a clean relative path: no leading '/', no empty, "." or ".."
/// segment. Almost every list-file line is; only the rest pays for full normalisation.
bool is_clean_relative(std::string_view s) {
  if (s.empty() || s.front() == '/') return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('/', start);
    if (end == std::string_view::npos) end = s.size();
    const std::string_view seg = s.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

std::string relative_inside(const fs::path& root, const std::string& entry) {
  if (is_clean_relative(entry)) return entry;
  if (entry.empty()) return {};
  const fs::path p(entry);
  fs::path rel;
  if (p.is_absolute()) {
    rel = p.lexically_normal().lexically_relative(root.lexically_normal());
  } else {
    rel = p.lexically_normal();
  }
  const std::string s = rel.generic_string();
  if (s.empty() || s == "." || rel.is_absolute()) return {};
  if (s == ".." || s.rfind("../", 0) == 0) return {};
  if (!s.empty() && s.back() == '/') return {};  // a folder, not a file
  return s;
}

std::string join_lines(const std::vector<std::string>& items, size_t begin, size_t end) {
  size_t bytes = 0;
  for (size_t i = begin; i < end; ++i) bytes += items[i].size() + 1;
  std::string out;
  out.reserve(bytes);
  for (size_t i = begin; i < end; ++i) {
    out += items[i];
    out += '\n';
  }
  return out;
}

std::vector<std::string> read_lines(const fs::path& file) {
  // Line by line: a million-line list never exists twice in memory (text and vector).
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ExitCode::input_unreadable, fmt::format("{}: cannot open: {}", file.string(), std::strerror(errno)));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  if (in.bad()) throw Error(ExitCode::input_unreadable, fmt::format("{}: read failed", file.string()));
  lines.shrink_to_fit();
  return lines;
}

void write_lines_atomic(const fs::path& path, const std::vector<std::string>& items, size_t begin, size_t end) {
  write_file_atomic(path, [&](std::ostream& out) {
    for (size_t i = begin; i < end; ++i) {
      out.write(items[i].data(), static_cast<std::streamsize>(items[i].size()));
      out.put('\n');
    }
  }, TemporaryName::fixed);  // plan files are written under the work-dir lock: one writer
}

std::string lines_hash(const std::vector<std::string>& items) {
  boost::crc_32_type crc;
  size_t bytes = 0;
  for (const std::string& item : items) {
    crc.process_bytes(item.data(), item.size());
    crc.process_byte('\n');
    bytes += item.size() + 1;
  }
  return fmt::format("crc32:{:08x}:{}", crc.checksum(), bytes);
}

namespace {

const char* type_name(fs::file_type type) {
  switch (type) {
    case fs::file_type::directory: return "directory";
    case fs::file_type::fifo: return "fifo";
    case fs::file_type::socket: return "socket";
    case fs::file_type::block: return "block device";
    case fs::file_type::character: return "character device";
    case fs::file_type::symlink: return "symlink";
    case fs::file_type::not_found: return "not found";
    default: return "unknown type";
  }
}

}  // namespace

std::string input_file_problem(const fs::path& canonical_root, const fs::path& path, fs::file_type own_type) {
  if (own_type == fs::file_type::regular) return "";
  if (own_type != fs::file_type::symlink) return fmt::format("not a regular file ({})", type_name(own_type));
  if (std::string reason = outside_canonical_root_reason(canonical_root, path); !reason.empty()) return reason;
  std::error_code ec;
  const fs::file_type target = fs::status(path, ec).type();
  if (ec) return fmt::format("cannot resolve: {}", ec.message());
  if (target != fs::file_type::regular) return fmt::format("not a regular file (symlink to a {})", type_name(target));
  return "";
}

namespace {

[[noreturn]] void unreadable_folder(const fs::path& folder, const std::error_code& ec) {
  throw Error(ExitCode::input_unreadable, fmt::format("{}: cannot read folder: {}", folder.string(), ec.message()));
}

}  // namespace

ItemList scan_folder(const fs::path& folder, bool (*wanted)(const fs::path& name)) {
  ItemList list;
  list.root = folder;
  const fs::path real_root = canonical_root(folder);
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, fs::directory_options::none, ec), end;
  if (ec) unreadable_folder(folder, ec);
  const std::string prefix = folder.generic_string();
  const size_t cut = prefix.size() + (prefix.empty() || prefix.back() == '/' ? 0 : 1);
  for (; it != end; it.increment(ec)) {
    if (ec) unreadable_folder(folder, ec);
    const fs::directory_entry& entry = *it;
    const fs::path& p = entry.path();
    // The entry's own type comes from the directory listing (d_type), so the plain files and
    // folders that make up a dataset cost no system call; only the rest is looked at closely.
    // (directory_entry::status() would stat every entry; is_directory() and the like do not.)
    const bool link = entry.is_symlink(ec);
    if (ec) {
      // Gone or unreadable since the folder was listed: say so, and keep scanning the rest.
      list.rejected.push_back({0, p.generic_string().substr(cut), fmt::format("cannot read: {}", ec.message())});
      continue;
    }
    if (!link && entry.is_directory(ec)) {
      // Hidden folders (.git, .cache) are never datasets.
      if (p.filename().string().rfind('.', 0) == 0) it.disable_recursion_pending();
      continue;
    }
    const bool wanted_name = wanted(p);
    if (!wanted_name && !link) continue;
    std::string rel = p.generic_string().substr(cut);
    if (rel.find('\n') != std::string::npos) {
      list.rejected.push_back({0, std::move(rel), "file name contains a newline"});
      continue;
    }
    if (!link && entry.is_regular_file(ec)) {
      list.items.push_back(std::move(rel));
      continue;
    }
    const fs::file_type own = link ? fs::file_type::symlink : entry.symlink_status(ec).type();
    if (!wanted_name) {
      // A folder link is not followed: one that stays inside is scanned where it really is;
      // one that leads out is said, so that the files behind it are not missed unawares.
      if (fs::is_directory(fs::status(p, ec)))
        if (std::string reason = outside_canonical_root_reason(real_root, p); !reason.empty())
          list.rejected.push_back({0, std::move(rel), fmt::format("{}; folder not scanned", reason)});
      continue;
    }
    if (std::string reason = input_file_problem(real_root, p, own); !reason.empty()) {
      list.rejected.push_back({0, std::move(rel), std::move(reason)});
      continue;
    }
    list.items.push_back(std::move(rel));
  }
  std::sort(list.items.begin(), list.items.end());
  std::sort(list.rejected.begin(), list.rejected.end(),
            [](const RejectedItem& a, const RejectedItem& b) { return a.entry < b.entry; });
  return list;
}

namespace {

/// An item listed twice would be processed twice and collide in the output: keep the first,
/// reject the later ones naming both lines. Sorting indices keeps memory small at 1M items.
void drop_duplicates(ItemList& list, const std::vector<int64_t>& lines) {
  std::vector<uint32_t> order(list.items.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const int c = list.items[a].compare(list.items[b]);
    return c != 0 ? c < 0 : a < b;
  });
  std::vector<bool> duplicate(list.items.size(), false);
  bool any = false;
  for (size_t k = 1; k < order.size(); ++k) {
    if (list.items[order[k]] != list.items[order[k - 1]]) continue;
    // order[k - 1] is the first occurrence or itself a duplicate of it; find the first.
    size_t first = k - 1;
    while (first > 0 && duplicate[order[first]]) --first;
    duplicate[order[k]] = true;
    any = true;
    list.rejected.push_back({lines[order[k]], list.items[order[k]],
                             fmt::format("listed twice (first on line {})", lines[order[first]])});
  }
  if (!any) return;
  std::sort(list.rejected.begin(), list.rejected.end(),
            [](const RejectedItem& a, const RejectedItem& b) { return a.line < b.line; });
  size_t out = 0;
  for (size_t i = 0; i < list.items.size(); ++i) {
    if (duplicate[i]) continue;
    if (out != i) list.items[out] = std::move(list.items[i]);
    ++out;
  }
  list.items.resize(out);
}

ItemList read_list_file(const fs::path& file, const fs::path& root) {
  ItemList list;
  list.from_list_file = true;
  list.root = root.empty() ? file.parent_path() : root;
  std::vector<std::string> lines;
  try {
    lines = read_lines(file);
  } catch (const Error& e) {
    throw Error(ExitCode::input_unreadable, e.what());
  }
  // Editors on Windows start a UTF-8 file with a byte order mark; it is not part of a name.
  if (!lines.empty() && lines.front().rfind("\xEF\xBB\xBF", 0) == 0) lines.front().erase(0, 3);
  // No system call per entry: a list names up to millions of files, often on a network
  // filesystem, and the worker checks each file by input_file_problem() before opening it.
  list.items.reserve(lines.size());
  std::vector<int64_t> lines_of_items;
  lines_of_items.reserve(lines.size());
  int64_t line_no = 0;
  for (std::string& line : lines) {
    ++line_no;
    // Trailing blanks are never part of a real file name in a hand-made list.
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    // Almost every line is already clean: move it instead of copying, so a million-line list
    // is held once, not twice, while it is read. A clean line is its own entry text.
    const bool clean = is_clean_relative(line);
    std::string rel = clean ? std::move(line) : relative_inside(list.root, line);
    if (rel.empty()) {
      list.rejected.push_back({line_no, line, fmt::format("outside the input root '{}'", list.root.string())});
      continue;
    }
    list.items.push_back(std::move(rel));
    lines_of_items.push_back(line_no);
  }
  drop_duplicates(list, lines_of_items);
  return list;
}

}  // namespace

ItemList list_items(const fs::path& images, const fs::path& root) {
  std::error_code ec;
  const fs::file_status st = fs::status(images, ec);
  if (ec || !fs::exists(st))
    throw Error(ExitCode::input_unreadable, fmt::format("{}: input not found (input.images)", images.string()));
  if (fs::is_directory(st)) return scan_folder(images, has_image_extension);
  return read_list_file(images, root);
}

}  // namespace lv
