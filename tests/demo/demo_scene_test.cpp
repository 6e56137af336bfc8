// The demo scene maker on striped test garments whose lit width tells their class.
#include "demo_scene.h"

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "catch.h"
#include "error.h"
#include "idx_fixture.h"
#include "test_util.h"

namespace fs = std::filesystem;
using lv::demo::FashionSplit;
using lv::demo::plan_scene;
using lv::demo::SceneOptions;
using lv::test::TempDir;

namespace {

/// 100 striped garments (class i % 10), loaded through the real reader.
const FashionSplit& striped_split() {
  static const FashionSplit split = [] {
    TempDir dir;
    lv::test::write_striped_split(dir.path(), "t10k", 100);
    return lv::demo::load_fashion_split(dir.path(), "t10k");
  }();
  return split;
}

/// Every regular file under `root`, relative path -> content.
std::map<std::string, std::string> tree(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = lv::test::read_text(e.path());
  return out;
}

}  // namespace

TEST_CASE("planned garments lie inside the scene, apart, with the split's classes", "[scene]") {
  SceneOptions o;
  o.noise = 0;
  const cv::Rect scene(0, 0, o.geometry.scene_size.width, o.geometry.scene_size.height);
  std::set<size_t> counts;
  for (int i = 0; i < 200; ++i) {
    const auto plan = plan_scene(o, striped_split(), i);
    REQUIRE(!plan.garments.empty());
    REQUIRE(plan.garments.size() <= 6);
    counts.insert(plan.garments.size());
    for (size_t a = 0; a < plan.garments.size(); ++a) {
      const auto& g = plan.garments[a];
      CHECK((g.box & scene) == g.box);
      CHECK(g.box.width == g.box.height);
      CHECK(g.box.width >= 28);
      CHECK(g.box.width <= 112);
      CHECK(g.true_class == g.source % 10);  // the striped split's labels
      CHECK(g.written_class == g.true_class);
      for (size_t b = 0; b < a; ++b) CHECK((g.box & plan.garments[b].box).area() == 0);
    }
  }
  CHECK(counts.size() >= 5);  // 1..6 garments, not always the same number
}

TEST_CASE("label noise is injected at the asked rate, always to another class", "[scene]") {
  for (const double rate : {0.0, 0.1, 0.3, 1.0}) {
    SceneOptions o;
    o.noise = rate;
    o.seed = 7;
    int64_t boxes = 0, changed = 0;
    std::set<int> swapped_to;
    for (int i = 0; i < 3000; ++i) {
      for (const auto& g : plan_scene(o, striped_split(), i).garments) {
        ++boxes;
        if (g.written_class != g.true_class) {
          ++changed;
          if (g.true_class == 0) swapped_to.insert(g.written_class);
        }
        CHECK(g.written_class >= 0);
        CHECK(g.written_class < 10);
      }
    }
    // Over ~10 000 boxes the changed share is binomial: within 4 standard deviations.
    const double share = static_cast<double>(changed) / static_cast<double>(boxes);
    const double sd = std::sqrt(rate * (1 - rate) / static_cast<double>(boxes));
    INFO("rate " << rate << ", " << changed << " of " << boxes << " changed");
    CHECK(boxes > 8000);
    CHECK(std::abs(share - rate) <= 4 * sd + 1e-12);
    if (rate >= 0.3) CHECK(swapped_to == std::set<int>{1, 2, 3, 4, 5, 6, 7, 8, 9});  // every other class, never 0
  }
}

