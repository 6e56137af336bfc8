#include "demo_scene.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "atomic_file.h"
#include "error.h"

namespace lv::demo {

namespace fs = std::filesystem;

namespace {

constexpr int kPlaceAttempts = 60;
constexpr int kNumClasses = static_cast<int>(kFashionClassNames.size());

// Each scene draws from two streams of the seed: 2i plans it, 2i + 1 draws it.
Rng plan_rng(const SceneOptions& o, int index) { return Rng(o.seed, 2 * static_cast<uint64_t>(index)); }
Rng render_rng(const SceneOptions& o, int index) { return Rng(o.seed, 2 * static_cast<uint64_t>(index) + 1); }

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error(ExitCode::failed, fmt::format("{}: cannot write: {}", file.string(), std::strerror(errno)));
}

/// What write_demo_dataset writes at the top of `out` (removed by overwrite).
std::vector<fs::path> owned_entries(const fs::path& out) {
  return {out / "indoor", out / "outdoor", out / "classes.txt", out / "truth.jsonl", out / "demo_dataset.json"};
}

}  // namespace

ScenePlan plan_scene(const SceneOptions& options, const FashionSplit& split, int index) {
  Rng rng = plan_rng(options, index);
  const SceneGeometry& g = options.geometry;
  ScenePlan plan;
  plan.kind = kSceneKinds[rng.uniform_int(0, 2)];
  const int wanted = rng.uniform_int(options.min_garments, options.max_garments);
  for (int n = 0; n < wanted; ++n) {
    for (int attempt = 0; attempt < kPlaceAttempts; ++attempt) {
      const int side = std::min({rng.uniform_int(g.min_side, g.max_side), g.scene_size.width, g.scene_size.height});
      const cv::Rect box(rng.uniform_int(0, g.scene_size.width - side), rng.uniform_int(0, g.scene_size.height - side),
                         side, side);
      bool free = true;
      for (const auto& other : plan.garments) free = free && (box & other.box).area() == 0;
      if (!free) continue;
      PlacedGarment pg;
      pg.box = box;
      pg.source = rng.uniform_int(0, split.images.count - 1);
      pg.true_class = split.labels[static_cast<size_t>(pg.source)];
      pg.written_class = pg.true_class;
      // Swap noise: any other class, each equally likely.
      if (rng.bernoulli(options.noise)) pg.written_class = (pg.true_class + rng.uniform_int(1, kNumClasses - 1)) % kNumClasses;
      plan.garments.push_back(pg);
      break;
    }
  }
  return plan;
}

RenderedScene render_scene(const SceneOptions& options, const FashionSplit& split, const ScenePlan& plan, int index) {
  Rng rng = render_rng(options, index);
  RenderedScene out;
  out.background = make_background(rng, options.geometry.scene_size, plan.kind);
  out.image = out.background.clone();
  for (const auto& pg : plan.garments) {
    paste_garment(out.image, split.images.image(pg.source), split.images.rows, split.images.cols, pg.box,
                  random_look(rng, plan.kind));
  }
  return out;
}

std::string scene_image_path(const ScenePlan& plan, int index) {
  return fmt::format("{}/JPEGImages/scene_{:05d}.jpg", scene_folder(plan.kind), index);
}

std::string yolo_label_text(const ScenePlan& plan, cv::Size size) {
  std::string text;
  for (const auto& pg : plan.garments) {
    const double w = size.width, h = size.height;
    text += fmt::format("{} {:.6f} {:.6f} {:.6f} {:.6f}\n", pg.written_class, (pg.box.x + pg.box.width / 2.0) / w,
                        (pg.box.y + pg.box.height / 2.0) / h, pg.box.width / w, pg.box.height / h);
  }
  return text;
}

DatasetSummary write_demo_dataset(const SceneOptions& options, const FashionSplit& split, int scenes,
                                  const fs::path& out, bool overwrite, const std::function<void(int, int)>& progress) {
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
    if (!overwrite)
      throw usage_error(fmt::format("{}: exists and is not empty; remove it or pass --force", out.string()));
    for (const auto& p : owned_entries(out)) fs::remove_all(p, ec);
  }
  for (SceneKind kind : kSceneKinds) {
    fs::create_directories(out / scene_folder(kind) / "JPEGImages");
    fs::create_directories(out / scene_folder(kind) / "labels");
  }
  std::string classes;
  for (const auto& name : kFashionClassNames) classes += name + "\n";
  write_file_atomic(out / "classes.txt", classes);

  DatasetSummary summary;
  std::string truth;
  const std::vector<int> params{cv::IMWRITE_JPEG_QUALITY, options.jpeg_quality};
  std::vector<uchar> jpeg;
  for (int i = 0; i < scenes; ++i) {
    const ScenePlan plan = plan_scene(options, split, i);
    const RenderedScene scene = render_scene(options, split, plan, i);
    const std::string rel = scene_image_path(plan, i);
    if (!cv::imencode(".jpg", scene.image, jpeg, params))
      throw Error(ExitCode::failed, fmt::format("{}: JPEG encoding failed", rel));
    write_bytes(out / rel, std::string(jpeg.begin(), jpeg.end()));
    const fs::path label = out / scene_folder(plan.kind) / "labels" / fmt::format("scene_{:05d}.txt", i);
    write_bytes(label, yolo_label_text(plan, options.geometry.scene_size));

    for (size_t b = 0; b < plan.garments.size(); ++b) {
      const PlacedGarment& pg = plan.garments[b];
      const nlohmann::json line = {
          {"image", rel},
          {"box", b},
          {"true_class", pg.true_class},
          {"true_name", kFashionClassNames[static_cast<size_t>(pg.true_class)]},
          {"written_class", pg.written_class},
          {"written_name", kFashionClassNames[static_cast<size_t>(pg.written_class)]},
          {"changed", pg.true_class != pg.written_class},
          {"source_index", pg.source},
          {"box_px", {pg.box.x, pg.box.y, pg.box.width, pg.box.height}},
      };
      truth += line.dump() + "\n";
      ++summary.boxes;
      if (pg.true_class != pg.written_class) ++summary.changed;
    }
    ++summary.scenes;
    if (progress && ((i + 1) % 100 == 0 || i + 1 == scenes)) progress(i + 1, scenes);
  }

  const nlohmann::json meta = {
      {"source", "Fashion-MNIST t10k"},
      {"seed", options.seed},
      {"scenes", summary.scenes},
      {"noise", options.noise},
      {"width", options.geometry.scene_size.width},
      {"height", options.geometry.scene_size.height},
      {"min_side", options.geometry.min_side},
      {"max_side", options.geometry.max_side},
      {"min_garments", options.min_garments},
      {"max_garments", options.max_garments},
      {"jpeg_quality", options.jpeg_quality},
      {"boxes", summary.boxes},
      {"changed", summary.changed},
  };
  write_file_atomic(out / "demo_dataset.json", meta.dump(2) + "\n");
  // Last: its presence marks a complete dataset.
  write_file_atomic(out / "truth.jsonl", truth);
  return summary;
}

}  // namespace lv::demo
