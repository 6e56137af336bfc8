#include "path_guard.h"

#include <string>

#include "catch.h"
#include "test_util.h"

namespace fs = std::filesystem;
using lv::test::TempDir;
using lv::test::write_text;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("path_guard: plain files and links that stay inside the root pass", "[path_guard]") {
  TempDir dir;
  write_text(dir / "data" / "sub" / "a.txt", "x");
  fs::create_symlink("sub/a.txt", dir / "data" / "link.txt");
  fs::create_symlink("sub", dir / "data" / "folder_link");
  CHECK(lv::outside_root_reason(dir / "data", dir / "data" / "sub" / "a.txt") == "");
  CHECK(lv::outside_root_reason(dir / "data", dir / "data" / "link.txt") == "");
  CHECK(lv::outside_root_reason(dir / "data", dir / "data" / "folder_link" / "a.txt") == "");
}

TEST_CASE("path_guard: a link out of the root is refused naming where it leads", "[path_guard]") {
  TempDir dir;
  write_text(dir / "data" / "a.txt", "x");
  write_text(dir / "data2" / "b.txt", "x");  // a sibling whose name starts like the root's
  fs::create_symlink("../data2/b.txt", dir / "data" / "sibling.txt");
  fs::create_symlink("/dev/null", dir / "data" / "null.txt");
  const std::string sibling = lv::outside_root_reason(dir / "data", dir / "data" / "sibling.txt");
  CHECK(contains(sibling, "outside the input root"));
  CHECK(contains(sibling, fs::canonical(dir / "data2" / "b.txt").string()));
  CHECK(lv::outside_root_reason(dir / "data", dir / "data" / "null.txt") ==
        "symlink resolves outside the input root (/dev/null)");
}

TEST_CASE("path_guard: a dangling link is named as one", "[path_guard]") {
  TempDir dir;
  fs::create_directories(dir / "data");
  fs::create_symlink("gone.txt", dir / "data" / "dangling.txt");
  CHECK(lv::outside_root_reason(dir / "data", dir / "data" / "dangling.txt") == "dangling symlink");
}

// Found while using it for the folder scan (issue 7, case 11): the loop made the check throw
// std::filesystem::filesystem_error out of fs::exists() instead of giving a reason.
TEST_CASE("path_guard: a symlink loop is a reason, not an exception", "[path_guard]") {
  TempDir dir;
  fs::create_directories(dir / "data");
  fs::create_symlink("b", dir / "data" / "a");
  fs::create_symlink("a", dir / "data" / "b");
  std::string reason;
  REQUIRE_NOTHROW(reason = lv::outside_root_reason(dir / "data", dir / "data" / "a"));
  CHECK(reason == "symlink loop");
}

TEST_CASE("path_guard: a root that cannot be resolved keeps no trailing empty component", "[path_guard]") {
  TempDir dir;
  const fs::path missing = dir.path().string() + "/not/yet/";
  CHECK(lv::canonical_root(missing) == dir / "not" / "yet");
  CHECK(lv::canonical_root("/") == fs::path("/"));
}