TEST_CASE("each box shows its garment on the background, and nothing else changes", "[scene]") {
  SceneOptions o;
  o.seed = 3;
  int checked = 0;
  for (int i = 0; i < 30; ++i) {
    const auto plan = plan_scene(o, striped_split(), i);
    const auto scene = lv::demo::render_scene(o, striped_split(), plan, i);
    REQUIRE(scene.image.size() == o.geometry.scene_size);
    cv::Mat diff;
    cv::absdiff(scene.image, scene.background, diff);
    cv::Mat outside(scene.image.size(), CV_8UC1, cv::Scalar(255));
    for (const auto& g : plan.garments) {
      outside(g.box).setTo(0);
      // The share of the tile that differs from the background is the garment's lit share,
      // which tells its class (garment_width(k) / 28 = (k + 1) / 10 within rounding).
      int lit = 0;
      for (int y = g.box.y; y < g.box.br().y; ++y)
        for (int x = g.box.x; x < g.box.br().x; ++x) {
          const auto d = diff.at<cv::Vec3b>(y, x);
          lit += d[0] + d[1] + d[2] > 30;
        }
      const double share = static_cast<double>(lit) / g.box.area();
      INFO("scene " << i << " class " << g.true_class << " side " << g.box.width);
      CHECK(std::abs(share - lv::test::garment_width(g.true_class) / 28.0) < 0.05);
      ++checked;
    }
    cv::Mat diff_outside = cv::Mat::zeros(diff.size(), diff.type());
    diff.copyTo(diff_outside, outside);
    CHECK(cv::countNonZero(diff_outside.reshape(1)) == 0);
  }
  CHECK(checked > 60);
}

TEST_CASE("the written dataset: folders, labels and truth agree with what was drawn", "[scene]") {
  TempDir dir;
  SceneOptions o;
  o.noise = 0.5;
  o.seed = 11;
  const fs::path out = dir / "data";
  const auto summary = lv::demo::write_demo_dataset(o, striped_split(), 24, out, false);
  CHECK(summary.scenes == 24);

  CHECK(lv::test::read_text(out / "classes.txt") ==
        "tshirt_top\ntrouser\npullover\ndress\ncoat\nsandal\nshirt\nsneaker\nbag\nankle_boot\n");
  std::ifstream truth(out / "truth.jsonl");
  std::map<std::string, std::vector<nlohmann::json>> by_image;
  int boxes = 0, changed = 0;
  for (std::string line; std::getline(truth, line); ++boxes) {
    const auto j = nlohmann::json::parse(line);
    by_image[j["image"]].push_back(j);
    changed += j["changed"].get<bool>();
    CHECK(j["changed"].get<bool>() == (j["true_class"] != j["written_class"]));
    CHECK(j["true_class"].get<int>() == j["source_index"].get<int>() % 10);
  }
  CHECK(boxes == summary.boxes);
  CHECK(changed == summary.changed);
  CHECK(changed > 0);
  CHECK(by_image.size() == 24);

  std::set<std::string> folders;
  for (const auto& [image, rows] : by_image) {
    // .../JPEGImages/x.jpg -> .../labels/x.txt, the YOLO way.
    const fs::path img = out / image;
    const fs::path label = img.parent_path().parent_path() / "labels" / img.filename().replace_extension(".txt");
    folders.insert(img.parent_path().parent_path().lexically_relative(out).string());
    const cv::Mat decoded = cv::imread(img.string());
    REQUIRE(decoded.cols == 320);
    REQUIRE(decoded.rows == 240);
    std::istringstream lines(lv::test::read_text(label));
    size_t n = 0;
    for (std::string line; std::getline(lines, line); ++n) {
      REQUIRE(n < rows.size());
      const auto& t = rows[n];
      CHECK(t["box"].get<size_t>() == n);
      int cls;
      double cx, cy, w, h;
      std::istringstream(line) >> cls >> cx >> cy >> w >> h;
      CHECK(cls == t["written_class"].get<int>());
      // Inside the image, and the box drawn (box_px, pixels) is the box written.
      CHECK(cx - w / 2 >= -1e-6);
      CHECK(cx + w / 2 <= 1 + 1e-6);
      CHECK(cy - h / 2 >= -1e-6);
      CHECK(cy + h / 2 <= 1 + 1e-6);
      const auto px = t["box_px"];
      CHECK((cx - w / 2) * 320 == Approx(px[0].get<double>()).margin(0.01));
      CHECK((cy - h / 2) * 240 == Approx(px[1].get<double>()).margin(0.01));
      CHECK(w * 320 == Approx(px[2].get<double>()).margin(0.01));
      CHECK(h * 240 == Approx(px[3].get<double>()).margin(0.01));
    }
    CHECK(n == rows.size());
  }
  CHECK(folders == std::set<std::string>{"indoor/day", "indoor/night", "outdoor/day"});
}

