#include "labels.h"

#include <charconv>
#include <cmath>

#include <fmt/core.h>

#include "byte_text.h"
#include "path_guard.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

/// Parses a whole field as a double; nullopt when any character is left over.
std::optional<double> parse_number(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

/// The length of a UTF-8 byte order mark at the start of `text` (editors on Windows add one).
size_t bom_length(std::string_view text) { return text.substr(0, kUtf8Bom.size()) == kUtf8Bom ? kUtf8Bom.size() : 0; }

/// Splits text into lines without their '\n'.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  int number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    f(++number, text.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace

LabelFile parse_labels(std::string_view text, int num_classes) {
  static const char* const kNames[] = {"class", "cx", "cy", "w", "h"};
  LabelFile out;
  text.remove_prefix(bom_length(text));  // else the first class id reads "\xEF\xBB\xBF0", not a number
  for_each_line(text, [&](int number, std::string_view line) {
    auto refuse = [&](std::string reason) { out.errors.push_back({number, std::move(reason)}); };
    if (!is_valid_utf8(line)) {
      // Checked first, so every later message quotes UTF-8 only.
      refuse(fmt::format("not UTF-8 text: '{}'", printable(line)));
      return;
    }
    const auto fields = split_fields(line);
    if (fields.empty()) return;
    if (fields.size() != 5) {
      refuse(fmt::format("expected 5 fields (class cx cy w h), got {}", fields.size()));
      return;
    }
    double v[5];
    for (int i = 0; i < 5; ++i) {
      const auto n = parse_number(fields[i]);
      if (!n) {
        refuse(fmt::format("{} '{}' is not a number", kNames[i], fields[i]));
        return;
      }
      if (!std::isfinite(*n)) {
        refuse(fmt::format("{} '{}' is not a finite number", kNames[i], fields[i]));
        return;
      }
      v[i] = *n;
    }
    if (v[0] != std::floor(v[0]) || v[0] < 0 || v[0] >= num_classes) {
      refuse(fmt::format("class id '{}' is not an integer in [0, {}]", fields[0], num_classes - 1));
      return;
    }
    for (int i = 1; i < 5; ++i) {
      if (v[i] < 0.0 || v[i] > 1.0) {
        refuse(fmt::format("{} {} is outside [0, 1]", kNames[i], fields[i]));
        return;
      }
    }
    if (v[3] <= 0.0 || v[4] <= 0.0) {
      refuse(fmt::format("zero-size box (w {}, h {})", fields[3], fields[4]));
      return;
    }
    out.boxes.push_back({static_cast<int>(v[0]), v[1], v[2], v[3], v[4], number});
  });
  return out;
}

std::optional<fs::path> yolo_label_path(const fs::path& image) {
  std::vector<fs::path> parts(image.begin(), image.end());
  // The file name itself is never the folder to replace.
  for (size_t i = parts.size() - 1; i-- > 0;) {
    if (parts[i] == "images" || parts[i] == "JPEGImages") {
      parts[i] = "labels";
      fs::path out;
      for (const auto& p : parts) out /= p;
      return out.replace_extension(".txt");
    }
  }
  return std::nullopt;
}

fs::path sibling_label_path(const fs::path& image) { return fs::path(image).replace_extension(".txt"); }

std::optional<fs::path> find_label_file(const fs::path& image) {
  // Anything with the name counts, not only regular files: a folder, FIFO or dangling link
  // there is a broken label file to report (label_file_refusal), not "no labels".
  const auto present = [](const fs::path& p) {
    std::error_code ec;
    return fs::symlink_status(p, ec).type() != fs::file_type::not_found && !ec;
  };
  if (auto yolo = yolo_label_path(image); yolo && present(*yolo)) return yolo;
  fs::path sibling = sibling_label_path(image);
  if (present(sibling)) return sibling;
  return std::nullopt;
}

std::string label_file_refusal(const fs::path& canonical_root, const fs::path& label_file) {
  if (std::string why = outside_canonical_root_reason(canonical_root, label_file); !why.empty()) return why;
  std::error_code ec;
  // The type before any open(): opening a FIFO would block the worker for good.
  const fs::file_type type = fs::status(label_file, ec).type();
  if (ec) return fmt::format("cannot read: {}", ec.message());
  switch (type) {
    case fs::file_type::regular: return "";
    case fs::file_type::directory: return "is a folder, not a file";
    case fs::file_type::fifo: return "is a FIFO, not a file";
    case fs::file_type::socket: return "is a socket, not a file";
    case fs::file_type::block:
    case fs::file_type::character: return "is a device, not a file";
    default: return "is not a regular file";
  }
}

std::string yolo_line(int cls, const std::array<double, 4>& box) {
  return fmt::format("{} {:.6f} {:.6f} {:.6f} {:.6f}", cls, box[0], box[1], box[2], box[3]);
}

std::string fix_label_text(std::string_view text, const std::vector<LabelFix>& fixes,
                           const std::vector<std::string>& added) {
  std::string out;
  out.reserve(text.size() + 16 + 48 * added.size());
  // A byte order mark stays where it was, outside the first line's class id.
  size_t start = bom_length(text);
  out.append(text.substr(0, start));
  size_t number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    const bool has_newline = end != std::string_view::npos;
    if (!has_newline) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    const LabelFix* fix = number < fixes.size() ? &fixes[number] : nullptr;
    ++number;
    if (fix && fix->remove) continue;
    if (fix && (fix->cls >= 0 || fix->box)) {
      // The same blanks split_fields() skips, '\r' included, or the new id lands before them.
      const size_t first = line.find_first_not_of(" \t\r");
      const size_t after = first == std::string_view::npos ? line.size() : line.find_first_of(" \t\r", first);
      const std::string_view id = first == std::string_view::npos ? std::string_view() : line.substr(first, after - first);
      out.append(line.substr(0, first == std::string_view::npos ? line.size() : first));
      out.append(fix->cls >= 0 ? std::to_string(fix->cls) : std::string(id));
      if (fix->box) {
        const std::string fresh = yolo_line(0, *fix->box);
        out.append(fresh.substr(fresh.find(' ')));
        if (!line.empty() && line.back() == '\r') out.push_back('\r');
      } else if (after != std::string_view::npos) {
        out.append(line.substr(after));
      }
    } else {
      out.append(line);
    }
    if (has_newline) out.push_back('\n');
  }
  if (!added.empty() && !out.empty() && out.back() != '\n' && out.size() > bom_length(out)) out.push_back('\n');
  for (const std::string& line : added) {
    out.append(line);
    out.push_back('\n');
  }
  return out;
}

}  // namespace lv
