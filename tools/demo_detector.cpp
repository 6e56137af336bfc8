// The demo detector: network, target assignment, loss, training loop, TorchScript export.
// The only translation unit of the detector trainer that includes LibTorch.
#include "demo_detector.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <future>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "average_precision.h"
#include "config.h"
#include "demo_classifier.h"
#include "demo_scene.h"
#include "error.h"
#include "fashion_mnist.h"
#include "image_io.h"
#include "model.h"

namespace lv::demo {

namespace fs = std::filesystem;

ConvBnImpl::ConvBnImpl(int in, int out, int kernel, int stride_, bool norm) : stride(stride_) {
  // A kernel as large as its stride tiles the input (the stem); others keep the size / stride.
  const int padding = kernel == stride ? 0 : kernel / 2;
  conv = register_module(
      "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(!norm)));
  if (norm) bn = register_module("bn", torch::nn::BatchNorm2d(out));
}

torch::Tensor ConvBnImpl::forward(const torch::Tensor& x) { return torch::relu(bn ? bn(conv(x)) : conv(x)); }

std::pair<torch::Tensor, torch::Tensor> ConvBnImpl::folded() const {
  if (bn) return fold_batch_norm(conv, bn);
  return {conv->weight.detach().clone(), conv->bias.detach().clone()};
}

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kBoxLogClamp = 8.0;  // exp(8) strides: far beyond any box, keeps exp finite

/// Nearest-neighbour upsampling by 2 (as the export's forward writes it).
torch::Tensor up2(const torch::Tensor& x) { return x.repeat_interleave(2, 2).repeat_interleave(2, 3); }

torch::nn::Conv2d predictor(int in, int out, double bias) {
  torch::nn::Conv2d c(torch::nn::Conv2dOptions(in, out, 1));
  torch::NoGradGuard no_grad;
  c->bias.fill_(bias);
  return c;
}

}  // namespace

DemoDetectorImpl::DemoDetectorImpl(int nc, int w, int size) : num_classes(nc), input_size(size) {
  // No batch norm on the stem's full-size maps: LibTorch's CPU batch norm costs there 25 times
  // the convolution (measured: 146 against 6 ms a batch of 8).
  stem = register_module("stem", ConvBn(3, 2 * w, 4, 4, false));
  s8a = register_module("s8a", ConvBn(2 * w, 4 * w, 3, 2));
  s8b = register_module("s8b", ConvBn(4 * w, 4 * w, 3, 1));
  s16a = register_module("s16a", ConvBn(4 * w, 8 * w, 3, 2));
  s16b = register_module("s16b", ConvBn(8 * w, 8 * w, 3, 1));
  s32a = register_module("s32a", ConvBn(8 * w, 8 * w, 3, 2));
  s32b = register_module("s32b", ConvBn(8 * w, 8 * w, 3, 1));
  lat32 = register_module("lat32", ConvBn(8 * w, 8 * w, 1, 1));
  lat16 = register_module("lat16", ConvBn(8 * w, 4 * w, 1, 1));
  head8 = register_module("head8", ConvBn(4 * w, 4 * w, 3, 1));
  head16 = register_module("head16", ConvBn(8 * w, 8 * w, 3, 1));
  // Box distances start near 2 strides; class scores near 0.01 (a rare foreground).
  box8 = register_module("box8", predictor(4 * w, 4, std::log(2.0)));
  cls8 = register_module("cls8", predictor(4 * w, nc, -4.6));
  box16 = register_module("box16", predictor(8 * w, 4, std::log(2.0)));
  cls16 = register_module("cls16", predictor(8 * w, nc, -4.6));

  std::vector<float> ax, ay, st;
  for (const int s : kDetectorStrides) {
    const int cells = size / s;
    for (int y = 0; y < cells; ++y) {
      for (int x = 0; x < cells; ++x) {
        ax.push_back((x + 0.5f) * static_cast<float>(s));
        ay.push_back((y + 0.5f) * static_cast<float>(s));
        st.push_back(static_cast<float>(s));
      }
    }
  }
  const auto a = static_cast<int64_t>(ax.size());
  anchors = register_buffer("anchors", torch::stack({torch::tensor(ax), torch::tensor(ay)}));  // [2, A]
  strides = register_buffer("strides", torch::tensor(st).reshape({1, a}));                      // [1, A]
}

std::vector<std::pair<std::string, ConvBn>> DemoDetectorImpl::layers() const {
  return {{"stem", stem},   {"s8a", s8a},     {"s8b", s8b},     {"s16a", s16a},   {"s16b", s16b},
          {"s32a", s32a},   {"s32b", s32b},   {"lat32", lat32}, {"lat16", lat16}, {"head8", head8},
          {"head16", head16}};
}

DetectorRaw DemoDetectorImpl::forward_raw(const torch::Tensor& x) {
  const torch::Tensor c = stem(x);                     // [B, 2W, S/4, S/4]
  const torch::Tensor c8 = s8b(s8a(c));                // [B, 4W, S/8, S/8]
  const torch::Tensor c16 = s16b(s16a(c8));            // [B, 8W, S/16, S/16]
  const torch::Tensor c32 = s32b(s32a(c16));           // [B, 8W, S/32, S/32]
  const torch::Tensor p16 = c16 + up2(lat32(c32));     // context of the coarsest level
  const torch::Tensor p8 = c8 + up2(lat16(p16));
  const torch::Tensor h8 = head8(p8), h16 = head16(p16);
  return {torch::cat({box8(h8).flatten(2), box16(h16).flatten(2)}, 2),      // [B, 4, A]
          torch::cat({cls8(h8).flatten(2), cls16(h16).flatten(2)}, 2)};     // [B, nc, A]
}

torch::Tensor DemoDetectorImpl::corners(const torch::Tensor& box) const {
  const torch::Tensor d = torch::exp(box.clamp_max(kBoxLogClamp)) * strides;  // [B, 4, A] pixels
  const torch::Tensor ax = anchors[0], ay = anchors[1];                        // [A]
  return torch::stack({ax - d.select(1, 0), ay - d.select(1, 1), ax + d.select(1, 2), ay + d.select(1, 3)}, 2);
}

torch::Tensor DemoDetectorImpl::forward(const torch::Tensor& x) {
  const DetectorRaw raw = forward_raw(x);
  const torch::Tensor d = torch::exp(raw.box.clamp_max(kBoxLogClamp)) * strides;  // [B, 4, A]
  const torch::Tensor ax = anchors[0], ay = anchors[1];
  const torch::Tensor cx = ax + (d.select(1, 2) - d.select(1, 0)) / 2;
  const torch::Tensor cy = ay + (d.select(1, 3) - d.select(1, 1)) / 2;
  const torch::Tensor w = d.select(1, 0) + d.select(1, 2);
  const torch::Tensor h = d.select(1, 1) + d.select(1, 3);
  return torch::cat({torch::stack({cx, cy, w, h}, 1), torch::sigmoid(raw.logits)}, 1);  // [B, 4 + nc, A]
}

namespace {

// The export's forward: the same layers with batch norms folded (each "conv" is conv + bias +
// ReLU), then the same decoding as DemoDetectorImpl::forward.
constexpr const char* kDetectorForward = R"JIT(
def conv(self, x, w, b, stride: int, pad: int):
    return torch.relu(torch.conv2d(x, w, b, [stride, stride], [pad, pad]))

def up2(self, x):
    return torch.repeat_interleave(torch.repeat_interleave(x, 2, 2), 2, 3)

def forward(self, x):
    # x: [B, 3, S, S] float32 RGB in [0, 1], letterboxed (pad 114 / 255)
    c = self.conv(x, self.stem_weight, self.stem_bias, 4, 0)
    c = self.conv(c, self.s8a_weight, self.s8a_bias, 2, 1)
    c8 = self.conv(c, self.s8b_weight, self.s8b_bias, 1, 1)
    c = self.conv(c8, self.s16a_weight, self.s16a_bias, 2, 1)
    c16 = self.conv(c, self.s16b_weight, self.s16b_bias, 1, 1)
    c = self.conv(c16, self.s32a_weight, self.s32a_bias, 2, 1)
    c32 = self.conv(c, self.s32b_weight, self.s32b_bias, 1, 1)
    p16 = c16 + self.up2(self.conv(c32, self.lat32_weight, self.lat32_bias, 1, 0))
    p8 = c8 + self.up2(self.conv(p16, self.lat16_weight, self.lat16_bias, 1, 0))
    h8 = self.conv(p8, self.head8_weight, self.head8_bias, 1, 1)
    h16 = self.conv(p16, self.head16_weight, self.head16_bias, 1, 1)
    box = torch.cat([torch.flatten(torch.conv2d(h8, self.box8_weight, self.box8_bias), 2),
                     torch.flatten(torch.conv2d(h16, self.box16_weight, self.box16_bias), 2)], 2)
    cls = torch.cat([torch.flatten(torch.conv2d(h8, self.cls8_weight, self.cls8_bias), 2),
                     torch.flatten(torch.conv2d(h16, self.cls16_weight, self.cls16_bias), 2)], 2)
    # box: [B, 4, A] log distances in strides (left, top, right, bottom); cls: [B, nc, A] logits
    d = torch.exp(torch.clamp(box, max=8.0)) * self.strides
    ax = self.anchors[0]
    ay = self.anchors[1]
    cx = ax + (d[:, 2] - d[:, 0]) / 2
    cy = ay + (d[:, 3] - d[:, 1]) / 2
    w = d[:, 0] + d[:, 2]
    h = d[:, 1] + d[:, 3]
    # [B, 4 + nc, A]: cx, cy, w, h in input pixels, then sigmoid class scores (YOLOv8 layout)
    return torch.cat([torch.stack([cx, cy, w, h], 1), torch.sigmoid(cls)], 1)
)JIT";

}  // namespace

