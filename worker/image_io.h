#pragma once
/// Reading images safely, turning them into model inputs, drawing debug images (OpenCV).
/// No LibTorch here.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "atomic_file.h"
#include "image_record.h"
#include "labels.h"
#include "model.h"

namespace lv {

/// A decoded image, or why there is none.
struct LoadedImage {
  cv::Mat bgr;                        ///< 8-bit, 3 channels, BGR
  std::optional<std::string> error;   ///< set when bgr is empty
};

/// Reads and decodes an image file, refusing before any decoding: a missing, unreadable or
/// empty file, a file too large for `max_pixels`, a header announcing more than `max_pixels`
/// pixels, and a JPEG cut short (no end-of-image marker). Never throws.
LoadedImage load_image(const std::filesystem::path& file, int64_t max_pixels);

/// Crops of an image that take at most this many bytes are made at once, on the decode thread
/// that calls prepare_crops (so the model's thread only copies them into its batch); more are
/// made batch by batch when the model asks.
inline constexpr size_t kEagerCropBytes = size_t{4} << 20;

/// Classifier input: one crop per box (grown by `margin` box sizes, clipped), resized to
/// size x size, BGR -> RGB, 8-bit; the model scales it to [0, 1], then (x - mean) / std per RGB
/// channel. Crops taking at most `eager_bytes` are made here, into `data`; otherwise only the
/// crop rectangles are computed here and the crops are made by `fill`, batch by batch, sharing
/// `bgr` (which must not be modified while the input lives).
ModelInput prepare_crops(const cv::Mat& bgr, const std::vector<LabelBox>& boxes, int size, double margin,
                         const std::vector<double>& mean, const std::vector<double>& std,
                         size_t eager_bytes = kEagerCropBytes);

/// Detector input: the image letterboxed into size x size as Ultralytics does (linear resize,
/// pad 114), BGR -> RGB, scaled to [0, 1].
ModelInput prepare_letterbox(const cv::Mat& bgr, int size);

/// Height in pixels of FONT_HERSHEY_SIMPLEX text at scale 1 (what cv::getTextSize gives).
inline constexpr double kTextHeightAtScale1 = 22.0;
/// Below this scale (text under about 8 px) a box's tag is not drawn: it could not be read.
inline constexpr double kMinTextScale = 0.35;

/// The image under a header strip (its file name and verdict, and a legend of the colours), with
/// label boxes in their verdict colour (green correct, red mislabeled, orange uncertain), each
/// tagged with the report's box index ("#2 cat 0.31 -> dog 0.92"), predictions in thin blue,
/// missing labels in magenta ("m0 missing car 0.88"). Tags are scaled down to their box's
/// height (a box too small for legible text keeps its number only), lie wholly inside the
/// image, and do not cover one another where place_tags() finds room.
cv::Mat draw_debug(const cv::Mat& bgr, const ImageResult& r, const ClassMap& classes);

/// Where tags of `sizes` go, one per box of `boxes`: above the box, else inside its top, else
/// below it, else inside its bottom: the first of these not over a tag placed before, else the
/// first; always moved wholly inside an image of `image` (a tag wider or taller than the image
/// is placed at its left or top edge).
std::vector<cv::Rect> place_tags(const std::vector<cv::Size>& sizes, const std::vector<cv::Rect>& boxes, cv::Size image);

/// The review page's thumbnails of `r` (thumbnail_path): one per label box whose verdict is not
/// correct and one per missing box: the box with a quarter of its size around it (at least
/// 8 px), the longer side at most kThumbnailSide, the box outlined in its verdict's colour
/// (missing: magenta). Earlier thumbnails of the image that this call does not write again are
/// removed (a finalize pass that changed its verdicts; with `bgr` empty, all of them). Returns how many were written; throws lv::Error when one cannot be.
/// `bgr` may be the image scaled down (review_image()): boxes are placed by their share of
/// r.width x r.height.
int write_thumbnails(const std::filesystem::path& dir, const cv::Mat& bgr, const ImageResult& r);
inline constexpr int kThumbnailSide = 160;

/// What a worker keeps of an image for its thumbnails until the model has judged it: the image
/// itself (its pixels shared, not copied) when its longer side is at most kReviewImageSide,
/// else a copy scaled down to that. Thumbnails cut from it are as sharp as from the original.
cv::Mat review_image(const cv::Mat& bgr);
inline constexpr int kReviewImageSide = 1280;

/// The BGR colour of a verdict in debug images: green correct, red mislabeled, orange otherwise.
cv::Scalar verdict_colour(Verdict v);

/// Encodes as JPEG and writes the file (creating folders). Throws lv::Error naming the file.
void write_jpeg(const std::filesystem::path& file, const cv::Mat& bgr, Durability durability = Durability::synced);

}  // namespace lv