TEST_CASE("the same seed gives identical files, another seed other files", "[scene]") {
  TempDir dir;
  SceneOptions o;
  o.seed = 5;
  lv::demo::write_demo_dataset(o, striped_split(), 12, dir / "a", false);
  lv::demo::write_demo_dataset(o, striped_split(), 12, dir / "b", false);
  o.seed = 6;
  lv::demo::write_demo_dataset(o, striped_split(), 12, dir / "c", false);
  const auto a = tree(dir / "a");
  CHECK(a.size() == 12 * 2 + 3);  // images, labels, classes.txt, truth.jsonl, demo_dataset.json
  CHECK(a == tree(dir / "b"));
  CHECK(a.at("truth.jsonl") != tree(dir / "c").at("truth.jsonl"));
}

TEST_CASE("an existing dataset is kept unless overwriting is asked", "[scene]") {
  TempDir dir;
  SceneOptions o;
  lv::demo::write_demo_dataset(o, striped_split(), 10, dir / "d", false);
  lv::test::write_text(dir / "d" / "notes.txt", "mine");
  try {
    lv::demo::write_demo_dataset(o, striped_split(), 3, dir / "d", false);
    FAIL("no error");
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::usage);
    CHECK_THAT(e.what(), Catch::Contains("exists and is not empty"));
  }
  // Overwriting drops the ten old scenes, keeps what the tool did not write.
  lv::demo::write_demo_dataset(o, striped_split(), 3, dir / "d", true);
  const auto files = tree(dir / "d");
  CHECK(files.size() == 3 * 2 + 3 + 1);
  CHECK(files.at("notes.txt") == "mine");
}

namespace {

double px_iou(const nlohmann::json& a, const nlohmann::json& b) {
  const double ax2 = a[0].get<double>() + a[2].get<double>(), ay2 = a[1].get<double>() + a[3].get<double>();
  const double bx2 = b[0].get<double>() + b[2].get<double>(), by2 = b[1].get<double>() + b[3].get<double>();
  const double iw = std::max(0.0, std::min(ax2, bx2) - std::max(a[0].get<double>(), b[0].get<double>()));
  const double ih = std::max(0.0, std::min(ay2, by2) - std::max(a[1].get<double>(), b[1].get<double>()));
  const double inter = iw * ih;
  return inter / (a[2].get<double>() * a[3].get<double>() + b[2].get<double>() * b[3].get<double>() - inter);
}

}  // namespace

