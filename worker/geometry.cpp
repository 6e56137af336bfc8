#include "geometry.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace lv {

Box from_yolo(double cx, double cy, double w, double h, int img_w, int img_h) {
  return {(cx - w / 2) * img_w, (cy - h / 2) * img_h, (cx + w / 2) * img_w, (cy + h / 2) * img_h};
}

std::vector<double> to_yolo(const Box& b, int img_w, int img_h) {
  return {(b.x1 + b.x2) / 2 / img_w, (b.y1 + b.y2) / 2 / img_h, b.width() / img_w, b.height() / img_h};
}

double iou(const Box& a, const Box& b) {
  const double iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const double ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0.0;
  const double inter = iw * ih;
  const double uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0;
}

Letterbox compute_letterbox(int w, int h, int size) {
  Letterbox lb;
  lb.scale = std::min(static_cast<double>(size) / h, static_cast<double>(size) / w);
  // Python's round() rounds halves to even; nearbyint does the same in the default mode.
  lb.resized_w = std::max(1, static_cast<int>(std::nearbyint(w * lb.scale)));
  lb.resized_h = std::max(1, static_cast<int>(std::nearbyint(h * lb.scale)));
  const double dw = (size - lb.resized_w) / 2.0;
  const double dh = (size - lb.resized_h) / 2.0;
  // Ultralytics: top, bottom = round(dh - 0.1), round(dh + 0.1) (same for left/right).
  lb.top = static_cast<int>(std::nearbyint(dh - 0.1));
  lb.bottom = static_cast<int>(std::nearbyint(dh + 0.1));
  lb.left = static_cast<int>(std::nearbyint(dw - 0.1));
  lb.right = static_cast<int>(std::nearbyint(dw + 0.1));
  return lb;
}

Box unletterbox(const Box& b, const Letterbox& lb, int img_w, int img_h) {
  auto clip = [](double v, double hi) { return std::clamp(v, 0.0, hi); };
  return {clip((b.x1 - lb.left) / lb.scale, img_w), clip((b.y1 - lb.top) / lb.scale, img_h),
          clip((b.x2 - lb.left) / lb.scale, img_w), clip((b.y2 - lb.top) / lb.scale, img_h)};
}

PixelRect crop_rect(const Box& box, double margin, int img_w, int img_h) {
  const double mx = box.width() * margin, my = box.height() * margin;
  int x1 = static_cast<int>(std::floor(box.x1 - mx));
  int y1 = static_cast<int>(std::floor(box.y1 - my));
  int x2 = static_cast<int>(std::ceil(box.x2 + mx));
  int y2 = static_cast<int>(std::ceil(box.y2 + my));
  x1 = std::clamp(x1, 0, img_w - 1);
  y1 = std::clamp(y1, 0, img_h - 1);
  x2 = std::clamp(x2, x1 + 1, img_w);
  y2 = std::clamp(y2, y1 + 1, img_h);
  return {x1, y1, x2 - x1, y2 - y1};
}

std::vector<Detection> nms(std::vector<Detection> dets, double iou_threshold) {
  std::vector<size_t> order(dets.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return dets[a].score > dets[b].score; });
  std::vector<Detection> kept;
  for (size_t i : order) {
    bool suppressed = false;
    for (const auto& k : kept) {
      if (k.cls == dets[i].cls && iou(k.box, dets[i].box) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push_back(std::move(dets[i]));
  }
  return kept;
}

}  // namespace lv
