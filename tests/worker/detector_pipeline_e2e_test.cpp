// Detectors end to end: the real orchestrator runs the real image_worker with a yolov8-layout
// model on 4 fake GPUs. The model (save_quadrant_detector) sees the colour of each quadrant,
// so every verdict, every corrected label file and every auto-label is known by construction.
#include <signal.h>

#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "pipeline_util.h"
#include "process_util.h"
#include "test_models.h"
#include "test_util.h"
#include "worker_catch.h"

using nlohmann::json;
namespace fs = std::filesystem;
using lv::test::read_text;
using lv::test::write_text;

namespace {

// Quadrant q of a 64 x 64 image: top-left, top-right, bottom-left, bottom-right.
const double kCx[] = {0.25, 0.75, 0.25, 0.75};
const double kCy[] = {0.25, 0.25, 0.75, 0.75};

/// A label line as the dataset maker writes it.
std::string line(int cls, double cx, double cy) { return fmt::format("{} {} {} 0.5 0.5\n", cls, cx, cy); }
/// A line as the worker writes a box (6 decimals).
std::string fixed(int cls, double cx, double cy) {
  return fmt::format("{} {:.6f} {:.6f} 0.500000 0.500000\n", cls, cx, cy);
}

/// Image i: quadrant q has colour (i + q) % 4 (0 red, 1 green, 2 blue, 3 black). Its labels
/// depend on the kind, i % 6:
///   0 right (correct); 1 the first coloured quadrant's class is the next colour (other_class);
///   2 its box moved half a quadrant towards the centre, IoU 1/3 (bad_location); 3 an extra
///   label on the black quadrant (spurious); 4 the last coloured quadrant unlabelled (missing);
///   5 no label file at all (unlabeled).
struct Scenes : lv::test::RunDir {
  std::vector<std::string> items;
  int count;

  Scenes(int n, int spin, const std::string& task) : count(n) {
    lv::test::save_quadrant_detector(dir / "model.pt", spin);
    for (int i = 0; i < n; ++i) {
      const std::string folder = i % 2 ? "site_b" : "site_a";
      const std::string name = fmt::format("img_{:03d}", i);
      cv::Mat m(64, 64, CV_8UC3, cv::Scalar(0, 0, 0));
      const cv::Scalar bgr[] = {cv::Scalar(0, 0, 255), cv::Scalar(0, 255, 0), cv::Scalar(255, 0, 0), cv::Scalar(0, 0, 0)};
      for (int q = 0; q < 4; ++q) m(cv::Rect(q % 2 * 32, q / 2 * 32, 32, 32)).setTo(bgr[colour(i, q)]);
      const fs::path image = dir / "data" / folder / "images" / (name + ".png");
      fs::create_directories(image.parent_path());
      REQUIRE(cv::imwrite(image.string(), m));
      items.push_back(folder + "/images/" + name + ".png");
      if (i % 6 != 5) write_text(dir / "data" / folder / "labels" / (name + ".txt"), labels(i));
    }
    std::sort(items.begin(), items.end());
    write_text(dir / "config.yaml",
               "task: " + task +
                   "\ninput:\n  images: data\n  classes: [red, green, blue]\n"
                   "output:\n  dir: output\n  debug_images: none\n"
                   "model:\n  path: model.pt\n  type: yolov8\n  input_size: 32\n"
                   "verification:\n  background_threshold: 0.05\n"
                   "processing:\n  batch_size: 2\n  num_threads: 1\n  decode_threads: 1\n"
                   "worker:\n  executable: " LV_IMAGE_WORKER "\n"
                   "orchestrator:\n  stop_grace_s: 2\n  status_interval_s: 0.5\n");
  }

  static int colour(int i, int q) { return (i + q) % 4; }
  /// The first and last coloured quadrant of image i.
  static int first_coloured(int i) { return colour(i, 0) == 3 ? 1 : 0; }
  static int last_coloured(int i) { return colour(i, 3) == 3 ? 2 : 3; }
  static int black(int i) { return (3 - i % 4 + 4) % 4; }

