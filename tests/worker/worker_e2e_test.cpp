// image_worker end to end: the protocol (DESIGN §6), the output tree (§7), bad input, resume,
// interruption and exit codes, on small datasets made here.
#include <sys/stat.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "process_util.h"
#include "test_models.h"
#include "test_util.h"
#include "worker_catch.h"

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
  CHECK(verdict("outdoor/c.png") == "correct");
  CHECK(verdict("mid/images/half.png") == "uncertain");
  CHECK(error("bad/empty.jpg") == "empty file (0 bytes)");
  CHECK(error("bad/text.png").find("cannot decode image") == 0);
  CHECK(error("bad/trunc.jpg") == "truncated JPEG (no end-of-image marker)");
  CHECK(error("bad/huge.png") == "5000x5000 = 25000000 pixels is over processing.max_image_pixels 1000000");
  CHECK(error("bad/dir.jpg") == "not a regular file");
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
  CHECK(fs::exists(ds.out("correct/outdoor/c.png")));
  CHECK_FALSE(fs::exists(ds.out("correct/outdoor/c.txt")));
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
  CHECK(read_text(log).find("model output shape [1, 5] does not fit model.type classifier with 3 classes") !=
        std::string::npos);

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
  const int rc = lv::test::run_program({LV_IMAGE_WORKER, "--config", (dir / "config.yaml").string(), "--items",
                                        (dir / "split.txt").string(), "--output-dir", (dir / "out").string(), "--shard",
                                        "0"},
                                       log);
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