torch::jit::Module export_detector(DemoDetector& net) {
  torch::NoGradGuard no_grad;
  torch::jit::Module m("DemoDetector");
  for (const auto& [name, layer] : net->layers()) {
    const auto [w, b] = layer->folded();
    m.register_parameter(name + "_weight", w, false);
    m.register_parameter(name + "_bias", b, false);
  }
  for (const auto& [name, conv] : {std::pair{"box8", net->box8}, std::pair{"cls8", net->cls8},
                                   std::pair{"box16", net->box16}, std::pair{"cls16", net->cls16}}) {
    m.register_parameter(std::string(name) + "_weight", conv->weight.detach().clone(), false);
    m.register_parameter(std::string(name) + "_bias", conv->bias.detach().clone(), false);
  }
  m.register_buffer("anchors", net->anchors.clone());
  m.register_buffer("strides", net->strides.clone());
  m.define(kDetectorForward);
  m.eval();
  return m;
}

std::string detector_config_json(const std::vector<std::string>& class_names, int input_size) {
  nlohmann::json names = nlohmann::json::object();
  for (size_t i = 0; i < class_names.size(); ++i) names[std::to_string(i)] = class_names[i];
  const nlohmann::json j = {
      {"description", "label_verifier demo detector (tools/train_demo_detector), Fashion-MNIST garments"},
      {"task", "detect"},
      {"stride", 32},
      {"batch", 1},
      {"imgsz", {input_size, input_size}},
      {"names", names},
      {"dynamic", false},
      {"input", fmt::format("[B, 3, {0}, {0}] float32 RGB in [0, 1], letterboxed (linear resize, pad 114)", input_size)},
      {"output", "[B, 4 + classes, anchors]: cx, cy, w, h in input pixels, sigmoid class scores (YOLOv8 export layout)"},
      {"strides", {kDetectorStrides[0], kDetectorStrides[1]}},
  };
  return j.dump();
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// One scene's garments in input pixels (x1, y1, x2, y2) and their classes.
struct SceneTruth {
  std::vector<Box> boxes;
  std::vector<int> classes;
};

/// A batch of letterboxed scenes and their truth.
struct DetectorBatch {
  torch::Tensor images;  ///< [B, 3, S, S] float32 RGB in [0, 1]
  std::vector<SceneTruth> truth;
  std::vector<Letterbox> letterboxes;
  std::vector<std::vector<Box>> pixel_boxes;  ///< garments in scene pixels (for the mAP)
};

/// `image` as the image_worker will see it: through JPEG at the dataset maker's quality and
/// back (the demo dataset's scenes are JPEG files).
cv::Mat through_jpeg(const cv::Mat& image, int quality) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".jpg", image, bytes, {cv::IMWRITE_JPEG_QUALITY, quality}))
    throw Error(ExitCode::failed, "JPEG encoding of a training scene failed");
  return cv::imdecode(bytes, cv::IMREAD_COLOR);
}

