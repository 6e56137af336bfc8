// Output tree paths (DESIGN §7) and image records (common/report.h).
#include <optional>
#include <set>

#include "worker_catch.h"
#include "image_record.h"
#include "output_paths.h"
#include "byte_text.h"
#include "test_util.h"

using namespace lv;
namespace fs = std::filesystem;

TEST_CASE("output paths keep the item's folders under the verdict", "[worker][output]") {
  const std::string item = "indoor/day/JPEGImages/a b.jpg";
  CHECK(output_image_path("/o", "mislabeled", item) == fs::path("/o/mislabeled/indoor/day/JPEGImages/a b.jpg"));
  CHECK(output_label_path("/o", "mislabeled", item) == fs::path("/o/mislabeled/indoor/day/labels/a b.txt"));
  CHECK(original_label_path("/o", "mislabeled", item) ==
        fs::path("/o/mislabeled/indoor/day/labels_original/a b.txt"));
  // The YOLO rule looks at the item only, never at the output folder's own name.
  CHECK(output_label_path("/x/images/out", "correct", "flat/a.jpg") == fs::path("/x/images/out/correct/flat/a.txt"));
  CHECK(original_label_path("/o", "mislabeled", "flat/a.jpg") == fs::path("/o/mislabeled/flat/labels_original/a.txt"));
  CHECK(output_image_path("/o", "uncertain", "x.png") == fs::path("/o/uncertain/x.png"));
}

TEST_CASE("debug image names never collide", "[worker][output]") {
  const fs::path a = debug_image_path("/o", "d/a.png");
  const fs::path b = debug_image_path("/o", "d/a.jpg");
  const fs::path c = debug_image_path("/o", "d/a.png.jpg");
  CHECK(a == fs::path("/o/debug_images/d/a.png.jpg"));
  CHECK(a != b);
  CHECK(c != a);
  CHECK(c != b);
}

TEST_CASE("image records hold every report field", "[worker][output]") {
  const ClassMap classes = build_class_map({"cat", "dog"}, {"cat", "dog"}, {});
  ImageResult r;
  r.path = "a/b.jpg";
  r.shard = 3;
  r.width = 200;
  r.height = 100;
  r.label_file = "a/b.txt";
  r.labels = parse_labels("0 0.5 0.5 0.2 0.2\nbad\n", 2);
  BoxResult br;
  br.verdict = Verdict::mislabeled;
  br.reason = reason::kOtherClass;
  br.predicted = 1;
  br.suggested = 1;
  br.confidence = 0.9f;
  br.label_prob = 0.1f;
  br.probs = {0.1f, 0.9f};
  r.results = {br};
  r.missing = {{{20, 10, 60, 30}, 0, 0.95f, {}}};
  r.verdict = Verdict::mislabeled;
  const auto j = to_record(r, classes, true);
  CHECK(j["path"] == "a/b.jpg");
  CHECK(j["verdict"] == "mislabeled");
  CHECK(j["shard"] == 3);
  CHECK(j["error"].is_null());
  REQUIRE(j["boxes"].size() == 1);
  const auto& b = j["boxes"][0];
  CHECK(b["index"] == 0);
  CHECK(b["line"] == 1);
  CHECK(b["label"] == 0);
  CHECK(b["label_name"] == "cat");
  CHECK(b["verdict"] == "mislabeled");
  CHECK(b["reason"] == "other_class");
  CHECK(b["predicted_name"] == "dog");
  CHECK(b["suggested"] == 1);
  CHECK(b["suggested_name"] == "dog");
  CHECK(b["confidence"].get<double>() == Approx(0.9));
  CHECK(b["probabilities"].size() == 2);
  REQUIRE(j["missing"].size() == 1);
  CHECK(j["missing"][0]["class_name"] == "cat");
  CHECK(j["missing"][0]["box"][0].get<double>() == Approx(0.2));
  CHECK(j["missing"][0]["box"][3].get<double>() == Approx(0.2));
  REQUIRE(j["label_errors"].size() == 1);
  CHECK(j["label_errors"][0]["line"] == 2);
  CHECK_FALSE(to_record(r, classes, false)["boxes"][0].contains("probabilities"));

  const auto e = to_record(error_result("x.jpg", 1, "empty file"), classes, false);
  CHECK(e["verdict"] == "error");
  CHECK(e["error"] == "empty file");
  CHECK(e["boxes"].empty());
}

