// IoU, the Ultralytics letterbox and its inverse, crops, class-aware NMS.
#include "worker_catch.h"
#include "geometry.h"

using namespace lv;

TEST_CASE("iou of overlapping, identical and disjoint boxes", "[worker][geometry]") {
  CHECK(iou({0, 0, 10, 10}, {5, 0, 15, 10}) == Approx(50.0 / 150.0));
  CHECK(iou({0, 0, 10, 10}, {0, 0, 10, 10}) == Approx(1.0));
  CHECK(iou({0, 0, 10, 10}, {10, 0, 20, 10}) == 0.0);
  CHECK(iou({0, 0, 0, 10}, {0, 0, 0, 10}) == 0.0);
}

TEST_CASE("YOLO normalised boxes to pixels and back", "[worker][geometry]") {
  const Box b = from_yolo(0.5, 0.5, 0.5, 0.5, 200, 100);
  CHECK(b.x1 == Approx(50));
  CHECK(b.y1 == Approx(25));
  CHECK(b.x2 == Approx(150));
  CHECK(b.y2 == Approx(75));
  const auto y = to_yolo({20, 10, 60, 30}, 200, 100);
  CHECK(y[0] == Approx(0.2));
  CHECK(y[1] == Approx(0.2));
  CHECK(y[2] == Approx(0.2));
  CHECK(y[3] == Approx(0.2));
}

TEST_CASE("letterbox matches Ultralytics for wide, tall and odd-padded images", "[worker][geometry]") {
  // 200x100 into 64: r = 0.32, 64x32, 32 rows of padding split 16/16.
  Letterbox lb = compute_letterbox(200, 100, 64);
  CHECK(lb.scale == Approx(0.32));
  CHECK(lb.resized_w == 64);
  CHECK(lb.resized_h == 32);
  CHECK(lb.top == 16);
  CHECK(lb.bottom == 16);
  CHECK(lb.left == 0);
  CHECK(lb.right == 0);
  // 640x427 into 640: r = 1, 213 rows of padding: round(106.4) = 106 above, round(106.6) = 107 below.
  lb = compute_letterbox(640, 427, 640);
  CHECK(lb.resized_h == 427);
  CHECK(lb.top == 106);
  CHECK(lb.bottom == 107);
  // 75x100 into 64: r = 0.64, 48x64, 16 columns split 8/8.
  lb = compute_letterbox(75, 100, 64);
  CHECK(lb.resized_w == 48);
  CHECK(lb.left == 8);
  CHECK(lb.right == 8);
  // 10x5 into 5: r = 0.5, height 2.5 rounds half to even (Python) = 2; 3 rows: 1 above, 2 below.
  lb = compute_letterbox(10, 5, 5);
  CHECK(lb.resized_w == 5);
  CHECK(lb.resized_h == 2);
  CHECK(lb.top == 1);
  CHECK(lb.bottom == 2);
}

TEST_CASE("unletterbox maps input pixels back to the original image", "[worker][geometry]") {
  const Letterbox lb = compute_letterbox(200, 100, 64);
  // Input box (16, 24)-(48, 40): x / 0.32, (y - 16) / 0.32.
  const Box b = unletterbox({16, 24, 48, 40}, lb, 200, 100);
  CHECK(b.x1 == Approx(50));
  CHECK(b.y1 == Approx(25));
  CHECK(b.x2 == Approx(150));
  CHECK(b.y2 == Approx(75));
  // Boxes reaching into the padding are clipped to the image.
  const Box c = unletterbox({-5, 0, 70, 64}, lb, 200, 100);
  CHECK(c.x1 == 0);
  CHECK(c.y1 == 0);
  CHECK(c.x2 == 200);
  CHECK(c.y2 == 100);
}

TEST_CASE("crop_rect grows by the margin and clips to the image", "[worker][geometry]") {
  PixelRect r = crop_rect({10, 10, 20, 30}, 0.0, 100, 100);
  CHECK((r.x == 10 && r.y == 10 && r.w == 10 && r.h == 20));
  r = crop_rect({10, 10, 20, 30}, 0.5, 100, 100);  // grows 5 px sideways, 10 px up and down
  CHECK((r.x == 5 && r.y == 0 && r.w == 20 && r.h == 40));
  r = crop_rect({90.5, 90.2, 100, 100}, 0.5, 100, 100);
  CHECK((r.x == 85 && r.y == 85 && r.w == 15 && r.h == 15));
  r = crop_rect({100, 100, 100, 100}, 0.0, 100, 100);  // degenerate: still one pixel inside
  CHECK((r.x == 99 && r.y == 99 && r.w == 1 && r.h == 1));
}

TEST_CASE("nms is class-aware and keeps the highest scores", "[worker][geometry]") {
  std::vector<Detection> dets = {
      {{0, 0, 10, 10}, 0, 0.9f, {}},
      {{1, 0, 11, 10}, 0, 0.8f, {}},   // IoU 90/110 = 0.82 with the first, same class: dropped
      {{1, 0, 11, 10}, 1, 0.7f, {}},   // other class: kept
      {{20, 20, 30, 30}, 0, 0.95f, {}},
  };
  const auto kept = nms(dets, 0.45);
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].score == 0.95f);
  CHECK(kept[1].score == 0.9f);
  CHECK(kept[2].cls == 1);
  // Above the threshold nothing overlaps enough to be dropped.
  CHECK(nms(dets, 0.85).size() == 4);
}