  /// The true labels of image i, one line per coloured quadrant.
  static std::string truth(int i) {
    std::string text;
    for (int q = 0; q < 4; ++q)
      if (colour(i, q) != 3) text += line(colour(i, q), kCx[q], kCy[q]);
    return text;
  }

  /// The label file of image i (kinds above).
  static std::string labels(int i) {
    std::string text;
    const int kind = i % 6, first = first_coloured(i), last = last_coloured(i);
    for (int q = 0; q < 4; ++q) {
      const int c = colour(i, q);
      if (c == 3) continue;
      if (kind == 1 && q == first) text += line((c + 1) % 3, kCx[q], kCy[q]);
      else if (kind == 2 && q == first) text += line(c, 0.5, kCy[q]);
      else if (kind == 4 && q == last) continue;
      else text += line(c, kCx[q], kCy[q]);
    }
    if (kind == 3) text += line(0, kCx[black(i)], kCy[black(i)]);
    return text;
  }

  std::string folder(int i) const { return i % 2 ? "site_b" : "site_a"; }

  /// config.yaml with its text `from` replaced by `to`.
  void edit_config(const std::string& from, const std::string& to) const {
    std::string config = read_text(dir / "config.yaml");
    const size_t at = config.find(from);
    REQUIRE(at != std::string::npos);
    write_text(dir / "config.yaml", config.replace(at, from.size(), to));
  }

  const json& record(const json& report, int i) const {
    const std::string path = fmt::format("{}/images/img_{:03d}.png", folder(i), i);
    for (const json& r : report["images"])
      if (r["path"] == path) return r;
    FAIL("no record for " << path);
    throw std::logic_error("unreachable");
  }
};

}  // namespace

