#include "garment_compose.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace lv::demo {

namespace {

constexpr double kPi = 3.14159265358979323846;

/// A BGR colour whose channels are `level` times the given ratios.
cv::Vec3f colour(float level, float b, float g, float r) { return {level * b, level * g, level * r}; }

/// The two end colours of a background's gradient, and its direction in radians.
struct Gradient {
  cv::Vec3f from, to;
  double angle = 0;
};

Gradient random_gradient(Rng& rng, SceneKind kind) {
  Gradient g;
  auto f = [&](double lo, double hi) { return static_cast<float>(rng.uniform(lo, hi)); };
  switch (kind) {
    case SceneKind::indoor_day:  // warm greys and beiges
      g.from = colour(f(70, 150), f(0.8, 1.0), 1.0f, f(1.0, 1.15));
      g.to = colour(f(70, 150), f(0.8, 1.0), 1.0f, f(1.0, 1.15));
      g.angle = rng.uniform(0, 2 * kPi);
      break;
    case SceneKind::indoor_night:  // dark, bluish
      g.from = colour(f(15, 60), f(1.0, 1.3), 1.0f, f(0.8, 1.0));
      g.to = colour(f(15, 60), f(1.0, 1.3), 1.0f, f(0.8, 1.0));
      g.angle = rng.uniform(0, 2 * kPi);
      break;
    case SceneKind::outdoor_day:  // sky at the top, ground at the bottom
      g.from = {f(130, 170), f(100, 150), f(70, 120)};
      g.to = {f(30, 70), f(70, 130), f(50, 110)};
      g.angle = kPi / 2 + rng.uniform(-0.35, 0.35);
      break;
  }
  return g;
}

/// A grey garment scaled to `size` as it is drawn (INTER_LINEAR); the bytes themselves when
/// `size` is theirs.
cv::Mat scaled_garment(const uint8_t* garment, int rows, int cols, cv::Size size) {
  const cv::Mat grey(rows, cols, CV_8UC1, const_cast<uint8_t*>(garment));
  if (size == grey.size()) return grey;
  cv::Mat scaled;
  cv::resize(grey, scaled, size, 0, 0, cv::INTER_LINEAR);
  return scaled;
}

/// A random colour, each channel anywhere in [0, 255].
cv::Scalar any_colour(Rng& rng) {
  return cv::Scalar(rng.uniform_int(0, 255), rng.uniform_int(0, 255), rng.uniform_int(0, 255));
}

cv::Mat make_plain_background(Rng& rng, cv::Size size) {
  const double level = rng.uniform(90, 170);
  cv::Vec3f flat;
  for (int c = 0; c < 3; ++c) flat[c] = static_cast<float>(level * rng.uniform(0.92, 1.08));
  cv::Mat out(size, CV_8UC3);
  for (int y = 0; y < size.height; ++y) {
    auto* row = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < size.width; ++x)
      for (int c = 0; c < 3; ++c) row[x][c] = cv::saturate_cast<uint8_t>(flat[c] + 2.0 * rng.normal());
  }
  return out;
}

/// Parallel stripes of one colour across `area` of `image`: random direction, period and width.
void draw_stripes(cv::Mat& image, cv::Rect area, Rng& rng) {
  cv::Mat patch = image(area);
  const cv::Scalar colour = any_colour(rng);
  const double angle = rng.uniform(0, kPi);
  const int period = rng.uniform_int(6, 24), width = rng.uniform_int(2, period / 2 + 1);
  const cv::Point2d along(std::cos(angle), std::sin(angle)), across(-along.y, along.x);
  const double reach = std::hypot(area.width, area.height);
  const cv::Point2d centre(area.width / 2.0, area.height / 2.0);
  for (double offset = -reach / 2; offset <= reach / 2; offset += period) {
    const cv::Point2d mid = centre + across * offset;
    cv::line(patch, mid - along * reach, mid + along * reach, colour, width);
  }
}

