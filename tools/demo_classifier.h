#pragma once
/// The demo's crop classifier and its TorchScript export, built in C++ (no Python).
///
/// Input  [B, 3, 32, 32] float32 RGB in [0, 1] (mean 0, std 1): a label box cut tight (margin
///        0) from the image and resized to 32 x 32 with bilinear interpolation, as the
///        image_worker's classifier backend does with model.input_size: 32.
/// Output [B, 10] logits in Fashion-MNIST class order (kFashionClassNames).
///
/// Layers (W = width): conv 5x5 stride 2 (W channels, 32 -> 16 pixels), then two blocks of
/// conv 3x3 + max-pool 2 (2W, 4W channels: 16 -> 8 -> 4 pixels), each conv followed by batch
/// norm and ReLU; then linear 64W -> 128, ReLU, dropout, linear -> 10. The export folds each
/// batch norm into its convolution.
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

namespace lv::demo {

/// The side of the classifier's square input (model.input_size in the config).
inline constexpr int kClassifierInputSize = 32;

struct DemoNetImpl : torch::nn::Module {
  /// `width`: channels of the first convolution (doubled in each later block).
  explicit DemoNetImpl(int num_classes = 10, int width = 32);
  /// [B, 3, 32, 32] float RGB in [0, 1] -> [B, num_classes] logits.
  torch::Tensor forward(torch::Tensor x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(DemoNet);

/// A TorchScript module computing what `net` computes in eval mode: its weights (batch norms
/// folded into the convolutions) are the module's parameters and its forward is defined with
/// torch::jit::Module::define. The class names are kept in the attribute `names`.
torch::jit::Module export_torchscript(DemoNet& net, const std::vector<std::string>& class_names);

/// The extra file "config.txt" saved with the model: JSON with "names" ({"0": name, ...} as
/// Ultralytics writes it), "imgsz", and the preprocessing the model expects.
std::string classifier_config_json(const std::vector<std::string>& class_names);

/// Convolution weights and bias equal to `conv` (no bias) followed by `bn` in eval mode.
std::pair<torch::Tensor, torch::Tensor> fold_batch_norm(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn);

/// Saves `module` with the extra file config.txt = `config_json` to `file` (folders created;
/// written to a temporary file, then renamed). Throws lv::Error (failed) naming the file.
void save_with_config(const torch::jit::Module& module, const std::string& config_json, const std::filesystem::path& file);

/// Saves `module` with its config.txt to `file` (folders created). Throws lv::Error (failed).
void save_classifier(const torch::jit::Module& module, const std::vector<std::string>& class_names,
                     const std::filesystem::path& file);

/// 8-bit BGR crops of kClassifierInputSize squared -> [B, 3, S, S] float32 RGB in [0, 1].
torch::Tensor crops_to_tensor(const std::vector<cv::Mat>& crops);

}  // namespace lv::demo
