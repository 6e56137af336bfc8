#pragma once
/// How a Fashion-MNIST garment looks in a demo scene, shared by the dataset maker (which
/// draws scenes) and the trainer (which draws single crops the way the image_worker will cut
/// them from those scenes), so that the classifier trains on what it will be shown.
/// OpenCV only; images are 8-bit BGR like cv::imread's.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "demo_random.h"

namespace lv::demo {

/// The three kinds of scene, each in its own dataset folder.
enum class SceneKind { indoor_day, indoor_night, outdoor_day };
inline constexpr SceneKind kSceneKinds[] = {SceneKind::indoor_day, SceneKind::indoor_night, SceneKind::outdoor_day};

/// The dataset folder of a kind, relative to the dataset root: "indoor/day", "indoor/night",
/// "outdoor/day".
std::string scene_folder(SceneKind kind);

/// A textured background of `size`: a two-colour gradient in a random direction, smooth
/// blotches and pixel noise, in the colours of `kind` (night: dark; outdoor: sky to ground).
cv::Mat make_background(Rng& rng, cv::Size size, SceneKind kind);

/// How a scene's background is drawn: the default make, or a shift away from it.
enum class BackgroundStyle {
  textured,  ///< make_background: a gradient, blotches and noise in the colours of the scene's kind
  plain,     ///< one flat mid-grey colour per scene, slightly tinted, with faint pixel noise
  busy,      ///< high-contrast clutter unlike textured: rectangles, lines and patches of stripes in random colours
};
inline constexpr BackgroundStyle kBackgroundStyles[] = {BackgroundStyle::textured, BackgroundStyle::plain,
                                                        BackgroundStyle::busy};

/// The option's spelling: "textured", "plain", "busy".
inline std::string_view to_string(BackgroundStyle style) {
  switch (style) {
    case BackgroundStyle::textured: return "textured";
    case BackgroundStyle::plain: return "plain";
    case BackgroundStyle::busy: return "busy";
  }
  return "textured";
}

/// A background of `size` in `style`, drawn from `rng`: textured is make_background (the same
/// draws); plain and busy do not depend on `kind`.
cv::Mat make_background(Rng& rng, cv::Size size, SceneKind kind, BackgroundStyle style);

/// The colouring of one pasted garment: its grey level is multiplied by `gain` and by the
/// per-channel (BGR) `tint`.
struct GarmentLook {
  float gain = 1.0f;
  cv::Vec3f tint{1.0f, 1.0f, 1.0f};
};

/// A random look for a garment in a scene of `kind` (dimmer at night, slightly tinted).
GarmentLook random_look(Rng& rng, SceneKind kind);

/// Grey level at and above which a garment pixel fully hides the background. Fashion-MNIST
/// garments are light on an exact black, so darker pixels fade into the background: the
/// garment's silhouette is opaque, dark garments stay visible as dark shapes.
inline constexpr float kOpaqueLevel = 24.0f;

/// Composites a grey garment (`rows` x `cols` bytes, light on black) scaled to `tile`
/// (INTER_LINEAR) onto `scene`: alpha = min(1, grey / kOpaqueLevel), colour = grey * look.
/// `tile` must lie inside `scene`.
void paste_garment(cv::Mat& scene, const uint8_t* garment, int rows, int cols, cv::Rect tile,
                   const GarmentLook& look);

/// The bounding box, in scene pixels, of a garment's visible pixels (grey >= kOpaqueLevel once
/// scaled to `tile` as paste_garment scales it); the whole tile when no pixel is that light.
cv::Rect visible_box(const uint8_t* garment, int rows, int cols, cv::Rect tile);

/// Scene geometry, shared so the trainer's crops match the dataset's scenes.
struct SceneGeometry {
  cv::Size scene_size{320, 240};
  int min_side = 28;   ///< smallest garment tile, pixels
  int max_side = 112;  ///< largest garment tile, pixels
};

/// Whole-scene backgrounds made once, which the trainer cuts windows from.
struct BackgroundPool {
  std::vector<cv::Mat> images;
  std::vector<SceneKind> kinds;
};

/// `count` backgrounds of `geometry.scene_size`, kinds in turn (as many of each).
BackgroundPool make_background_pool(Rng& rng, int count, const SceneGeometry& geometry);

/// How a training crop varies around what the worker cuts from a scene.
struct CropAugment {
  double edge_jitter = 0.03;  ///< each box edge moves by up to this fraction of the side (at least 1 px)
};

/// One classifier input as the image_worker cuts it from a demo scene: the garment at a
/// random side in [min_side, max_side] pasted on a random window of a pooled background with
/// a random look for that background's kind, its box edges jittered, the box cut out and
/// resized to `out_size` x `out_size` with INTER_LINEAR. Returns 8-bit BGR.
cv::Mat render_training_crop(Rng& rng, const BackgroundPool& pool, const SceneGeometry& geometry,
                             const uint8_t* garment, int rows, int cols, const CropAugment& augment,
                             int out_size);

}  // namespace lv::demo