/// Scenes [first, first + count) of `scenes` from `split`, through JPEG, letterboxed exactly as the
/// image_worker's yolov8 backend does (prepare_letterbox). With `flip_rng`, each scene is
/// mirrored left-right with probability 1/2.
DetectorBatch make_scene_batch(const SceneOptions& scenes, const FashionSplit& split, int first, int count, int size,
                               Rng* flip_rng) {
  DetectorBatch batch;
  batch.images = torch::empty({count, 3, size, size});
  const size_t per = static_cast<size_t>(3) * static_cast<size_t>(size) * static_cast<size_t>(size);
  for (int i = 0; i < count; ++i) {
    const ScenePlan plan = plan_scene(scenes, split, first + i);
    cv::Mat image = render_scene(scenes, split, plan, first + i).image;
    const bool flip = flip_rng && flip_rng->bernoulli(0.5);
    if (flip) cv::flip(image, image, 1);
    image = through_jpeg(image, scenes.jpeg_quality);
    const ModelInput in = prepare_letterbox(image, size);
    in.write_floats(0, 1, size, batch.images.data_ptr<float>() + static_cast<size_t>(i) * per);  // RGB in [0, 1]
    const Letterbox& lb = in.letterbox;
    SceneTruth truth;
    std::vector<Box> pixels;
    for (const PlacedGarment& g : plan.garments) {
      double x1 = g.box.x, x2 = g.box.x + g.box.width;
      if (flip) x1 = image.cols - (g.box.x + g.box.width), x2 = image.cols - g.box.x;
      const Box px{x1, static_cast<double>(g.box.y), x2, static_cast<double>(g.box.y + g.box.height)};
      pixels.push_back(px);
      truth.boxes.push_back({px.x1 * lb.scale + lb.left, px.y1 * lb.scale + lb.top, px.x2 * lb.scale + lb.left,
                             px.y2 * lb.scale + lb.top});
      truth.classes.push_back(g.true_class);
    }
    batch.truth.push_back(std::move(truth));
    batch.letterboxes.push_back(lb);
    batch.pixel_boxes.push_back(std::move(pixels));
  }
  return batch;
}

