// The demo detector's TorchScript export, on untrained networks (no real training here): its
// layout is Ultralytics' YOLOv8 export, and image_worker's yolov8 backend loads and runs it.
#include "demo_detector.h"

#include <cmath>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "catch.h"
#include "config.h"
#include "demo_classifier.h"
#include "fashion_mnist.h"
#include "image_io.h"
#include "model.h"
#include "test_util.h"

using lv::demo::DemoDetector;
using lv::demo::kDetectorInputSize;

namespace {

const std::vector<std::string> kNames(lv::demo::kFashionClassNames.begin(), lv::demo::kFashionClassNames.end());

/// An untrained network whose batch norms are far from the identity, so that an export that
/// dropped or mis-folded one would not match.
DemoDetector scrambled_net() {
  torch::manual_seed(7);
  DemoDetector net(10, 4);
  torch::NoGradGuard no_grad;
  for (const auto& [name, layer] : net->layers()) {
    if (!layer->bn) continue;
    layer->bn->running_mean.uniform_(-0.5, 0.5);
    layer->bn->running_var.uniform_(0.3, 3.0);
    layer->bn->weight.uniform_(0.5, 2.0);
    layer->bn->bias.uniform_(-0.5, 0.5);
  }
  net->eval();
  return net;
}

}  // namespace

TEST_CASE("the exported detector computes what the network computes, in the YOLOv8 export layout", "[detector]") {
  lv::test::TempDir dir;
  DemoDetector net = scrambled_net();
  const auto file = dir / "models" / "detector.pt";
  lv::demo::save_with_config(lv::demo::export_detector(net), lv::demo::detector_config_json(kNames, kDetectorInputSize),
                             file);

  torch::jit::ExtraFilesMap extra{{"config.txt", ""}};
  torch::jit::Module reloaded = torch::jit::load(file.string(), torch::kCPU, extra);
  reloaded.eval();
  torch::NoGradGuard no_grad;
  // 40 x 40 anchors at stride 8, then 20 x 20 at stride 16.
  constexpr int64_t kAnchors = 40 * 40 + 20 * 20;
  for (const int64_t batch : {1, 3}) {
    const torch::Tensor x = torch::rand({batch, 3, kDetectorInputSize, kDetectorInputSize});  // RGB in [0, 1]
    const torch::Tensor y = reloaded.forward({x}).toTensor();
    REQUIRE(y.sizes() == torch::IntArrayRef({batch, 4 + 10, kAnchors}));
    const torch::Tensor expected = net->forward(x);
    CHECK((y - expected).abs().max().item<double>() < 1e-3);
    // Scores are sigmoids; widths and heights positive.
    CHECK(y.slice(1, 4).min().item<double>() >= 0);
    CHECK(y.slice(1, 4).max().item<double>() <= 1);
    CHECK(y.slice(1, 2, 4).min().item<double>() > 0);
  }

  // Ultralytics' metadata.
  const auto config = nlohmann::json::parse(extra.at("config.txt"));
  CHECK(config["task"] == "detect");
  CHECK(config["stride"] == 32);
  CHECK(config["batch"] == 1);
  CHECK(config["imgsz"] == nlohmann::json::array({320, 320}));
  CHECK(config["names"]["0"] == "tshirt_top");
  CHECK(config["names"]["9"] == "ankle_boot");
}

