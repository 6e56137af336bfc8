// Debug images people can read (issue 12): a header strip, tags inside the image that do not
// cover each other where there is room, box numbers as in the report.
#include "image_io.h"
#include "worker_catch.h"

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
