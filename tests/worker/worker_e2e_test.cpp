// image_worker end to end: the protocol (DESIGN §6), the output tree (§7), bad input, resume,
// interruption and exit codes, on small datasets made here.
#include <sys/stat.h>

#include <fstream>
#include <limits>
#include <thread>
#include <opencv2/imgcodecs.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "byte_text.h"
#include "image_worker.h"
#include "process_util.h"
#include "test_models.h"
#include "test_util.h"
#include "worker_catch.h"
#include "worker_run.h"

using nlohmann::json;
namespace fs = std::filesystem;
using lv::test::read_text;
using lv::test::write_text;

namespace {

cv::Mat red_green(int w = 100, int h = 100) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(0, 255, 0));
  m(cv::Rect(0, 0, w / 2, h)).setTo(cv::Scalar(0, 0, 255));
  return m;
}

void write_image(const fs::path& file, const cv::Mat& m) {
  fs::create_directories(file.parent_path());
  std::vector<uint8_t> buf;
  REQUIRE(cv::imencode(file.extension().string(), m, buf));
  write_text(file, std::string(buf.begin(), buf.end()));
}

/// The classifier dataset: every verdict, every bad input, nested folders, odd names.
struct Dataset {
  lv::test::TempDir dir;
  std::vector<std::string> items;

  explicit Dataset(int spin = 0, int extra_images = 0) {
    lv::test::save_mean_colour_classifier(dir / "model.pt", 10.0, true, spin);
    const fs::path d = dir / "data";
    write_image(d / "indoor/day/JPEGImages/a.jpg", red_green());
    write_text(d / "indoor/day/labels/a.txt", "0 0.25 0.5 0.5 1\n");
    write_image(d / "indoor/night/JPEGImages/b b é.png", red_green());
    write_text(d / "indoor/night/labels/b b é.txt", "1 0.25 0.5 0.5 1\n0 0.75 0.5 0.5 1\n");
    write_image(d / "outdoor/c.png", red_green());  // no label file: zero boxes
    write_image(d / "mid/images/half.png", red_green());
    write_text(d / "mid/labels/half.txt", "0 0.5 0.5 0.5 1\n");
    write_text(d / "bad/empty.jpg", "");
    write_text(d / "bad/text.png", "hello, I am text");
    std::string jpeg = read_text(d / "indoor/day/JPEGImages/a.jpg");
    write_text(d / "bad/trunc.jpg", jpeg.substr(0, jpeg.size() / 2));
    // A real 10x10 PNG whose header claims 5000 x 5000 pixels: refused before decoding.
    write_image(d / "bad/huge.png", red_green(10, 10));
    std::string png = read_text(d / "bad/huge.png");
    const char big[4] = {0, 0, 0x13, static_cast<char>(0x88)};  // 5000
    png.replace(16, 4, big, 4);
    png.replace(20, 4, big, 4);
    write_text(d / "bad/huge.png", png);
    fs::create_directories(d / "bad/dir.jpg");
    write_image(d / "bad/lines.jpg", red_green());
    write_text(d / "bad/lines.txt", "0 0.25 0.5 0.5 1\n0 0.5\n5 0.5 0.5 0.1 0.1\n");
    items = {"indoor/day/JPEGImages/a.jpg", "indoor/night/JPEGImages/b b é.png", "outdoor/c.png", "mid/images/half.png",
             "bad/empty.jpg", "bad/text.png", "bad/trunc.jpg", "bad/huge.png", "bad/dir.jpg", "bad/lines.jpg",
             "bad/not_there.jpg"};
    for (int i = 0; i < extra_images; ++i) {
      const std::string item = "many/images/" + std::to_string(i) + ".png";
      write_image(d / item, red_green());
      write_text(d / ("many/labels/" + std::to_string(i) + ".txt"), "0 0.25 0.5 0.5 1\n");
      items.push_back(item);
    }
    std::string list;
    for (const auto& i : items) list += i + "\n";
    write_text(dir / "split.txt", list);
    write_config("");
  }

  void write_config(const std::string& extra_processing, const std::string& model_path = "model.pt") const {
    write_text(dir / "config.yaml",
               "input:\n  images: data\n  classes: [red, green, blue]\n"
               "output:\n  dir: out\n  debug_images: issues\n"
               "model:\n  path: " + model_path + "\n  type: classifier\n  input_size: 32\n"
               "processing:\n  batch_size: 4\n  max_image_pixels: 1000000\n  decode_threads: 2\n" + extra_processing +
               "report:\n  include_probabilities: true\n");
  }

