#pragma once
/// The model behind one small interface. The header is free of LibTorch and OpenCV; the
/// TorchScript backends (classifier, yolov8, yolov5) live in torchscript_model.cpp.
#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "class_map.h"
#include "config.h"
#include "geometry.h"

namespace lv {

/// One image's model input, made on the decode threads.
struct ModelInput {
  /// Writes inputs [first, first + n) as [n, 3, S, S] float32 to `out`.
  using Fill = std::function<void(int first, int n, float* out)>;

  std::vector<float> data;  ///< [count, 3, S, S] float32 RGB, normalised for the model; empty when `fill` is set
  /// Classifier crops are made on demand, one batch at a time, so that an image with many boxes
  /// never holds all its crops in memory (20 000 crops of 64 px would be 1 GB of floats).
  Fill fill;
  int count = 0;            ///< classifier: crops (one per label box); detectors: 1
  Letterbox letterbox;      ///< detectors: how the image was fitted into S x S
  int image_w = 0, image_h = 0;

  /// Writes inputs [first, first + n) of side `size` to `out` ([n, 3, size, size]), from
  /// `fill` when set, else from `data`.
  void write(int first, int n, int size, float* out) const {
    if (fill) return fill(first, n, out);
    const size_t per = static_cast<size_t>(3) * static_cast<size_t>(size) * static_cast<size_t>(size);
    std::copy_n(data.data() + static_cast<size_t>(first) * per, static_cast<size_t>(n) * per, out);
  }
};

/// One image's model output.
struct ModelOutput {
  std::vector<std::vector<float>> box_scores;  ///< classifier: per crop, per dataset class, summing to <= 1
  std::vector<Detection> detections;           ///< detectors: after NMS, original pixels, dataset classes
  bool non_finite = false;                     ///< detectors: the raw output held NaN (detections unusable)
};

class Model {
 public:
  virtual ~Model() = default;

  /// Runs the model on several images' inputs (split into batches of processing.batch_size);
  /// returns one output per input, in order.
  virtual std::vector<ModelOutput> infer(const std::vector<const ModelInput*>& inputs) = 0;

  /// Dataset and model classes and how they map.
  const ClassMap& classes() const { return classes_; }
  /// covered()[c]: some model class maps to dataset class c.
  std::vector<bool> covered() const;
  /// "cuda:0 (fp16)", "cpu".
  const std::string& device() const { return device_; }

 protected:
  ClassMap classes_;
  std::string device_;
};

/// Sets the number of threads LibTorch uses for one model forward (intra-op) and logs it.
void set_model_threads(int threads);

/// Loads the TorchScript model of `config.model`, moves it to cuda:0 when CUDA is available
/// (else CPU), checks its output shape on one warm-up input. `on_phase("warm-up")` is called
/// (when set) just before that forward, which can take long on a GPU. Throws lv::Error: exit 3
/// naming the file and LibTorch's message when it cannot be loaded, or both shapes when its
/// output does not fit model.type and the class count; exit 2 for bad aliases.
std::unique_ptr<Model> load_model(const Config& config, const std::vector<std::string>& dataset_classes,
                                  const std::function<void(const char* phase)>& on_phase = {});

}  // namespace lv
