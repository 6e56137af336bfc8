#include "image_io.h"

#include "atomic_file.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include <fmt/core.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "error.h"
#include "byte_text.h"
#include "image_header.h"
#include "output_paths.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

/// The largest file that can hold an image of `max_pixels`: 8 bytes a pixel (16-bit RGBA,
/// uncompressed) plus room for metadata.
uintmax_t max_file_bytes(int64_t max_pixels) {
  return static_cast<uintmax_t>(max_pixels) * 8u + (uintmax_t{16} << 20);
}

bool jpeg_has_end_marker(const std::string& bytes) {
  // Some writers pad after EOI; a file cut short has no EOI near its end.
  const size_t from = bytes.size() > 4096 ? bytes.size() - 4096 : 0;
  for (size_t i = bytes.size(); i-- > from + 1;)
    if (uint8_t(bytes[i - 1]) == 0xFF && uint8_t(bytes[i]) == 0xD9) return true;
  return false;
}

}  // namespace

LoadedImage load_image(const fs::path& file, int64_t max_pixels) {
  LoadedImage out;
  std::error_code ec;
  const auto status = fs::status(file, ec);
  if (ec || !fs::exists(status)) {
    out.error = "file not found";
    return out;
  }
  if (!fs::is_regular_file(status)) {
    out.error = "not a regular file";
    return out;
  }
  const uintmax_t size = fs::file_size(file, ec);
  if (ec) {
    out.error = fmt::format("cannot read: {}", ec.message());
    return out;
  }
  if (size == 0) {
    out.error = "empty file (0 bytes)";
    return out;
  }
  if (size > max_file_bytes(max_pixels)) {
    out.error = fmt::format("file of {} bytes is too large for processing.max_image_pixels {}", size, max_pixels);
    return out;
  }
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      out.error = fmt::format("cannot read: {}", std::strerror(errno));
      return out;
    }
    bytes.resize(static_cast<size_t>(size));
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (static_cast<uintmax_t>(in.gcount()) != size) {
      out.error = "cannot read: the file changed or is unreadable";
      return out;
    }
  }
  if (const auto header = probe_image_size(bytes)) {
    if (header->width <= 0 || header->height <= 0) {
      out.error = fmt::format("{} header gives a size of {}x{}", header->format, header->width, header->height);
      return out;
    }
    if (header->width * header->height > max_pixels) {
      out.error = fmt::format("{}x{} = {} pixels is over processing.max_image_pixels {}", header->width,
                              header->height, header->width * header->height, max_pixels);
      return out;
    }
    if (header->format == "jpeg" && !jpeg_has_end_marker(bytes)) {
      out.error = "truncated JPEG (no end-of-image marker)";
      return out;
    }
  }
  try {
    out.bgr = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, bytes.data()), cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    out.error = fmt::format("cannot decode image: {}", e.what());
    return out;
  }
  if (out.bgr.empty()) {
    out.error = "cannot decode image (not an image, an unsupported format, or corrupt)";
    return out;
  }
  if (static_cast<int64_t>(out.bgr.rows) * out.bgr.cols > max_pixels) {
    out.error = fmt::format("{}x{} pixels is over processing.max_image_pixels {}", out.bgr.cols, out.bgr.rows, max_pixels);
    out.bgr.release();
  }
  return out;
}

namespace {

/// Writes an 8-bit BGR image as 8-bit planar RGB to `out`.
void write_planar_rgb(const cv::Mat& bgr, uint8_t* out) {
  const int n = bgr.rows * bgr.cols;
  uint8_t* planes[3] = {out, out + n, out + 2 * n};
  int i = 0;
  for (int y = 0; y < bgr.rows; ++y) {
    const uint8_t* row = bgr.ptr<uint8_t>(y);
    for (int x = 0; x < bgr.cols; ++x, ++i) {
      // BGR in memory; planes are R, G, B.
      planes[0][i] = row[3 * x + 2];
      planes[1][i] = row[3 * x + 1];
      planes[2][i] = row[3 * x + 0];
    }
  }
}

}  // namespace

