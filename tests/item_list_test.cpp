#include "item_list.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "catch.h"
#include "error.h"
#include "run_state.h"
#include "test_util.h"

namespace fs = std::filesystem;
using lv::test::TempDir;
using lv::test::write_text;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("item_list: image extensions in any case", "[item_list]") {
  for (const char* name : {"a.jpg", "a.JPG", "a.jpeg", "a.Jpeg", "a.png", "a.Png", "a.bmp", "a.tif", "a.TIFF", "a.webp",
                           "dir.d/a.WebP"}) {
    INFO(name);
    CHECK(lv::has_image_extension(name));
  }
  for (const char* name : {"a.txt", "a.gif", "a.jpg.txt", "jpg", "a", ".jpg", "a.jp", "a.pngx", "dir.jpg/a"}) {
    INFO(name);
    CHECK_FALSE(lv::has_image_extension(name));
  }
}

TEST_CASE("item_list: a folder is scanned recursively, sorted bytewise, '/'-separated", "[item_list]") {
  TempDir dir;
  const fs::path data = dir / "data";
  for (const char* f : {"b.JPG", "a.jpg", "Z.png", "sub/deep/c.Png", "sub/d.webp", "sub/e.tiff", "a-b.jpeg", "a b.bmp",
                        "notes.txt", "sub/labels.txt", "sub/readme", ".hidden/x.jpg", "sub/.cache/y.png"})
    write_text(data / f, "x");
  fs::create_directories(data / "empty");
  fs::create_directories(data / "folder.jpg");  // a folder with an image's name is not an item

  const lv::ItemList list = lv::list_items(data);
  CHECK_FALSE(list.from_list_file);
  CHECK(list.root == data);
  CHECK(list.rejected.empty());
  // Bytewise: ' ' (0x20) < '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < 'Z' < 'a' < 'b' < 's'.
  CHECK(list.items == Strings{"Z.png", "a b.bmp", "a-b.jpeg", "a.jpg", "b.JPG", "sub/d.webp", "sub/deep/c.Png",
                              "sub/e.tiff"});
}

TEST_CASE("item_list: a folder given with a trailing slash gives the same items", "[item_list]") {
  TempDir dir;
  write_text(dir / "data" / "x" / "a.jpg", "x");
  const lv::ItemList list = lv::list_items(dir.path().string() + "/data/");
  CHECK(list.items == Strings{"x/a.jpg"});
}

TEST_CASE("item_list: names with spaces and UTF-8 are kept as they are", "[item_list]") {
  TempDir dir;
  const fs::path data = dir / "data";
  // "é" is 0xC3 0xA9 and "日" is 0xE6 0x97 0xA5: both sort after every ASCII byte.
  write_text(data / "caf\xC3\xA9 au lait.jpg", "x");
  write_text(data / "\xE6\x97\xA5\xE6\x9C\xAC/photo 1.png", "x");
  write_text(data / "zebra.jpg", "x");
  write_text(data / "my photos/a.jpg", "x");
  const lv::ItemList list = lv::list_items(data);
  CHECK(list.items == Strings{"caf\xC3\xA9 au lait.jpg", "my photos/a.jpg", "zebra.jpg", "\xE6\x97\xA5\xE6\x9C\xAC/photo 1.png"});
}

TEST_CASE("item_list: a list file keeps its order and skips blanks and comments", "[item_list]") {
  TempDir dir;
  const fs::path file = dir / "lists" / "items.txt";
  write_text(file,
             "# my dataset\r\n"
             "b/2.jpg\r\n"
             "\r\n"
             "a/1.jpg   \r\n"
             "   \n"
             "#a/commented.jpg\n"
             "./c/3.png\t\n"
             "d//4.jpg\n"
             "e/./f/5.jpg\n"
             "my photos/caf\xC3\xA9.jpg\n"
             "last.jpg");
  const lv::ItemList list = lv::list_items(file);
  CHECK(list.from_list_file);
  CHECK(list.root == dir / "lists");
  CHECK(list.rejected.empty());
  CHECK(list.items == Strings{"b/2.jpg", "a/1.jpg", "c/3.png", "d/4.jpg", "e/f/5.jpg", "my photos/caf\xC3\xA9.jpg",
                              "last.jpg"});
}

