#pragma once
/// The model behind one small interface. The header is free of LibTorch and OpenCV; the
/// TorchScript backends (classifier, yolov8, yolov5) live in torchscript_model.cpp.
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "batch_finder.h"
#include "class_map.h"
#include "config.h"
#include "geometry.h"
#include "token_batch.h"

namespace lv {

/// How a model input's 8-bit RGB values become the floats the model takes: x * scale + shift
/// per RGB channel, in float32. The model does it on its device after uploading the 8-bit
/// values (a quarter of the bytes of floats); write_floats() does the same on the host.
struct PixelNormalisation {
  static constexpr float kByteScale = static_cast<float>(1.0 / 255.0);
  std::array<float, 3> scale{kByteScale, kByteScale, kByteScale};  ///< [0, 255] -> [0, 1]
  std::array<float, 3> shift{0.0f, 0.0f, 0.0f};
  bool operator==(const PixelNormalisation& o) const { return scale == o.scale && shift == o.shift; }
  bool operator!=(const PixelNormalisation& o) const { return !(*this == o); }
};

/// (x / 255 - mean) / std per RGB channel, as PixelNormalisation factors.
PixelNormalisation normalisation(const std::vector<double>& mean, const std::vector<double>& std);

/// One image's model input, made on the decode threads: 8-bit planar RGB rows [count, 3, S, S].
struct ModelInput {
  /// Writes rows [first, first + n) as [n, 3, S, S] 8-bit planar RGB to `out`.
  using Fill = std::function<void(int first, int n, uint8_t* out)>;

  std::vector<uint8_t> data;  ///< [count, 3, S, S] 8-bit planar RGB; empty when `fill` is set
  /// Classifier crops are made on demand, one batch at a time, so that an image with many boxes
  /// never holds all its crops in memory (20 000 crops of 64 px would be 250 MB).
  Fill fill;
  PixelNormalisation pixels;  ///< how the model turns the rows into floats
  int count = 0;            ///< classifier: crops (one per label box); detectors: 1
  Letterbox letterbox;      ///< detectors: how the image was fitted into S x S
  int image_w = 0, image_h = 0;

  /// Writes rows [first, first + n) of side `size` to `out` ([n, 3, size, size]), from
  /// `fill` when set, else from `data`.
  void write(int first, int n, int size, uint8_t* out) const {
    if (fill) return fill(first, n, out);
    const size_t per = static_cast<size_t>(3) * static_cast<size_t>(size) * static_cast<size_t>(size);
    std::copy_n(data.data() + static_cast<size_t>(first) * per, static_cast<size_t>(n) * per, out);
  }
  /// The same rows as the floats the model sees ([n, 3, size, size], `pixels` applied on the
  /// host, bit for bit what the model computes on its device): for training and benchmarks.
  void write_floats(int first, int n, int size, float* out) const;
};

/// One image's model output.
struct ModelOutput {
  std::vector<std::vector<float>> box_scores;  ///< classifier: per crop, per dataset class, summing to <= 1
  std::vector<Detection> detections;           ///< detectors: after NMS, original pixels, dataset classes
  /// Detectors: predictions scoring in [verification.background_threshold,
  /// model.conf_threshold), after the same NMS, without probs: evidence that something is there.
  std::vector<Detection> weak;
  bool non_finite = false;                     ///< detectors: the raw output held NaN (detections unusable)
};

/// What every loaded model tells about itself: its classes and its device.
class ModelBase {
 public:
  virtual ~ModelBase() = default;
  /// Dataset and model classes and how they map.
  const ClassMap& classes() const { return classes_; }
  /// covered()[c]: some model class maps to dataset class c.
  std::vector<bool> covered() const;
  /// "cuda:0 (fp16)", "cpu".
  const std::string& device() const { return device_; }
  /// The batch-size finder's probe: one synchronised forward of `batch` synthetic rows (zeros
  /// of the real input shape); false when the device ran out of memory (its cache is emptied
  /// then). Throws lv::Error (one line) for any other failure.
  virtual bool probe(int batch) = 0;