cv::Mat make_busy_background(Rng& rng, cv::Size size) {
  cv::Mat out(size, CV_8UC3, any_colour(rng));
  const int shapes = rng.uniform_int(25, 45);
  for (int i = 0; i < shapes; ++i) {
    const cv::Point a(rng.uniform_int(0, size.width - 1), rng.uniform_int(0, size.height - 1));
    const cv::Point b(rng.uniform_int(0, size.width - 1), rng.uniform_int(0, size.height - 1));
    switch (rng.uniform_int(0, 2)) {
      case 0: cv::rectangle(out, a, b, any_colour(rng), cv::FILLED); break;
      case 1: cv::line(out, a, b, any_colour(rng), rng.uniform_int(1, 6)); break;
      case 2: draw_stripes(out, cv::Rect(a, b) | cv::Rect(a, cv::Size(1, 1)), rng); break;
    }
  }
  return out;
}

}  // namespace

std::string scene_folder(SceneKind kind) {
  switch (kind) {
    case SceneKind::indoor_day: return "indoor/day";
    case SceneKind::indoor_night: return "indoor/night";
    case SceneKind::outdoor_day: return "outdoor/day";
  }
  return "unknown";
}

cv::Mat make_background(Rng& rng, cv::Size size, SceneKind kind) {
  const bool night = kind == SceneKind::indoor_night;
  const Gradient grad = random_gradient(rng, kind);

  // Smooth blotches: a coarse grid of random offsets, upsampled; mostly brightness, a little colour.
  const float blotch_amp = night ? 7.0f : 14.0f;
  cv::Mat coarse(5, 7, CV_32FC3);
  for (int y = 0; y < coarse.rows; ++y) {
    for (int x = 0; x < coarse.cols; ++x) {
      const float shade = blotch_amp * static_cast<float>(rng.normal());
      for (int c = 0; c < 3; ++c)
        coarse.at<cv::Vec3f>(y, x)[c] = shade + 0.3f * blotch_amp * static_cast<float>(rng.normal());
    }
  }
  cv::Mat blotches;
  cv::resize(coarse, blotches, size, 0, 0, cv::INTER_CUBIC);

  // Gradient parameter t in [0, 1] along the direction, over the image's extent.
  const double dx = std::cos(grad.angle), dy = std::sin(grad.angle);
  double lo = 1e300, hi = -1e300;
  for (const cv::Point corner : {cv::Point(0, 0), cv::Point(size.width, 0), cv::Point(0, size.height),
                                 cv::Point(size.width, size.height)}) {
    const double p = corner.x * dx + corner.y * dy;
    lo = std::min(lo, p);
    hi = std::max(hi, p);
  }
  const double span = std::max(hi - lo, 1e-9);

  const double noise_sigma = night ? 3.0 : 5.0;
  cv::Mat out(size, CV_8UC3);
  for (int y = 0; y < size.height; ++y) {
    auto* row = out.ptr<cv::Vec3b>(y);
    const auto* blot = blotches.ptr<cv::Vec3f>(y);
    for (int x = 0; x < size.width; ++x) {
      const float t = static_cast<float>(((x + 0.5) * dx + (y + 0.5) * dy - lo) / span);
      for (int c = 0; c < 3; ++c) {
        const float v = grad.from[c] * (1 - t) + grad.to[c] * t + blot[x][c] +
                        static_cast<float>(noise_sigma * rng.normal());
        row[x][c] = cv::saturate_cast<uint8_t>(v);
      }
    }
  }
  return out;
}

cv::Mat make_background(Rng& rng, cv::Size size, SceneKind kind, BackgroundStyle style) {
  switch (style) {
    case BackgroundStyle::textured: break;
    case BackgroundStyle::plain: return make_plain_background(rng, size);
    case BackgroundStyle::busy: return make_busy_background(rng, size);
  }
  return make_background(rng, size, kind);
}