TEST_CASE("item_list: absolute list entries inside the root become relative", "[item_list]") {
  TempDir dir;
  const fs::path file = dir / "items.txt";
  write_text(file, (dir / "imgs" / "a.jpg").string() + "\n" + (dir / "b.jpg").string() + "\n" + dir.path().string() +
                       "/x/../c.jpg\n");
  const lv::ItemList list = lv::list_items(file);
  CHECK(list.rejected.empty());
  CHECK(list.items == Strings{"imgs/a.jpg", "b.jpg", "c.jpg"});
}

TEST_CASE("item_list: entries escaping the root are rejected with line and reason", "[item_list]") {
  TempDir dir;
  const fs::path file = dir / "list" / "items.txt";
  write_text(file,
             "ok/1.jpg\n"      // 1
             "../x.jpg\n"      // 2
             "/elsewhere/x.jpg\n"  // 3
             "# comment\n"     // 4
             "a/../../x.jpg\n" // 5
             "a/../ok2.jpg\n"  // 6: stays inside
             "..\n"            // 7
             ".\n"             // 8: the root itself is not an item
             "sub/\n");        // 9: a folder is not an item
  const lv::ItemList list = lv::list_items(file);
  CHECK(list.items == Strings{"ok/1.jpg", "ok2.jpg"});
  REQUIRE(list.rejected.size() == 6);
  const int64_t lines[] = {2, 3, 5, 7, 8, 9};
  const char* entries[] = {"../x.jpg", "/elsewhere/x.jpg", "a/../../x.jpg", "..", ".", "sub/"};
  for (size_t i = 0; i < 6; ++i) {
    INFO("rejected #" << i << ": " << list.rejected[i].entry << " (" << list.rejected[i].reason << ")");
    CHECK(list.rejected[i].line == lines[i]);
    CHECK(list.rejected[i].entry == entries[i]);
    CHECK_FALSE(list.rejected[i].reason.empty());
  }
  CHECK(contains(list.rejected[0].reason, (dir / "list").string()));
}

TEST_CASE("item_list: root replaces the list file's folder", "[item_list]") {
  TempDir dir;
  const fs::path file = dir / "lists" / "items.txt";
  const fs::path root = dir / "dataset";
  write_text(file, "a.jpg\n" + (root / "sub" / "b.jpg").string() + "\n" + (dir / "lists" / "c.jpg").string() + "\n");
  const lv::ItemList list = lv::list_items(file, root);
  CHECK(list.root == root);
  CHECK(list.items == Strings{"a.jpg", "sub/b.jpg"});
  REQUIRE(list.rejected.size() == 1);
  CHECK(list.rejected[0].line == 3);  // inside the list's folder but outside the root
}

TEST_CASE("item_list: a root given with a trailing slash still accepts absolute entries", "[item_list]") {
  TempDir dir;
  const fs::path file = dir / "items.txt";
  const fs::path root = dir.path().string() + "/dataset/";
  write_text(file, (dir / "dataset" / "sub" / "b.jpg").string() + "\n");
  const lv::ItemList list = lv::list_items(file, root);
  CHECK(list.rejected.empty());
  CHECK(list.items == Strings{"sub/b.jpg"});
}

TEST_CASE("item_list: missing input is an input error naming the path", "[item_list]") {
  TempDir dir;
  const fs::path missing = dir / "no" / "such" / "data";
  try {
    lv::list_items(missing);
    FAIL("list_items accepted a missing path");
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::input_unreadable);
    INFO(e.what());
    CHECK(contains(e.what(), missing.string()));
  }
}

TEST_CASE("item_list: an empty folder and an empty list give no items", "[item_list]") {
  TempDir dir;
  fs::create_directories(dir / "empty");
  CHECK(lv::list_items(dir / "empty").items.empty());
  write_text(dir / "list.txt", "");
  const lv::ItemList list = lv::list_items(dir / "list.txt");
  CHECK(list.items.empty());
  CHECK(list.rejected.empty());
}