TEST_CASE("detector verify on 4 fake GPUs: wrong class, bad location, spurious, missing, unlabeled by construction",
          "[pipeline][detector]") {
  Scenes s(24, 0, "verify");
  const auto r = s.orchestrate({"--num-gpus", "4"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  const json report = s.report();
  REQUIRE(report["images"].size() == 24);
  for (size_t k = 0; k < s.items.size(); ++k) CHECK(report["images"][k]["path"] == s.items[k]);
  const char* const verdicts[] = {"correct", "mislabeled", "mislabeled", "mislabeled", "uncertain", "unlabeled"};
  for (int i = 0; i < 24; ++i) {
    INFO("image " << i);
    const json& rec = s.record(report, i);
    CHECK(rec["verdict"] == verdicts[i % 6]);
    const int kind = i % 6;
    for (const json& b : rec["boxes"]) {
      const bool odd_one = (kind == 1 || kind == 2) ? b["index"] == 0 : kind == 3 && b["index"] == 3;
      if (!odd_one) {
        CHECK(b["reason"] == "label_confirmed");
        continue;
      }
      CHECK(b["reason"] == (kind == 1 ? "other_class" : kind == 2 ? "bad_location" : "spurious"));
      if (kind == 1) CHECK(b["suggested"] == Scenes::colour(i, Scenes::first_coloured(i)));
      if (kind == 2) CHECK(b["suggested_box"] == json{kCx[Scenes::first_coloured(i)], kCy[Scenes::first_coloured(i)], 0.5, 0.5});
    }
    CHECK(rec["missing"].size() == (kind == 4 ? 1u : kind == 5 ? 3u : 0u));
  }
  // 4 images of each kind: missing counts the one dropped box of kind 4 and the three boxes
  // suggested for each unlabeled image.
  const json& sum = report["summary"];
  CHECK(sum["images_by_verdict"] ==
        json{{"correct", 4}, {"mislabeled", 12}, {"uncertain", 4}, {"unlabeled", 4}, {"error", 0}});
  CHECK(sum["unlabeled"] == 4);
  CHECK(sum["missing"] == 4 + 12);
  CHECK(sum["reasons"] == json{{"label_confirmed", 4 * 3 + 4 * 2 + 4 * 2 + 4 * 3 + 4 * 2},
                               {"other_class", 4},
                               {"bad_location", 4},
                               {"spurious", 4}});

  // The corrected label files, one image of each kind (image 7: kind 1, 8: kind 2, 9: kind 3).
  const auto out = [&](const std::string& verdict, int i, const char* sub) {
    return read_text(s.dir / "output" / verdict / s.folder(i) / sub / fmt::format("img_{:03d}.txt", i));
  };
  // Image 7: colours q0..q3 = 3 (black), 0, 1, 2; q1 was labelled green (1), is red.
  REQUIRE(Scenes::labels(7) == line(1, 0.75, 0.25) + line(1, 0.25, 0.75) + line(2, 0.75, 0.75));
  CHECK(out("mislabeled", 7, "labels") == line(0, 0.75, 0.25) + line(1, 0.25, 0.75) + line(2, 0.75, 0.75));
  CHECK(out("mislabeled", 7, "labels_original") == Scenes::labels(7));
  // Image 8: colours 0, 1, 2, 3; q0 (red) was placed at cx 0.5; its box is put back.
  REQUIRE(Scenes::labels(8) == line(0, 0.5, 0.25) + line(1, 0.75, 0.25) + line(2, 0.25, 0.75));
  CHECK(out("mislabeled", 8, "labels") == fixed(0, 0.25, 0.25) + line(1, 0.75, 0.25) + line(2, 0.25, 0.75));
  // Image 9: colours 1, 2, 3, 0; the extra red label on the black q2 is dropped.
  REQUIRE(Scenes::labels(9) == Scenes::truth(9) + line(0, 0.25, 0.75));
  CHECK(out("mislabeled", 9, "labels") == Scenes::truth(9));
  // Image 10 (kind 4): uncertain, its labels kept as they are.
  CHECK(out("uncertain", 10, "labels") == Scenes::labels(10));
  // Image 11 (kind 5): unlabeled, under uncertain/ with the three suggested boxes; the empty
  // original beside them.
  CHECK(fs::exists(s.dir / "output/uncertain/site_b/images/img_011.png"));
  // Image 11: colours 3 (black), 0, 1, 2: red top right, green bottom left, blue bottom right.
  CHECK(out("uncertain", 11, "labels") == fixed(0, 0.75, 0.25) + fixed(1, 0.25, 0.75) + fixed(2, 0.75, 0.75));
  CHECK(out("uncertain", 11, "labels_original") == "");
}

TEST_CASE("autolabel on 4 fake GPUs: labels from predictions, existing label files kept, classes.txt once",
          "[pipeline][detector][autolabel]") {
  Scenes s(12, 0, "autolabel");
  const auto r = s.orchestrate({"--num-gpus", "4"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("Summary: boxes 6, images 12, kept_existing 10, labeled_images 2") != std::string::npos);
  CHECK(read_text(s.dir / "output/autolabeled/classes.txt") == "red\ngreen\nblue\n");
  for (int i = 0; i < 12; ++i) {
    INFO("image " << i);
    const fs::path base = s.dir / "output/autolabeled" / s.folder(i);
    CHECK(read_text(base / "images" / fmt::format("img_{:03d}.png", i)) ==
          read_text(s.dir / "data" / s.folder(i) / "images" / fmt::format("img_{:03d}.png", i)));
    const std::string labels = read_text(base / "labels" / fmt::format("img_{:03d}.txt", i));
    if (i % 6 == 5) {
      // Every coloured quadrant, in anchor order (all score 1), boxes with 6 decimals.
      std::string expected;
      for (int q = 0; q < 4; ++q)
        if (Scenes::colour(i, q) != 3) expected += fixed(Scenes::colour(i, q), kCx[q], kCy[q]);
      CHECK(labels == expected);
    } else {
      CHECK(labels == Scenes::labels(i));  // never replaced, even where it is wrong
    }
  }
  // Labels are written beside the image only; nothing else in the tree.
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(s.dir / "output/autolabeled"))
    if (e.is_regular_file()) ++files;
  CHECK(files == 12 + 12 + 1);  // images, label files, classes.txt
  const json report = s.report();
  CHECK(report["task"] == "autolabel");
  CHECK(report["summary"]["confidence_histogram"]["0.9-1.0"] == 6);
  CHECK(report["per_class"] == json{{"red", {{"boxes", 2}}}, {"green", {{"boxes", 2}}}, {"blue", {{"boxes", 2}}}});
  const json& rec = s.record(report, 11);
  CHECK(rec["source"] == "predicted");
  CHECK(rec["labels"].size() == 3);
  CHECK(s.record(report, 10)["source"] == "existing");
  CHECK_FALSE(fs::exists(s.dir / "output/debug_images"));  // debug_images: none
}

TEST_CASE("autolabel draws the boxes it writes when debug images are asked for", "[pipeline][detector][autolabel]") {
  Scenes s(6, 0, "autolabel");
  s.edit_config("debug_images: none", "debug_images: all");
  const auto r = s.orchestrate({"--num-gpus", "2"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  // Pixels far from the source (more than JPEG's blur at these flat quadrants): box lines.
  const auto changed = [&](int i) {
    const std::string rel = fmt::format("{}/images/img_{:03d}.png", s.folder(i), i);
    const cv::Mat debug = cv::imread((s.dir / "output/debug_images" / (rel + ".jpg")).string());
    const cv::Mat source = cv::imread((s.dir / "data" / rel).string());
    // The image sits under the header strip (file, verdict, legend).
    REQUIRE(debug.cols == source.cols);
    REQUIRE(debug.rows > source.rows);
    const cv::Mat drawn = debug(cv::Rect(0, debug.rows - source.rows, source.cols, source.rows));
    cv::Mat diff;
    cv::absdiff(drawn, source, diff);
    int far = 0;
    for (int y = 0; y < diff.rows; ++y)
      for (int x = 0; x < diff.cols; ++x) {
        const cv::Vec3b d = diff.at<cv::Vec3b>(y, x);
        if (d[0] + d[1] + d[2] > 300) ++far;
      }
    return far;
  };
  // Image 5 has no label file: its three boxes are drawn (green lines across blue and red
  // quadrants). Image 0 keeps its own labels: nothing of the model's is drawn.
  CHECK(changed(5) >= 30);
  CHECK(changed(0) < 10);
  for (int i = 0; i < 6; ++i)
    CHECK(fs::exists(s.dir / "output/debug_images" / s.folder(i) / "images" / fmt::format("img_{:03d}.png.jpg", i)));
}

TEST_CASE("detector verify and autolabel: a worker killed mid-shard, then --retry-failed, equals a clean run",
          "[pipeline][detector][kill]") {
  for (const std::string task : {"verify", "autolabel"}) {
    INFO("task " << task);
    Scenes clean(36, 0, task);
    REQUIRE(clean.orchestrate({"--num-gpus", "4"}).code == 0);

    Scenes s(36, /*spin=*/1500, task);
    lv::test::Child orchestrator({LV_ORCHESTRATOR, "--config", "config.yaml", "--num-gpus", "4"}, s.env(),
                                 s.dir.path(), s.dir / "run.out");
    REQUIRE(lv::test::wait_until([&] { return lv::test::last_progress(read_text(s.dir / "gpu1.log")) >= 2; },
                                 std::chrono::seconds(120)));
    const pid_t victim = lv::test::worker_pid("image_worker", s.dir.path(), 1);
    REQUIRE(victim > 0);
    ::kill(victim, SIGKILL);
    const auto code = orchestrator.wait(std::chrono::seconds(240));
    INFO(orchestrator.output());
    REQUIRE(code == 1);
    const auto retry = s.orchestrate({"--retry-failed"});
    INFO(retry.output);
    REQUIRE(retry.code == 0);
    CHECK(read_text(s.dir / "gpu1.log").find("resuming: ") != std::string::npos);
    CHECK(lv::test::comparable_report(s.report()) == lv::test::comparable_report(clean.report()));
    CHECK(lv::test::output_tree(s.dir / "output") == lv::test::output_tree(clean.dir / "output"));
  }
}

TEST_CASE("input.images as a list of folders: one plan, items named from their common folder", "[pipeline]") {
  Scenes s(8, 0, "verify");
  // Two sites that share file names: listed as two folders, they stay two sets of items.
  fs::create_directories(s.dir / "more");
  fs::copy(s.dir / "data/site_a", s.dir / "more/site_a", fs::copy_options::recursive);
  s.edit_config("images: data", "images: [data/site_a, more/site_a]");
  const auto r = s.orchestrate({"--num-gpus", "4", "--dry-run"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  const auto run = s.orchestrate({"--num-gpus", "4"});
  INFO(run.output);
  REQUIRE(run.code == 0);
  const json report = s.report();
  REQUIRE(report["images"].size() == 8);
  CHECK(report["images"][0]["path"] == "data/site_a/images/img_000.png");
  CHECK(report["images"][4]["path"] == "more/site_a/images/img_000.png");
  CHECK(fs::exists(s.dir / "output/correct/data/site_a/images/img_000.png"));
  CHECK(fs::exists(s.dir / "output/correct/more/site_a/images/img_000.png"));
  // Images 0, 2, 4, 6 of each copy: kinds 0, 2, 4, 0.
  CHECK(report["summary"]["images_by_verdict"]["correct"] == 4);
  CHECK(report["summary"]["images_by_verdict"]["mislabeled"] == 2);

  // The same folder through a link is the same folder: refused, not listed twice.
  fs::create_symlink(s.dir / "data/site_a", s.dir / "alias");
  s.edit_config("images: [data/site_a, more/site_a]", "images: [data/site_a, alias]");
  const auto twice = s.orchestrate({"--num-gpus", "4", "--restart"});
  INFO(twice.output);
  CHECK(twice.code == 2);
  CHECK(twice.output.find("input.images[1] and input.images[0] (" + (s.dir / "data/site_a").string() +
                          ") are the same folder or one holds the other once links are followed") != std::string::npos);
  s.edit_config("images: [data/site_a, alias]", "images: [data/site_a, nowhere]");
  const auto missing = s.orchestrate({"--num-gpus", "4", "--restart"});
  CHECK(missing.code == 4);
  CHECK(missing.output.find("input.images[1]: no such folder") != std::string::npos);
}

TEST_CASE("a duplicated spurious line goes with its twin, a symlinked image is hard-linked as its target",
          "[pipeline][detector]") {
  Scenes s(6, 0, "verify");
  // Image 3 (kind 3) ends with a spurious red box on its black quadrant: written twice now.
  const fs::path labels = s.dir / "data/site_b/labels/img_003.txt";
  write_text(labels, read_text(labels) + line(0, kCx[Scenes::black(3)], kCy[Scenes::black(3)]));
  // A link to image 0 inside the tree, with its own labels.
  fs::create_symlink("img_000.png", s.dir / "data/site_a/images/link.png");
  write_text(s.dir / "data/site_a/labels/link.txt", Scenes::labels(0));
  s.edit_config("debug_images: none", "debug_images: none\n  link_mode: hardlink");
  const auto r = s.orchestrate({"--num-gpus", "2"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(read_text(s.dir / "output/mislabeled/site_b/labels/img_003.txt") == Scenes::truth(3));
  const fs::path linked = s.dir / "output/correct/site_a/images/link.png";
  CHECK(fs::symlink_status(linked).type() == fs::file_type::regular);
  CHECK(read_text(linked) == read_text(s.dir / "data/site_a/images/img_000.png"));
}