TEST_CASE("images sharing a stem keep their extension in their label names", "[worker][output]") {
  const std::string item = "set/JPEGImages/scene_1.jpg";
  CHECK(output_label_path("/o", "correct", item, true) == fs::path("/o/correct/set/labels/scene_1.jpg.txt"));
  CHECK(original_label_path("/o", "mislabeled", item, true) ==
        fs::path("/o/mislabeled/set/labels_original/scene_1.jpg.txt"));
  CHECK(output_label_path("/o", "correct", "flat/scene_1.png", true) == fs::path("/o/correct/flat/scene_1.png.txt"));
  CHECK(original_label_path("/o", "mislabeled", "flat/scene_1.png", true) ==
        fs::path("/o/mislabeled/flat/labels_original/scene_1.png.txt"));
}

TEST_CASE("the stem index finds the images that share a label path, from the input tree alone", "[worker][output]") {
  lv::test::TempDir dir;
  for (const char* name : {"set/images/scene_1.jpg", "set/images/scene_1.PNG", "set/images/scene_2.jpg",
                           "set/images/scene_2.txt", "set/images/notes.jpg.bak", "set/images/x.jpeg",
                           "other/scene_2.png", "voc/JPEGImages/a.jpg", "voc/images/a.png", "voc/images/b.png",
                           "flat/c.jpg", "flat/labels/c.png", "top.jpg", "mix/labels/d.jpg", "mix/images/d.png"})
    lv::test::write_text(dir / name, "x");
  StemIndex index(dir.path());
  CHECK(index.shares_label("set/images/scene_1.jpg"));
  CHECK(index.shares_label("set/images/scene_1.PNG"));
  CHECK_FALSE(index.shares_label("set/images/scene_2.jpg"));  // a .txt is no image
  CHECK_FALSE(index.shares_label("set/images/x.jpeg"));
  CHECK_FALSE(index.shares_label("other/scene_2.png"));       // another folder, another label path
  // JPEGImages/ and images/ both map to labels/a.txt.
  CHECK(index.shares_label("voc/JPEGImages/a.jpg"));
  CHECK(index.shares_label("voc/images/a.png"));
  CHECK_FALSE(index.shares_label("voc/images/b.png"));
  // flat/c.jpg -> flat/c.txt; flat/labels/c.png -> flat/labels/c.txt: no clash.
  CHECK_FALSE(index.shares_label("flat/c.jpg"));
  CHECK_FALSE(index.shares_label("top.jpg"));
  // An image inside labels/ keeps labels/d.txt beside it, as images/d.png maps there too.
  CHECK(index.shares_label("mix/labels/d.jpg"));
  CHECK(index.shares_label("mix/images/d.png"));
  CHECK_FALSE(index.shares_label("missing/a.jpg"));
}

TEST_CASE("an image whose stem is another image's name keeps its extension too", "[worker][output]") {
  lv::test::TempDir dir;
  for (const char* name : {"f/a.jpg", "f/a.png", "f/a.jpg.png", "g/b.jpg", "g/b.jpg.png"})
    lv::test::write_text(dir / name, "x");
  StemIndex index(dir.path());
  // a.jpg and a.png share a.txt: a.jpg.txt and a.png.txt. a.jpg.png's plain name is
  // a.jpg.txt, a.jpg's kept name, so it keeps its own: a.jpg.png.txt.
  CHECK(index.shares_label("f/a.jpg"));
  CHECK(index.shares_label("f/a.png"));
  CHECK(index.shares_label("f/a.jpg.png"));
  // b.jpg alone keeps b.txt; b.jpg.png still steps aside from the name b.jpg would keep.
  CHECK_FALSE(index.shares_label("g/b.jpg"));
  CHECK(index.shares_label("g/b.jpg.png"));
  std::set<fs::path> names;
  for (const char* item : {"f/a.jpg", "f/a.png", "f/a.jpg.png", "g/b.jpg", "g/b.jpg.png"}) {
    CHECK_FALSE(index.output_clash(item));
    CHECK(names.insert(output_label_rel(item, index.shares_label(item))).second);
    CHECK(names.insert(original_label_rel(item, index.shares_label(item))).second);
  }
  CHECK(names.count("f/a.jpg.png.txt") == 1);
}