TEST_CASE("item_list: relative_inside", "[item_list]") {
  const fs::path root = "/data/set";
  CHECK(lv::relative_inside(root, "a/b.jpg") == "a/b.jpg");
  CHECK(lv::relative_inside(root, "./a/b.jpg") == "a/b.jpg");
  CHECK(lv::relative_inside(root, "a//b.jpg") == "a/b.jpg");
  CHECK(lv::relative_inside(root, "a/x/../b.jpg") == "a/b.jpg");
  CHECK(lv::relative_inside(root, "/data/set/a/b.jpg") == "a/b.jpg");
  CHECK(lv::relative_inside(root, "/data/set/./a/../b.jpg") == "b.jpg");
  CHECK(lv::relative_inside("/data/set/", "/data/set/b.jpg") == "b.jpg");
  CHECK(lv::relative_inside(root, "") == "");
  CHECK(lv::relative_inside(root, ".") == "");
  CHECK(lv::relative_inside(root, "..") == "");
  CHECK(lv::relative_inside(root, "../x.jpg") == "");
  CHECK(lv::relative_inside(root, "a/../../x.jpg") == "");
  CHECK(lv::relative_inside(root, "/elsewhere/x.jpg") == "");
  CHECK(lv::relative_inside(root, "/data/setx/y.jpg") == "");  // a sibling sharing the prefix
  CHECK(lv::relative_inside(root, "/data/set") == "");         // the root itself
  CHECK(lv::relative_inside(root, "/data/set/../set/a.jpg") == "a.jpg");
  CHECK(lv::relative_inside(root, "a/") == "");                // a folder
  CHECK(lv::relative_inside(root, "..a/b.jpg") == "..a/b.jpg");  // a name starting with dots
}

TEST_CASE("item_list: join_lines and read_lines round trip", "[item_list]") {
  const Strings items = {"a/1.jpg", "b c/2.png", "caf\xC3\xA9.jpg", "d/4.jpg", "e.jpg"};
  CHECK(lv::join_lines(items, 0, items.size()) == "a/1.jpg\nb c/2.png\ncaf\xC3\xA9.jpg\nd/4.jpg\ne.jpg\n");
  CHECK(lv::join_lines(items, 1, 3) == "b c/2.png\ncaf\xC3\xA9.jpg\n");
  CHECK(lv::join_lines(items, 2, 2) == "");

  TempDir dir;
  lv::test::write_text(dir / "all.txt", lv::join_lines(items, 0, items.size()));
  CHECK(lv::read_lines(dir / "all.txt") == items);
  lv::test::write_text(dir / "part.txt", lv::join_lines(items, 3, 5));
  CHECK(lv::read_lines(dir / "part.txt") == Strings{"d/4.jpg", "e.jpg"});
  lv::test::write_text(dir / "empty.txt", "");
  CHECK(lv::read_lines(dir / "empty.txt").empty());
  // CRLF and a missing final newline are read too.
  lv::test::write_text(dir / "crlf.txt", "x\r\ny\r\n\r\nz");
  CHECK(lv::read_lines(dir / "crlf.txt") == Strings{"x", "y", "", "z"});
}

TEST_CASE("item_list: read_lines of a missing file throws naming it", "[item_list]") {
  TempDir dir;
  try {
    lv::read_lines(dir / "missing.txt");
    FAIL("read_lines accepted a missing file");
  } catch (const lv::Error& e) {
    CHECK(contains(e.what(), (dir / "missing.txt").string()));
  }
}

TEST_CASE("item_list: a scanned file name with a newline is rejected, not listed", "[item_list]") {
  TempDir dir;
  const fs::path data = dir / "data";
  write_text(data / "ok.jpg", "x");
  write_text(data / "bad\nname.jpg", "x");
  const lv::ItemList list = lv::list_items(data);
  CHECK(list.items == Strings{"ok.jpg"});
  REQUIRE(list.rejected.size() == 1);
  CHECK(list.rejected[0].entry == "bad\nname.jpg");
  CHECK(contains(list.rejected[0].reason, "newline"));
}

