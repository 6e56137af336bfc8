#pragma once
/// The demo dataset: scenes of Fashion-MNIST garments on textured backgrounds, YOLO labels
/// with injected label noise, and the truth file that records which labels were changed.
///
///   <out>/classes.txt                          the ten class names, one a line
///   <out>/{indoor/day,indoor/night,outdoor/day}/JPEGImages/scene_NNNNN.jpg
///   <out>/{...}/labels/scene_NNNNN.txt         "class cx cy w h" per garment
///   <out>/truth.jsonl                          one line per box (written last)
///   <out>/demo_dataset.json                    the options it was made with, and counts
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "fashion_mnist.h"
#include "garment_compose.h"

namespace lv::demo {

/// What to make.
struct SceneOptions {
  SceneGeometry geometry;  ///< scene size, garment side range
  int min_garments = 1;
  int max_garments = 6;
  double noise = 0.10;  ///< probability that a box's written class is swapped for another
  uint64_t seed = 1;
  int jpeg_quality = 92;
};

/// One garment in a scene. The box is the garment's square tile in pixels.
struct PlacedGarment {
  cv::Rect box;
  int source = 0;         ///< index of the garment image in the split
  int true_class = 0;     ///< the split's label of that image
  int written_class = 0;  ///< the class in the label file (differs when noise was injected)
};

/// A scene before drawing: its kind and garments (tiles never overlap).
struct ScenePlan {
  SceneKind kind = SceneKind::indoor_day;
  std::vector<PlacedGarment> garments;
};

/// Plans scene `index` from its own random stream of `options.seed` (so any scene can be
/// planned alone): kind, 1..max garments drawn from `split`, non-overlapping tiles, noise.
/// Garments that find no free place after many tries are left out (a scene keeps >= 1).
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

/// The YOLO label file text of a plan: "class cx cy w h" (6 decimals) per garment, in order.
std::string yolo_label_text(const ScenePlan& plan, cv::Size scene_size);

/// Counts of a written dataset.
struct DatasetSummary {
  int scenes = 0;
  int boxes = 0;
  int changed = 0;  ///< boxes whose written class differs from the true class
};

/// Writes `scenes` scenes into `out` (layout above). Refuses (lv::Error, usage) when `out`
/// holds anything unless `overwrite`, which first removes only what this tool writes. Files
/// are byte-identical for the same options and split. `progress(done, total)` is called
/// now and then when set.
DatasetSummary write_demo_dataset(const SceneOptions& options, const FashionSplit& split, int scenes,
                                  const std::filesystem::path& out, bool overwrite,
                                  const std::function<void(int, int)>& progress = {});

}  // namespace lv::demo
