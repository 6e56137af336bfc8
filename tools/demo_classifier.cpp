// The demo classifier: network, training loop, TorchScript export. The only translation unit
// of the tools (besides its test) that includes LibTorch.
#include "demo_classifier.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "demo_training.h"
#include "error.h"
#include "fashion_mnist.h"
#include "garment_compose.h"

namespace lv::demo {

namespace fs = std::filesystem;

constexpr double kPi = 3.14159265358979323846;

DemoNetImpl::DemoNetImpl(int num_classes, int width) {
  auto conv = [](int in, int out) { return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false)); };
  // The first layer strides instead of pooling: full-resolution feature maps cost 3x the time.
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, width, 5).stride(2).padding(2).bias(false)));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(width));
  conv2 = register_module("conv2", conv(width, 2 * width));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(2 * width));
  conv3 = register_module("conv3", conv(2 * width, 4 * width));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(4 * width));
  fc1 = register_module("fc1", torch::nn::Linear(4 * width * 4 * 4, 128));
  fc2 = register_module("fc2", torch::nn::Linear(128, num_classes));
  dropout = register_module("dropout", torch::nn::Dropout(0.1));
}

torch::Tensor DemoNetImpl::forward(torch::Tensor x) {
  x = torch::relu(bn1(conv1(x)));                        // [B, W, 16, 16]
  x = torch::max_pool2d(torch::relu(bn2(conv2(x))), 2);  // [B, 2W, 8, 8]
  x = torch::max_pool2d(torch::relu(bn3(conv3(x))), 2);  // [B, 4W, 4, 4]
  x = torch::relu(fc1(x.flatten(1)));                    // [B, 128]
  return fc2(dropout(x));                                // [B, classes]
}

std::pair<torch::Tensor, torch::Tensor> fold_batch_norm(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn) {
  const auto& o = bn->options;
  const torch::Tensor scale = bn->weight / torch::sqrt(bn->running_var + o.eps());  // [C]
  const torch::Tensor w = conv->weight * scale.reshape({-1, 1, 1, 1});
  const torch::Tensor b = bn->bias - bn->running_mean * scale;
  return {w.detach().clone(), b.detach().clone()};
}

namespace {

constexpr const char* kForward = R"JIT(
def forward(self, x):
    # x: [B, 3, 32, 32] float32 RGB in [0, 1]
    x = torch.relu(torch.conv2d(x, self.conv1_weight, self.conv1_bias, [2, 2], [2, 2]))
    x = torch.max_pool2d(torch.relu(torch.conv2d(x, self.conv2_weight, self.conv2_bias, [1, 1], [1, 1])), [2, 2])
    x = torch.max_pool2d(torch.relu(torch.conv2d(x, self.conv3_weight, self.conv3_bias, [1, 1], [1, 1])), [2, 2])
    x = torch.relu(torch.linear(torch.flatten(x, 1), self.fc1_weight, self.fc1_bias))
    return torch.linear(x, self.fc2_weight, self.fc2_bias)
)JIT";

/// Fisher-Yates with our own generator (portable, unlike std::shuffle's use of distributions).
void shuffle(std::vector<int>& v, Rng& rng) {
  for (int i = static_cast<int>(v.size()) - 1; i > 0; --i) std::swap(v[static_cast<size_t>(i)], v[static_cast<size_t>(rng.uniform_int(0, i))]);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// The crops and labels of `indices` of `split`, drawn with `rng`.
std::pair<torch::Tensor, torch::Tensor> make_batch(const FashionSplit& split, const std::vector<int>& indices,
                                                   size_t begin, size_t end, Rng& rng, const BackgroundPool& pool,
                                                   const SceneGeometry& geometry, const CropAugment& augment) {
  std::vector<cv::Mat> crops;
  std::vector<int64_t> labels;
  for (size_t i = begin; i < end; ++i) {
    const int k = indices[i];
    crops.push_back(render_training_crop(rng, pool, geometry, split.images.image(k), split.images.rows,
                                         split.images.cols, augment, kClassifierInputSize));
    labels.push_back(split.labels[static_cast<size_t>(k)]);
  }
  return {crops_to_tensor(crops), torch::tensor(labels, torch::kLong)};
}

}  // namespace