// A list file that names an item twice ("a.jpg", later "./a.jpg" or "a.jpg" again) is
// accepted today; every shard runs, and only the final merge fails ("merge: the item list
// holds 'a.jpg' twice", report.cpp). The listing should refuse the repeat up front, with its
// line, like any other bad entry (DESIGN §7/§8: each input once, no two writing one output).
TEST_CASE("item_list: an entry listed twice is rejected with its line", "[item_list]") {
  TempDir dir;
  const fs::path file = dir / "items.txt";
  write_text(file, "a.jpg\nb.jpg\n./a.jpg\n" + (dir / "b.jpg").string() + "\nc.jpg\n");
  const lv::ItemList list = lv::list_items(file);
  CHECK(list.items == Strings{"a.jpg", "b.jpg", "c.jpg"});
  REQUIRE(list.rejected.size() == 2);
  CHECK(list.rejected[0].line == 3);
  CHECK(list.rejected[1].line == 4);
}

TEST_CASE("item_list: lines_hash fingerprints the same bytes as the joined text", "[item_list]") {
  const std::vector<std::string> items{"a/b.jpg", "c d/é.png", "x.JPG"};
  CHECK(lv::lines_hash(items) == lv::content_hash("a/b.jpg\nc d/é.png\nx.JPG\n"));
  CHECK(lv::lines_hash({"a/b.jpg", "x.JPG"}) != lv::lines_hash(items));
}

TEST_CASE("item_list: write_lines_atomic writes a range and leaves no temporary file", "[item_list]") {
  lv::test::TempDir dir;
  const std::vector<std::string> items{"a.jpg", "b.jpg", "c.jpg", "d.jpg"};
  lv::write_lines_atomic(dir / "split.txt", items, 1, 3);
  CHECK(lv::test::read_text(dir / "split.txt") == "b.jpg\nc.jpg\n");
  CHECK(lv::read_lines(dir / "split.txt") == std::vector<std::string>{"b.jpg", "c.jpg"});
  CHECK_FALSE(std::filesystem::exists(dir / "split.txt.tmp"));
}

namespace {

/// The reason recorded for `entry`, or "(not rejected)".
std::string reason_for(const lv::ItemList& list, const std::string& entry) {
  for (const auto& r : list.rejected)
    if (r.entry == entry) return r.reason;
  return "(not rejected)";
}

/// A dataset folder beside a folder outside it, with every kind of entry a scan can meet.
struct HostileTree {
  TempDir dir;
  fs::path data = dir / "data";
  fs::path outside = dir / "outside";

  HostileTree() {
    write_text(data / "plain.jpg", "x");
    write_text(data / "sub" / "real.png", "x");
    write_text(outside / "secret.jpg", "x");
    write_text(outside / "folder" / "x.jpg", "x");
    fs::create_symlink(outside / "secret.jpg", data / "escape.jpg");          // a file outside
    fs::create_symlink(outside / "folder", data / "escape_dir");              // a folder outside
    fs::create_symlink("../outside/secret.jpg", data / "relative_escape.jpg");  // relative, still outside
    fs::create_symlink("sub/real.png", data / "alias.png");                   // inside: an item
    fs::create_symlink("sub", data / "sub_link");                             // inside: not followed
    fs::create_symlink("missing.jpg", data / "dangling.jpg");
    fs::create_symlink("/dev/zero", data / "zero.jpg");
    fs::create_symlink("loop_b.jpg", data / "loop_a.jpg");
    fs::create_symlink("loop_a.jpg", data / "loop_b.jpg");
    fs::create_symlink("sub", data / "folder_link.jpg");                      // an image name on a folder
    REQUIRE(mkfifo((data / "pipe.jpg").c_str(), 0600) == 0);
  }
};

}  // namespace

// Issue 7, case 11 (scan side): a symlink in the dataset that leads out of it must not make
// the outside file an input; it is refused and recorded with the place it leads to.
TEST_CASE("item_list: a folder scan refuses symlinks that resolve outside the input root, naming the target",
          "[item_list]") {
  HostileTree t;
  const lv::ItemList list = lv::list_items(t.data);
  CHECK(list.items == Strings{"alias.png", "plain.jpg", "sub/real.png"});
  const std::string canonical_secret = fs::canonical(t.outside / "secret.jpg").string();
  CHECK(contains(reason_for(list, "escape.jpg"), "outside the input root"));
  CHECK(contains(reason_for(list, "escape.jpg"), canonical_secret));
  CHECK(contains(reason_for(list, "relative_escape.jpg"), "outside the input root"));
  CHECK(contains(reason_for(list, "escape_dir"), "outside the input root"));
  for (const auto& r : list.rejected) {
    INFO(r.entry << ": " << r.reason);
    CHECK(r.line == 0);
    CHECK(r.where() == "folder scan");
  }
}

