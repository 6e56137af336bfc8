#pragma once
/// The demo dataset: scenes of Fashion-MNIST garments on textured backgrounds, YOLO labels
/// with injected label noise, and the truth file that records which labels were changed.
/// Shifted variants draw other backgrounds, garment sizes or label boxes (SceneOptions).
///
///   <out>/classes.txt                          the ten class names, one a line
///   <out>/{indoor/day,indoor/night,outdoor/day}/JPEGImages/scene_NNNNN.jpg
///   <out>/{...}/labels/scene_NNNNN.txt         "class cx cy w h" per garment
///   <out>/truth.jsonl                          one line per label line, and one per garment
///                                              left unlabelled (written last)
///   <out>/demo_dataset.json                    the options it was made with, and counts
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "fashion_mnist.h"
#include "garment_compose.h"
#include "label_noise.h"

namespace lv::demo {

/// Which box a correct label gives a garment.
enum class BoxFit {
  tile,   ///< its square tile (the default make)
  tight,  ///< the bounding box of its visible pixels in the tile (garment_compose.h visible_box)
  loose,  ///< the tile grown by 20 % of its side on each side, clipped to the scene
};
inline constexpr BoxFit kBoxFits[] = {BoxFit::tile, BoxFit::tight, BoxFit::loose};

/// The option's spelling: "tile", "tight", "loose".
inline std::string_view to_string(BoxFit fit) {
  switch (fit) {
    case BoxFit::tile: return "tile";
    case BoxFit::tight: return "tight";
    case BoxFit::loose: return "loose";
  }
  return "tile";
}

/// What to make.
struct SceneOptions {
  SceneGeometry geometry;  ///< scene size, garment side range
  int min_garments = 1;
  int max_garments = 6;
  double noise = 0.10;  ///< probability that a box's written class is swapped for another
  /// The other kinds of label error (label_noise.h), each a probability per garment; a garment
  /// gets one kind at most. With all of them 0 the dataset is what it was before they existed.
  double noise_missing = 0;    ///< the garment's line is left out
  double noise_location = 0;   ///< its box is moved and resized to IoU 0.2-0.5 with the garment
  double noise_duplicate = 0;  ///< its line is written twice (the copy exact or 1 px off, IoU > 0.9)
  double noise_spurious = 0;   ///< a box on background (no garment under it) is added to the scene
  /// How backgrounds are drawn; textured is the default make, the others shift away from it.
  BackgroundStyle background = BackgroundStyle::textured;
  /// The box of a correct label; the noise kinds are applied to it, and the truth file's
  /// "box_px" is it. tile is the default make.
  BoxFit box_fit = BoxFit::tile;
  uint64_t seed = 1;
  int jpeg_quality = 92;
};

/// One garment in a scene.
struct PlacedGarment {
  cv::Rect box;        ///< its square tile in pixels, where it is drawn
  cv::Rect label_box;  ///< the box a correct label gives it under SceneOptions::box_fit (the tile by default)
  int source = 0;         ///< index of the garment image in the split
  int true_class = 0;     ///< the split's label of that image
  int written_class = 0;  ///< the class in the label file (differs when noise was injected)
  LabelNoise noise = LabelNoise::none;  ///< the error injected into its label (none, or one kind)
};

/// One line of a scene's label file.
struct LabelLine {
  cv::Rect box;       ///< the box written, pixels
  int cls = 0;        ///< the class written
  int garment = -1;   ///< index of the garment it labels; -1 for a spurious box
  LabelNoise noise = LabelNoise::none;
  double iou = 1.0;   ///< IoU of `box` with the garment's label_box (0 for a spurious box)
  int copy_of = -1;   ///< a duplicate: the index of the line it repeats
};

/// A scene before drawing: its kind, garments (tiles never overlap) and label lines in file
/// order: one per garment in garment order, except that a missing garment has none and a
/// duplicated one has its copy right after it; spurious boxes come last.
struct ScenePlan {
  SceneKind kind = SceneKind::indoor_day;
  std::vector<PlacedGarment> garments;
  std::vector<LabelLine> labels;
};

/// Throws lv::Error (usage) when the noise probabilities are outside [0, 1] or together
/// exceed 1, or when the garment side range is below 8 px, reversed or larger than the scene
/// (the message names the option at fault).
void check_scene_options(const SceneOptions& options);

/// Plans scene `index` from its own random stream of `options.seed` (so any scene can be
/// planned alone): kind, 1..max garments drawn from `split`, non-overlapping tiles, class
/// swaps; then, from a second stream of the seed, the other kinds of noise. A garment or a
/// spurious box that finds no place after many tries is left out (a scene keeps >= 1 garment).
/// Throws as check_scene_options does.
ScenePlan plan_scene(const SceneOptions& options, const FashionSplit& split, int index);

/// A drawn scene: the background alone and with the garments pasted on it.
struct RenderedScene {
  cv::Mat background;
  cv::Mat image;
};

/// Draws a planned scene (its own random stream, independent of the plan's).
RenderedScene render_scene(const SceneOptions& options, const FashionSplit& split, const ScenePlan& plan, int index);

/// The image path of scene `index` relative to the dataset root, e.g.
/// "indoor/night/JPEGImages/scene_00012.jpg".
std::string scene_image_path(const ScenePlan& plan, int index);

/// The YOLO label file text of a plan: "class cx cy w h" (6 decimals) per label line, in order.
std::string yolo_label_text(const ScenePlan& plan, cv::Size scene_size);

/// Counts of a written dataset.
struct DatasetSummary {
  int scenes = 0;
  int boxes = 0;
  int changed = 0;  ///< boxes whose written class differs from the true class
  int missing = 0, location = 0, spurious = 0, duplicate = 0;  ///< the other kinds of noise
};

/// Writes `scenes` scenes into `out` (layout above). Refuses (lv::Error, usage), before
/// writing anything, options that check_scene_options refuses, and an `out` that holds
/// anything unless `overwrite`, which first removes only what this tool writes. Files are
/// byte-identical for the same options and split. `progress(done, total)` is called now and
/// then when set.
DatasetSummary write_demo_dataset(const SceneOptions& options, const FashionSplit& split, int scenes,
                                  const std::filesystem::path& out, bool overwrite,
                                  const std::function<void(int, int)>& progress = {});

}  // namespace lv::demo
