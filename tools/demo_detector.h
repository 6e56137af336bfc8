#pragma once
/// The demo's detector and its TorchScript export, built in C++ (no Python): a small
/// anchor-free, single-stage detector in the layout of an Ultralytics YOLOv8 export.
///
/// Input  [B, 3, 320, 320] float32 RGB in [0, 1]: the image letterboxed as the image_worker
///        does for model.type yolov8 (linear resize, pad 114, centred).
/// Output [B, 4 + nc, A] with A = 40*40 + 20*20 anchors (strides 8 and 16): rows 0-3 the box
///        centre x, y and width, height in input pixels, then one sigmoid score per class (no
///        objectness), exactly as `yolo export format=torchscript` writes a YOLOv8 detector.
///
/// Layers (W = width), each convolution followed by batch norm and ReLU: a 4x4 stride-4 stem
/// (2W channels, no batch norm: both keep the costly full-resolution maps few),
/// then stages of a stride-2 conv and a 3x3 conv at strides 8 (4W), 16 (8W) and 32 (8W); a top-down path adds the stride-32 map (1x1 conv, upsampled) to stride 16 and
/// that to stride 8; each of the two output levels has a 3x3 conv and two 1x1 predictors:
/// four box distances (left, top, right, bottom = exp(raw) strides from the anchor centre)
/// and the class logits. The export folds each batch norm into its convolution.
#include <torch/script.h>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "detector_training.h"

namespace lv::demo {

/// The two output levels' strides; anchors are the cell centres of each level in turn.
inline constexpr int kDetectorStrides[] = {8, 16};

/// A convolution (no bias) with batch norm and ReLU; without `norm`, a convolution with bias
/// and ReLU.
struct ConvBnImpl : torch::nn::Module {
  ConvBnImpl(int in, int out, int kernel, int stride, bool norm = true);
  torch::Tensor forward(const torch::Tensor& x);
  /// Weight and bias of one convolution computing conv + batch norm in eval mode.
  std::pair<torch::Tensor, torch::Tensor> folded() const;
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  int stride = 1;
};
TORCH_MODULE(ConvBn);

/// The raw outputs of both levels, anchors concatenated.
struct DetectorRaw {
  torch::Tensor box;     ///< [B, 4, A] log distances (left, top, right, bottom) in strides
  torch::Tensor logits;  ///< [B, nc, A] class logits
};

struct DemoDetectorImpl : torch::nn::Module {
  explicit DemoDetectorImpl(int num_classes = 10, int width = 16, int input_size = kDetectorInputSize);
  /// [B, 3, S, S] float RGB in [0, 1] -> raw outputs.
  DetectorRaw forward_raw(const torch::Tensor& x);
  /// [B, 3, S, S] -> [B, 4 + nc, A], the export's output.
  torch::Tensor forward(const torch::Tensor& x);
  /// Box distances [B, 4, A] (raw) -> corners x1, y1, x2, y2 in input pixels [B, A, 4].
  torch::Tensor corners(const torch::Tensor& box) const;

  /// The named layers in the order of the export's forward.
  std::vector<std::pair<std::string, ConvBn>> layers() const;

  int num_classes, input_size;
  ConvBn stem{nullptr}, s8a{nullptr}, s8b{nullptr}, s16a{nullptr}, s16b{nullptr},
      s32a{nullptr}, s32b{nullptr}, lat32{nullptr}, lat16{nullptr}, head8{nullptr}, head16{nullptr};
  torch::nn::Conv2d box8{nullptr}, cls8{nullptr}, box16{nullptr}, cls16{nullptr};
  torch::Tensor anchors;  ///< [2, A] anchor centres x, y in input pixels (buffer)
  torch::Tensor strides;  ///< [1, A] each anchor's stride (buffer)
};
TORCH_MODULE(DemoDetector);

/// A TorchScript module computing what `net` computes in eval mode (batch norms folded),
/// defined with torch::jit::Module::define; anchors and strides are buffers.
torch::jit::Module export_detector(DemoDetector& net);

/// The extra file "config.txt": Ultralytics' metadata ("stride", "task": "detect", "batch",
/// "imgsz", "names" as {"0": name, ...}) plus the input and output layouts in words.
std::string detector_config_json(const std::vector<std::string>& class_names, int input_size);

}  // namespace lv::demo