  std::vector<std::string> args(bool resume = false) const {
    std::vector<std::string> a = {LV_IMAGE_WORKER, "--config", (dir / "config.yaml").string(), "--items",
                                  (dir / "split.txt").string(), "--output-dir", (dir / "out_gpu1").string(),
                                  "--shard", "1"};
    if (resume) a.push_back("--resume");
    return a;
  }
  fs::path out(const std::string& rel) const { return dir / "out_gpu1" / fs::path(rel); }
  json report() const { return json::parse(read_text(out("verification_report.json"))); }
  std::vector<std::string> journal_lines() const {
    std::vector<std::string> lines;
    std::ifstream in(out(".journal.jsonl"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
};

const json* find_image(const json& report, const std::string& path) {
  for (const auto& img : report["images"])
    if (img["path"] == path) return &img;
  return nullptr;
}

}  // namespace

TEST_CASE("image_worker sorts a classifier dataset and records every bad input", "[worker][e2e]") {
  Dataset ds;
  const fs::path log = ds.dir / "gpu1.log";
  const int rc = lv::test::run_program(ds.args(), log);
  const std::string text = read_text(log);
  INFO(text);
  REQUIRE(rc == 0);
  CHECK(text.find("[progress] 11/11 failed=6") != std::string::npos);

  const json report = ds.report();
  CHECK(report["status"] == "complete");
  REQUIRE(report["images"].size() == ds.items.size());
  for (size_t i = 0; i < ds.items.size(); ++i) CHECK(report["images"][i]["path"] == ds.items[i]);  // input order

  auto verdict = [&](const std::string& p) { return (*find_image(report, p))["verdict"].get<std::string>(); };
  auto error = [&](const std::string& p) {
    const json& e = (*find_image(report, p))["error"];
    return e.is_null() ? std::string() : e.get<std::string>();
  };
  CHECK(verdict("indoor/day/JPEGImages/a.jpg") == "correct");
  CHECK(verdict("indoor/night/JPEGImages/b b é.png") == "mislabeled");
  // No label file at all: unlabeled (it was once "correct with 0 boxes"), placed under uncertain/.
  CHECK(verdict("outdoor/c.png") == "unlabeled");
  CHECK(verdict("mid/images/half.png") == "uncertain");
  CHECK(error("bad/empty.jpg") == "empty file (0 bytes)");
  CHECK(error("bad/text.png").find("cannot decode image") == 0);
  CHECK(error("bad/trunc.jpg") == "truncated JPEG (no end-of-image marker)");
  CHECK(error("bad/huge.png") == "5000x5000 = 25000000 pixels is over processing.max_image_pixels 1000000");
  CHECK(error("bad/dir.jpg") == "image: not a regular file (directory)");
  CHECK(error("bad/not_there.jpg") == "file not found");
  CHECK(verdict("bad/lines.jpg") == "uncertain");

  // Box details: hand-computed probabilities of the mean-colour model.
  const json& b = *find_image(report, "indoor/night/JPEGImages/b b é.png");
  REQUIRE(b["boxes"].size() == 2);
  CHECK(b["boxes"][0]["label_name"] == "green");
  CHECK(b["boxes"][0]["suggested_name"] == "red");
  CHECK(b["boxes"][0]["reason"] == "other_class");
  CHECK(b["boxes"][0]["confidence"].get<double>() == Approx(22026.4658 / 22028.4658).epsilon(1e-4));
  CHECK(b["boxes"][0]["probabilities"].size() == 3);
  CHECK(b["boxes"][1]["suggested_name"] == "green");
  const json& half = *find_image(report, "mid/images/half.png");
  CHECK(half["boxes"][0]["label_prob"].get<double>() == Approx(148.413159 / 297.826318).epsilon(1e-3));
  CHECK(half["boxes"][0]["reason"] == "low_confidence");
  const json& lines = *find_image(report, "bad/lines.jpg");
  CHECK(lines["boxes"].size() == 1);
  REQUIRE(lines["label_errors"].size() == 2);
  CHECK(lines["label_errors"][0]["line"] == 2);
  CHECK(lines["label_errors"][0]["reason"] == "expected 5 fields (class cx cy w h), got 2");
  CHECK(lines["label_errors"][1]["line"] == 3);
  CHECK(lines["label_errors"][1]["reason"] == "class id '5' is not an integer in [0, 2]");
  CHECK((*find_image(report, "outdoor/c.png"))["label_file"].is_null());

  // The output tree.
  CHECK(read_text(ds.out("correct/indoor/day/JPEGImages/a.jpg")) == read_text(ds.dir / "data/indoor/day/JPEGImages/a.jpg"));
  CHECK(read_text(ds.out("correct/indoor/day/labels/a.txt")) == "0 0.25 0.5 0.5 1\n");
  CHECK(fs::exists(ds.out("mislabeled/indoor/night/JPEGImages/b b é.png")));
  CHECK(read_text(ds.out("mislabeled/indoor/night/labels/b b é.txt")) == "0 0.25 0.5 0.5 1\n1 0.75 0.5 0.5 1\n");
  CHECK(read_text(ds.out("mislabeled/indoor/night/labels_original/b b é.txt")) == "1 0.25 0.5 0.5 1\n0 0.75 0.5 0.5 1\n");
  CHECK(fs::exists(ds.out("uncertain/outdoor/c.png")));
  CHECK_FALSE(fs::exists(ds.out("correct/outdoor/c.png")));
  CHECK_FALSE(fs::exists(ds.out("uncertain/outdoor/c.txt")));  // a classifier suggests no boxes
  CHECK(fs::exists(ds.out("uncertain/mid/images/half.png")));
  CHECK(fs::exists(ds.out("uncertain/bad/lines.txt")));
  CHECK_FALSE(fs::exists(ds.out("correct/bad/empty.jpg")));
  CHECK_FALSE(fs::exists(ds.out("uncertain/bad/empty.jpg")));
  // Debug images for issues only.
  CHECK(fs::exists(ds.out("debug_images/indoor/night/JPEGImages/b b é.png.jpg")));
  CHECK(fs::exists(ds.out("debug_images/mid/images/half.png.jpg")));
  CHECK_FALSE(fs::exists(ds.out("debug_images/indoor/day/JPEGImages/a.jpg.jpg")));
  CHECK(ds.journal_lines().size() == ds.items.size());
}

TEST_CASE("image_worker --resume skips journalled items and carries their records", "[worker][e2e]") {
  Dataset ds;
  REQUIRE(lv::test::run_program(ds.args(), ds.dir / "first.log") == 0);
  const json first = ds.report();
  // Keep three records and a torn line, as a worker killed mid-write would leave.
  const auto lines = ds.journal_lines();
  write_text(ds.out(".journal.jsonl"), lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n{\"path\": \"indo");
  fs::remove(ds.out("verification_report.json"));
  const fs::path log = ds.dir / "resume.log";
  REQUIRE(lv::test::run_program(ds.args(true), log) == 0);
  const std::string text = read_text(log);
  INFO(text);
  CHECK(text.find("resuming: 3 of 11 items already done (1 torn journal lines ignored)") != std::string::npos);
  CHECK(ds.report()["images"] == first["images"]);
  CHECK(ds.journal_lines().size() == 3 + 1 + 8);
}

TEST_CASE("image_worker on SIGTERM finishes in-flight items, exits 130, resumes to the same result", "[worker][e2e]") {
  Dataset ds(/*spin=*/400, /*extra_images=*/40);
  ds.write_config("  num_threads: 1\n");
  {
    lv::test::Child child(ds.args(), ds.dir / "run.log");
    REQUIRE(lv::test::wait_until([&] { return ds.journal_lines().size() >= 12; }, std::chrono::seconds(60)));
    child.signal(SIGTERM);
    CHECK(child.wait() == 130);
  }
  const size_t done = ds.journal_lines().size();
  INFO(read_text(ds.dir / "run.log"));
  CHECK(done < ds.items.size());
  CHECK_FALSE(fs::exists(ds.out("verification_report.json")));
  CHECK(read_text(ds.dir / "run.log").find("interrupted") != std::string::npos);

  REQUIRE(lv::test::run_program(ds.args(true), ds.dir / "resume.log") == 0);
  const json report = ds.report();
  REQUIRE(report["images"].size() == ds.items.size());
  for (size_t i = 0; i < ds.items.size(); ++i) CHECK(report["images"][i]["path"] == ds.items[i]);
  CHECK(ds.journal_lines().size() == ds.items.size());  // nothing done twice
}

TEST_CASE("image_worker exit codes: config 2, model 3, input 4", "[worker][e2e]") {
  Dataset ds;
  const fs::path log = ds.dir / "w.log";

  ds.write_config("  no_such_key: 1\n");
  CHECK(lv::test::run_program(ds.args(), log) == 2);
  CHECK(read_text(log).find("processing.no_such_key: unknown key") != std::string::npos);

  ds.write_config("", "missing.pt");
  CHECK(lv::test::run_program(ds.args(), log) == 3);
  CHECK(read_text(log).find((ds.dir / "missing.pt").string()) != std::string::npos);

  lv::test::save_fixed_width_classifier(ds.dir / "five.pt", 5);
  ds.write_config("", "five.pt");
  CHECK(lv::test::run_program(ds.args(), log) == 3);
  CHECK(read_text(log).find("model output shape [4, 5] for a warm-up batch of 4 does not fit model.type classifier "
                            "with 3 classes") != std::string::npos);

  ds.write_config("");
  auto args = ds.args();
  args[4] = (ds.dir / "no_such_split.txt").string();
  CHECK(lv::test::run_program(args, log) == 4);
  CHECK(read_text(log).find("no_such_split.txt") != std::string::npos);

  fs::rename(ds.dir / "data", ds.dir / "moved");
  CHECK(lv::test::run_program(ds.args(), log) == 4);
  CHECK(read_text(log).find("input.images") != std::string::npos);

  CHECK(lv::test::run_program({LV_IMAGE_WORKER, "--config"}, log) == 2);
}

TEST_CASE("image_worker with a yolov8 model: verdicts, missing labels, corrected labels", "[worker][e2e]") {
  lv::test::TempDir dir;
  // Raw output [4 + 2, 4] for a 200x100 image in a 64 input (r = 0.32, 16 px above and below):
  // a cat on label 1, a weaker duplicate (suppressed), a dog on label 2, a lone dog (missing).
  const std::vector<float> v = {32, 32.5f, 9.6f, 50, 32, 32, 32, 32, 32, 32, 6.4f, 8, 16, 16, 6.4f, 8,
                                0.9f, 0.85f, 0.02f, 0.01f, 0.05f, 0.1f, 0.95f, 0.97f};
  lv::test::save_constant_detector(dir / "v8.pt", v, 6, 4, R"({"names": {"0": "cat", "1": "dog"}})");
  write_image(dir / "data/images/p.png", cv::Mat(100, 200, CV_8UC3, cv::Scalar(50, 50, 50)));
  write_text(dir / "data/labels/p.txt", "0 0.5 0.5 0.5 0.5\n0 0.15 0.5 0.1 0.2\n");
  write_text(dir / "split.txt", "images/p.png\n");
  write_text(dir / "config.yaml",
             "input:\n  images: data\n  classes: [cat, dog]\noutput:\n  debug_images: all\n"
             "model:\n  path: v8.pt\n  type: yolov8\n  input_size: 64\n");
  const fs::path log = dir / "w.log";
  const int rc = lv::test::run_worker_in(dir.path(), log);
  INFO(read_text(log));
  REQUIRE(rc == 0);
  const json report = json::parse(read_text(dir / "out/verification_report.json"));
  const json& img = report["images"][0];
  CHECK(img["verdict"] == "mislabeled");
  REQUIRE(img["boxes"].size() == 2);
  CHECK(img["boxes"][0]["verdict"] == "correct");
  CHECK(img["boxes"][0]["confidence"].get<double>() == Approx(0.9));
  CHECK(img["boxes"][1]["verdict"] == "mislabeled");
  CHECK(img["boxes"][1]["suggested_name"] == "dog");
  REQUIRE(img["missing"].size() == 1);
  CHECK(img["missing"][0]["class_name"] == "dog");
  // Input (46, 28)-(54, 36) -> original (143.75, 37.5)-(168.75, 62.5) on 200x100.
  const std::vector<double> box = img["missing"][0]["box"];
  CHECK(box[0] == Approx(0.78125));
  CHECK(box[1] == Approx(0.5));
  CHECK(box[2] == Approx(0.125));
  CHECK(box[3] == Approx(0.25));
  CHECK(read_text(dir / "out/mislabeled/labels/p.txt") == "0 0.5 0.5 0.5 0.5\n1 0.15 0.5 0.1 0.2\n");
  CHECK(read_text(dir / "out/mislabeled/labels_original/p.txt") == "0 0.5 0.5 0.5 0.5\n0 0.15 0.5 0.1 0.2\n");
  CHECK(fs::exists(dir / "out/debug_images/images/p.png.jpg"));
}

namespace {

/// A small dataset for the issue 7 cases: images and label files written by each test.
struct Small {
  lv::test::TempDir dir;
  fs::path data = dir / "data";

  explicit Small(const std::string& processing = "") {
    lv::test::save_mean_colour_classifier(dir / "model.pt", 10.0, true);
    write_text(dir / "config.yaml",
               "input:\n  images: data\n  classes: [red, green, blue]\n"
               "output:\n  debug_images: none\n"
               "model:\n  path: model.pt\n  type: classifier\n  input_size: 16\n"
               "processing:\n  batch_size: 4\n  decode_threads: 2\n" + processing);
  }
  /// A red-left, green-right image whose label says red on the left: correct.
  void image(const std::string& item, const std::string& label_file = "", const std::string& label = "0 0.25 0.5 0.5 1\n") {
    write_image(data / item, red_green());
    if (!label_file.empty()) write_text(data / label_file, label);
  }
  /// Runs the worker on `items` (a minute at most: a blocked worker fails the test).
  int run(const std::vector<std::string>& items, bool resume = false) {
    std::string list;
    for (const auto& i : items) list += i + "\n";
    write_text(dir / "split.txt", list);
    std::vector<std::string> args = {LV_IMAGE_WORKER, "--config", (dir / "config.yaml").string(), "--items",
                                     (dir / "split.txt").string(), "--output-dir", (dir / "out").string(), "--shard", "0"};
    if (resume) args.push_back("--resume");
    const lv::test::RunResult r = lv::test::run_program(args, {}, dir.path(), std::chrono::seconds(60));
    last_log = r.output;
    return r.code;
  }
  /// The output of the last run.
  const std::string& log() const { return last_log; }
  std::string last_log;
  fs::path out(const std::string& rel) const { return dir / "out" / fs::path(rel); }
  json report() const { return json::parse(read_text(out("verification_report.json"))); }
  /// The record of an item, matched by its bytes.
  json record(const std::string& item) const {
    const json all = report();
    for (const auto& r : all["images"])
      if (lv::get_bytes_field(r, "path") == item) return r;
    FAIL("no record for " << lv::printable(item));
    return {};
  }
};

}  // namespace

TEST_CASE("image_worker records a label line that is not UTF-8 and keeps a file name that is not UTF-8",
          "[worker][e2e][bytes]") {
  // Before, both failed the shard: "cannot journal record: [json.exception.type_error.316]".
  Small s;
  const std::string odd = "set/images/\xff\xfe.png";
  s.image(odd, "set/labels/\xff\xfe.txt");
  s.image("set/images/ete.png", "set/labels/ete.txt", "0 0.25 0.5 0.5 1\n1 0.5 0.5 0.1 0.1 \xe9t\xe9\n");
  s.image("set/images/plain.png", "set/labels/plain.txt");
  const std::vector<std::string> items = {odd, "set/images/ete.png", "set/images/plain.png"};
  REQUIRE(s.run(items) == 0);
  INFO(s.log());
  const json report = s.report();
  CHECK(report["status"] == "complete");
  const json r = s.record(odd);
  CHECK(r["path"] == "set/images/\\xFF\\xFE.png");
  CHECK(r["path_escaped"] == true);
  CHECK(r["verdict"] == "correct");
  CHECK(lv::get_bytes_field(r, "label_file") == "set/labels/\xff\xfe.txt");
  // The output tree holds the exact bytes of the name.
  CHECK(read_text(s.out("correct/" + odd)) == read_text(s.data / odd));
  CHECK(read_text(s.out("correct/set/labels/\xff\xfe.txt")) == "0 0.25 0.5 0.5 1\n");

  const json ete = s.record("set/images/ete.png");
  CHECK(ete["verdict"] == "uncertain");  // a refused line needs a look
  REQUIRE(ete["boxes"].size() == 1);
  CHECK(ete["boxes"][0]["verdict"] == "correct");
  REQUIRE(ete["label_errors"].size() == 1);
  CHECK(ete["label_errors"][0]["line"] == 2);
  CHECK(ete["label_errors"][0]["reason"] == "not UTF-8 text: '1 0.5 0.5 0.1 0.1 \\xE9t\\xE9'");
  CHECK(read_text(s.out("uncertain/set/labels/ete.txt")) == read_text(s.data / "set/labels/ete.txt"));
  CHECK(s.record("set/images/plain.png")["verdict"] == "correct");

  // --resume matches journal records to items by their bytes: nothing is done twice.
  fs::remove(s.out("verification_report.json"));
  REQUIRE(s.run(items, /*resume=*/true) == 0);
  CHECK(s.log().find("resuming: 3 of 3 items already done") != std::string::npos);
  CHECK(s.report()["images"] == report["images"]);
}

TEST_CASE("two images with one stem both keep their label file, also when listed alone", "[worker][e2e]") {
  // Both map to labels/scene_1.txt; before, one failed with "cannot rename into place".
  Small s;  // 2 decode threads
  s.image("set/images/scene_1.jpg", "set/labels/scene_1.txt");
  s.image("set/images/scene_1.png");
  s.image("set/images/scene_2.png", "set/labels/scene_2.txt", "1 0.25 0.5 0.5 1\n");
  REQUIRE(s.run({"set/images/scene_1.jpg", "set/images/scene_1.png", "set/images/scene_2.png"}) == 0);
  INFO(s.log());
  CHECK(s.report()["summary"]["errors"] == 0);
  CHECK(read_text(s.out("correct/set/labels/scene_1.jpg.txt")) == "0 0.25 0.5 0.5 1\n");
  CHECK(read_text(s.out("correct/set/labels/scene_1.png.txt")) == "0 0.25 0.5 0.5 1\n");
  CHECK_FALSE(fs::exists(s.out("correct/set/labels/scene_1.txt")));
  // A stem of its own keeps the plain YOLO name.
  CHECK(read_text(s.out("mislabeled/set/labels/scene_2.txt")) == "0 0.25 0.5 0.5 1\n");
  CHECK(read_text(s.out("mislabeled/set/labels_original/scene_2.txt")) == "1 0.25 0.5 0.5 1\n");

  // The rule reads the input tree, not the shard: another shard holding only one of them agrees.
  fs::remove_all(s.dir / "out");
  REQUIRE(s.run({"set/images/scene_1.png"}) == 0);
  CHECK(read_text(s.out("correct/set/labels/scene_1.png.txt")) == "0 0.25 0.5 0.5 1\n");
}

TEST_CASE("images whose output label files would be one are errors naming each other, the rest are kept",
          "[worker][e2e]") {
  Small s;
  // cam/images/x.png and cam/JPEGImages/x.png both read cam/labels/x.txt and would both
  // write labels/x.png.txt: before, the second silently replaced the first's.
  s.image("cam/images/x.png", "cam/labels/x.txt");
  s.image("cam/JPEGImages/x.png");
  // a.png, a.jpg and a.png.jpg: a.png.jpg's plain name a.png.txt is a.png's kept name.
  s.image("f/a.png", "f/a.txt", "1 0.25 0.5 0.5 1\n");
  s.image("f/a.jpg");
  s.image("f/a.png.jpg", "f/a.png.txt", "0 0.25 0.5 0.5 1\n");
  REQUIRE(s.run({"cam/images/x.png", "cam/JPEGImages/x.png", "f/a.png", "f/a.jpg", "f/a.png.jpg"}) == 0);
  INFO(s.log());
  CHECK(s.report()["summary"]["errors"] == 2);
  const json x = s.record("cam/images/x.png");
  CHECK(x["verdict"] == "error");
  CHECK(x["error"].get<std::string>().find("cam/JPEGImages/x.png's too: rename one of the two") != std::string::npos);
  CHECK(s.record("cam/JPEGImages/x.png")["error"].get<std::string>().find("cam/images/x.png") != std::string::npos);
  CHECK_FALSE(fs::exists(s.out("correct/cam/labels")));
  // Three images, three label files (a.png and a.jpg read f/a.txt, a.png.jpg its own).
  CHECK(read_text(s.out("mislabeled/f/labels_original/a.png.txt")) == "1 0.25 0.5 0.5 1\n");
  CHECK(read_text(s.out("mislabeled/f/labels_original/a.jpg.txt")) == "1 0.25 0.5 0.5 1\n");
  CHECK(read_text(s.out("correct/f/a.png.jpg.txt")) == "0 0.25 0.5 0.5 1\n");
}

TEST_CASE("image_worker removes leftover temporaries of a killed run on --resume and says how many",
          "[worker][e2e]") {
  Small s;
  s.image("set/images/a.png", "set/labels/a.txt");
  s.image("set/images/b.png", "set/labels/b.txt");
  REQUIRE(s.run({"set/images/a.png"}) == 0);
  // What a SIGKILL between write and rename leaves: temporaries beside finished files.
  write_text(s.out("correct/set/labels/b.txt.tmp.25734"), "0 0.2");
  write_text(s.out("correct/set/images/b.png.tmp.25734.3"), "\x89PNG");
  REQUIRE(s.run({"set/images/a.png", "set/images/b.png"}, /*resume=*/true) == 0);
  INFO(s.log());
  CHECK(s.log().find("removed 2 leftover temporary file(s)") != std::string::npos);
  CHECK(s.log().find("resuming: 1 of 2 items already done") != std::string::npos);
  CHECK_FALSE(fs::exists(s.out("correct/set/labels/b.txt.tmp.25734")));
  CHECK_FALSE(fs::exists(s.out("correct/set/images/b.png.tmp.25734.3")));
  CHECK(read_text(s.out("correct/set/labels/b.txt")) == "0 0.25 0.5 0.5 1\n");
  for (const auto& e : fs::recursive_directory_iterator(s.dir / "out"))
    CHECK_FALSE(lv::is_temporary_name(e.path().filename().string()));

  // An input named like a temporary would vanish from the output: it is refused, by name.
  write_text(s.data / "set/images/scan.tmp.12", read_text(s.data / "set/images/a.png"));
  REQUIRE(s.run({"set/images/scan.tmp.12"}) == 0);
  CHECK(s.record("set/images/scan.tmp.12")["error"] ==
        "the file name ends like a temporary file (.tmp.<digits>), which output trees reserve: rename it");
}

TEST_CASE("a label file or image that links out of the input root is an image error, never read or copied",
          "[worker][e2e]") {
  Small s;
  write_text(s.dir / "secret.txt", "0 0.25 0.5 0.5 1\n");
  write_image(s.dir / "outside.png", red_green());
  s.image("set/images/bad.png");
  fs::create_directories(s.data / "set/labels");
  fs::create_symlink(s.dir / "secret.txt", s.data / "set/labels/bad.txt");
  fs::create_directories(s.data / "set/images");
  fs::create_symlink("../../../outside.png", s.data / "set/images/link.png");
  s.image("set/images/inside.png", "set/labels/real.txt");
  fs::create_symlink("real.txt", s.data / "set/labels/inside.txt");  // a link inside the root is fine
  REQUIRE(s.run({"set/images/bad.png", "set/images/link.png", "set/images/inside.png"}) == 0);
  INFO(s.log());
  const std::string secret = fs::canonical(s.dir / "secret.txt").string();
  const json bad = s.record("set/images/bad.png");
  CHECK(bad["verdict"] == "error");
  CHECK(bad["error"] == "label file set/labels/bad.txt: symlink resolves outside the input root (" + secret + ")");
  CHECK(s.record("set/images/link.png")["error"] ==
        "image: symlink resolves outside the input root (" + fs::canonical(s.dir / "outside.png").string() + ")");
  CHECK(s.record("set/images/inside.png")["verdict"] == "correct");
  for (const char* v : {"correct", "uncertain", "mislabeled", "error"}) {
    CHECK_FALSE(fs::exists(s.out(std::string(v) + "/set/labels/bad.txt")));
    CHECK_FALSE(fs::exists(s.out(std::string(v) + "/set/images/link.png")));
  }
}

TEST_CASE("a label path that is a folder or a FIFO is an image error and never blocks the worker",
          "[worker][e2e]") {
  Small s;
  s.image("set/images/dir.png");
  fs::create_directories(s.data / "set/labels/dir.txt");
  s.image("set/images/fifo.png");
  REQUIRE(::mkfifo((s.data / "set/labels/fifo.txt").c_str(), 0644) == 0);
  s.image("set/images/ok.png", "set/labels/ok.txt");
  REQUIRE(s.run({"set/images/dir.png", "set/images/fifo.png", "set/images/ok.png"}) == 0);
  INFO(s.log());
  CHECK(s.record("set/images/dir.png")["error"] == "label file set/labels/dir.txt: is a folder, not a file");
  CHECK(s.record("set/images/fifo.png")["error"] == "label file set/labels/fifo.txt: is a FIFO, not a file");
  CHECK(s.record("set/images/ok.png")["verdict"] == "correct");
}

TEST_CASE("image_worker prints its start-up phases before the first progress line", "[worker][e2e]") {
  Small s;
  s.image("set/images/a.png", "set/labels/a.txt");
  REQUIRE(s.run({"set/images/a.png"}) == 0);
  const std::string log = s.log();
  INFO(log);
  const size_t loading = log.find("\n[phase] loading model\n");
  const size_t warm = log.find("\n[phase] warm-up\n");
  const size_t progress = log.find("[progress] ");
  REQUIRE(loading != std::string::npos);
  REQUIRE(warm != std::string::npos);
  REQUIRE(progress != std::string::npos);
  CHECK(loading < warm);
  CHECK(warm < progress);
}

TEST_CASE("a detector that outputs NaN gives uncertain model_output_nan boxes and one warning", "[worker][e2e]") {
  lv::test::TempDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  lv::test::save_constant_detector(dir / "v8.pt", std::vector<float>(24, nan), 6, 4,
                                   R"({"names": {"0": "cat", "1": "dog"}})");
  write_image(dir / "data/images/p.png", cv::Mat(100, 200, CV_8UC3, cv::Scalar(50, 50, 50)));
  write_image(dir / "data/images/q.png", cv::Mat(100, 200, CV_8UC3, cv::Scalar(50, 50, 50)));
  write_text(dir / "data/labels/p.txt", "0 0.5 0.5 0.5 0.5\n1 0.15 0.5 0.1 0.2\n");
  write_text(dir / "data/labels/q.txt", "0 0.5 0.5 0.5 0.5\n");
  write_text(dir / "split.txt", "images/p.png\nimages/q.png\n");
  write_text(dir / "config.yaml",
             "input:\n  images: data\n  classes: [cat, dog]\noutput:\n  debug_images: none\n"
             "model:\n  path: v8.pt\n  type: yolov8\n  input_size: 64\n");
  const fs::path log = dir / "w.log";
  REQUIRE(lv::test::run_worker_in(dir.path(), log) == 0);
  const std::string text = read_text(log);
  INFO(text);
  const json report = json::parse(read_text(dir / "out/verification_report.json"));
  for (const json& img : report["images"]) {
    CHECK(img["verdict"] == "uncertain");
    for (const json& b : img["boxes"]) {
      CHECK(b["verdict"] == "uncertain");
      CHECK(b["reason"] == "model_output_nan");
      CHECK(b["predicted"].is_null());
    }
  }
  CHECK(report["summary"]["uncertain"] == 3);
  // Once, naming the first image.
  CHECK(text.find("the model output NaN for images/p.png") != std::string::npos);
  CHECK(text.find("the model output NaN for images/q.png") == std::string::npos);
}

TEST_CASE("an image that is a FIFO, a device link or a dangling link is an image error by the scan's rule, and never "
          "blocks the worker",
          "[worker][e2e]") {
  // A list file's entries are not stat'ed at planning (item_list.h): the worker judges them.
  Small s;
  fs::create_directories(s.data / "set/images");
  REQUIRE(::mkfifo((s.data / "set/images/pipe.png").c_str(), 0644) == 0);
  fs::create_symlink("/dev/zero", s.data / "set/images/zero.png");
  fs::create_symlink("gone.png", s.data / "set/images/dangling.png");
  fs::create_directories(s.data / "set/images/folder.png");
  s.image("set/images/ok.png", "set/labels/ok.txt");
  REQUIRE(s.run({"set/images/pipe.png", "set/images/zero.png", "set/images/dangling.png", "set/images/folder.png",
                 "set/images/ok.png"}) == 0);
  INFO(s.log());
  CHECK(s.record("set/images/pipe.png")["error"] == "image: not a regular file (fifo)");
  CHECK(s.record("set/images/zero.png")["error"] == "image: symlink resolves outside the input root (/dev/zero)");
  CHECK(s.record("set/images/dangling.png")["error"] == "image: dangling symlink");
  CHECK(s.record("set/images/folder.png")["error"] == "image: not a regular file (directory)");
  CHECK(s.record("set/images/ok.png")["verdict"] == "correct");
}

namespace {

/// One correct image, the mean-colour classifier and a config; `model_section` replaces the
/// model keys.
struct OneImage {
  lv::test::TempDir dir;

  explicit OneImage(const std::string& model_section = "  path: model.pt\n  type: classifier\n  input_size: 16\n",
                    const std::string& processing = "  batch_size: 4\n") {
    lv::test::save_mean_colour_classifier(dir / "model.pt", 10.0, true);
    write_image(dir / "data/images/a.png", red_green());
    write_text(dir / "data/labels/a.txt", "0 0.25 0.5 0.5 1\n");
    write_text(dir / "split.txt", "images/a.png\n");
    write_text(dir / "config.yaml", "input:\n  images: data\n  classes: [red, green, blue]\noutput:\n  debug_images: none\n"
                                    "model:\n" + model_section + "processing:\n" + processing);
  }
  lv::test::RunResult run(const std::map<std::string, std::string>& env) const {
    return lv::test::run_program({LV_IMAGE_WORKER, "--config", (dir / "config.yaml").string(), "--items",
                                  (dir / "split.txt").string(), "--output-dir", (dir / "out").string(), "--shard", "0"},
                                 env, dir.path(), std::chrono::seconds(60));
  }
};

}  // namespace

TEST_CASE("image_worker given a GPU it cannot use fails loudly (exit 3) unless LV_ALLOW_CPU_FALLBACK=1",
          "[worker][e2e][device]") {
  OneImage w;
  // No GPU 99 anywhere: a CPU-only LibTorch has no CUDA, a CUDA one finds no device.
  const auto refused = w.run({{"CUDA_VISIBLE_DEVICES", "99"}, {"LV_ALLOW_CPU_FALLBACK", "\x01unset"}});
  INFO(refused.output);
  CHECK(refused.code == 3);
  CHECK(refused.output.find("CUDA_VISIBLE_DEVICES=99 gives this worker a GPU, but it has no usable CUDA") !=
        std::string::npos);
  CHECK(refused.output.find("LV_ALLOW_CPU_FALLBACK=1") != std::string::npos);
  CHECK_FALSE(fs::exists(w.dir / "out/verification_report.json"));

  const auto allowed = w.run({{"CUDA_VISIBLE_DEVICES", "99"}, {"LV_ALLOW_CPU_FALLBACK", "1"}});
  INFO(allowed.output);
  CHECK(allowed.code == 0);
  CHECK(allowed.output.find("warning: CUDA_VISIBLE_DEVICES=99 gives this worker a GPU") != std::string::npos);
  CHECK(allowed.output.find("Running on the CPU, as LV_ALLOW_CPU_FALLBACK=1 allows") != std::string::npos);
  CHECK(allowed.output.find(") on cpu") != std::string::npos);

  // A CPU worker (the orchestrator's --gpus cpu gives an empty CUDA_VISIBLE_DEVICES) needs no escape.
  const auto cpu = w.run({{"CUDA_VISIBLE_DEVICES", ""}, {"LV_ALLOW_CPU_FALLBACK", "\x01unset"}});
  INFO(cpu.output);
  CHECK(cpu.code == 0);
  CHECK(cpu.output.find("warning") == std::string::npos);
}

TEST_CASE("image_worker runs a model that refuses processing.batch_size at its export's batch, with a warning",
          "[worker][e2e][export]") {
  OneImage w("  path: b1.pt\n  type: yolov8\n", "  batch_size: 4\n");
  lv::test::save_ultralytics_like_detector(w.dir / "b1.pt", 32,
                                           R"({"stride": 32, "task": "detect", "batch": 1, "imgsz": [32, 32], )"
                                           R"("names": {"0": "red", "1": "green"}})",
                                           /*batch_one_only=*/true);
  const auto r = w.run({{"CUDA_VISIBLE_DEVICES", ""}});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("warning: " + (w.dir / "b1.pt").string() + ": the model refused a batch of 4 at warm-up") !=
        std::string::npos);
  CHECK(r.output.find("config.txt \"batch\": 1), so batches of 1 are run") != std::string::npos);
  // model.input_size left out: the export's imgsz.
  CHECK(r.output.find("input 32x32, batch 1) on cpu") != std::string::npos);
}

TEST_CASE("image_worker with a traced export and the default input size fails at warm-up naming model.input_size",
          "[worker][e2e][export]") {
  OneImage w("  path: traced.pt\n  type: yolov8\n", "  batch_size: 2\n");
  lv::test::save_ultralytics_like_detector(w.dir / "traced.pt", 32, R"({"names": ["red", "green"]})");
  const auto r = w.run({{"CUDA_VISIBLE_DEVICES", ""}});
  INFO(r.output);
  CHECK(r.code == 3);
  CHECK(r.output.find("model/config mismatch: the model failed on its warm-up input [2, 3, 64, 64]") !=
        std::string::npos);
  CHECK(r.output.find("set model.input_size to it") != std::string::npos);
  CHECK_FALSE(fs::exists(w.dir / "out/.journal.jsonl"));
}

TEST_CASE("image_worker --find-batch-size on a constructed CPU model: the table, the pick, the config edited in place",
          "[worker][e2e][batch_finder]") {
  lv::test::TempDir dir;
  lv::test::save_conv_classifier(dir / "model.pt", 3, 32);
  const std::string config =
      "# tuned for this box\n"
      "input:\n  images: data\n  classes: [red, green, blue]\n"
      "model:\n  path: model.pt\n  type: classifier\n  input_size: 32\n"
      "processing:\n  batch_size: 4   # found by the finder\n  num_threads: 1\n";
  write_text(dir / "config.yaml", config);
  const fs::path log = dir / "find.log";
  const std::vector<std::string> base = {LV_IMAGE_WORKER, "--find-batch-size", "--config", (dir / "config.yaml").string(),
                                         "--max-batch", "32"};
  std::vector<std::string> test_only = base;
  test_only.push_back("--test-only");
  REQUIRE(lv::test::run_program(test_only, log) == 0);
  const std::string text = read_text(log);
  INFO(text);
  CHECK(text.find("batch-size finder on cpu") != std::string::npos);
  CHECK(text.find("items/s") != std::string::npos);
  const size_t at = text.find("[batch-size] ");
  REQUIRE(at != std::string::npos);
  const int pick = std::stoi(text.substr(at + 13));
  CHECK((pick >= 1 && pick <= 32 && (pick & (pick - 1)) == 0));  // a power of two it tried
  CHECK(read_text(dir / "config.yaml") == config);               // --test-only: untouched

  REQUIRE(lv::test::run_program(base, log) == 0);
  const std::string written = read_text(log);
  const int second = std::stoi(written.substr(written.find("[batch-size] ") + 13));
  std::string expected = config;
  expected.replace(expected.find("batch_size: 4 "), 14, "batch_size: " + std::to_string(second) + " ");
  CHECK(read_text(dir / "config.yaml") == expected);
  CHECK(written.find("wrote processing.batch_size: " + std::to_string(second)) != std::string::npos);
}

TEST_CASE("image_worker out of memory at warm-up halves its batch until it fits, and the finder stops there",
          "[worker][e2e][batch_finder]") {
  Dataset ds;
  lv::test::save_oom_above_classifier(ds.dir / "model.pt", 8);
  ds.write_config("");
  // batch_size 4 in the dataset's config: raise it past the model's limit.
  std::string config = read_text(ds.dir / "config.yaml");
  config.replace(config.find("batch_size: 4"), 13, "batch_size: 32");
  write_text(ds.dir / "config.yaml", config);
  const fs::path log = ds.dir / "gpu1.log";
  const int rc = lv::test::run_program(ds.args(), log);
  const std::string text = read_text(log);
  INFO(text);
  REQUIRE(rc == 0);
  CHECK(text.find("out of memory at warm-up with a batch of 32; running batches of 8") != std::string::npos);
  CHECK(ds.report()["status"] == "complete");

  REQUIRE(lv::test::run_program({LV_IMAGE_WORKER, "--find-batch-size", "--test-only", "--config",
                                 (ds.dir / "config.yaml").string(), "--max-batch", "64"},
                                log) == 0);
  const std::string found = read_text(log);
  INFO(found);
  CHECK(found.find("out of memory") != std::string::npos);
  const int pick = std::stoi(found.substr(found.find("[batch-size] ") + 13));
  CHECK(pick <= 8);
  CHECK(pick >= 1);
}

namespace {
/// `images` 32 x 32 red-green images with `label_text` each, run through image_worker with
/// model.pt (a classifier of 8-px crops) in batches of `batch`; returns the shard report after
/// checking the worker succeeded and every image went through without an error.
json run_batch_case(const lv::test::TempDir& dir, int images, const std::string& label_text, int batch) {
  std::string list;
  for (int i = 0; i < images; ++i) {
    write_image(dir / "data/images" / fmt::format("{:03d}.png", i), red_green(32, 32));
    write_text(dir / "data/labels" / fmt::format("{:03d}.txt", i), label_text);
    list += fmt::format("images/{:03d}.png\n", i);
  }
  write_text(dir / "split.txt", list);
  write_text(dir / "config.yaml",
             "input:\n  images: data\n  classes: [red, green, blue]\n"
             "model:\n  path: model.pt\n  type: classifier\n  input_size: 8\n" +
                 fmt::format("processing:\n  batch_size: {}\n  decode_threads: 2\n", batch));
  const fs::path log = dir / "w.log";
  const int rc = lv::test::run_program({LV_IMAGE_WORKER, "--config", (dir / "config.yaml").string(), "--items",
                                        (dir / "split.txt").string(), "--output-dir", (dir / "out").string(), "--shard",
                                        "0"},
                                       log);
  INFO(read_text(log));
  REQUIRE(rc == 0);
  json report = json::parse(read_text(dir / "out/verification_report.json"));
  CHECK(report["status"] == "complete");
  CHECK(report["images"].size() == static_cast<size_t>(images));
  for (const auto& image : report["images"]) CHECK(image["error"].is_null());
  return report;
}
}  // namespace

TEST_CASE("image_worker fills batches above 64: 100 crops go to the model as one batch of 100", "[worker][e2e]") {
  lv::test::TempDir dir;
  lv::test::save_exact_batch_classifier(dir / "model.pt", 100);
  run_batch_case(dir, 100, "0 0.5 0.5 0.5 0.5\n", 100);
}

TEST_CASE("image_worker runs no sliver batches: an image whose crops would overfill a batch opens the next",
          "[worker][e2e]") {
  // Three boxes an image, batches of 8: whole images make groups of 6 crops. Filling each batch
  // to 8 split every third image's crops into a batch of 8 and one of 1, a whole forward for a
  // single crop; the model fails on any batch under 3 rows.
  lv::test::TempDir dir;
  lv::test::save_batch_range_classifier(dir / "model.pt", 3, 8);
  const json report = run_batch_case(dir, 12, "0 0.25 0.5 0.4 0.4\n0 0.5 0.5 0.2 0.2\n1 0.75 0.5 0.4 0.4\n", 8);
  for (const auto& image : report["images"]) CHECK(image["boxes"].size() == 3);
}

TEST_CASE("threads: the orchestrator's share of the cores sizes model threads and decoders", "[worker]") {
  // Each test case runs in its own process (ctest), so the environment is ours to set.
  ::setenv("LV_CORES_PER_WORKER", "3", 1);
  ::setenv("OMP_NUM_THREADS", "5", 1);
  lv::Config c;
  CHECK(lv::core_share() == 3);
  CHECK(lv::model_threads(c) == 3);
  CHECK(lv::decode_threads(c, false) == 3);
  CHECK(lv::decode_threads(c, true) == 3);
  // One core each (as many CPU workers as cores): one decoder beside the model thread; a GPU's
  // worker keeps two, since its host thread mostly waits for the device.
  ::setenv("LV_CORES_PER_WORKER", "1", 1);
  CHECK(lv::decode_threads(c, false) == 1);
  CHECK(lv::decode_threads(c, true) == 2);
  // Set numbers win; a share that is not a count falls back to OMP_NUM_THREADS.
  c.processing.num_threads = 4;
  c.processing.decode_threads = 6;
  CHECK(lv::model_threads(c) == 4);
  CHECK(lv::decode_threads(c, false) == 6);
  ::setenv("LV_CORES_PER_WORKER", "two", 1);
  CHECK(lv::core_share() == 5);
  ::unsetenv("LV_CORES_PER_WORKER");
  ::unsetenv("OMP_NUM_THREADS");
  CHECK(lv::core_share() == static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}