TEST_CASE("every kind of label noise is written as the truth file says", "[scene]") {
  // Under each box fit: "box_px" is the fitted box, and the noise kinds are placed against it.
  const auto fit = GENERATE(lv::demo::BoxFit::tile, lv::demo::BoxFit::tight, lv::demo::BoxFit::loose);
  INFO("box fit " << lv::demo::to_string(fit));
  TempDir dir;
  SceneOptions o;
  o.box_fit = fit;
  o.noise = 0.1;
  o.noise_missing = 0.15;
  o.noise_location = 0.15;
  o.noise_duplicate = 0.15;
  o.noise_spurious = 0.15;
  o.seed = 3;
  const fs::path out = dir / "data";
  const auto summary = lv::demo::write_demo_dataset(o, striped_split(), 80, out, false);

  std::map<std::string, std::vector<nlohmann::json>> by_image;
  std::ifstream truth(out / "truth.jsonl");
  for (std::string line; std::getline(truth, line);) {
    const auto j = nlohmann::json::parse(line);
    by_image[j["image"]].push_back(j);
  }
  std::map<std::string, int> kinds;
  for (const auto& [image, rows] : by_image) {
    // The label file holds the written lines in "box" order.
    const fs::path img = out / image;
    const fs::path label = img.parent_path().parent_path() / "labels" / img.filename().replace_extension(".txt");
    std::vector<std::vector<double>> lines;
    std::istringstream text(lv::test::read_text(label));
    for (std::string line; std::getline(text, line);) {
      std::istringstream fields(line);
      std::vector<double> v(5);
      for (double& x : v) fields >> x;
      lines.push_back(v);
    }
    size_t written = 0;
    for (const auto& t : rows) {
      const std::string kind = t.value("noise", t["changed"].get<bool>() ? "class" : "none");
      ++kinds[kind];
      INFO(image << " " << t.dump());
      if (kind == "missing") {
        CHECK(t["box"].is_null());
        CHECK(t["written"] == false);
        continue;
      }
      ++written;
      const auto b = t["box"].get<size_t>();
      REQUIRE(b < lines.size());
      const auto& l = lines[b];
      CHECK(l[0] == t["written_class"].get<int>());
      const auto px = t.contains("written_px") ? t["written_px"] : t["box_px"];
      CHECK((l[1] - l[3] / 2) * 320 == Approx(px[0].get<double>()).margin(0.01));
      CHECK((l[2] - l[4] / 2) * 240 == Approx(px[1].get<double>()).margin(0.01));
      CHECK(l[3] * 320 == Approx(px[2].get<double>()).margin(0.01));
      if (kind == "location") {
        const double o2 = px_iou(px, t["box_px"]);
        CHECK(o2 >= 0.2);
        CHECK(o2 <= 0.5);
        CHECK(t["written_class"] == t["true_class"]);
      } else if (kind == "spurious") {
        CHECK(t["true_class"].is_null());
        CHECK(t["box_px"].is_null());
        // On background: it touches no garment, labelled or not.
        for (const auto& other : rows)
          if (!other["box_px"].is_null()) CHECK(px_iou(px, other["box_px"]) == 0.0);
      } else if (kind == "duplicate") {
        const auto& original = rows[t["duplicate_of"].get<size_t>()];
        CHECK(original["box"] == t["duplicate_of"]);
        CHECK(original["written_class"] == t["written_class"]);
        CHECK(original["box_px"] == t["box_px"]);
        CHECK(px_iou(px, original["box_px"]) > 0.9);
      }
    }
    CHECK(written == lines.size());
  }
  CHECK(kinds["class"] == summary.changed);
  CHECK(kinds["missing"] == summary.missing);
  CHECK(kinds["location"] == summary.location);
  CHECK(kinds["spurious"] == summary.spurious);
  CHECK(kinds["duplicate"] == summary.duplicate);
  for (const char* kind : {"none", "class", "missing", "location", "spurious", "duplicate"}) {
    INFO(kind);
    CHECK(kinds[kind] > 5);
  }
}

TEST_CASE("noise rates that cannot all hold are refused", "[scene]") {
  SceneOptions o;
  o.noise = 0.5;
  o.noise_location = 0.6;
  try {
    plan_scene(o, striped_split(), 0);
    FAIL("no error");
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::usage);
    CHECK_THAT(e.what(), Catch::Contains("add up to 1.1"));
  }
}

TEST_CASE("the default scenes are planned as they were before the shift options", "[scene]") {
  // Label text written by the maker before --background, --min-side/--max-side and --box-fit.
  SceneOptions o;
  o.noise_missing = o.noise_location = o.noise_duplicate = o.noise_spurious = 0.15;
  std::string text;
  for (int i = 0; i < 3; ++i)
    text += "---\n" + lv::demo::yolo_label_text(plan_scene(o, striped_split(), i), o.geometry.scene_size);
  CHECK(text ==
        "---\n"
        "5 0.671875 0.387500 0.350000 0.466667\n"
        "5 0.271875 0.600000 0.281250 0.375000\n"
        "---\n"
        "9 0.678125 0.445833 0.250000 0.333333\n"
        "2 0.390625 0.112500 0.150000 0.200000\n"
        "---\n"
        "8 0.187500 0.891667 0.125000 0.166667\n"
        "3 0.365625 0.237500 0.350000 0.466667\n"
        "3 0.365625 0.237500 0.350000 0.466667\n"
        "5 0.142187 0.750000 0.159375 0.133333\n"
        "2 0.745313 0.735417 0.315625 0.420833\n"
        "0 0.335938 0.806250 0.115625 0.154167\n");
}

TEST_CASE("every garment's tile side lies in the asked range", "[scene][shift]") {
  SceneOptions o;
  o.geometry.min_side = 60;
  o.geometry.max_side = 90;
  int smallest = 1000, largest = 0;
  for (int i = 0; i < 300; ++i)
    for (const auto& g : plan_scene(o, striped_split(), i).garments) {
      CHECK(g.box.width == g.box.height);
      smallest = std::min(smallest, g.box.width);
      largest = std::max(largest, g.box.width);
    }
  CHECK(smallest >= 60);
  CHECK(smallest <= 62);  // the whole range is drawn
  CHECK(largest <= 90);
  CHECK(largest >= 88);
}

