// The demo classifier's TorchScript export, on untrained networks (no real training here).
#include "demo_classifier.h"

#include <nlohmann/json.hpp>

#include "catch.h"
#include "demo_training.h"
#include "fashion_mnist.h"
#include "idx_fixture.h"
#include "test_util.h"

using lv::demo::DemoNet;
using lv::demo::kClassifierInputSize;

namespace {

const std::vector<std::string> kNames(lv::demo::kFashionClassNames.begin(), lv::demo::kFashionClassNames.end());

/// An untrained network whose batch norms are far from the identity, so that an export that
/// dropped or mis-folded them would not match.
DemoNet scrambled_net() {
  torch::manual_seed(42);
  DemoNet net;
  torch::NoGradGuard no_grad;
  for (auto* bn : {net->bn1.get(), net->bn2.get(), net->bn3.get()}) {
    bn->running_mean.uniform_(-0.5, 0.5);
    bn->running_var.uniform_(0.3, 3.0);
    bn->weight.uniform_(0.5, 2.0);
    bn->bias.uniform_(-0.5, 0.5);
  }
  net->eval();
  return net;
}

}  // namespace

TEST_CASE("the exported TorchScript reloads and computes what the network computes", "[classifier]") {
  lv::test::TempDir dir;
  DemoNet net = scrambled_net();
  const auto file = dir / "models" / "demo.pt";
  lv::demo::save_classifier(lv::demo::export_torchscript(net, kNames), kNames, file);

  torch::jit::ExtraFilesMap extra{{"config.txt", ""}};
  torch::jit::Module reloaded = torch::jit::load(file.string(), torch::kCPU, extra);
  reloaded.eval();
  torch::NoGradGuard no_grad;
  for (const int64_t batch : {1, 5}) {
    const torch::Tensor x = torch::rand({batch, 3, kClassifierInputSize, kClassifierInputSize});  // RGB in [0, 1]
    const torch::Tensor y = reloaded.forward({x}).toTensor();
    REQUIRE(y.sizes() == torch::IntArrayRef({batch, 10}));
    const torch::Tensor expected = net->forward(x);
    CHECK((y - expected).abs().max().item<double>() < 1e-4);
    // Far from a trivial export: the logits vary.
    CHECK(expected.abs().max().item<double>() > 1e-2);
  }

  // Class names: in config.txt as Ultralytics writes them, and as a module attribute.
  const auto config = nlohmann::json::parse(extra.at("config.txt"));
  CHECK(config["names"]["0"] == "tshirt_top");
  CHECK(config["names"]["9"] == "ankle_boot");
  CHECK(config["imgsz"] == nlohmann::json::array({32, 32}));
  const auto names = reloaded.attr("names").toList();
  REQUIRE(names.size() == 10);
  CHECK(names.get(7).toStringRef() == "sneaker");
}

TEST_CASE("the model file holds the float32 weights and stays under 2 MB", "[classifier]") {
  lv::test::TempDir dir;
  DemoNet net = scrambled_net();
  lv::demo::save_classifier(lv::demo::export_torchscript(net, kNames), kNames, dir / "m.pt");
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  const auto bytes = static_cast<int64_t>(std::filesystem::file_size(dir / "m.pt"));
  CHECK(bytes < 2'000'000);
  CHECK(bytes > 4 * params);  // float32 weights are in it
}

TEST_CASE("crops become planar RGB floats in [0, 1]", "[classifier]") {
  const int s = kClassifierInputSize;
  cv::Mat a(s, s, CV_8UC3, cv::Scalar(10, 20, 255));  // BGR
  cv::Mat b(s, s, CV_8UC3, cv::Scalar(0, 0, 0));
  b.at<cv::Vec3b>(3, 7) = cv::Vec3b(51, 102, 204);
  const torch::Tensor t = lv::demo::crops_to_tensor({a, b});
  REQUIRE(t.sizes() == torch::IntArrayRef({2, 3, s, s}));
  CHECK(t[0][0][0][0].item<float>() == Approx(1.0));         // R
  CHECK(t[0][1][5][5].item<float>() == Approx(20 / 255.0));  // G
  CHECK(t[0][2][9][1].item<float>() == Approx(10 / 255.0));  // B
  CHECK(t[1][0][3][7].item<float>() == Approx(0.8));
  CHECK(t[1][2][3][7].item<float>() == Approx(0.2));
  CHECK(t[1][0][7][3].item<float>() == 0.0f);
}

TEST_CASE("a token training run writes a working model (pipeline only, not accuracy)", "[classifier]") {
  lv::test::TempDir dir;
  lv::test::write_striped_split(dir / "fashion", "train", 40);
  lv::test::write_striped_split(dir / "fashion", "t10k", 20);
  lv::demo::TrainOptions o;
  o.fashion_dir = dir / "fashion";
  o.out = dir / "model.pt";
  o.epochs = 1;
  o.batch_size = 20;
  o.threads = 1;
  o.background_pool = 3;
  const auto r = lv::demo::train_demo_model(o);
  CHECK(r.test_images == 20);
  CHECK(r.test_accuracy >= 0.0);
  CHECK(r.test_accuracy <= 1.0);
  CHECK(r.export_max_diff < 1e-4);
  CHECK(r.model_bytes == static_cast<int64_t>(std::filesystem::file_size(o.out)));
}
