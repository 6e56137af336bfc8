// The deb822 stanza reader and Debian description text, on hand-written control text.
#include "deb822.h"

#include <sstream>

#include "catch.h"
#include "error.h"

using lv::demo::description_synopsis;
using lv::demo::description_text;
using lv::demo::read_deb822;
using lv::demo::Stanza;

namespace {

std::vector<Stanza> parse(const std::string& text) {
  std::istringstream in(text);
  std::vector<Stanza> out;
  read_deb822(in, "Packages", [&](const Stanza& s) { out.push_back(s); });
  return out;
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::input_unreadable);
    return e.what();
  }
  FAIL("no lv::Error thrown");
  return "";
}

}  // namespace

TEST_CASE("stanzas are separated by blank lines and continuation lines join their field", "[deb822]") {
  const auto stanzas = parse(
      "Package: hello\n"
      "Description: greets\n"
      " the world\n"
      " .\n"
      "  verbatim\n"
      "Section: devel\n"
      "\n"
      "\n"
      "# a comment between stanzas\n"
      "Package: bye\r\n"
      "section: utils\r\n");
  REQUIRE(stanzas.size() == 2);
  CHECK(stanzas[0].line == 1);
  CHECK(stanzas[0].find("Package") == "hello");
  CHECK(stanzas[0].find("Description") == "greets\nthe world\n.\n verbatim");
  CHECK(stanzas[0].find("Section") == "devel");
  CHECK_FALSE(stanzas[0].find("Source"));
  CHECK(stanzas[1].line == 10);
  CHECK(stanzas[1].find("Package") == "bye");
  // Field names compare case-insensitively; CR of CRLF files is dropped.
  CHECK(stanzas[1].find("SECTION") == "utils");
}

TEST_CASE("a line that is neither a field nor a continuation is refused with its line", "[deb822]") {
  CHECK_THAT(error_of("Package: a\nno colon here\n"), Catch::Contains("Packages:2: neither 'Field: value' nor a continuation"));
  CHECK_THAT(error_of("\n continued\n"), Catch::Contains("Packages:2: a continuation line with no field before it"));
}

TEST_CASE("description text: synopsis, then paragraphs split at ' .' lines, verbatim lines kept apart", "[deb822]") {
  const std::string value =
      "chess engine\n"
      "A strong engine\n"
      "for chess.\n"
      ".\n"
      "Features:\n"
      " * fast\n"
      " * free\n"
      ".\n"
      "Last words.";
  CHECK(description_synopsis(value) == "chess engine");
  CHECK(description_text(value) ==
        "chess engine\n\nA strong engine for chess.\n\nFeatures:\n* fast\n* free\n\nLast words.");
  CHECK(description_text("only a synopsis") == "only a synopsis");
}