GarmentLook random_look(Rng& rng, SceneKind kind) {
  GarmentLook look;
  look.gain = static_cast<float>(kind == SceneKind::indoor_night ? rng.uniform(0.55, 0.75) : rng.uniform(0.85, 1.1));
  // One channel keeps full strength, the others are dimmed a little: pale colours.
  const int full = rng.uniform_int(0, 2);
  for (int c = 0; c < 3; ++c) look.tint[c] = c == full ? 1.0f : static_cast<float>(rng.uniform(0.75, 1.0));
  return look;
}

void paste_garment(cv::Mat& scene, const uint8_t* garment, int rows, int cols, cv::Rect tile,
                   const GarmentLook& look) {
  CV_Assert(scene.type() == CV_8UC3 && (tile & cv::Rect(0, 0, scene.cols, scene.rows)) == tile);
  const cv::Mat scaled = scaled_garment(garment, rows, cols, tile.size());
  for (int y = 0; y < tile.height; ++y) {
    const uint8_t* g = scaled.ptr<uint8_t>(y);
    auto* px = scene.ptr<cv::Vec3b>(tile.y + y) + tile.x;
    for (int x = 0; x < tile.width; ++x) {
      const float level = g[x];
      const float alpha = std::min(1.0f, level / kOpaqueLevel);
      if (alpha <= 0) continue;
      for (int c = 0; c < 3; ++c) {
        const float fg = level * look.gain * look.tint[c];
        px[x][c] = cv::saturate_cast<uint8_t>(alpha * fg + (1 - alpha) * px[x][c]);
      }
    }
  }
}

cv::Rect visible_box(const uint8_t* garment, int rows, int cols, cv::Rect tile) {
  const cv::Mat opaque = scaled_garment(garment, rows, cols, tile.size()) >= kOpaqueLevel;
  const cv::Rect box = cv::boundingRect(opaque);
  return box.empty() ? tile : box + tile.tl();
}

BackgroundPool make_background_pool(Rng& rng, int count, const SceneGeometry& geometry) {
  BackgroundPool pool;
  for (int i = 0; i < count; ++i) {
    const SceneKind kind = kSceneKinds[i % 3];
    pool.images.push_back(make_background(rng, geometry.scene_size, kind));
    pool.kinds.push_back(kind);
  }
  return pool;
}

cv::Mat render_training_crop(Rng& rng, const BackgroundPool& pool, const SceneGeometry& geometry,
                             const uint8_t* garment, int rows, int cols, const CropAugment& augment,
                             int out_size) {
  const size_t which = static_cast<size_t>(rng.uniform_int(0, static_cast<int>(pool.images.size()) - 1));
  const cv::Mat& background = pool.images[which];
  const int side = rng.uniform_int(geometry.min_side, geometry.max_side);
  const int jitter = std::max(1, static_cast<int>(std::lround(augment.edge_jitter * side)));

  // A window with room for the jittered box around the garment's tile.
  const int window = std::min({side + 2 * jitter, background.cols, background.rows});
  const int pad = (window - side) / 2;
  const int wx = rng.uniform_int(0, background.cols - window);
  const int wy = rng.uniform_int(0, background.rows - window);
  cv::Mat canvas = background(cv::Rect(wx, wy, window, window)).clone();
  paste_garment(canvas, garment, rows, cols, cv::Rect(pad, pad, side, side), random_look(rng, pool.kinds[which]));

  // The box as a labeller (or the worker's rounding) would give it: each edge a little off.
  auto edge = [&](int at) { return std::clamp(at + rng.uniform_int(-jitter, jitter), 0, window); };
  int x1 = edge(pad), y1 = edge(pad), x2 = edge(pad + side), y2 = edge(pad + side);
  if (x2 - x1 < side / 2) x1 = pad, x2 = pad + side;
  if (y2 - y1 < side / 2) y1 = pad, y2 = pad + side;
  cv::Mat crop;
  cv::resize(canvas(cv::Rect(x1, y1, x2 - x1, y2 - y1)), crop, cv::Size(out_size, out_size), 0, 0, cv::INTER_LINEAR);
  return crop;
}

}  // namespace lv::demo
