// The review data and issues.csv from a merged report (orchestrator/review.h); the page itself
// is tested in Chromium (tests/worker/review_browser_test.cpp).
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "byte_text.h"
#include "catch.h"
#include "report.h"
#include "review.h"
#include "error.h"
#include "run_state.h"
#include "test_util.h"

using nlohmann::json;
using namespace lv;
namespace fs = std::filesystem;

namespace {

json box(int index, const std::string& label, const std::string& verdict, double label_prob,
         const json& suggested_name = nullptr) {
  return {{"index", index}, {"label_name", label}, {"verdict", verdict}, {"reason", verdict == "correct" ? "label_confirmed" : "other_class"},
          {"predicted_name", label}, {"confidence", 0.9}, {"label_prob", label_prob}, {"suggested_name", suggested_name},
          {"box", {0.5, 0.5, 0.2, 0.2}}};
}

/// A merged report in the layout the merge writes (one record a line).
void write_report(const fs::path& output, const std::vector<json>& records) {
  std::vector<std::string> items, lines;
  for (const json& r : records) {
    items.push_back(get_bytes_field(r, "path"));
    lines.push_back(r.dump());
  }
  auto source = memory_lines(lines);
  ReportPart part;
  part.end = static_cast<int64_t>(records.size());
  part.records = source.get();
  part.counts = {{"summary", {{"images", records.size()}}}, {"per_class", json::object()}};
  fs::create_directories(output);
  write_file_atomic(output / kReportFileName, [&](std::ostream& out) {
    stream_report(out, items, {part}, merged_header({}, "test"), ReportLayout{});
  });
}

json image(const std::string& path, std::vector<json> boxes, std::vector<json> missing = {}) {
  json r{{"verdict", "mislabeled"}, {"shard", 0}, {"width", 100}, {"height", 50}, {"boxes", boxes},
         {"missing", missing}, {"label_errors", json::array()}, {"error", nullptr}};
  set_bytes_field(r, "path", path);
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  for (size_t at = 0; at < text.size();) {
    const size_t nl = text.find('\n', at);
    out.push_back(text.substr(at, nl - at));
    at = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("review: url paths and CSV fields carry any bytes", "[review]") {
  CHECK(url_path("a b/c#d?.jpg") == "a%20b/c%23d%3F.jpg");
  CHECK(url_path("caf\xc3\xa9/\xff.png") == "caf%C3%A9/%FF.png");
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"\n") == "\"say \"\"hi\"\"\n\"");
}

TEST_CASE("review: issues.csv ranks flagged boxes by label quality, missing boxes by 1 - confidence", "[review]") {
  test::TempDir dir;
  const fs::path out = dir / "output";
  write_report(out, {image("a.jpg", {box(0, "cat", "correct", 0.95), box(1, "dog", "mislabeled", 0.30, "cat")}),
                     image("b,c.jpg", {box(0, "cat", "uncertain", 0.45)},
                           {{{"class_name", "car"}, {"confidence", 0.9}, {"box", {0.1, 0.1, 0.1, 0.1}}}}),
                     image("all_good.jpg", {box(0, "cat", "correct", 0.99)}),
                     image("d\xff.jpg", {box(0, "dog", "mislabeled", 0.05, "cat")})});
  const ReviewStats s = write_review(out, "run-1", 2);
  CHECK(s.written);
  CHECK(s.images == 4);
  CHECK(s.flagged_images == 3);
  CHECK(s.flagged_boxes == 4);
  CHECK(s.pages == 2);  // 3 flagged images, 2 a page
  const auto rows = lines_of(test::read_text(out / "issues.csv"));
  REQUIRE(rows.size() == 5);
  CHECK(rows[0] == "rank,image,box_index,label,suggestion,confidence,reason,score,verdict");
  CHECK(rows[1] == "1,d\\xFF.jpg,0,dog,cat,0.9,other_class,0.05,mislabeled");  // bytes escaped, never lost
  CHECK(rows[2] == "2,\"b,c.jpg\",,,car,0.9,missing,0.1,missing");          // 1 - 0.9
  CHECK(rows[3] == "3,a.jpg,1,dog,cat,0.9,other_class,0.3,mislabeled");
  CHECK(rows[4] == "4,\"b,c.jpg\",0,cat,,0.9,other_class,0.45,uncertain");
  // The page's data: the summary names the run and the pages; a page holds flagged images only.
  const std::string summary = test::read_text(out / "review/data/summary.js");
  REQUIRE(summary.rfind("LV_REVIEW_SUMMARY(", 0) == 0);
  const json sum = json::parse(summary.substr(18, summary.size() - 18 - 3));
  CHECK(sum["run_id"] == "run-1");
  CHECK(sum["pages"] == json{"data/page_0001.js", "data/page_0002.js"});
  CHECK(sum["confusion"]["dog"]["cat"] == 2);
  const std::string page2 = test::read_text(out / "review/data/page_0002.js");
  CHECK(page2.find("all_good.jpg") == std::string::npos);
  CHECK(page2.find("../mislabeled/d%FF.jpg") != std::string::npos);  // the image's URL, byte for byte
  for (const char* asset : {"index.html", "review.js", "review.css"}) CHECK(fs::file_size(out / "review" / asset) > 100);

  // Written again with larger pages: the stale second page goes.
  CHECK(write_review(out, "run-1", 100).pages == 1);
  CHECK_FALSE(fs::exists(out / "review/data/page_0002.js"));
}

TEST_CASE("review: flagged documents get rows and cards with their text's start, other tasks nothing", "[review]") {
  test::TempDir dir;
  const fs::path out = dir / "output";
  fs::create_directories(out);
  const auto doc = [](int line, const std::string& id, const std::string& verdict, const json& label, double label_prob) {
    json r{{"line", line}, {"label", label}, {"verdict", verdict}, {"reason", verdict == "unlabeled" ? "no_label" : "other_class"},
           {"predicted", "sport"}, {"suggested", "sport"}, {"confidence", 0.8}, {"label_prob", label_prob}, {"shard", 1},
           {"error", nullptr}, {"snippet", "The match ended 2-1 after extra time"}};
    set_bytes_field(r, "item", fmt::format("{}:{}", line, line * 100));
    set_bytes_field(r, "id", id);
    return r;
  };
  const std::string report = json{{"schema_version", 1}, {"task", "verify"}, {"status", "complete"},
                                  {"summary", {{"documents", 3}}},
                                  {"items", {doc(1, "a", "correct", "sport", 0.9), doc(2, "b", "unlabeled", nullptr, 0),
                                             doc(3, "c,d", "mislabeled", "politics", 0.1)}}}
                                 .dump();
  write_file_atomic(out / kReportFileName, report);
  const ReviewStats s = write_review(out, "run");
  CHECK(s.written);
  CHECK(s.flagged_boxes == 2);
  const auto rows = lines_of(test::read_text(out / "issues.csv"));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == "rank,document,line,label,suggestion,confidence,reason,score,verdict");
  CHECK(rows[1] == "1,\"c,d\",3,politics,sport,0.8,other_class,0.1,mislabeled");
  CHECK(rows[2] == "2,b,2,,sport,0.8,no_label,1,unlabeled");  // no label to doubt: last
  CHECK(test::read_text(out / "review/data/page_0001.js").find("The match ended 2-1") != std::string::npos);