/// Positive anchors of a batch: which image, which anchor, its truth box and class.
struct Assignment {
  std::vector<int64_t> image, anchor, cls;
  std::vector<float> boxes;  ///< x1, y1, x2, y2 per positive
};

// Level by garment size: stride 8 takes sides up to 64 px, stride 16 from 48 px (both between).
constexpr double kMaxSideStride8 = 64, kMinSideStride16 = 48;
// Centre sampling: an anchor is positive when its centre lies inside the box and within this
// many strides of the box centre on both axes.
constexpr double kCentreRadius = 2.5;

/// Centre-based assignment (FCOS-like, with level ranges by box size).
Assignment assign(const DetectorBatch& batch, const torch::Tensor& anchors, const torch::Tensor& strides) {
  Assignment a;
  const auto an = anchors.accessor<float, 2>();
  const auto st = strides.accessor<float, 2>();
  const int64_t count = anchors.size(1);
  for (size_t b = 0; b < batch.truth.size(); ++b) {
    const SceneTruth& t = batch.truth[b];
    for (int64_t k = 0; k < count; ++k) {
      const double ax = an[0][k], ay = an[1][k], s = st[0][k];
      int best = -1;
      double best_area = 0;
      for (size_t g = 0; g < t.boxes.size(); ++g) {
        const Box& box = t.boxes[g];
        const double side = std::max(box.width(), box.height());
        if ((s == 8 && side > kMaxSideStride8) || (s == 16 && side < kMinSideStride16)) continue;
        if (ax <= box.x1 || ax >= box.x2 || ay <= box.y1 || ay >= box.y2) continue;
        const double cx = (box.x1 + box.x2) / 2, cy = (box.y1 + box.y2) / 2;
        if (std::abs(ax - cx) >= kCentreRadius * s || std::abs(ay - cy) >= kCentreRadius * s) continue;
        if (best < 0 || box.area() < best_area) best = static_cast<int>(g), best_area = box.area();
      }
      if (best < 0) continue;
      const Box& box = t.boxes[static_cast<size_t>(best)];
      a.image.push_back(static_cast<int64_t>(b));
      a.anchor.push_back(k);
      a.cls.push_back(t.classes[static_cast<size_t>(best)]);
      a.boxes.insert(a.boxes.end(), {static_cast<float>(box.x1), static_cast<float>(box.y1), static_cast<float>(box.x2),
                                     static_cast<float>(box.y2)});
    }
  }
  return a;
}

