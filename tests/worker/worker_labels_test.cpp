// Label parsing and the YOLO label path rule (DESIGN §5).
#include <sys/stat.h>

#include "worker_catch.h"
#include "path_guard.h"
#include "labels.h"
#include "test_util.h"

using namespace lv;
namespace fs = std::filesystem;

namespace {
LabelFix to_class(int c) {
  LabelFix f;
  f.cls = c;
  return f;
}
}  // namespace

TEST_CASE("well-formed label lines give boxes with line numbers", "[worker][labels]") {
  const LabelFile f = parse_labels("0 0.5 0.5 0.2 0.4\r\n\r\n2 0.1 0.2 0.1 0.1\n  1.0 1 0 0.5 0.5  \n", 3);
  REQUIRE(f.errors.empty());
  REQUIRE(f.boxes.size() == 3);
  CHECK(f.boxes[0].cls == 0);
  CHECK(f.boxes[0].w == 0.2);
  CHECK(f.boxes[0].h == 0.4);
  CHECK(f.boxes[0].line == 1);
  CHECK(f.boxes[1].cls == 2);
  CHECK(f.boxes[1].line == 3);
  CHECK(f.boxes[2].cls == 1);  // "1.0" is an integral class id
  CHECK(f.boxes[2].cx == 1.0);
  CHECK(f.boxes[2].line == 4);
}

TEST_CASE("each malformed label line is refused with its line number and reason", "[worker][labels]") {
  const std::string text =
      "0 0.5 0.5 0.2\n"           // 1: too few
      "0 0.5 0.5 0.2 0.2 0.3\n"   // 2: too many
      "cat 0.5 0.5 0.2 0.2\n"     // 3: not a number
      "0 nan 0.5 0.2 0.2\n"       // 4: NaN
      "0 0.5 inf 0.2 0.2\n"       // 5: inf
      "3 0.5 0.5 0.2 0.2\n"       // 6: class out of range
      "-1 0.5 0.5 0.2 0.2\n"      // 7: negative class
      "1.5 0.5 0.5 0.2 0.2\n"     // 8: fractional class
      "0 1.2 0.5 0.2 0.2\n"       // 9: outside [0, 1]
      "0 0.5 0.5 0 0.2\n"         // 10: zero width
      "0 0.5 0.5 0.2 -0.1\n"      // 11: negative height
      "1 0.5 0.5 0.2 0.2x\n"      // 12: trailing garbage
      "2 0.5 0.5 0.2 0.2\n";      // 13: fine
  const LabelFile f = parse_labels(text, 3);
  REQUIRE(f.boxes.size() == 1);
  CHECK(f.boxes[0].line == 13);
  REQUIRE(f.errors.size() == 12);
  for (size_t i = 0; i < f.errors.size(); ++i) CHECK(f.errors[i].line == static_cast<int>(i + 1));
  CHECK(f.errors[0].reason == "expected 5 fields (class cx cy w h), got 4");
  CHECK(f.errors[1].reason == "expected 5 fields (class cx cy w h), got 6");
  CHECK(f.errors[2].reason == "class 'cat' is not a number");
  CHECK(f.errors[3].reason == "cx 'nan' is not a finite number");
  CHECK(f.errors[4].reason == "cy 'inf' is not a finite number");
  CHECK(f.errors[5].reason == "class id '3' is not an integer in [0, 2]");
  CHECK(f.errors[6].reason == "class id '-1' is not an integer in [0, 2]");
  CHECK(f.errors[7].reason == "class id '1.5' is not an integer in [0, 2]");
  CHECK(f.errors[8].reason == "cx 1.2 is outside [0, 1]");
  CHECK(f.errors[9].reason == "zero-size box (w 0, h 0.2)");
  CHECK(f.errors[10].reason == "h -0.1 is outside [0, 1]");
  CHECK(f.errors[11].reason == "h '0.2x' is not a number");
}

TEST_CASE("empty label text has no boxes and no errors", "[worker][labels]") {
  CHECK(parse_labels("", 2).boxes.empty());
  CHECK(parse_labels("\n \n", 2).errors.empty());
}