TEST_CASE("a garment side range that cannot hold is refused, naming the option", "[scene][shift]") {
  const auto refused = [](int min_side, int max_side, const std::string& why) {
    SceneOptions o;
    o.geometry.min_side = min_side;
    o.geometry.max_side = max_side;
    INFO(min_side << ".." << max_side);
    try {
      plan_scene(o, striped_split(), 0);
      FAIL("no error");
    } catch (const lv::Error& e) {
      CHECK(e.code() == lv::ExitCode::usage);
      CHECK_THAT(e.what(), Catch::Contains(why));
    }
  };
  refused(7, 112, "--min-side is 7");
  refused(0, 112, "--min-side is 0");
  refused(60, 50, "--min-side 60 is above --max-side 50");
  refused(28, 241, "--max-side 241 does not fit the 320 x 240 scene");
  SceneOptions edge;
  edge.geometry.min_side = 8;
  edge.geometry.max_side = 240;
  CHECK(!plan_scene(edge, striped_split(), 0).garments.empty());

  // Nothing is written for refused options.
  TempDir dir;
  SceneOptions o;
  o.geometry.min_side = 4;
  CHECK_THROWS_AS(lv::demo::write_demo_dataset(o, striped_split(), 2, dir / "d", false), lv::Error);
  CHECK(!fs::exists(dir / "d"));
}

