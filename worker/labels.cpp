#include "labels.h"

#include <charconv>
#include <cmath>

#include <fmt/core.h>

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
  for_each_line(text, [&](int number, std::string_view line) {
    const auto fields = split_fields(line);
    if (fields.empty()) return;
    auto refuse = [&](std::string reason) { out.errors.push_back({number, std::move(reason)}); };
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
  std::error_code ec;
  if (auto yolo = yolo_label_path(image); yolo && fs::is_regular_file(*yolo, ec)) return yolo;
  fs::path sibling = sibling_label_path(image);
  if (fs::is_regular_file(sibling, ec)) return sibling;
  return std::nullopt;
}

std::string relabel_text(std::string_view text, const std::vector<int>& new_class) {
  std::string out;
  out.reserve(text.size() + 16);
  size_t start = 0;
  int number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    const bool has_newline = end != std::string_view::npos;
    if (!has_newline) end = text.size();
    std::string_view line = text.substr(start, end - start);
    const size_t index = static_cast<size_t>(number++);
    if (index < new_class.size() && new_class[index] >= 0) {
      // The same blanks split_fields() skips, '\r' included, or the new id lands before them.
      const size_t first = line.find_first_not_of(" \t\r");
      const size_t after = first == std::string_view::npos ? line.size() : line.find_first_of(" \t\r", first);
      out.append(line.substr(0, first == std::string_view::npos ? line.size() : first));
      out.append(std::to_string(new_class[index]));
      if (after != std::string_view::npos) out.append(line.substr(after));
    } else {
      out.append(line);
    }
    if (has_newline) out.push_back('\n');
    start = end + 1;
  }
  return out;
}

}  // namespace lv