torch::Tensor crops_to_tensor(const std::vector<cv::Mat>& crops) {
  const int64_t s = kClassifierInputSize;
  torch::Tensor out = torch::empty({static_cast<int64_t>(crops.size()), 3, s, s});
  float* p = out.data_ptr<float>();
  for (const cv::Mat& crop : crops) {
    CV_Assert(crop.type() == CV_8UC3 && crop.rows == s && crop.cols == s);
    for (int c = 0; c < 3; ++c) {
      const int bgr = 2 - c;  // RGB plane c comes from BGR channel 2 - c
      for (int y = 0; y < s; ++y) {
        const auto* row = crop.ptr<cv::Vec3b>(y);
        for (int x = 0; x < s; ++x) *p++ = row[x][bgr] / 255.0f;
      }
    }
  }
  return out;
}

torch::jit::Module export_torchscript(DemoNet& net, const std::vector<std::string>& class_names) {
  torch::NoGradGuard no_grad;
  torch::jit::Module m("DemoClassifier");
  const auto [w1, b1] = fold_batch_norm(net->conv1, net->bn1);
  const auto [w2, b2] = fold_batch_norm(net->conv2, net->bn2);
  const auto [w3, b3] = fold_batch_norm(net->conv3, net->bn3);
  m.register_parameter("conv1_weight", w1, false);
  m.register_parameter("conv1_bias", b1, false);
  m.register_parameter("conv2_weight", w2, false);
  m.register_parameter("conv2_bias", b2, false);
  m.register_parameter("conv3_weight", w3, false);
  m.register_parameter("conv3_bias", b3, false);
  m.register_parameter("fc1_weight", net->fc1->weight.detach().clone(), false);
  m.register_parameter("fc1_bias", net->fc1->bias.detach().clone(), false);
  m.register_parameter("fc2_weight", net->fc2->weight.detach().clone(), false);
  m.register_parameter("fc2_bias", net->fc2->bias.detach().clone(), false);
  c10::List<std::string> names;
  for (const auto& n : class_names) names.push_back(n);
  m.register_attribute("names", c10::ListType::ofStrings(), names);
  m.define(kForward);
  m.eval();
  return m;
}

std::string classifier_config_json(const std::vector<std::string>& class_names) {
  nlohmann::json names = nlohmann::json::object();
  for (size_t i = 0; i < class_names.size(); ++i) names[std::to_string(i)] = class_names[i];
  const nlohmann::json j = {
      {"task", "classify"},
      {"names", names},
      {"imgsz", {kClassifierInputSize, kClassifierInputSize}},
      {"input", "[B, 3, 32, 32] float32 RGB in [0, 1], mean 0, std 1; label box cut tight, resized bilinearly"},
      {"output", "[B, classes] logits"},
      {"mean", {0.0, 0.0, 0.0}},
      {"std", {1.0, 1.0, 1.0}},
      {"crop_margin", 0.0},
  };
  return j.dump();
}

void save_classifier(const torch::jit::Module& module, const std::vector<std::string>& class_names, const fs::path& file) {
  save_with_config(module, classifier_config_json(class_names), file);
}

void save_with_config(const torch::jit::Module& module, const std::string& config_json, const fs::path& file) {
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  const fs::path tmp = file.string() + ".tmp";
  try {
    module.save(tmp.string(), {{"config.txt", config_json}});
    fs::rename(tmp, file);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw Error(ExitCode::failed, fmt::format("{}: cannot save the model: {}", file.string(), e.what()));
  }
}