/// IoU and generalised IoU of corner boxes [P, 4] row by row.
std::pair<torch::Tensor, torch::Tensor> iou_giou(const torch::Tensor& p, const torch::Tensor& t) {
  const torch::Tensor ix1 = torch::max(p.select(1, 0), t.select(1, 0)), iy1 = torch::max(p.select(1, 1), t.select(1, 1));
  const torch::Tensor ix2 = torch::min(p.select(1, 2), t.select(1, 2)), iy2 = torch::min(p.select(1, 3), t.select(1, 3));
  const torch::Tensor inter = (ix2 - ix1).clamp_min(0) * (iy2 - iy1).clamp_min(0);
  const torch::Tensor area_p = (p.select(1, 2) - p.select(1, 0)) * (p.select(1, 3) - p.select(1, 1));
  const torch::Tensor area_t = (t.select(1, 2) - t.select(1, 0)) * (t.select(1, 3) - t.select(1, 1));
  const torch::Tensor uni = area_p + area_t - inter + 1e-7;
  const torch::Tensor iou = inter / uni;
  const torch::Tensor ex1 = torch::min(p.select(1, 0), t.select(1, 0)), ey1 = torch::min(p.select(1, 1), t.select(1, 1));
  const torch::Tensor ex2 = torch::max(p.select(1, 2), t.select(1, 2)), ey2 = torch::max(p.select(1, 3), t.select(1, 3));
  const torch::Tensor enclosing = (ex2 - ex1) * (ey2 - ey1) + 1e-7;
  return {iou, iou - (enclosing - uni) / enclosing};
}

/// The losses of one batch.
struct Losses {
  torch::Tensor cls, box;
  int64_t positives = 0;
  double mean_iou = 0;
};

// Box loss weight against the class loss.
constexpr double kBoxWeight = 2.0;

/// Quality focal loss (Li et al. 2020, Generalized Focal Loss) on the class scores, with the
/// IoU of each positive's predicted box as its target (so scores rank boxes by quality, as
/// mAP and the verifier's thresholds want), and 1 - GIoU on the positives' boxes.
Losses detector_loss(DemoDetector& net, const DetectorRaw& raw, const Assignment& a) {
  Losses out;
  const torch::Tensor logits = raw.logits.permute({0, 2, 1});  // [B, A, nc]
  torch::Tensor target = torch::zeros_like(logits);
  const auto p = static_cast<int64_t>(a.image.size());
  out.positives = p;
  if (p > 0) {
    const torch::Tensor bi = torch::tensor(a.image, torch::kLong), ai = torch::tensor(a.anchor, torch::kLong);
    const torch::Tensor ci = torch::tensor(a.cls, torch::kLong);
    const torch::Tensor truth = torch::from_blob(const_cast<float*>(a.boxes.data()), {p, 4}, torch::kFloat).clone();
    const torch::Tensor predicted = net->corners(raw.box).index({bi, ai});  // [P, 4]
    const auto [iou, giou] = iou_giou(predicted, truth);
    out.box = (1 - giou).mean();
    out.mean_iou = iou.mean().item<double>();
    target.index_put_({bi, ai, ci}, iou.detach().clamp_min(0.01));
  } else {
    out.box = torch::zeros({});
  }
  const torch::Tensor prob = torch::sigmoid(logits);
  const torch::Tensor bce = torch::binary_cross_entropy_with_logits(logits, target, {}, {}, at::Reduction::None);
  out.cls = (bce * (prob - target).abs().pow(2)).sum() / std::max<int64_t>(1, p);
  return out;
}

