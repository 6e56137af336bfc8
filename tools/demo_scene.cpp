#include "demo_scene.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "atomic_file.h"
#include "error.h"

namespace lv::demo {

namespace fs = std::filesystem;

namespace {

constexpr int kPlaceAttempts = 60;
constexpr double kLooseMargin = 0.2;  // a loose box grows the tile by this share of its side on each side
constexpr int kMinSide = 8;  // the smallest garment tile (and badly placed box) side, pixels
constexpr int kNumClasses = static_cast<int>(kFashionClassNames.size());

// Each scene draws from two streams of the seed: 2i plans it, 2i + 1 draws it. The noise kinds
// added later (missing, location, spurious, duplicate) draw from streams of their own, so that
// with their rates at 0 every scene is planned as before.
Rng plan_rng(const SceneOptions& o, int index) { return Rng(o.seed, 2 * static_cast<uint64_t>(index)); }
Rng render_rng(const SceneOptions& o, int index) { return Rng(o.seed, 2 * static_cast<uint64_t>(index) + 1); }
Rng noise_rng(const SceneOptions& o, int index) { return Rng(mix_seed(o.seed, 0x6e6f697365ULL), static_cast<uint64_t>(index)); }

constexpr int kNoiseAttempts = 200;
// A badly placed box overlaps its garment this much (IoU), and any other garment less than
// kOtherGarmentIou, so that it is wrong for one reason only.
constexpr double kLocationMinIou = 0.2, kLocationMaxIou = 0.5, kOtherGarmentIou = 0.1;
// A duplicate overlaps the line it repeats more than this.
constexpr double kDuplicateMinIou = 0.9;

double rect_iou(const cv::Rect& a, const cv::Rect& b) {
  const double inter = (a & b).area();
  const double uni = static_cast<double>(a.area()) + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0;
}

void check_rates(const SceneOptions& o) {
  const double rates[] = {o.noise, o.noise_missing, o.noise_location, o.noise_duplicate, o.noise_spurious};
  for (const double r : rates)
    if (!(r >= 0 && r <= 1)) throw usage_error(fmt::format("a noise probability is {}; each must be in [0, 1]", r));
  const double per_garment = o.noise + o.noise_missing + o.noise_location + o.noise_duplicate;
  if (per_garment > 1 + 1e-9)
    throw usage_error(fmt::format("the class, missing, location and duplicate noise probabilities add up to {}; a "
                                  "garment gets one kind at most, so they must add up to 1 or less",
                                  per_garment));
}

/// The garment side range must be usable: at least kMinSide, not reversed, inside the scene.
void check_sides(const SceneGeometry& g) {
  if (g.min_side < kMinSide)
    throw usage_error(fmt::format("--min-side is {}; a garment needs at least {} px a side", g.min_side, kMinSide));
  if (g.min_side > g.max_side)
    throw usage_error(fmt::format("--min-side {} is above --max-side {}", g.min_side, g.max_side));
  const int room = std::min(g.scene_size.width, g.scene_size.height);
  if (g.max_side > room)
    throw usage_error(fmt::format("--max-side {} does not fit the {} x {} scene (at most {})", g.max_side,
                                  g.scene_size.width, g.scene_size.height, room));
}

/// The box a correct label gives garment `source` of `split` drawn in `tile`, under `o.box_fit`.
cv::Rect fitted_box(const SceneOptions& o, const FashionSplit& split, int source, cv::Rect tile) {
  switch (o.box_fit) {
    case BoxFit::tile: break;
    case BoxFit::tight: return visible_box(split.images.image(source), split.images.rows, split.images.cols, tile);
    case BoxFit::loose: {
      const int margin = static_cast<int>(std::lround(kLooseMargin * tile.width));
      const cv::Rect grown(tile.x - margin, tile.y - margin, tile.width + 2 * margin, tile.height + 2 * margin);
      return grown & cv::Rect(cv::Point(0, 0), o.geometry.scene_size);
    }
  }
  return tile;
}

/// A box that overlaps `garment` with IoU in [kLocationMinIou, kLocationMaxIou] (moved and
/// resized, inside the scene, at least 8 px a side) and every other garment of `plan` less
/// than kOtherGarmentIou; nothing when none was found.
std::optional<LabelLine> misplaced(Rng& rng, const ScenePlan& plan, int garment, cv::Size scene) {
  const cv::Rect t = plan.garments[static_cast<size_t>(garment)].label_box;
  for (int attempt = 0; attempt < kNoiseAttempts; ++attempt) {
    const double w = t.width * rng.uniform(0.5, 1.6), h = t.height * rng.uniform(0.5, 1.6);
    const double cx = t.x + t.width / 2.0 + t.width * rng.uniform(-0.6, 0.6);
    const double cy = t.y + t.height / 2.0 + t.height * rng.uniform(-0.6, 0.6);
    const cv::Rect box = cv::Rect(static_cast<int>(std::lround(cx - w / 2)), static_cast<int>(std::lround(cy - h / 2)),
                                  static_cast<int>(std::lround(w)), static_cast<int>(std::lround(h))) &
                         cv::Rect(0, 0, scene.width, scene.height);
    if (box.width < kMinSide || box.height < kMinSide) continue;
    const double o = rect_iou(box, t);
    if (o < kLocationMinIou || o > kLocationMaxIou) continue;
    bool clear = true;
    for (size_t g = 0; g < plan.garments.size(); ++g)
      clear = clear && (static_cast<int>(g) == garment || rect_iou(box, plan.garments[g].label_box) < kOtherGarmentIou);
    if (!clear) continue;
    LabelLine line;
    line.box = box;
    line.iou = o;
    return line;
  }
  return std::nullopt;
}

/// The copy of `box` a careless labeller writes: exact, or each edge up to 1 px off (IoU above
/// kDuplicateMinIou, inside the scene).
cv::Rect near_copy(Rng& rng, const cv::Rect& box, cv::Size scene) {
  if (rng.bernoulli(0.5)) return box;
  for (int attempt = 0; attempt < kNoiseAttempts; ++attempt) {
    const int x1 = box.x + rng.uniform_int(-1, 1), y1 = box.y + rng.uniform_int(-1, 1);
    const int x2 = box.x + box.width + rng.uniform_int(-1, 1), y2 = box.y + box.height + rng.uniform_int(-1, 1);
    const cv::Rect copy = cv::Rect(cv::Point(x1, y1), cv::Point(x2, y2)) & cv::Rect(0, 0, scene.width, scene.height);
    if (rect_iou(copy, box) > kDuplicateMinIou) return copy;
  }
  return box;
}

/// A box of a garment's size range on background: it touches no garment and no other line.
std::optional<cv::Rect> background_box(Rng& rng, const ScenePlan& plan, const SceneGeometry& g) {
  for (int attempt = 0; attempt < kNoiseAttempts; ++attempt) {
    const int side = std::min({rng.uniform_int(g.min_side, g.max_side), g.scene_size.width, g.scene_size.height});
    const cv::Rect box(rng.uniform_int(0, g.scene_size.width - side), rng.uniform_int(0, g.scene_size.height - side),
                       side, side);
    bool free = true;
    for (const auto& garment : plan.garments)
      free = free && (box & garment.box).area() == 0 && (box & garment.label_box).area() == 0;
    for (const auto& line : plan.labels) free = free && (box & line.box).area() == 0;
    if (free) return box;
  }
  return std::nullopt;
}

/// The label lines of `plan`'s garments (class swaps already drawn), with the other kinds of
/// noise drawn from `rng`.
void plan_labels(const SceneOptions& o, ScenePlan& plan, Rng& rng) {
  const cv::Size scene = o.geometry.scene_size;
  // Each kind's share of all garments is its rate: among the garments whose class was not
  // swapped, the rates are scaled up by 1 / (1 - noise).
  const double kept = 1 - o.noise;
  const double scale = kept > 0 ? 1 / kept : 0;
  for (size_t g = 0; g < plan.garments.size(); ++g) {
    PlacedGarment& pg = plan.garments[g];
    LabelLine line;
    line.box = pg.label_box;
    line.cls = pg.written_class;
    line.garment = static_cast<int>(g);
    if (pg.written_class != pg.true_class) {
      pg.noise = line.noise = LabelNoise::class_swap;
      plan.labels.push_back(line);
      continue;
    }
    const double u = rng.uniform();
    const double missing = o.noise_missing * scale, location = missing + o.noise_location * scale;
    const double duplicate = location + o.noise_duplicate * scale;
    if (u < missing) {
      pg.noise = LabelNoise::missing;
      continue;
    }
    if (u < location) {
      if (const auto moved = misplaced(rng, plan, static_cast<int>(g), scene)) {
        pg.noise = line.noise = LabelNoise::location;
        line.box = moved->box;
        line.iou = moved->iou;
      }
      plan.labels.push_back(line);
      continue;
    }
    plan.labels.push_back(line);
    if (u < duplicate) {
      pg.noise = LabelNoise::duplicate;
      LabelLine copy = line;
      copy.box = near_copy(rng, line.box, scene);
      copy.iou = rect_iou(copy.box, pg.label_box);
      copy.noise = LabelNoise::duplicate;
      copy.copy_of = static_cast<int>(plan.labels.size()) - 1;
      plan.labels.push_back(copy);
    }
  }
  // Spurious boxes: one per garment with probability noise_spurious, any class.
  const size_t garments = plan.garments.size();
  for (size_t g = 0; g < garments; ++g) {
    if (!rng.bernoulli(o.noise_spurious)) continue;
    const auto box = background_box(rng, plan, o.geometry);
    const int cls = rng.uniform_int(0, kNumClasses - 1);
    if (!box) continue;
    LabelLine line;
    line.box = *box;
    line.cls = cls;
    line.noise = LabelNoise::spurious;
    line.iou = 0;
    plan.labels.push_back(line);
  }
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error(ExitCode::failed, fmt::format("{}: cannot write: {}", file.string(), std::strerror(errno)));
}

/// What write_demo_dataset writes at the top of `out` (removed by overwrite).
std::vector<fs::path> owned_entries(const fs::path& out) {
  return {out / "indoor", out / "outdoor", out / "classes.txt", out / "truth.jsonl", out / "demo_dataset.json"};
}

/// The truth of label line `b`. A right or class-swapped line has the fields it had before
/// the other kinds existed ("box_px" = the garment's label box = the box written); the other
/// kinds add "noise", and "written_px" where the box written is not the label box; a spurious
/// line has null for the garment's fields.
nlohmann::json truth_line(const std::string& rel, const ScenePlan& plan, int b) {
  const LabelLine& line = plan.labels[static_cast<size_t>(b)];
  const auto px = [](const cv::Rect& r) { return nlohmann::json{r.x, r.y, r.width, r.height}; };
  nlohmann::json j = {
      {"image", rel},
      {"box", b},
      {"written_class", line.cls},
      {"written_name", kFashionClassNames[static_cast<size_t>(line.cls)]},
  };
  if (line.garment >= 0) {
    const PlacedGarment& pg = plan.garments[static_cast<size_t>(line.garment)];
    j["true_class"] = pg.true_class;
    j["true_name"] = kFashionClassNames[static_cast<size_t>(pg.true_class)];
    j["changed"] = pg.true_class != line.cls;
    j["source_index"] = pg.source;
    j["box_px"] = px(pg.label_box);
  } else {
    j["true_class"] = nullptr;
    j["true_name"] = nullptr;
    j["changed"] = false;
    j["source_index"] = nullptr;
    j["box_px"] = nullptr;
  }
  if (line.noise != LabelNoise::none && line.noise != LabelNoise::class_swap) {
    j["noise"] = std::string(to_string(line.noise));
    j["written_px"] = px(line.box);
    j["written_iou"] = std::round(line.iou * 1e4) / 1e4;
    if (line.copy_of >= 0) j["duplicate_of"] = line.copy_of;
  }
  return j;
}

/// The truth of a garment whose line was left out: "box" null, "written": false.
nlohmann::json missing_truth_line(const std::string& rel, const PlacedGarment& pg) {
  return {
      {"image", rel},
      {"box", nullptr},
      {"written", false},
      {"noise", std::string(to_string(LabelNoise::missing))},
      {"true_class", pg.true_class},
      {"true_name", kFashionClassNames[static_cast<size_t>(pg.true_class)]},
      {"changed", false},
      {"source_index", pg.source},
      {"box_px", {pg.label_box.x, pg.label_box.y, pg.label_box.width, pg.label_box.height}},
  };
}

}  // namespace

void check_scene_options(const SceneOptions& options) {
  check_rates(options);
  check_sides(options.geometry);
}

ScenePlan plan_scene(const SceneOptions& options, const FashionSplit& split, int index) {
  check_scene_options(options);
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
      pg.label_box = fitted_box(options, split, pg.source, box);
      pg.true_class = split.labels[static_cast<size_t>(pg.source)];
      pg.written_class = pg.true_class;
      // Swap noise: any other class, each equally likely.
      if (rng.bernoulli(options.noise)) pg.written_class = (pg.true_class + rng.uniform_int(1, kNumClasses - 1)) % kNumClasses;
      plan.garments.push_back(pg);
      break;
    }
  }
  Rng noise = noise_rng(options, index);
  plan_labels(options, plan, noise);
  return plan;
}