// Issue 7, case 12: these used to vanish from a folder scan without a word.
TEST_CASE("item_list: dangling symlinks, FIFOs, links to devices and loops in a folder scan are recorded, not dropped",
          "[item_list]") {
  HostileTree t;
  const lv::ItemList list = lv::list_items(t.data);
  CHECK(reason_for(list, "dangling.jpg") == "dangling symlink");
  CHECK(reason_for(list, "pipe.jpg") == "not a regular file (fifo)");
  CHECK(contains(reason_for(list, "zero.jpg"), "outside the input root (/dev/zero)"));
  CHECK(reason_for(list, "loop_a.jpg") == "symlink loop");
  CHECK(reason_for(list, "loop_b.jpg") == "symlink loop");
  CHECK(reason_for(list, "folder_link.jpg") == "not a regular file (symlink to a directory)");
  // Links that stay inside are not refused; a folder link is simply not followed (its target
  // is scanned where it is), so nothing is listed twice.
  CHECK(reason_for(list, "alias.png") == "(not rejected)");
  CHECK(reason_for(list, "sub_link") == "(not rejected)");
  // Sorted like the items, so that rejected_items.txt does not depend on directory order.
  CHECK(std::is_sorted(list.rejected.begin(), list.rejected.end(),
                       [](const lv::RejectedItem& a, const lv::RejectedItem& b) { return a.entry < b.entry; }));
}

TEST_CASE("item_list: a symlink to an ancestor folder does not make the scan loop", "[item_list]") {
  TempDir dir;
  const fs::path data = dir / "data";
  write_text(data / "a" / "b" / "x.jpg", "x");
  fs::create_symlink("..", data / "a" / "b" / "up");
  fs::create_symlink(data, data / "a" / "root");
  const lv::ItemList list = lv::list_items(data);
  CHECK(list.items == Strings{"a/b/x.jpg"});
  CHECK(list.rejected.empty());
}

// Case 11 for list files: today only the text of the line is checked, so a listed link (or a
// listed path through a linked folder) reaches anything on the machine.
TEST_CASE("item_list: list entries cost no system call: each file is judged by the worker, by the scan's rule",
          "[item_list]") {
  // A list names up to millions of files, often on a network filesystem: planning checks
  // entries lexically (inside the root, once), and the worker applies input_file_problem() to
  // each file before opening it (tests/worker: "an image that is a FIFO, a device link ...").
  HostileTree t;
  const fs::path file = t.data / "items.txt";
  write_text(file, "plain.jpg\nescape.jpg\npipe.jpg\n../outside.jpg\nplain.jpg\nnot_there_yet.jpg\n");
  const lv::ItemList list = lv::list_items(file);
  CHECK(list.items == Strings{"plain.jpg", "escape.jpg", "pipe.jpg", "not_there_yet.jpg"});
  REQUIRE(list.rejected.size() == 2);
  CHECK(list.rejected[0].line == 4);
  CHECK(contains(list.rejected[0].reason, "outside the input root"));
  CHECK(list.rejected[1].line == 5);
  CHECK(contains(list.rejected[1].reason, "listed twice"));
}

// Case 12: Windows editors start a UTF-8 file with EF BB BF; the first entry then became
// "\xEF\xBB\xBFa.jpg", an item that exists nowhere.
TEST_CASE("item_list: a UTF-8 byte order mark does not cost the list's first entry", "[item_list]") {
  TempDir dir;
  write_text(dir / "items.txt", "\xEF\xBB\xBF" "a.jpg\nb.jpg\n");
  CHECK(lv::list_items(dir / "items.txt").items == Strings{"a.jpg", "b.jpg"});
  write_text(dir / "commented.txt", "\xEF\xBB\xBF# my list\r\nc.jpg\r\n");
  const lv::ItemList commented = lv::list_items(dir / "commented.txt");
  CHECK(commented.items == Strings{"c.jpg"});
  CHECK(commented.rejected.empty());
}
