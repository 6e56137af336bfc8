#pragma once
/// Box geometry shared by the backends and the verdicts: IoU, the Ultralytics letterbox and
/// its inverse, classifier crop rectangles, class-aware NMS. Torch-free and OpenCV-free.
#include <cstdint>
#include <vector>

namespace lv {

/// An axis-aligned box in pixels, corners (x1, y1) top-left and (x2, y2) bottom-right.
struct Box {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  double width() const { return x2 - x1; }
  double height() const { return y2 - y1; }
  double area() const { return width() > 0 && height() > 0 ? width() * height() : 0.0; }
};

/// A box from normalised YOLO centre/size coordinates on an image of `img_w` x `img_h`.
Box from_yolo(double cx, double cy, double w, double h, int img_w, int img_h);

/// Normalised centre/size [cx, cy, w, h] of a pixel box on an image of `img_w` x `img_h`.
std::vector<double> to_yolo(const Box& b, int img_w, int img_h);

/// Intersection over union; 0 when either box is empty.
double iou(const Box& a, const Box& b);

/// How an image of w x h is letterboxed into a square of side S, as Ultralytics does:
/// r = min(S/h, S/w), resized to round(w r) x round(h r), padded with 114 split evenly.
struct Letterbox {
  double scale = 1.0;         ///< r
  int resized_w = 0, resized_h = 0;
  int left = 0, top = 0;      ///< padding before the image
  int right = 0, bottom = 0;  ///< padding after it
};

/// The letterbox of an image of `w` x `h` pixels into a square of side `size`.
Letterbox compute_letterbox(int w, int h, int size);

/// A box in letterboxed input pixels mapped back to original image pixels, clipped to the image.
Box unletterbox(const Box& in_input, const Letterbox& lb, int img_w, int img_h);

/// An integer pixel rectangle [x, x + w) x [y, y + h).
struct PixelRect {
  int x = 0, y = 0, w = 0, h = 0;
};

/// The classifier crop of a label box: the box grown by `margin` box sizes on every side,
/// clipped to the image, rounded outwards; at least 1 x 1 pixel inside the image.
PixelRect crop_rect(const Box& box, double margin, int img_w, int img_h);

/// A model prediction in original image pixels, with its dataset class and score.
struct Detection {
  Box box;
  int cls = 0;
  float score = 0;
  std::vector<float> probs;  ///< per dataset class scores (optional, for the report)
};

/// Class-aware non-maximum suppression: keeps the highest-scoring detections, dropping any
/// of the same class whose IoU with a kept one exceeds `iou_threshold`. Returns kept detections
/// sorted by score, highest first (ties: input order).
std::vector<Detection> nms(std::vector<Detection> dets, double iou_threshold);

}  // namespace lv
