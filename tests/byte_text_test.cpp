#include "byte_text.h"

#include <string>

#include <nlohmann/json.hpp>

#include "catch.h"

using nlohmann::json;

TEST_CASE("bytes that are not UTF-8 round-trip through a JSON field, backslashes included", "[byte_text]") {
  for (const std::string& bytes : {std::string("a/\xff\xfe.png"), std::string("caf\xe9\\x41\\\\"),
                                  std::string("\xed\xa0\x80"), std::string("\xc0\xaf"), std::string("x\\", 2)}) {
    json record = json::object();
    lv::set_bytes_field(record, "path", bytes);
    const json back = json::parse(record.dump());
    CHECK(lv::get_bytes_field(back, "path") == bytes);
  }
  json plain = json::object();
  lv::set_bytes_field(plain, "path", "été\\x41");
  CHECK(plain == json{{"path", "été\\x41"}});  // UTF-8 is written as it is, without the flag
  CHECK(lv::get_bytes_field(plain, "path") == "été\\x41");
}

TEST_CASE("setting a UTF-8 value over an escaped one drops the stale flag", "[byte_text]") {
  // Before, the flag stayed and get_bytes_field turned "a\\x41" into "aA".
  json record = json::object();
  lv::set_bytes_field(record, "path", "\xff");
  lv::set_bytes_field(record, "path", "a\\x41");
  CHECK_FALSE(record.contains("path_escaped"));
  CHECK(lv::get_bytes_field(record, "path") == "a\\x41");
}

TEST_CASE("printable quotes invalid bytes and leaves UTF-8 alone", "[byte_text]") {
  CHECK(lv::printable("caf\xe9 \\") == "caf\\xE9 \\");
  CHECK(lv::printable("café") == "café");
  CHECK(lv::is_valid_utf8("café"));
  CHECK_FALSE(lv::is_valid_utf8("caf\xe9"));
}