TrainResult train_demo_model(const TrainOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  torch::set_num_threads(o.threads);
  torch::manual_seed(o.seed);

  // Data: train for learning, t10k for the accuracy.
  const FashionSplit train = load_fashion_split(o.fashion_dir, "train");
  const FashionSplit test = load_fashion_split(o.fashion_dir, "t10k");
  const int n_train = o.train_limit > 0 ? std::min(o.train_limit, train.images.count) : train.images.count;
  const int n_test = o.test_limit > 0 ? std::min(o.test_limit, test.images.count) : test.images.count;
  const SceneGeometry geometry;
  const CropAugment augment;
  Rng pool_rng(o.seed, 1);
  const BackgroundPool pool = make_background_pool(pool_rng, o.background_pool, geometry);
  Rng test_pool_rng(o.seed, 2);  // evaluation crops are cut from backgrounds training never saw
  const BackgroundPool test_pool = make_background_pool(test_pool_rng, o.background_pool, geometry);
  std::vector<std::string> names(kFashionClassNames.begin(), kFashionClassNames.end());

  // Training.
  DemoNet net(static_cast<int>(names.size()), o.width);
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(o.learning_rate));
  std::vector<int> order(static_cast<size_t>(n_train));
  std::iota(order.begin(), order.end(), 0);
  const int64_t steps_per_epoch = (n_train + o.batch_size - 1) / o.batch_size;
  const int64_t total_steps = steps_per_epoch * o.epochs;
  const int64_t warmup = std::min<int64_t>(100, total_steps / 10 + 1);
  int64_t step = 0;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    net->train();
    Rng rng(o.seed, 1000 + static_cast<uint64_t>(epoch));
    shuffle(order, rng);
    double loss_sum = 0, crop_seconds = 0;
    int64_t correct = 0;
    const auto epoch_start = std::chrono::steady_clock::now();
    for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(o.batch_size), ++step) {
      const size_t end = std::min(order.size(), begin + static_cast<size_t>(o.batch_size));
      const auto crops_start = std::chrono::steady_clock::now();
      auto [x, y] = make_batch(train, order, begin, end, rng, pool, geometry, augment);
      crop_seconds += seconds_since(crops_start);
      // Linear warm-up, then cosine decay to zero.
      const double lr = step < warmup ? o.learning_rate * static_cast<double>(step + 1) / static_cast<double>(warmup)
                                      : 0.5 * o.learning_rate *
                                            (1 + std::cos(kPi * static_cast<double>(step - warmup) /
                                                          static_cast<double>(std::max<int64_t>(1, total_steps - warmup))));
      static_cast<torch::optim::AdamOptions&>(optimizer.param_groups()[0].options()).lr(lr);
      optimizer.zero_grad();
      const torch::Tensor logits = net->forward(x);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * static_cast<double>(end - begin);
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
    }
    log(fmt::format("epoch {}/{}: loss {:.4f}, train accuracy {:.4f} (augmented)  [{:.0f} s, crops {:.0f} s]", epoch + 1,
                    o.epochs, loss_sum / n_train, static_cast<double>(correct) / n_train, seconds_since(epoch_start),
                    crop_seconds));
  }

  // Test-split accuracy, crops made the same way.
  net->eval();
  torch::NoGradGuard no_grad;
  TrainResult result;
  Rng test_rng(o.seed, 3);
  std::vector<int> test_order(static_cast<size_t>(n_test));
  std::iota(test_order.begin(), test_order.end(), 0);
  int64_t correct = 0;
  torch::Tensor check_batch, check_logits;
  for (size_t begin = 0; begin < test_order.size(); begin += 256) {
    const size_t end = std::min(test_order.size(), begin + 256);
    auto [x, y] = make_batch(test, test_order, begin, end, test_rng, test_pool, geometry, augment);
    const torch::Tensor logits = net->forward(x);
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
    if (begin == 0) check_batch = x, check_logits = logits;
  }
  result.test_images = n_test;
  result.test_accuracy = static_cast<double>(correct) / n_test;

  // Export, reload, compare.
  save_classifier(export_torchscript(net, names), names, o.out);
  torch::jit::Module reloaded = torch::jit::load(o.out.string());
  reloaded.eval();
  const torch::Tensor again = reloaded.forward({check_batch}).toTensor();
  result.export_max_diff = (again - check_logits).abs().max().item<double>();
  if (!(result.export_max_diff < 1e-3))
    throw Error(ExitCode::failed, fmt::format("{}: the reloaded TorchScript differs from the trained network by {}",
                                              o.out.string(), result.export_max_diff));
  result.model_bytes = static_cast<int64_t>(fs::file_size(o.out));
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace lv::demo