TEST_CASE("the YOLO label path replaces the last images/JPEGImages folder", "[worker][labels]") {
  CHECK(yolo_label_path("data/indoor/day/JPEGImages/a.jpg") == fs::path("data/indoor/day/labels/a.txt"));
  CHECK(yolo_label_path("ds/images/train/images/x.PNG") == fs::path("ds/images/train/labels/x.txt"));
  CHECK(yolo_label_path("images/images.jpg") == fs::path("labels/images.txt"));
  CHECK_FALSE(yolo_label_path("ds/train/x.png").has_value());
  CHECK_FALSE(yolo_label_path("images.jpg").has_value());
  CHECK(sibling_label_path("ds/train/x.y.png") == fs::path("ds/train/x.y.txt"));
}

TEST_CASE("find_label_file prefers the YOLO path, then the sibling .txt", "[worker][labels]") {
  test::TempDir dir;
  const fs::path image = dir / "set/images/a b é.jpg";
  test::write_text(image, "x");
  CHECK_FALSE(find_label_file(image).has_value());
  test::write_text(dir / "set/images/a b é.txt", "0 0.5 0.5 0.1 0.1\n");
  CHECK(find_label_file(image) == dir / "set/images/a b é.txt");
  test::write_text(dir / "set/labels/a b é.txt", "0 0.5 0.5 0.1 0.1\n");
  CHECK(find_label_file(image) == dir / "set/labels/a b é.txt");
}

TEST_CASE("fix_label_text replaces only the class field of the chosen lines", "[worker][labels]") {
  CHECK(fix_label_text("0 0.5 0.5 0.2 0.2\n  1 0.1 0.1 0.1 0.1\r\nbad line\n", {{}, to_class(12)}) ==
        "0 0.5 0.5 0.2 0.2\n  12 0.1 0.1 0.1 0.1\r\nbad line\n");
  CHECK(fix_label_text("3 0.5 0.5 0.2 0.2", {to_class(0)}) == "0 0.5 0.5 0.2 0.2");
}

TEST_CASE("fix_label_text moves boxes, removes lines and appends new ones", "[worker][labels]") {
  LabelFix move;
  move.box = std::array<double, 4>{0.25, 0.125, 0.5, 0.0625};
  LabelFix move_and_relabel = move;
  move_and_relabel.cls = 4;
  LabelFix drop;
  drop.remove = true;
  const std::string text = "\xEF\xBB\xBF" "0 0.5 0.5 0.2 0.2\n\t1 0.1 0.1 0.1 0.1\r\n2 0.3 0.3 0.1 0.1\n3 0.9 0.9 0.1 0.1";
  CHECK(fix_label_text(text, {drop, move, move_and_relabel}) ==
        "\xEF\xBB\xBF\t1 0.250000 0.125000 0.500000 0.062500\r\n4 0.250000 0.125000 0.500000 0.062500\n3 0.9 0.9 0.1 0.1");
  // Appended lines start on a line of their own.
  CHECK(fix_label_text("3 0.9 0.9 0.1 0.1", {}, {"1 0.5 0.5 0.5 0.5"}) == "3 0.9 0.9 0.1 0.1\n1 0.5 0.5 0.5 0.5\n");
  CHECK(fix_label_text("", {}, {"1 0.5 0.5 0.5 0.5", "0 0.1 0.2 0.3 0.4"}) ==
        "1 0.5 0.5 0.5 0.5\n0 0.1 0.2 0.3 0.4\n");
  CHECK(fix_label_text("0 0.5 0.5 0.2 0.2\n", {drop}) == "");
  CHECK(yolo_line(7, {1.0 / 3, 0.5, 0.25, 1.0}) == "7 0.333333 0.500000 0.250000 1.000000");
}

TEST_CASE("a label line that is not UTF-8 is one refused line and the rest are kept", "[worker][labels][bytes]") {
  const LabelFile f = parse_labels("0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2 \xe9t\xe9\n2 0.1 0.1 0.1 0.1\n", 3);
  REQUIRE(f.boxes.size() == 2);
  CHECK(f.boxes[1].line == 3);
  REQUIRE(f.errors.size() == 1);
  CHECK(f.errors[0].line == 2);
  CHECK(f.errors[0].reason == "not UTF-8 text: '1 0.5 0.5 0.2 0.2 \\xE9t\\xE9'");
}