  // Classify and embed runs judge no labels: no page.
  write_file_atomic(out / kReportFileName, json{{"schema_version", 1}, {"task", "classify"}, {"items", json::array()}}.dump());
  fs::remove(out / "issues.csv");
  CHECK_FALSE(write_review(out, "run").written);
  CHECK_FALSE(fs::exists(out / "issues.csv"));
}

// --- apply-fixes on a constructed report (end to end with image_worker: apply_fixes_e2e_test) --

#include <sstream>

#include "apply_fixes.h"

namespace {

/// apply-fixes of `dir`/decisions.json on the report in `out`, label files under `root`.
ApplyFixesOptions fix_options(const test::TempDir& dir, const fs::path& out, const fs::path& root) {
  ApplyFixesOptions o;
  o.decisions = dir / "decisions.json";
  o.output_dir = out;
  o.input_root = root;
  o.backup_root = dir / "fixes";
  return o;
}

}  // namespace

TEST_CASE("apply-fixes never writes through a label file that leads out of the input root", "[review][fixes]") {
  test::TempDir dir;
  const fs::path out = dir / "output", root = dir / "data";
  fs::create_directories(root / "labels");
  test::write_text(dir / "outside.txt", "0 0.5 0.5 0.2 0.2\n");
  fs::create_symlink(dir / "outside.txt", root / "labels/a.txt");  // planted after the run
  json record = image("a.jpg", {box(0, "cat", "mislabeled", 0.1, "dog")});
  record["boxes"][0]["line"] = 1;
  record["boxes"][0]["suggested"] = 1;
  record["label_file"] = "labels/a.txt";
  record["label_hash"] = content_hash("0 0.5 0.5 0.2 0.2\n");
  write_report(out, {record});
  test::write_text(dir / "decisions.json",
                   R"({"run_id": "r", "decisions": [{"image": "a.jpg", "kind": "box", "box_index": 0, "decision": "accept"}]})");
  const ApplyFixesOptions o = fix_options(dir, out, root);
  std::ostringstream said;
  try {
    apply_fixes(o, said);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("outside the input root"));
  }
  CHECK(test::read_text(dir / "outside.txt") == "0 0.5 0.5 0.2 0.2\n");
  CHECK_FALSE(fs::exists(dir / "fixes"));
  // A label file the report names with ".." is refused the same way.
  record["label_file"] = "../outside.txt";
  write_report(out, {record});
  CHECK_THROWS_WITH(apply_fixes(o, said), Catch::Contains("not a path inside the input root"));
}