 protected:
  ClassMap classes_;
  std::string device_;
};

/// One group of inputs on its way through an image model, in steps the caller interleaves with
/// its own work so that the device computes while the host prepares (image_worker runs
/// prepare(next), fetch() of this one, launch() of the next, then outputs() of this one):
///   Model::prepare   stages the first batch as 8-bit rows in host memory (pinned on CUDA);
///   launch()         queues its upload, normalisation and forward; returns at once on CUDA;
///   fetch()          waits for the device and brings back what decoding needs (detectors: only
///                    the candidates over the confidence floor), then runs any further batches;
///   outputs()        decodes on the host: one output per input, in order.
/// The inputs must outlive the inference. On the CPU launch() computes and fetch() only copies.
class Inference {
 public:
  virtual ~Inference() = default;
  virtual void launch() = 0;
  virtual void fetch() = 0;
  virtual std::vector<ModelOutput> outputs() = 0;
};

/// An image model (classifier crops or a detector).
class Model : public ModelBase {
 public:
  /// Starts a group of images' inputs (split into batches of processing.batch_size rows; every
  /// input with the same PixelNormalisation). See Inference.
  virtual std::unique_ptr<Inference> prepare(const std::vector<const ModelInput*>& inputs) = 0;
  /// All of prepare's steps at once: one output per input, in order.
  std::vector<ModelOutput> infer(const std::vector<const ModelInput*>& inputs) {
    const std::unique_ptr<Inference> run = prepare(inputs);
    run->launch();
    run->fetch();
    return run->outputs();
  }
  /// The side S of the square input [B, 3, S, S] the model is given (crops or letterbox):
  /// model.input_size, or the export's imgsz when the config leaves it out.
  int input_size() const { return input_size_; }
  /// Rows per forward: processing.batch_size, or the export's batch when the model refused
  /// that at warm-up.
  int batch_size() const { return batch_size_; }

 protected:
  int input_size_ = 0;
  int batch_size_ = 0;
};

/// A text model (model.type text): forward(input_ids int64 [B, L], attention_mask int64 [B, L]).
class TextModel : public ModelBase {
 public:
  /// Runs one padded batch. Returns [batch.rows, width()] float32 row-major: with classes
  /// (task verify, classify) probabilities per dataset class (logits softmaxed, model classes
  /// mapped through aliases); for task embed the document vectors (a [B, L, D] output pooled
  /// by model.pooling over the attention mask: mean, or the first token's vector for cls).
  virtual std::vector<float> run(const TokenBatch& batch) = 0;
  /// Values per row of run(): dataset classes, or the embedding's dimension.
  int64_t width() const { return width_; }

 protected:
  int64_t width_ = 0;
};

/// The GPU the worker runs on (cuda:0): its memory in bytes, and the peak its allocator handed
/// out since the last call (which resets it). 0 and 0 without CUDA.
uint64_t gpu_memory_total();
uint64_t gpu_memory_peak_and_reset();

/// The batch-size finder's probe over a loaded model (image or text): runs it on synthetic
/// batches, with the GPU's memory figures when it runs on one.
std::unique_ptr<BatchProbe> make_batch_probe(std::unique_ptr<ModelBase> model);

/// Sets the number of threads LibTorch uses for one model forward (intra-op) and logs it.
void set_model_threads(int threads);

/// Loads the TorchScript model of `config.model` onto its device (cuda:0 when the worker has a
/// usable GPU, else the CPU; choose_compute_device) as the map location, so that tensor
/// constants of traced exports land there too; inputs take the dtype of the model's weights
/// (fp16 on CUDA with half weights or processing.fp16; float on the CPU, where half weights are
/// converted). The input size is resolve_input_size() of the export's config.txt. Warms up on
/// zeros of the real batch shape [processing.batch_size, 3, S, S] and checks the output's shape;
/// a model that refuses that batch but takes its export's `batch` runs at that (with a
/// warning). `on_phase("warm-up")` is called (when set) just before. Throws lv::Error: exit 3
/// naming the file and LibTorch's message when it cannot be loaded, both shapes when its output
/// does not fit model.type and the class count, the input shape, model.input_size and
/// kModelConfigMismatch when the warm-up forward fails, kNoUsableCuda when a given GPU cannot
/// be used; exit 2 for bad aliases or an input size contradicting the export.
std::unique_ptr<Model> load_model(const Config& config, const std::vector<std::string>& dataset_classes,
                                  const std::function<void(const char* phase)>& on_phase = {});

/// Loads the text model of `config.model` like load_model (device, dtype, warm-up on a
/// two-token input [1, largest_token_id] and its output shape checked against config.task;
/// a model whose embedding table is smaller than the tokenizer's ids fails here, naming the id,
/// rather than on the first document that holds it). Model class names come
/// from model.class_names, else the archive's config.txt, else `dataset_classes`; with
/// `dataset_classes` empty (classify without input.classes) the model's names are the
/// dataset's. Throws lv::Error: exit 3 as load_model; exit 2 when task verify/classify has no
/// class names at all.
std::unique_ptr<TextModel> load_text_model(const Config& config, const std::vector<std::string>& dataset_classes,
                                           int64_t largest_token_id,
                                           const std::function<void(const char* phase)>& on_phase = {});

}  // namespace lv