TEST_CASE("the detector's boxes are centre, size in input pixels around each anchor", "[detector]") {
  // Box predictors at zero weight and bias log 2: every side lies 2 strides from the anchor's
  // centre, so each box is 4 strides wide, centred on its cell; scores are sigmoid(-4.6).
  DemoDetector net = scrambled_net();
  {
    torch::NoGradGuard no_grad;
    for (auto* conv : {net->box8.get(), net->box16.get(), net->cls8.get(), net->cls16.get()}) conv->weight.zero_();
  }
  const torch::Tensor y = lv::demo::export_detector(net).forward({torch::rand({1, 3, 320, 320})}).toTensor();
  auto at = [&](int row, int64_t anchor) { return y[0][row][anchor].item<double>(); };
  // Anchor 0: cell (0, 0) at stride 8, centre (4, 4), 32 px square.
  CHECK(at(0, 0) == Approx(4));
  CHECK(at(1, 0) == Approx(4));
  CHECK(at(2, 0) == Approx(32));
  CHECK(at(3, 0) == Approx(32));
  // Anchor 41: cell x 1, y 1 at stride 8, centre (12, 12).
  CHECK(at(0, 41) == Approx(12));
  CHECK(at(1, 41) == Approx(12));
  // Anchor 1600 + 20 + 3: cell x 3, y 1 at stride 16, centre (56, 24), 64 px square.
  CHECK(at(0, 1623) == Approx(56));
  CHECK(at(1, 1623) == Approx(24));
  CHECK(at(2, 1623) == Approx(64));
  CHECK(at(4, 1623) == Approx(1 / (1 + std::exp(4.6))));
}

TEST_CASE("image_worker's yolov8 backend loads the export and decodes it into scene pixels", "[detector]") {
  lv::test::TempDir dir;
  DemoDetector net = scrambled_net();
  {
    // Every anchor predicts class 3 with the 4-stride box around it, stride-16 anchors more
    // surely (sigmoid 5 = 0.993 against sigmoid 4 = 0.982), so that they come first in NMS
    // and its 300-box cap.
    torch::NoGradGuard no_grad;
    for (auto* conv : {net->box8.get(), net->box16.get(), net->cls8.get(), net->cls16.get()}) conv->weight.zero_();
    net->cls8->bias[3] = 4.0;
    net->cls16->bias[3] = 5.0;
  }
  const auto file = dir / "detector.pt";
  lv::demo::save_with_config(lv::demo::export_detector(net), lv::demo::detector_config_json(kNames, kDetectorInputSize),
                             file);
  lv::Config config;
  config.model.path = file;
  config.model.type = lv::ModelType::yolov8;
  config.model.input_size = kDetectorInputSize;
  config.model.conf_threshold = 0.5;
  config.model.nms_iou = 0.5;
  // Class names from the model's config.txt (model.class_names empty), in the dataset's order.
  const auto model = lv::load_model(config, kNames);
  REQUIRE(model->classes().model == kNames);

  // A 320 x 240 scene: letterboxed with 40 px of padding above and below.
  const cv::Mat scene(240, 320, CV_8UC3, cv::Scalar(90, 120, 150));
  const lv::ModelInput input = lv::prepare_letterbox(scene, kDetectorInputSize);
  CHECK(input.letterbox.top == 40);
  const auto out = model->infer({&input});
  REQUIRE(out.size() == 1);
  const auto& dets = out[0].detections;
  REQUIRE(!dets.empty());
  for (const auto& d : dets) {
    CHECK(d.cls == 3);
    const bool stride16 = d.score > 0.99;
    CHECK(d.score == Approx(1 / (1 + std::exp(stride16 ? -5.0 : -4.0))).epsilon(1e-4));
    // Clipped to the scene, never larger than the level's box.
    CHECK(d.box.width() <= (stride16 ? 64 : 32) + 1e-3);
    // Back in scene pixels: inside the 320 x 240 image.
    CHECK(d.box.x1 >= 0);
    CHECK(d.box.y2 <= 240);
  }
  // A stride-16 box away from the image's borders keeps its 64 px (scale 1), its centre moved
  // up by the 40 px of padding: cell centres are 8 + 16 k in the input, -32 + 16 k in the scene.
  bool found_16 = false;
  for (const auto& d : dets) {
    if (d.box.width() != Approx(64) || d.box.height() != Approx(64)) continue;
    found_16 = true;
    const double cy = (d.box.y1 + d.box.y2) / 2;
    CHECK(std::fmod(cy + 32 + 1600, 16.0) == Approx(0).margin(1e-3));
  }
  CHECK(found_16);
}