TEST_CASE("images whose label files would be one even with extensions kept are found", "[worker][output]") {
  lv::test::TempDir dir;
  for (const char* name : {"cam/JPEGImages/x.jpg", "cam/images/x.jpg", "cam/JPEGImages/y.jpg", "flat/z.jpg",
                           "flat/JPEGImages/z.jpg", "flat/JPEGImages/w.jpg", "flat/w.png"})
    lv::test::write_text(dir / name, "x");
  StemIndex index(dir.path());
  // Both map to cam/labels/x.txt, and both kept names are cam/labels/x.jpg.txt.
  CHECK(output_label_rel("cam/JPEGImages/x.jpg", true) == output_label_rel("cam/images/x.jpg", true));
  CHECK(index.output_clash("cam/JPEGImages/x.jpg") == std::optional<std::string>("cam/images/x.jpg"));
  CHECK(index.output_clash("cam/images/x.jpg") == std::optional<std::string>("cam/JPEGImages/x.jpg"));
  CHECK_FALSE(index.output_clash("cam/JPEGImages/y.jpg"));
  // flat/z.txt and flat/labels/z.txt differ, but both originals are flat/labels_original/z.txt,
  // and z.jpg.txt with extensions kept.
  CHECK(original_label_rel("flat/z.jpg", true) == original_label_rel("flat/JPEGImages/z.jpg", true));
  CHECK(index.shares_label("flat/z.jpg"));
  CHECK(index.output_clash("flat/z.jpg") == std::optional<std::string>("flat/JPEGImages/z.jpg"));
  CHECK(index.output_clash("flat/JPEGImages/z.jpg") == std::optional<std::string>("flat/z.jpg"));
  // w.png and JPEGImages/w.jpg share labels_original/w.txt too, but keeping the extension
  // parts them: w.png.txt and w.jpg.txt.
  CHECK(index.shares_label("flat/w.png"));
  CHECK(index.shares_label("flat/JPEGImages/w.jpg"));
  CHECK(original_label_rel("flat/w.png", true) == fs::path("flat/labels_original/w.png.txt"));
  CHECK_FALSE(index.output_clash("flat/w.png"));
  CHECK_FALSE(index.output_clash("flat/JPEGImages/w.jpg"));
  CHECK_FALSE(index.output_clash("missing/q.jpg"));
}

TEST_CASE("images two folder names apart whose label files would be one are found too", "[worker][output]") {
  lv::test::TempDir dir;
  // The YOLO rule replaces the last images/ of each: both give cam/labels/labels/x.txt.
  for (const char* name : {"cam/images/labels/x.jpg", "cam/labels/images/x.jpg", "cam/labels/images/y.jpg"})
    lv::test::write_text(dir / name, "x");
  StemIndex index(dir.path());
  CHECK(output_label_rel("cam/images/labels/x.jpg", true) == output_label_rel("cam/labels/images/x.jpg", true));
  CHECK(index.output_clash("cam/images/labels/x.jpg") == std::optional<std::string>("cam/labels/images/x.jpg"));
  CHECK(index.output_clash("cam/labels/images/x.jpg") == std::optional<std::string>("cam/images/labels/x.jpg"));
  CHECK_FALSE(index.output_clash("cam/labels/images/y.jpg"));
}

TEST_CASE("a record of a file name that is not UTF-8 escapes it and always dumps", "[worker][output][bytes]") {
  const ClassMap classes = build_class_map({"caf\xe9", "dog"}, {"caf\xe9", "dog"}, {});
  ImageResult r = error_result("set/\xff\xfe.jpg", 0, "cannot read set/\xff\xfe.jpg: gone");
  r.label_file = "set/\xff\xfe.txt";
  r.labels = parse_labels("0 0.5 0.5 0.2 0.2\n", 2);
  r.results = {BoxResult{}};
  const auto j = to_record(r, classes, false);
  CHECK_NOTHROW(j.dump());
  CHECK(j["path"] == "set/\\xFF\\xFE.jpg");
  CHECK(j["path_escaped"] == true);
  CHECK(lv::get_bytes_field(j, "path") == "set/\xff\xfe.jpg");
  CHECK(lv::get_bytes_field(j, "label_file") == "set/\xff\xfe.txt");
  CHECK(j["error"] == "cannot read set/\\xFF\\xFE.jpg: gone");
  CHECK(j["boxes"][0]["label_name"] == "caf\\xE9");
  CHECK_FALSE(to_record(error_result("plain é.jpg", 0, "x"), classes, false).contains("path_escaped"));
}
