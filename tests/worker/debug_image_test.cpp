// Debug images people can read (issue 12): a header strip, tags inside the image that do not
// cover each other where there is room, box numbers as in the report.
#include "image_io.h"
#include "output_paths.h"
#include "test_util.h"
#include "worker_catch.h"

namespace fs = std::filesystem;

using namespace lv;

namespace {

bool inside(const cv::Rect& r, cv::Size image) {
  return r.x >= 0 && r.y >= 0 && r.x + r.width <= image.width && r.y + r.height <= image.height;
}

}  // namespace

TEST_CASE("tags are placed inside the image and off each other where there is room", "[debug-image]") {
  const cv::Size image(200, 100);
  // Two boxes against the top edge side by side, one against the right edge, one wider than
  // the image needs.
  const std::vector<cv::Rect> boxes{{10, 0, 60, 40}, {30, 0, 60, 40}, {170, 50, 30, 30}, {0, 60, 50, 40}};
  const std::vector<cv::Size> sizes{{80, 12}, {80, 12}, {90, 12}, {260, 12}};
  const auto at = place_tags(sizes, boxes, image);
  REQUIRE(at.size() == 4);
  for (size_t i = 0; i < 3; ++i) CHECK(inside(at[i], image));
  CHECK((at[0] & at[1]).area() == 0);  // the second went inside its box's top or below it
  CHECK(at[2].x + at[2].width <= 200);  // moved left, not clipped at the right edge
  CHECK(at[3].x == 0);                  // wider than the image: from its left edge
  for (size_t i = 0; i < 3; ++i) CHECK((at[i] & at[3]).area() == 0);
  // No room anywhere: the first choice (above the box, moved inside).
  const auto crowded = place_tags({{200, 100}, {200, 100}}, {{0, 0, 10, 10}, {0, 0, 10, 10}}, image);
  CHECK(crowded[1] == cv::Rect(0, 0, 200, 100));
}

TEST_CASE("a debug image has a header strip with its file, verdict and legend above the untouched image", "[debug-image]") {
  cv::Mat image(120, 400, CV_8UC3, cv::Scalar(90, 160, 30));
  ImageResult r;
  r.path = "site/a very long folder name that will not fit/img_1.jpg";
  r.verdict = Verdict::mislabeled;
  r.width = 400;
  r.height = 120;
  r.labels.boxes = {LabelBox{0, 0.9, 0.2, 0.2, 0.3, 1}, LabelBox{1, 0.2, 0.5, 0.3, 0.6, 2}};
  BoxResult wrong;
  wrong.verdict = Verdict::mislabeled;
  wrong.suggested = 1;
  wrong.confidence = 0.9f;
  BoxResult right;
  right.verdict = Verdict::correct;
  r.results = {wrong, right};
  ClassMap classes;
  classes.dataset = {"cat", "dog"};
  const cv::Mat out = draw_debug(image, r, classes);
  REQUIRE(out.cols == 400);
  const int strip = out.rows - 120;
  REQUIRE(strip > 0);
  // The strip holds light text on its dark ground, and the legend's swatches.
  int light = 0, red = 0;
  for (int y = 0; y < strip; ++y)
    for (int x = 0; x < out.cols; ++x) {
      const cv::Vec3b p = out.at<cv::Vec3b>(y, x);
      light += p[0] > 200 && p[1] > 200 && p[2] > 200;
      red += p[2] > 200 && p[1] < 60 && p[0] < 60;
    }
  CHECK(light > 50);
  CHECK(red > 20);  // the mislabeled swatch
  // Below the strip: the image itself where no box or tag is drawn.
  CHECK(out.at<cv::Vec3b>(strip + 115, 250) == cv::Vec3b(90, 160, 30));
  // Box 0's tag near the top-right corner is inside the image: its red ground reaches the
  // right edge's last column only if it was moved in, never beyond it.
  bool red_in_corner = false;
  for (int y = strip; y < strip + 40; ++y) red_in_corner |= out.at<cv::Vec3b>(y, 399)[2] > 200 && out.at<cv::Vec3b>(y, 399)[1] < 60;
  CHECK(red_in_corner);
}

TEST_CASE("thumbnails a later pass does not write again are removed, by name, and nothing of other images",
          "[debug-image][review]") {
  lv::test::TempDir dir;
  cv::Mat image(100, 200, CV_8UC3, cv::Scalar(40, 120, 200));
  ImageResult r;
  r.path = "site/a.jpg";
  r.width = 200;
  r.height = 100;
  for (int i = 0; i < 3; ++i) {
    r.labels.boxes.push_back(LabelBox{0, 0.2 + 0.3 * i, 0.5, 0.2, 0.4, i + 1});
    r.results.push_back(BoxResult{});
    r.results.back().verdict = Verdict::mislabeled;
  }
  r.missing = {Detection{{10, 10, 40, 40}, 1, 0.9f, {}}, Detection{{100, 50, 140, 90}, 2, 0.8f, {}}};
  const auto thumb = [&](const std::string& item, const std::string& tag) { return thumbnail_path(dir.path(), item, tag); };
  CHECK(write_thumbnails(dir.path(), image, r) == 5);
  for (const char* tag : {"b0", "b1", "b2", "m0", "m1"}) CHECK(fs::is_regular_file(thumb("site/a.jpg", tag)));
  // Neighbours in the same folder: another image's, and one whose name only starts like ours.
  ImageResult other = r;
  other.path = "site/a.jpg.b1.jpg";
  REQUIRE(write_thumbnails(dir.path(), image, other) == 5);
  const fs::path stranger = thumbnail_dir(dir.path(), "site/a.jpg") / "a.jpg.b1.jpg.notes";
  lv::test::write_text(stranger, "mine");

  // The finalize pass: box 1 is correct now and one missing box is left.
  r.results[1].verdict = Verdict::correct;
  r.missing.pop_back();
  CHECK(write_thumbnails(dir.path(), image, r) == 3);
  CHECK(fs::is_regular_file(thumb("site/a.jpg", "b0")));
  CHECK_FALSE(fs::exists(thumb("site/a.jpg", "b1")));
  CHECK(fs::is_regular_file(thumb("site/a.jpg", "b2")));
  CHECK(fs::is_regular_file(thumb("site/a.jpg", "m0")));
  CHECK_FALSE(fs::exists(thumb("site/a.jpg", "m1")));
  // Correct altogether: none of its thumbnails is left; the neighbours are untouched.
  CHECK(write_thumbnails(dir.path(), cv::Mat(), r) == 0);
  for (const char* tag : {"b0", "b1", "b2", "m0", "m1"}) CHECK_FALSE(fs::exists(thumb("site/a.jpg", tag)));
  for (const char* tag : {"b0", "b1", "b2", "m0", "m1"}) CHECK(fs::is_regular_file(thumb("site/a.jpg.b1.jpg", tag)));
  CHECK(lv::test::read_text(stranger) == "mine");
}