TEST_CASE("a UTF-8 byte order mark does not cost the first box and survives relabelling", "[worker][labels]") {
  const std::string text = "\xEF\xBB\xBF" "0 0.5 0.5 0.2 0.2\n1 0.1 0.1 0.1 0.1\n";
  const LabelFile f = parse_labels(text, 3);
  CHECK(f.errors.empty());
  REQUIRE(f.boxes.size() == 2);
  CHECK(f.boxes[0].cls == 0);
  CHECK(f.boxes[0].line == 1);
  CHECK(fix_label_text(text, {to_class(2), {}}) == "\xEF\xBB\xBF" "2 0.5 0.5 0.2 0.2\n1 0.1 0.1 0.1 0.1\n");
}

TEST_CASE("a label path that is a folder, a FIFO or a link out of the root is found and refused", "[worker][labels]") {
  lv::test::TempDir dir;
  const fs::path root = dir / "data";
  lv::test::write_text(root / "set/images/a.jpg", "x");
  lv::test::write_text(root / "set/images/b.jpg", "x");
  lv::test::write_text(root / "set/images/c.jpg", "x");
  lv::test::write_text(root / "set/images/d.jpg", "x");
  lv::test::write_text(root / "set/images/e.jpg", "x");
  lv::test::write_text(dir / "secret.txt", "0 0.5 0.5 0.5 0.5\n");
  lv::test::write_text(root / "set/labels/e.txt", "0 0.5 0.5 0.5 0.5\n");
  fs::create_directories(root / "set/labels/a.txt");
  REQUIRE(::mkfifo((root / "set/labels/b.txt").c_str(), 0644) == 0);
  fs::create_symlink(dir / "secret.txt", root / "set/labels/c.txt");
  fs::create_symlink(root / "set/labels/nowhere.txt", root / "set/labels/d.txt");
  const fs::path croot = canonical_root(root);

  // Before, only regular files were found: a folder or FIFO meant "no labels", verdict correct.
  REQUIRE(find_label_file(root / "set/images/a.jpg") == root / "set/labels/a.txt");
  REQUIRE(find_label_file(root / "set/images/b.jpg") == root / "set/labels/b.txt");
  CHECK(label_file_refusal(croot, root / "set/labels/a.txt") == "is a folder, not a file");
  CHECK(label_file_refusal(croot, root / "set/labels/b.txt") == "is a FIFO, not a file");
  CHECK(label_file_refusal(croot, root / "set/labels/c.txt") ==
        "symlink resolves outside the input root (" + fs::canonical(dir / "secret.txt").string() + ")");
  REQUIRE(find_label_file(root / "set/images/d.jpg") == root / "set/labels/d.txt");
  CHECK(label_file_refusal(croot, root / "set/labels/d.txt") == "dangling symlink");
  CHECK(label_file_refusal(croot, root / "set/labels/e.txt") == "");
}

// Found by fuzz/label_parser_fuzz.cpp: parse_labels() skips a leading '\r' (LF CR line ends),
// relabel_text() (now fix_label_text()) did not, and put the new class before it: "0\r1 0.5 ..." has six fields, so
// the corrected label file lost that box.
TEST_CASE("fix_label_text keeps a box whose line starts with a carriage return", "[worker][labels]") {
  const std::string text = " 0\n\r1\t0.5\t0.5\t1\t1";
  REQUIRE(parse_labels(text, 3).boxes.size() == 1);
  const std::string relabelled = fix_label_text(text, {{}, to_class(0)});
  CHECK(relabelled == " 0\n\r0\t0.5\t0.5\t1\t1");
  const LabelFile again = parse_labels(relabelled, 3);
  REQUIRE(again.boxes.size() == 1);
  CHECK(again.boxes[0].cls == 0);
  CHECK(again.boxes[0].line == 2);
}