/// mAP@0.5 of `model` (loaded as the image_worker loads it) on `count` scenes of `scenes`
/// (through JPEG, as the dataset maker writes them);
/// `infer_seconds` receives the time spent in the model (forward, decoding, NMS).
MeanAveragePrecision evaluate(Model& model, const SceneOptions& scenes, const FashionSplit& split, int count, int size,
                              double& infer_seconds) {
  infer_seconds = 0;
  std::vector<TruthObject> truth;
  std::vector<ScoredDetection> detections;
  constexpr int kChunk = 16;
  for (int first = 0; first < count; first += kChunk) {
    const int n = std::min(kChunk, count - first);
    std::vector<ModelInput> inputs;
    std::vector<const ModelInput*> pointers;
    inputs.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      const ScenePlan plan = plan_scene(scenes, split, first + i);
      const cv::Mat image = through_jpeg(render_scene(scenes, split, plan, first + i).image, scenes.jpeg_quality);
      inputs.push_back(prepare_letterbox(image, size));
      const std::string name = std::to_string(first + i);
      for (const PlacedGarment& g : plan.garments)
        truth.push_back({name, g.true_class,
                         Box{static_cast<double>(g.box.x), static_cast<double>(g.box.y),
                             static_cast<double>(g.box.x + g.box.width), static_cast<double>(g.box.y + g.box.height)}});
    }
    for (const ModelInput& in : inputs) pointers.push_back(&in);
    const auto infer_start = std::chrono::steady_clock::now();
    const std::vector<ModelOutput> outputs = model.infer(pointers);
    infer_seconds += seconds_since(infer_start);
    for (int i = 0; i < n; ++i) {
      for (const Detection& d : outputs[static_cast<size_t>(i)].detections)
        detections.push_back({std::to_string(first + i), d.cls, d.score, d.box});
    }
  }
  return mean_average_precision(truth, detections, static_cast<int>(kFashionClassNames.size()));
}

}  // namespace