RenderedScene render_scene(const SceneOptions& options, const FashionSplit& split, const ScenePlan& plan, int index) {
  Rng rng = render_rng(options, index);
  RenderedScene out;
  out.background = make_background(rng, options.geometry.scene_size, plan.kind, options.background);
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
  for (const auto& line : plan.labels) {
    const double w = size.width, h = size.height;
    text += fmt::format("{} {:.6f} {:.6f} {:.6f} {:.6f}\n", line.cls, (line.box.x + line.box.width / 2.0) / w,
                        (line.box.y + line.box.height / 2.0) / h, line.box.width / w, line.box.height / h);
  }
  return text;
}

DatasetSummary write_demo_dataset(const SceneOptions& options, const FashionSplit& split, int scenes,
                                  const fs::path& out, bool overwrite, const std::function<void(int, int)>& progress) {
  check_scene_options(options);
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

    for (size_t b = 0; b < plan.labels.size(); ++b) {
      truth += truth_line(rel, plan, static_cast<int>(b)).dump() + "\n";
      ++summary.boxes;
      switch (plan.labels[b].noise) {
        case LabelNoise::class_swap: ++summary.changed; break;
        case LabelNoise::location: ++summary.location; break;
        case LabelNoise::spurious: ++summary.spurious; break;
        case LabelNoise::duplicate: ++summary.duplicate; break;
        case LabelNoise::none:
        case LabelNoise::missing: break;
      }
    }
    for (size_t g = 0; g < plan.garments.size(); ++g) {
      if (plan.garments[g].noise != LabelNoise::missing) continue;
      truth += missing_truth_line(rel, plan.garments[g]).dump() + "\n";
      ++summary.missing;
    }
    ++summary.scenes;
    if (progress && ((i + 1) % 100 == 0 || i + 1 == scenes)) progress(i + 1, scenes);
  }

  // The other kinds' rates and counts, and the shift options, are recorded only when they
  // differ from the default make: without them, the file is the one written before they existed.
  const bool other_noise = options.noise_missing > 0 || options.noise_location > 0 || options.noise_duplicate > 0 ||
                           options.noise_spurious > 0;
  nlohmann::json meta = {
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
  if (other_noise) {
    meta["noise_missing"] = options.noise_missing;
    meta["noise_location"] = options.noise_location;
    meta["noise_duplicate"] = options.noise_duplicate;
    meta["noise_spurious"] = options.noise_spurious;
    meta["missing"] = summary.missing;
    meta["location"] = summary.location;
    meta["duplicate"] = summary.duplicate;
    meta["spurious"] = summary.spurious;
  }
  if (options.background != BackgroundStyle::textured) meta["background"] = std::string(to_string(options.background));
  if (options.box_fit != BoxFit::tile) meta["box_fit"] = std::string(to_string(options.box_fit));
  write_file_atomic(out / "demo_dataset.json", meta.dump(2) + "\n");
  // Last: its presence marks a complete dataset.
  write_file_atomic(out / "truth.jsonl", truth);
  return summary;
}

}  // namespace lv::demo