namespace {

bool same_image(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

/// The share of horizontally neighbouring pixel pairs that differ by more than 60 in a channel.
double sharp_edge_share(const cv::Mat& image) {
  int sharp = 0;
  for (int y = 0; y < image.rows; ++y)
    for (int x = 1; x < image.cols; ++x) {
      const auto a = image.at<cv::Vec3b>(y, x - 1), b = image.at<cv::Vec3b>(y, x);
      sharp += std::abs(a[0] - b[0]) > 60 || std::abs(a[1] - b[1]) > 60 || std::abs(a[2] - b[2]) > 60;
    }
  return static_cast<double>(sharp) / (image.rows * (image.cols - 1));
}

}  // namespace

TEST_CASE("plain and busy backgrounds come from the seed and are unlike textured ones", "[scene][shift]") {
  using lv::demo::BackgroundStyle;
  using lv::demo::render_scene;
  SceneOptions textured;
  textured.seed = 4;
  for (const BackgroundStyle style : {BackgroundStyle::plain, BackgroundStyle::busy}) {
    SceneOptions o = textured, reseeded = textured;
    o.background = reseeded.background = style;
    reseeded.seed = 5;
    for (int i = 0; i < 6; ++i) {
      INFO(lv::demo::to_string(style) << " scene " << i);
      const auto plan = plan_scene(o, striped_split(), i);
      // The background changes the picture, not the plan.
      CHECK(lv::demo::yolo_label_text(plan, o.geometry.scene_size) ==
            lv::demo::yolo_label_text(plan_scene(textured, striped_split(), i), o.geometry.scene_size));
      const auto scene = render_scene(o, striped_split(), plan, i);
      CHECK(same_image(scene.image, render_scene(o, striped_split(), plan, i).image));
      CHECK(!same_image(scene.background, render_scene(textured, striped_split(), plan, i).background));
      CHECK(!same_image(scene.background, render_scene(reseeded, striped_split(), plan, i).background));
      cv::Scalar mean, sd;
      cv::meanStdDev(scene.background, mean, sd);
      if (style == BackgroundStyle::plain) {
        for (int c = 0; c < 3; ++c) {
          CHECK(sd[c] < 3);
          CHECK(mean[c] > 80);
          CHECK(mean[c] < 190);
        }
      } else {
        CHECK(sd[0] + sd[1] + sd[2] > 3 * 35);
        CHECK(sharp_edge_share(scene.background) > 0.02);
      }
      CHECK(sharp_edge_share(render_scene(textured, striped_split(), plan, i).background) < 0.001);
    }
  }
}

TEST_CASE("a tight box is the garment's visible pixels, inside its tile", "[scene][shift]") {
  SceneOptions o;
  o.box_fit = lv::demo::BoxFit::tight;
  const SceneOptions tiles;
  int narrower = 0;
  for (int i = 0; i < 100; ++i) {
    const auto plan = plan_scene(o, striped_split(), i);
    // The fit changes the boxes only: the same tiles, and the same pictures.
    const auto tile_plan = plan_scene(tiles, striped_split(), i);
    REQUIRE(plan.garments.size() == tile_plan.garments.size());
    for (size_t n = 0; n < plan.garments.size(); ++n) {
      const auto& g = plan.garments[n];
      INFO("scene " << i << " class " << g.true_class << " tile " << g.box);
      CHECK(g.box == tile_plan.garments[n].box);
      CHECK((g.label_box & g.box) == g.label_box);
      CHECK(plan.labels[n].box == g.label_box);  // no noise but class swaps: one line per garment
      // The striped garment of class k lights columns [0, garment_width(k)) of 28, full height.
      const double lit = lv::test::garment_width(g.true_class) * g.box.width / 28.0;
      CHECK(g.label_box.x == g.box.x);
      CHECK(g.label_box.y == g.box.y);
      CHECK(g.label_box.height == g.box.height);
      CHECK(std::abs(g.label_box.width - lit) <= 2);
      if (g.true_class < 9) {
        CHECK(g.label_box.width < g.box.width);
        ++narrower;
      } else {
        CHECK(g.label_box == g.box);
      }
    }
    if (i < 5)
      CHECK(same_image(lv::demo::render_scene(o, striped_split(), plan, i).image,
                       lv::demo::render_scene(tiles, striped_split(), tile_plan, i).image));
  }
  CHECK(narrower > 100);
}

TEST_CASE("a loose box holds the tile and a margin of a fifth of its side, inside the scene", "[scene][shift]") {
  SceneOptions o;
  o.box_fit = lv::demo::BoxFit::loose;
  const cv::Rect scene(cv::Point(0, 0), o.geometry.scene_size);
  int clipped = 0, whole = 0;
  for (int i = 0; i < 100; ++i) {
    const auto plan = plan_scene(o, striped_split(), i);
    for (size_t n = 0; n < plan.garments.size(); ++n) {
      const auto& g = plan.garments[n];
      INFO("scene " << i << " tile " << g.box << " box " << g.label_box);
      CHECK(plan.labels[n].box == g.label_box);
      CHECK((g.label_box & g.box) == g.box);
      CHECK((g.label_box & scene) == g.label_box);
      const int margin = static_cast<int>(std::lround(0.2 * g.box.width));
      const cv::Rect grown(g.box.x - margin, g.box.y - margin, g.box.width + 2 * margin, g.box.height + 2 * margin);
      CHECK(g.label_box == (grown & scene));
      (grown == g.label_box ? whole : clipped) += 1;
    }
  }
  CHECK(whole > 50);
  CHECK(clipped > 10);
}

TEST_CASE("demo_dataset.json records the shift options that differ from the default make", "[scene][shift]") {
  TempDir dir;
  SceneOptions o;
  lv::demo::write_demo_dataset(o, striped_split(), 2, dir / "default", false);
  const auto plain = nlohmann::json::parse(lv::test::read_text(dir / "default" / "demo_dataset.json"));
  CHECK(!plain.contains("background"));
  CHECK(!plain.contains("box_fit"));
  CHECK(plain["min_side"] == 28);
  CHECK(plain["max_side"] == 112);

  o.background = lv::demo::BackgroundStyle::busy;
  o.box_fit = lv::demo::BoxFit::tight;
  o.geometry.min_side = 40;
  o.geometry.max_side = 50;
  lv::demo::write_demo_dataset(o, striped_split(), 2, dir / "shifted", false);
  const auto shifted = nlohmann::json::parse(lv::test::read_text(dir / "shifted" / "demo_dataset.json"));
  CHECK(shifted["background"] == "busy");
  CHECK(shifted["box_fit"] == "tight");
  CHECK(shifted["min_side"] == 40);
  CHECK(shifted["max_side"] == 50);
}
