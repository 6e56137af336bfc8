#pragma once
/// Debian's deb822 control-file format (Packages, Translation-en, Sources): stanzas of
/// `Field: value` lines separated by blank lines; a line starting with a space or tab
/// continues the previous field. Read one stanza at a time, so a 50 MB Packages file never
/// sits in memory as a whole.
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lv::demo {

/// One stanza: its fields in file order. A value is the text after `Field:` with surrounding
/// blanks removed, then one "\n" + line per continuation line with its first blank removed
/// (so a Description keeps its " ." paragraph breaks as "." lines).
struct Stanza {
  std::vector<std::pair<std::string, std::string>> fields;
  int line = 0;  ///< the line its first field is on (1-based)

  /// The value of `name` (field names compare case-insensitively, as deb822 says), or nullopt.
  std::optional<std::string_view> find(std::string_view name) const;
};

/// Calls `on_stanza` for each stanza of `in`, in order. Comment lines (`#` in column 0) are
/// skipped. Throws lv::Error (input_unreadable) naming `name` and the line of a line that is
/// neither a field, a continuation nor blank, or a continuation with no field before it.
void read_deb822(std::istream& in, const std::string& name, const std::function<void(const Stanza&)>& on_stanza);

/// The text of a Debian Description value (Packages' Description or Translation-en's
/// Description-en): the synopsis, a blank line, then the long description with each " ."
/// line a paragraph break ("\n\n"), the lines of a paragraph joined by single spaces, and
/// verbatim lines (two leading blanks in the file) kept on lines of their own.
std::string description_text(std::string_view value);

/// The synopsis (first line) of a Description value.
std::string_view description_synopsis(std::string_view value);

}  // namespace lv::demo
