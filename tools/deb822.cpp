#include "deb822.h"

#include <fmt/core.h>

#include "error.h"

namespace lv::demo {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string_view> Stanza::find(std::string_view name) const {
  for (const auto& [field, value] : fields)
    if (iequals(field, name)) return std::string_view(value);
  return std::nullopt;
}

void read_deb822(std::istream& in, const std::string& name, const std::function<void(const Stanza&)>& on_stanza) {
  Stanza stanza;
  std::string line;
  auto flush = [&] {
    if (!stanza.fields.empty()) on_stanza(stanza);
    stanza.fields.clear();
  };
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) {
      flush();
      continue;
    }
    if (line[0] == '#') continue;
    if (is_blank(line[0])) {
      if (stanza.fields.empty())
        throw Error(ExitCode::input_unreadable,
                    fmt::format("{}:{}: a continuation line with no field before it", name, n));
      std::string& value = stanza.fields.back().second;
      value += '\n';
      value += std::string_view(line).substr(1);
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || trim(std::string_view(line).substr(0, colon)).size() != colon)
      throw Error(ExitCode::input_unreadable, fmt::format("{}:{}: neither 'Field: value' nor a continuation line", name, n));
    if (stanza.fields.empty()) stanza.line = n;
    stanza.fields.emplace_back(line.substr(0, colon), std::string(trim(std::string_view(line).substr(colon + 1))));
  }
  if (in.bad()) throw Error(ExitCode::input_unreadable, fmt::format("{}: read error", name));
  flush();
}

std::string_view description_synopsis(std::string_view value) { return trim(value.substr(0, value.find('\n'))); }

std::string description_text(std::string_view value) {
  const size_t first_break = value.find('\n');
  std::string out(description_synopsis(value));
  if (first_break == std::string_view::npos) return out;

  // Long description: each line here has had its first blank removed by read_deb822.
  std::string paragraph;
  bool verbatim_last = false;
  auto end_paragraph = [&] {
    if (paragraph.empty()) return;
    out += "\n\n";
    out += paragraph;
    paragraph.clear();
  };
  std::string_view rest = value.substr(first_break + 1);
  while (true) {
    const size_t eol = rest.find('\n');
    const std::string_view raw = rest.substr(0, eol);
    const std::string_view text = trim(raw);
    if (text == ".") {
      end_paragraph();
    } else if (!text.empty()) {
      const bool verbatim = !raw.empty() && is_blank(raw.front());
      if (!paragraph.empty()) paragraph += verbatim || verbatim_last ? '\n' : ' ';
      paragraph += text;
      verbatim_last = verbatim;
    }
    if (eol == std::string_view::npos) break;
    rest.remove_prefix(eol + 1);
  }
  end_paragraph();
  return out;
}

}  // namespace lv::demo