TEST_CASE("apply-fixes writes through a symlink inside the root keeping the mode, counts a box accepted twice once, "
          "and refuses a decision the report no longer suggests",
          "[review][fixes]") {
  test::TempDir dir;
  const fs::path out = dir / "output", root = dir / "data";
  fs::create_directories(root / "labels");
  fs::create_directories(root / "shared");
  const std::string text = "0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n";
  test::write_text(root / "shared/a.txt", text);
  fs::permissions(root / "shared/a.txt", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  fs::create_symlink("../shared/a.txt", root / "labels/a.txt");
  json record = image("a.jpg", {box(0, "cat", "mislabeled", 0.1, "dog")},
                      {{{"class", 1}, {"class_name", "dog"}, {"confidence", 0.9}, {"box", {0.8, 0.8, 0.1, 0.1}}}});
  record["boxes"][0]["line"] = 1;
  record["boxes"][0]["suggested"] = 1;
  record["label_file"] = "labels/a.txt";
  record["label_hash"] = content_hash(text);
  write_report(out, {record});
  const auto decisions = [&](const std::string& suggestion) {
    const json box{{"image", "a.jpg"}, {"kind", "box"}, {"box_index", 0}, {"decision", "accept"}, {"suggestion", suggestion}};
    const json missing{{"image", "a.jpg"}, {"kind", "missing"}, {"missing_index", 0}, {"decision", "accept"}};
    test::write_text(dir / "decisions.json", json{{"run_id", "r"}, {"decisions", {box, missing, missing}}}.dump());
  };
  const ApplyFixesOptions o = fix_options(dir, out, root);
  std::ostringstream said;
  decisions("cat");  // the page said "cat", the report says "dog": exported from another merge
  CHECK_THROWS_WITH(apply_fixes(o, said), Catch::Contains("accepted as 'cat', but the report now suggests 'dog'"));
  decisions("dog");
  const ApplyFixesResult r = apply_fixes(o, said);
  CHECK(r.files == 1);
  CHECK(r.lines_added == 1);  // the missing box accepted twice: one line
  CHECK(fs::is_symlink(root / "labels/a.txt"));
  CHECK(test::read_text(root / "shared/a.txt") == "1 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n1 0.800000 0.800000 0.100000 0.100000\n");
  CHECK(fs::status(root / "shared/a.txt").permissions() ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  CHECK(undo_fixes(r.backup, root, said) == 1);
  CHECK(test::read_text(root / "shared/a.txt") == text);
  CHECK(fs::is_symlink(root / "labels/a.txt"));
}
