#include "yaml_edit.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include "atomic_file.h"
#include "error.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

Error edit_error(const fs::path& file, int line, const std::string& what) {
  return usage_error(line > 0 ? fmt::format("{}:{}: {}", file.string(), line, what) : fmt::format("{}: {}", file.string(), what));
}

/// The end (exclusive) of the scalar that starts at `pos`: a quoted one ends at its closing
/// quote; a plain one before " #" or the end of its line, trailing blanks left out.
size_t scalar_end(const std::string& text, size_t pos) {
  const char q = text[pos];
  if (q == '"' || q == '\'') {
    for (size_t i = pos + 1; i < text.size(); ++i) {
      if (q == '"' && text[i] == '\\') {
        ++i;
        continue;
      }
      if (text[i] == q) {
        if (q == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
          ++i;  // '' inside single quotes
          continue;
        }
        return i + 1;
      }
    }
    return std::string::npos;
  }
  size_t end = pos;
  while (end < text.size() && text[end] != '\n' && text[end] != '\r' &&
         !(text[end] == '#' && end > pos && (text[end - 1] == ' ' || text[end - 1] == '\t')))
    ++end;
  while (end > pos && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
  return end;
}

size_t line_start(const std::string& text, size_t pos) {
  const size_t nl = text.rfind('\n', pos == 0 ? 0 : pos - 1);
  return pos == 0 || nl == std::string::npos ? 0 : nl + 1;
}

size_t next_line(const std::string& text, size_t pos) {
  const size_t nl = text.find('\n', pos);
  return nl == std::string::npos ? text.size() : nl + 1;
}

}  // namespace

std::string set_yaml_value(const std::string& text, const std::string& section, const std::string& key,
                           const std::string& value, const fs::path& file) {
  // A byte-order mark stays where it is; the positions below are the text's after it.
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0)
    return text.substr(0, 3) + set_yaml_value(text.substr(3), section, key, value, file);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw edit_error(file, e.mark.line + 1, fmt::format("not valid YAML: {}", e.msg));
  }
  if (!root.IsMap() && !root.IsNull()) throw edit_error(file, 0, "the config is not a mapping of sections");
  std::string out;
  const bool has_section = root.IsMap() && root[section];
  const YAML::Node sec = has_section ? root[section] : YAML::Node();
  if (!has_section || sec.IsNull()) {
    if (has_section) {
      // "section:" with nothing under it: the key goes on the line after it.
      YAML::Mark section_mark;
      for (auto it = root.begin(); it != root.end(); ++it)
        if (it->first.IsScalar() && it->first.Scalar() == section) section_mark = it->first.Mark();
      const size_t at = next_line(text, static_cast<size_t>(std::max(0, section_mark.pos)));
      out = text.substr(0, at) + (at == text.size() && !text.empty() && text.back() != '\n' ? "\n" : "") +
            fmt::format("  {}: {}\n", key, value) + text.substr(at);
    } else {
      out = text;
      if (!out.empty() && out.back() != '\n') out += '\n';
      out += fmt::format("{}:\n  {}: {}\n", section, key, value);
    }
  } else {
    if (!sec.IsMap()) throw edit_error(file, sec.Mark().line + 1, fmt::format("{}: expected a mapping", section));
    if (sec.Style() == YAML::EmitterStyle::Flow)
      throw edit_error(file, sec.Mark().line + 1,
                       fmt::format("{}: written in flow style ({{...}}); write it as a block to let this tool edit it",
                                   section));
    const YAML::Node old = sec[key];
    YAML::Mark key_mark;
    for (auto it = sec.begin(); it != sec.end(); ++it)
      if (it->first.IsScalar() && it->first.Scalar() == key) key_mark = it->first.Mark();
    if (old && old.Mark().pos < key_mark.pos)  // an alias: the value stands elsewhere
      throw edit_error(file, key_mark.line + 1,
                       fmt::format("{}.{}: an anchor, alias, tag or block scalar; write a plain value", section, key));
    if (old) {
      if (!old.IsScalar())
        throw edit_error(file, old.Mark().line + 1, fmt::format("{}.{}: expected a single value", section, key));
      const size_t pos = static_cast<size_t>(old.Mark().pos);
      if (pos >= text.size() || text[pos] == '|' || text[pos] == '>' || text[pos] == '*' || text[pos] == '&' ||
          text[pos] == '!')
        throw edit_error(file, old.Mark().line + 1,
                         fmt::format("{}.{}: an anchor, alias, tag or block scalar; write a plain value", section, key));
      const size_t end = scalar_end(text, pos);
      if (end == std::string::npos) throw edit_error(file, old.Mark().line + 1, fmt::format("{}.{}: unterminated quote", section, key));
      out = text.substr(0, pos) + value + text.substr(end);
    } else {
      // Before the section's first key, at its indentation.
      const YAML::Node first = sec.begin()->first;
      const size_t at = line_start(text, static_cast<size_t>(first.Mark().pos));
      out = text.substr(0, at) + std::string(static_cast<size_t>(first.Mark().column), ' ') +
            fmt::format("{}: {}\n", key, value) + text.substr(at);
    }
  }
  // The result must be the old config with that one value changed: both without that key (and
  // without the section when nothing else is in it) must be the same tree.
  YAML::Node got;
  try {
    got = YAML::Load(out);
  } catch (const YAML::Exception& e) {
    throw edit_error(file, e.mark.line + 1, fmt::format("cannot set {}.{} here without breaking the file: {}", section, key, e.msg));
  }
  const auto without_key = [&](const YAML::Node& tree) {
    YAML::Node copy = YAML::Clone(tree.IsMap() ? tree : YAML::Node(YAML::NodeType::Map));
    const YAML::Node& view = copy;
    if (view[section] && view[section].IsMap()) {
      copy[section].remove(key);
      if (copy[section].size() == 0) copy.remove(section);
    } else if (view[section]) {
      copy.remove(section);  // "section:" with nothing under it
    }
    return YAML::Dump(copy);
  };
  const YAML::Node& result = got;
  if (without_key(root) != without_key(got) || !result[section] || !result[section][key] ||
      result[section][key].Scalar() != value)
    throw edit_error(file, 0, fmt::format("cannot set {}.{} in place (its layout is unusual); set it by hand to {}",
                                          section, key, value));
  return out;
}

void set_yaml_value_in_file(const fs::path& file, const std::string& section, const std::string& key,
                            const std::string& value) {
  // A linked config is edited where it lies, keeping its mode; a read-only one is left alone.
  std::error_code ec;
  const fs::path target = fs::canonical(file, ec);
  if (ec) throw usage_error(fmt::format("{}: cannot resolve: {}", file.string(), ec.message()));
  const fs::perms mode = fs::status(target).permissions();
  // Its mode says read-only (even to root, who may write anything), or we may not write it.
  const bool read_only = (mode & fs::perms::owner_write) == fs::perms::none;
  if (read_only || ::access(target.c_str(), W_OK) != 0)
    throw usage_error(fmt::format("{}: not writable ({}); set {}.{}: {} by hand, or use --test-only", target.string(),
                                  read_only ? "its mode is read-only" : std::strerror(errno), section, key, value));
  const std::string text = read_file(target);
  write_file_atomic(target, set_yaml_value(text, section, key, value, file));
  fs::permissions(target, mode, ec);
  if (ec) throw Error(ExitCode::failed, fmt::format("{}: cannot restore its mode: {}", target.string(), ec.message()));
}

}  // namespace lv