ModelInput prepare_crops(const cv::Mat& bgr, const std::vector<LabelBox>& boxes, int size, double margin,
                         const std::vector<double>& mean, const std::vector<double>& std, size_t eager_bytes) {
  ModelInput in;
  in.pixels = normalisation(mean, std);
  in.image_w = bgr.cols;
  in.image_h = bgr.rows;
  in.count = static_cast<int>(boxes.size());
  std::vector<cv::Rect> rects;
  rects.reserve(boxes.size());
  for (const LabelBox& b : boxes) {
    const PixelRect r = crop_rect(from_yolo(b.cx, b.cy, b.w, b.h, bgr.cols, bgr.rows), margin, bgr.cols, bgr.rows);
    rects.emplace_back(r.x, r.y, r.w, r.h);
  }
  // The fill shares the decoded image (cv::Mat counts references) and owns the rectangles.
  in.fill = [bgr, rects = std::move(rects), size](int first, int n, uint8_t* out) {
    const size_t per = static_cast<size_t>(3) * static_cast<size_t>(size) * static_cast<size_t>(size);
    cv::Mat resized;
    for (int k = 0; k < n; ++k) {
      cv::resize(bgr(rects[static_cast<size_t>(first + k)]), resized, cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
      write_planar_rgb(resized, out + static_cast<size_t>(k) * per);
    }
  };
  const size_t bytes = boxes.size() * 3 * static_cast<size_t>(size) * static_cast<size_t>(size);
  if (bytes > 0 && bytes <= eager_bytes) {
    in.data.resize(bytes);
    in.fill(0, in.count, in.data.data());
    in.fill = nullptr;
  }
  return in;
}

ModelInput prepare_letterbox(const cv::Mat& bgr, int size) {
  ModelInput in;
  in.image_w = bgr.cols;
  in.image_h = bgr.rows;
  in.count = 1;
  in.letterbox = compute_letterbox(bgr.cols, bgr.rows, size);
  const Letterbox& lb = in.letterbox;
  cv::Mat resized, padded;
  if (lb.resized_w != bgr.cols || lb.resized_h != bgr.rows)
    cv::resize(bgr, resized, cv::Size(lb.resized_w, lb.resized_h), 0, 0, cv::INTER_LINEAR);
  else
    resized = bgr;
  cv::copyMakeBorder(resized, padded, lb.top, lb.bottom, lb.left, lb.right, cv::BORDER_CONSTANT,
                     cv::Scalar(114, 114, 114));
  in.data.resize(3 * padded.total());
  write_planar_rgb(padded, in.data.data());  // pixels: the default, x / 255
  return in;
}

std::vector<cv::Rect> place_tags(const std::vector<cv::Size>& sizes, const std::vector<cv::Rect>& boxes, cv::Size image) {
  std::vector<cv::Rect> placed;
  const auto inside = [&](cv::Rect r) {
    r.x = std::max(0, std::min(r.x, image.width - r.width));
    r.y = std::max(0, std::min(r.y, image.height - r.height));
    return r;
  };
  for (size_t i = 0; i < sizes.size() && i < boxes.size(); ++i) {
    const cv::Size s = sizes[i];
    const cv::Rect& b = boxes[i];
    const cv::Rect candidates[] = {inside({b.x, b.y - s.height, s.width, s.height}), inside({b.x, b.y, s.width, s.height}),
                                   inside({b.x, b.y + b.height, s.width, s.height}),
                                   inside({b.x, b.y + b.height - s.height, s.width, s.height})};
    cv::Rect chosen = candidates[0];
    for (const cv::Rect& c : candidates)
      if (std::none_of(placed.begin(), placed.end(), [&](const cv::Rect& p) { return (p & c).area() > 0; })) {
        chosen = c;
        break;
      }
    placed.push_back(chosen);
  }
  return placed;
}

cv::Mat draw_debug(const cv::Mat& bgr, const ImageResult& r, const ClassMap& classes) {
  const int thick = std::max(1, std::min(bgr.cols, bgr.rows) / 300);
  const double font = std::max(0.4, std::min(bgr.cols, bgr.rows) / 800.0);
  auto name = [&](int c) { return c >= 0 && static_cast<size_t>(c) < classes.dataset.size() ? classes.dataset[static_cast<size_t>(c)] : std::string("?"); };
  auto rect = [](const Box& b) {
    return cv::Rect(cv::Point(static_cast<int>(b.x1), static_cast<int>(b.y1)), cv::Point(static_cast<int>(b.x2), static_cast<int>(b.y2)));
  };

  // The header strip: two lines (file and verdict; the legend) above the image.
  const int line_h = static_cast<int>(std::ceil(kTextHeightAtScale1 * font)) + 8;
  cv::Mat out(bgr.rows + 2 * line_h, bgr.cols, bgr.type(), cv::Scalar(40, 40, 40));
  bgr.copyTo(out(cv::Rect(0, 2 * line_h, bgr.cols, bgr.rows)));
  cv::Mat img = out(cv::Rect(0, 2 * line_h, bgr.cols, bgr.rows));  // boxes in image pixels
  const auto fit = [&](std::string text, double scale) {
    // Cut in the middle ("indoor/.../img_7.jpg") until it fits the width.
    int base = 0;
    while (text.size() > 8 && cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base).width > out.cols - 8) {
      const size_t cut = text.size() / 2;
      text = text.substr(0, cut - 3) + "..." + text.substr(cut + 2);
    }
    return text;
  };
  const std::string verdict = r.error ? "error" : std::string(to_string(r.verdict));
  cv::putText(out, fit(printable(r.path) + "  " + verdict, font), cv::Point(4, line_h - 6), cv::FONT_HERSHEY_SIMPLEX, font,
              cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  const std::pair<const char*, cv::Scalar> legend[] = {{"correct", verdict_colour(Verdict::correct)},
                                                        {"mislabeled", verdict_colour(Verdict::mislabeled)},
                                                        {"uncertain", verdict_colour(Verdict::uncertain)},
                                                        {"missing", cv::Scalar(255, 0, 255)},
                                                        {"predicted", cv::Scalar(255, 128, 0)}};
  int x = 4;
  for (const auto& [word, colour] : legend) {
    int base = 0;
    const cv::Size size = cv::getTextSize(word, cv::FONT_HERSHEY_SIMPLEX, font, 1, &base);
    if (x + line_h + size.width > out.cols) break;  // a narrow image shows what fits
    cv::rectangle(out, cv::Rect(x, line_h + 4, line_h - 10, line_h - 10), colour, cv::FILLED);
    cv::putText(out, word, cv::Point(x + line_h - 4, 2 * line_h - 6), cv::FONT_HERSHEY_SIMPLEX, font,
                cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
    x += line_h + size.width + 12;
  }

  // Frames first, then every tag where place_tags puts it.
  struct Tag {
    std::string text;
    cv::Rect box;
    cv::Scalar colour;
    double scale;
  };
  std::vector<Tag> tags;
  // A tag on a filled background in the box's colour, with thin dark text: legible on any
  // image, and a tenth of the cost of an outlined text drawn with thick anti-aliased strokes.
  // Text is never taller than its box; a box too small for legible text keeps its number.
  const auto tag = [&](const std::string& number, const std::string& words, const Box& b, const cv::Scalar& colour) {
    const double scale = std::min(font, b.height() / kTextHeightAtScale1);
    if (scale < kMinTextScale) tags.push_back({number, rect(b), colour, kMinTextScale});
    else tags.push_back({number + " " + words, rect(b), colour, scale});
  };
  for (const Detection& d : r.predictions) cv::rectangle(img, rect(d.box), cv::Scalar(255, 128, 0), 1);
  for (size_t k = 0; k < r.missing.size(); ++k) {
    const Detection& d = r.missing[k];
    cv::rectangle(img, rect(d.box), cv::Scalar(255, 0, 255), thick);
    tag(fmt::format("m{}", k), fmt::format("missing {} {:.2f}", name(d.cls), d.score), d.box, cv::Scalar(255, 0, 255));
  }
  for (size_t k = 0; k < r.autolabeled.size(); ++k) {
    const Detection& d = r.autolabeled[k];
    cv::rectangle(img, rect(d.box), cv::Scalar(0, 200, 0), thick);
    tag(fmt::format("#{}", k), fmt::format("{} {:.2f}", name(d.cls), d.score), d.box, cv::Scalar(0, 200, 0));
  }
  for (size_t i = 0; i < r.labels.boxes.size() && i < r.results.size(); ++i) {
    const LabelBox& lb = r.labels.boxes[i];
    const BoxResult& br = r.results[i];
    const Box b = from_yolo(lb.cx, lb.cy, lb.w, lb.h, img.cols, img.rows);
    const cv::Scalar colour = verdict_colour(br.verdict);
    cv::rectangle(img, rect(b), colour, thick);
    std::string s = fmt::format("{} {:.2f}", name(lb.cls), br.label_prob);
    if (br.remove) s += " -> remove (" + br.reason + ")";
    else if (br.suggested_box) s += fmt::format(" -> move {:.2f}", br.confidence);
    else if (br.verdict == Verdict::mislabeled) s += fmt::format(" -> {} {:.2f}", name(br.suggested), br.confidence);
    else if (br.verdict == Verdict::uncertain) s += " ? " + br.reason;
    tag(fmt::format("#{}", i), s, b, colour);
    if (br.suggested_box) cv::rectangle(img, rect(*br.suggested_box), colour, 1, cv::LINE_4);
  }
  std::vector<cv::Size> sizes;
  std::vector<cv::Rect> anchors;
  for (const Tag& t : tags) {
    int base = 0;
    const cv::Size size = cv::getTextSize(t.text, cv::FONT_HERSHEY_SIMPLEX, t.scale, 1, &base);
    sizes.emplace_back(size.width + 4, size.height + base + 2);
    anchors.push_back(t.box);
  }
  const std::vector<cv::Rect> at = place_tags(sizes, anchors, img.size());
  for (size_t k = 0; k < tags.size(); ++k) {
    const cv::Rect where = at[k] & cv::Rect(0, 0, img.cols, img.rows);
    if (where.area() <= 0) continue;
    cv::rectangle(img, where, tags[k].colour, cv::FILLED);
    int base = 0;
    const cv::Size size = cv::getTextSize(tags[k].text, cv::FONT_HERSHEY_SIMPLEX, tags[k].scale, 1, &base);
    cv::putText(img, tags[k].text, cv::Point(at[k].x + 2, at[k].y + size.height + 1), cv::FONT_HERSHEY_SIMPLEX,
                tags[k].scale, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  return out;
}

cv::Scalar verdict_colour(Verdict v) {
  return v == Verdict::correct ? cv::Scalar(0, 200, 0) : v == Verdict::mislabeled ? cv::Scalar(0, 0, 255) : cv::Scalar(0, 165, 255);
}

void write_jpeg(const fs::path& file, const cv::Mat& bgr, Durability durability) {
  std::vector<uint8_t> buf;
  if (!cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, 90}))
    throw Error(ExitCode::failed, fmt::format("{}: cannot encode the debug image", file.string()));
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  // Atomically, like every output file: a worker killed mid-write leaves a temporary, not half a JPEG.
  write_file_atomic(file, std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()), durability);
}

namespace {

/// One thumbnail: `box` (pixels) with a quarter of its size around it, scaled down to at most
/// kThumbnailSide, outlined in `colour`.
cv::Mat thumbnail(const cv::Mat& bgr, const Box& box, const cv::Scalar& colour) {
  const double mx = std::max(8.0, box.width() * 0.25), my = std::max(8.0, box.height() * 0.25);
  const int x1 = std::clamp(static_cast<int>(std::floor(box.x1 - mx)), 0, bgr.cols - 1);
  const int y1 = std::clamp(static_cast<int>(std::floor(box.y1 - my)), 0, bgr.rows - 1);
  const int x2 = std::clamp(static_cast<int>(std::ceil(box.x2 + mx)), x1 + 1, bgr.cols);
  const int y2 = std::clamp(static_cast<int>(std::ceil(box.y2 + my)), y1 + 1, bgr.rows);
  const cv::Mat crop = bgr(cv::Rect(x1, y1, x2 - x1, y2 - y1));
  const double scale = std::min(1.0, static_cast<double>(kThumbnailSide) / std::max(crop.cols, crop.rows));
  cv::Mat out;
  if (scale < 1.0)
    cv::resize(crop, out, cv::Size(std::max(1, static_cast<int>(crop.cols * scale)), std::max(1, static_cast<int>(crop.rows * scale))),
               0, 0, cv::INTER_AREA);
  else
    out = crop.clone();
  const cv::Point a(static_cast<int>((box.x1 - x1) * scale), static_cast<int>((box.y1 - y1) * scale));
  const cv::Point b(static_cast<int>((box.x2 - x1) * scale), static_cast<int>((box.y2 - y1) * scale));
  cv::rectangle(out, a, b, colour, 2);
  return out;
}

}  // namespace

cv::Mat review_image(const cv::Mat& bgr) {
  const int side = std::max(bgr.cols, bgr.rows);
  if (side <= kReviewImageSide) return bgr;
  const double scale = static_cast<double>(kReviewImageSide) / side;
  cv::Mat out;
  cv::resize(bgr, out, cv::Size(std::max(1, static_cast<int>(bgr.cols * scale)), std::max(1, static_cast<int>(bgr.rows * scale))),
             0, 0, cv::INTER_AREA);
  return out;
}

int write_thumbnails(const fs::path& dir, const cv::Mat& bgr, const ImageResult& r) {
  // What an earlier pass wrote of this image and this one does not write goes first: a finalize
  // pass changes verdicts. Found by name (b<i> for each label box, m<k> while there), never by
  // listing the folder: it holds the thumbnails of every image beside this one, and a listing
  // for each image made a shard's thumbnails cost quadratic time.
  const auto remove_stale = [](const fs::path& file) {
    std::error_code ec;
    const bool removed = fs::remove(file, ec);
    if (ec) throw Error(ExitCode::failed, fmt::format("{}: cannot remove: {}", printable(file.string()), ec.message()));
    return removed;
  };
  for (size_t i = 0; i < r.labels.boxes.size(); ++i)
    if (bgr.empty() || i >= r.results.size() || r.results[i].verdict == Verdict::correct)
      remove_stale(thumbnail_path(dir, r.path, fmt::format("b{}", i)));
  for (size_t k = bgr.empty() ? 0 : r.missing.size(); remove_stale(thumbnail_path(dir, r.path, fmt::format("m{}", k))); ++k) {
  }
  if (bgr.empty()) return 0;
  int written = 0;
  for (size_t i = 0; i < r.labels.boxes.size() && i < r.results.size(); ++i) {
    if (r.results[i].verdict == Verdict::correct) continue;
    const LabelBox& lb = r.labels.boxes[i];
    const Box b = from_yolo(lb.cx, lb.cy, lb.w, lb.h, bgr.cols, bgr.rows);
    // Unsynced: a thumbnail is a preview made again by the next run; the review skips an empty one.
    write_jpeg(thumbnail_path(dir, r.path, fmt::format("b{}", i)), thumbnail(bgr, b, verdict_colour(r.results[i].verdict)),
               Durability::unsynced);
    ++written;
  }
  // Missing boxes are in the original image's pixels.
  const double sx = r.width > 0 ? static_cast<double>(bgr.cols) / r.width : 1.0;
  const double sy = r.height > 0 ? static_cast<double>(bgr.rows) / r.height : 1.0;
  for (size_t k = 0; k < r.missing.size(); ++k) {
    const Box& m = r.missing[k].box;
    const Box scaled{m.x1 * sx, m.y1 * sy, m.x2 * sx, m.y2 * sy};
    write_jpeg(thumbnail_path(dir, r.path, fmt::format("m{}", k)), thumbnail(bgr, scaled, cv::Scalar(255, 0, 255)),
               Durability::unsynced);
    ++written;
  }
  return written;
}

}  // namespace lv