DetectorTrainResult train_demo_detector(const DetectorTrainOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  torch::set_num_threads(o.threads);
  cv::setNumThreads(1);  // scenes are drawn on one thread beside the training
  // Weights and gradients that decay towards zero become denormal floats, which x86 computes
  // many times slower; flushing them to zero changes no result that matters.
  at::globalContext().setFlushDenormal(true);
  torch::manual_seed(o.seed);

  // Data: scenes of train-split garments for learning, of t10k garments for the mAP. The
  // scene maker's own plan and drawing, without label noise; each step draws fresh scenes.
  const FashionSplit train = load_fashion_split(o.fashion_dir, "train");
  const FashionSplit test = load_fashion_split(o.fashion_dir, "t10k");
  const std::vector<std::string> names(kFashionClassNames.begin(), kFashionClassNames.end());
  const int size = kDetectorInputSize;
  SceneOptions train_scenes;
  train_scenes.noise = 0;
  SceneOptions eval_scenes = train_scenes;  // the demo's geometry and 1-6 garments
  eval_scenes.seed = mix_seed(o.seed, 12);    // not the demo dataset's scenes (make_demo_dataset --seed 7)
  train_scenes.seed = mix_seed(o.seed, 11);
  train_scenes.min_garments = o.min_garments;
  train_scenes.max_garments = o.max_garments;

  // Training.
  DemoDetector net(static_cast<int>(names.size()), o.width, size);
  torch::optim::AdamW optimizer(net->parameters(), torch::optim::AdamWOptions(o.learning_rate).weight_decay(5e-4));
  const int64_t warmup = std::min<int64_t>(100, o.steps / 10 + 1);
  double cls_sum = 0, box_sum = 0, iou_sum = 0, data_seconds = 0;
  int64_t positives = 0, logged = 0;
  auto window_start = std::chrono::steady_clock::now();
  net->train();
  // Step s's scenes are drawn on a second thread while step s - 1 trains (each step's scenes
  // and flips come from their own streams, so the batches do not depend on the timing).
  auto draw = [&](int step) {
    Rng flip_rng(o.seed, 5000 + static_cast<uint64_t>(step));
    return make_scene_batch(train_scenes, train, step * o.batch_size, o.batch_size, size, &flip_rng);
  };
  std::future<DetectorBatch> next = std::async(std::launch::async, draw, 0);
  for (int step = 0; step < o.steps; ++step) {
    const auto data_start = std::chrono::steady_clock::now();
    const DetectorBatch batch = next.get();
    if (step + 1 < o.steps) next = std::async(std::launch::async, draw, step + 1);
    const Assignment assignment = assign(batch, net->anchors, net->strides);
    data_seconds += seconds_since(data_start);

    // Linear warm-up, then cosine decay to 5 % of the peak.
    const double lr = step < warmup ? o.learning_rate * (step + 1) / static_cast<double>(warmup)
                                    : o.learning_rate * (0.05 + 0.95 * 0.5 *
                                                                    (1 + std::cos(kPi * static_cast<double>(step - warmup) /
                                                                                  std::max<double>(1, o.steps - warmup))));
    static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[0].options()).lr(lr);
    optimizer.zero_grad();
    const Losses losses = detector_loss(net, net->forward_raw(batch.images), assignment);
    const torch::Tensor loss = losses.cls + kBoxWeight * losses.box;
    loss.backward();
    optimizer.step();

    cls_sum += losses.cls.item<double>();
    box_sum += losses.box.item<double>();
    iou_sum += losses.mean_iou;
    positives += losses.positives;
    ++logged;
    if ((step + 1) % o.log_every == 0 || step + 1 == o.steps) {
      const double window = seconds_since(window_start);
      log(fmt::format("step {}/{}: class loss {:.4f}, box loss {:.4f}, IoU of positives {:.3f}, {:.0f} positives a "
                      "scene, lr {:.2e}  [{:.2f} s a step, waiting for scenes {:.0f} %; {:.0f} s in all]",
                      step + 1, o.steps, cls_sum / logged, box_sum / logged, iou_sum / logged,
                      static_cast<double>(positives) / static_cast<double>(logged * o.batch_size), lr,
                      window / logged, window > 0 ? 100 * data_seconds / window : 0.0, seconds_since(start)));
      cls_sum = box_sum = iou_sum = data_seconds = 0;
      positives = logged = 0;
      window_start = std::chrono::steady_clock::now();
    }
  }
  DetectorTrainResult result;
  result.train_seconds = seconds_since(start);
  net->eval();

  // Export, reload, compare on a batch of test scenes.
  save_with_config(export_detector(net), detector_config_json(names, size), o.out);
  {
    torch::NoGradGuard no_grad;
    const DetectorBatch check = make_scene_batch(eval_scenes, test, 0, 4, size, nullptr);
    const torch::Tensor expected = net->forward(check.images);
    torch::jit::Module reloaded = torch::jit::load(o.out.string());
    reloaded.eval();
    const torch::Tensor again = reloaded.forward({check.images}).toTensor();
    result.export_max_diff = (again - expected).abs().max().item<double>();
    if (!(result.export_max_diff < 1e-2))
      throw Error(ExitCode::failed, fmt::format("{}: the reloaded TorchScript differs from the trained network by {}",
                                                o.out.string(), result.export_max_diff));
  }
  result.model_bytes = static_cast<int64_t>(fs::file_size(o.out));

  // mAP@0.5 of the exported file, loaded and decoded by the image_worker's own yolov8 backend.
  if (o.eval_scenes > 0) {
    Config config;
    config.model.path = o.out;
    config.model.type = ModelType::yolov8;
    config.model.input_size = size;
    config.model.conf_threshold = 0.01;
    config.model.nms_iou = 0.5;  // as configs/demo_detector.yaml
    config.processing.batch_size = 16;
    const std::unique_ptr<Model> model = load_model(config, names);
    double infer_seconds = 0;
    const MeanAveragePrecision m = evaluate(*model, eval_scenes, test, o.eval_scenes, size, infer_seconds);
    result.model_images_per_s = infer_seconds > 0 ? o.eval_scenes / infer_seconds : 0.0;
    result.map50 = m.map;
    result.ap_per_class = m.per_class;
    result.eval_scenes = o.eval_scenes;
  }
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace lv::demo
