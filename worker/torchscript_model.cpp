// The TorchScript backends. This is the only worker translation unit that includes LibTorch.
#include <torch/script.h>
#include <torch/torch.h>
#ifdef LV_TORCH_CUDA  // the official CUDA LibTorch (worker/CMakeLists.txt): memory statistics
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "compute_device.h"
#include "error.h"
#include "export_metadata.h"
#include "failure_marks.h"
#include "message.h"
#include "model.h"

namespace lv {

std::vector<bool> ModelBase::covered() const {
  std::vector<bool> out(classes_.dataset.size(), false);
  for (int d : classes_.model_to_dataset)
    if (d >= 0) out[static_cast<size_t>(d)] = true;
  return out;
}

namespace {

std::string shape_of(const torch::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

/// The first tensor of a model's output: a tensor, or the first element of a tuple or list.
torch::Tensor first_tensor(const torch::jit::IValue& v) {
  if (v.isTensor()) return v.toTensor();
  if (v.isTuple() && !v.toTupleRef().elements().empty()) return first_tensor(v.toTupleRef().elements()[0]);
  if (v.isList() && v.toListRef().size() > 0) return first_tensor(v.toListRef()[0]);
  if (v.isTensorList() && v.toTensorList().size() > 0) return v.toTensorList().get(0);
  throw Error(ExitCode::model_load, "the model's output is not a tensor (nor a tuple or list starting with one)");
}

/// Model scores -> dataset scores: column m of the model goes to column model_to_dataset[m].
torch::Tensor mapping_matrix(const ClassMap& map) {
  torch::Tensor m = torch::zeros({static_cast<int64_t>(map.model.size()), static_cast<int64_t>(map.dataset.size())});
  auto a = m.accessor<float, 2>();
  for (size_t i = 0; i < map.model_to_dataset.size(); ++i)
    if (map.model_to_dataset[i] >= 0) a[static_cast<int64_t>(i)][map.model_to_dataset[i]] = 1.0f;
  return m;
}

/// The message of a LibTorch exception without the C++ backtrace it may carry and, for an error
/// in the TorchScript interpreter, without the two tracebacks of the model's code before the
/// error itself (its last line, "RuntimeError: The size of tensor a (64) must match ...").
std::string torch_message(const std::exception& e) {
  std::string what = e.what();
  if (const size_t cut = what.find("\nException raised from"); cut != std::string::npos) what.resize(cut);
  if (what.find("Traceback of TorchScript") != std::string::npos) {
    while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
    if (const size_t line = what.rfind('\n'); line != std::string::npos) what.erase(0, line + 1);
  }
  return what;
}

/// Whether a LibTorch message says the device ran out of memory (any form of it).
bool is_out_of_memory_message(const std::string& what) {
  return what.find("out of memory") != std::string::npos || what.find("OutOfMemory") != std::string::npos ||
         what.find("CUBLAS_STATUS_ALLOC_FAILED") != std::string::npos;
}
bool out_of_memory(const std::exception& e) { return is_out_of_memory_message(e.what()); }

/// Waits for the device's queued work, so that a timing or a memory peak is the forward's.
void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? -1 : device.index());
}

/// After an out-of-memory: hand the allocator's cached blocks back, so the next try starts clean.
void release_cached_memory() {
#ifdef LV_TORCH_CUDA
  c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

/// The batch-size finder's probe around one forward: true when it ran (synchronised); false
/// when the device ran out of memory (the cache emptied); any other failure is an lv::Error,
/// `what` and LibTorch's message in one line.
bool probe_forward(const torch::Device& device, const std::string& what, const std::function<void()>& forward) {
  try {
    forward();
    synchronize(device);
    return true;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    if (!out_of_memory(e)) throw Error(ExitCode::failed, fmt::format("{}: {}", what, torch_message(e)));
    release_cached_memory();
    return false;
  }
}

/// What this process's LibTorch says about CUDA. versionCUDART() answers only when LibTorch's
/// CUDA library is loaded (a CPU-only build throws); it needs no driver.
CudaProbe probe_cuda() {
  CudaProbe probe;
  try {
    at::detail::getCUDAHooks().versionCUDART();
    probe.built = true;
  } catch (const c10::Error&) {
    probe.built = false;  // the CPU-only stub: "Cannot query CUDART version without ATen_cuda library"
  }
  probe.devices = probe.built ? static_cast<int>(torch::cuda::device_count()) : 0;
  return probe;
}

/// The device the worker's environment gives it (choose_compute_device); prints its warning.
torch::Device pick_device() {
  const DeviceChoice choice =
      choose_compute_device(probe_cuda(), std::getenv("CUDA_VISIBLE_DEVICES"), std::getenv(kAllowCpuFallbackEnv));
  if (!choice.warning.empty()) print_warning(choice.warning);
  return choice.device == ComputeDevice::cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
}

/// Loads `path` with `device` as the map location: parameters, buffers and the tensor constants
/// of traced exports (anchors, strides), which Module::to() would leave behind, all land there.
/// `config_txt` gets the extra file config.txt ("" when absent). Throws lv::Error (exit 3).
torch::jit::Module load_module(const std::string& path, torch::Device device, std::string& config_txt) {
  torch::jit::ExtraFilesMap extra{{"config.txt", ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, device, extra);
  } catch (const std::exception& e) {
    throw Error(ExitCode::model_load,
                fmt::format("{}: model.path: cannot load the TorchScript model: {}", path, torch_message(e)));
  }
  config_txt = extra["config.txt"];
  module.eval();
  return module;
}

/// The dtype of a model's weights: its first floating-point parameter, else buffer; float32
/// when it has neither.
torch::ScalarType weights_dtype(const torch::jit::Module& module) {
  for (const torch::Tensor& t : module.parameters())
    if (t.is_floating_point()) return t.scalar_type();
  for (const torch::Tensor& t : module.buffers())
    if (t.is_floating_point()) return t.scalar_type();
  return torch::kFloat;
}

/// Where a model runs and the dtype its inputs take.
struct Placement {
  torch::Device device{torch::kCPU};
  torch::ScalarType dtype = torch::kFloat;
  std::string name;  ///< "cuda:0 (fp16)", "cuda:0", "cpu"
};

/// Settles the dtype of a module loaded onto `device`: inputs follow the weights (an export with
/// half=True has fp16 weights, and a float input would fail with "Input type (float) and bias
/// type (c10::Half)"). On the CPU fp16 weights become float32 (LibTorch has no half convolutions
/// there); on CUDA processing.fp16 turns float32 weights into fp16.
Placement place(torch::jit::Module& module, torch::Device device, bool fp16, const std::string& path) {
  Placement p{device, weights_dtype(module), ""};
  if (device.is_cpu()) {
    if (p.dtype == torch::kHalf) {
      module.to(torch::kFloat);
      p.dtype = torch::kFloat;
      print_note(fmt::format("{}: the model's weights are fp16 (an export with half=True); on the CPU they run as "
                             "float32",
                             path));
    }
    p.name = "cpu";
    return p;
  }
  if (p.dtype == torch::kHalf && !fp16)
    print_note(fmt::format("{}: the model's weights are fp16 (an export with half=True): it runs in fp16 although "
                           "processing.fp16 is false",
                           path));
  if (fp16 && p.dtype == torch::kFloat) {
    module.to(torch::kHalf);
    p.dtype = torch::kHalf;
  }
  p.name = p.dtype == torch::kHalf ? "cuda:0 (fp16)" : "cuda:0";
  return p;
}

class TorchModel : public Model {
 public:
  TorchModel(torch::jit::Module module, const Config& config, ClassMap classes, const Placement& placement,
             int input_size)
      : module_(std::move(module)), config_(config), mapping_(mapping_matrix(classes).to(placement.device)),
        device_tensor_(placement.device), dtype_(placement.dtype) {
    classes_ = std::move(classes);
    device_ = placement.name;
    input_size_ = input_size;
    batch_size_ = config.processing.batch_size;
  }

  std::unique_ptr<Inference> prepare(const std::vector<const ModelInput*>& inputs) override {
    return std::make_unique<Run>(*this, inputs);
  }

  bool probe(int batch) override {
    c10::InferenceMode guard;
    return probe_forward(device_tensor_, fmt::format("{}: the model failed on a batch of {}", config_.model.path.string(), batch), [&] {
      const auto options = torch::TensorOptions().dtype(dtype_).device(device_tensor_);
      first_tensor(module_.forward({torch::zeros({batch, 3, input_size_, input_size_}, options)}));
    });
  }

  /// The warm-up, on zeros of the real batch shape [processing.batch_size, 3, S, S], which also
  /// checks the output's shape. A model that refuses that batch but takes the batch it was
  /// exported at (config.txt "batch") runs at that, with a warning; a model that takes any
  /// batch keeps processing.batch_size (every default Ultralytics export says "batch": 1).
  void warm_up(const ExportMetadata& meta) {
    c10::InferenceMode guard;
    const int want = config_.processing.batch_size;
    std::string refused;
    if (try_batch(want, refused)) return;
    // Out of memory at warm-up: halve until it fits (the orchestrator would do the same after a
    // failed shard, at the cost of a restart).
    for (int half = want / 2; half >= 1 && is_out_of_memory_message(refused); half /= 2) {
      release_cached_memory();
      if (try_batch(half, refused)) {
        print_warning(fmt::format("{}: out of memory at warm-up with a batch of {}; running batches of {}. Set "
                                  "processing.batch_size: {}, or let --find-batch-size choose",
                                  config_.model.path.string(), want, half, half));
        return;
      }
    }
    if (meta.batch > 0 && meta.batch != want) {
      std::string again;
      if (try_batch(meta.batch, again)) {
        print_warning(fmt::format("{}: the model refused a batch of {} at warm-up ({}); it takes the batch it was "
                                  "exported at (config.txt \"batch\": {}), so batches of {} are run. Set "
                                  "processing.batch_size: {}, or export the model with dynamic=True",
                                  config_.model.path.string(), want, refused, meta.batch, meta.batch, meta.batch));
        return;
      }
    }
    throw Error(ExitCode::model_load, warm_up_failure(want, meta, refused));
  }

 protected:
  /// What fetch() brought back for one batch (rows [begin, end) of the group), on the host.
  struct Fetched {
    int64_t begin = 0, end = 0;
    std::vector<torch::Tensor> host;
  };

  virtual bool fits(const torch::Tensor& y) const = 0;
  /// The output shape model.type and the classes call for, for a batch of `rows`.
  virtual std::string expected_shape(int64_t rows) const = 0;
  /// On the device: checks the raw output of a batch of `rows`, reduces it to what decoding
  /// needs and brings that to the host (this waits for the device).
  virtual std::vector<torch::Tensor> fetch_rows(const torch::Tensor& raw, int64_t rows) const = 0;
  /// On the host: one fetched batch into the outputs of its inputs.
  virtual void decode(const Fetched& batch, const std::vector<const ModelInput*>& inputs,
                      std::vector<ModelOutput>& out) const = 0;

  /// Empty 8-bit rows [n, 3, S, S] in host memory: pinned when the model runs on CUDA, so that
  /// their upload is a non-blocking DMA (LibTorch's pinned allocator keeps a block until the
  /// copies queued from it are done, so the tensor may go once the copy is queued).
  torch::Tensor staging(int64_t n) const {
    auto options = torch::TensorOptions().dtype(torch::kByte);
    if (device_tensor_.is_cuda()) options = options.pinned_memory(true);
    return torch::empty({n, 3, input_size_, input_size_}, options);
  }

  /// Queues the upload of staged rows, their normalisation on the device (x * scale + shift per
  /// channel in float32, then the model's dtype) and the forward; the raw output stays on the
  /// device. On CUDA nothing here waits for the device.
  torch::Tensor launch_rows(const torch::Tensor& staged, const PixelNormalisation& pixels) {
    if (pixels != pixels_ || !scale_.defined()) {
      pixels_ = pixels;
      scale_ = torch::tensor(std::vector<float>(pixels.scale.begin(), pixels.scale.end())).view({1, 3, 1, 1}).to(device_tensor_);
      shift_ = torch::tensor(std::vector<float>(pixels.shift.begin(), pixels.shift.end())).view({1, 3, 1, 1}).to(device_tensor_);
    }
    torch::Tensor x = staged.to(device_tensor_, /*non_blocking=*/true).to(torch::kFloat);
    x.mul_(scale_).add_(shift_);  // two roundings, as ModelInput::write_floats
    if (dtype_ != torch::kFloat) x = x.to(dtype_);
    return first_tensor(module_.forward({x}));
  }

  /// `step` on one of the run's batches of `rows`. A LibTorch error becomes one line without
  /// the C++ backtrace it may carry (an out-of-memory in the copies to or from the GPU does):
  /// that would push the message out of the log tail the orchestrator classifies and retries by.
  template <typename Step>
  auto guarded(int64_t rows, Step step) {
    try {
      return step();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(ExitCode::failed, fmt::format("{}: the model failed on a batch of {}: {}", config_.model.path.string(),
                                                rows, torch_message(e)));
    }
  }

  /// One warm-up forward of `n` rows of zeros: true when the model takes it and gives `n` rows
  /// (the batch size is then `n`); else false with LibTorch's message in `why`. Throws
  /// lv::Error when the output does not fit model.type and the classes, which no input shape
  /// mends.
  bool try_batch(int n, std::string& why) {
    torch::Tensor y;
    try {
      torch::Tensor staged = staging(n);
      staged.zero_();
      y = launch_rows(staged, PixelNormalisation{});
      synchronize(device_tensor_);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      why = torch_message(e);
      return false;
    }
    if (!fits(y))
      throw Error(ExitCode::model_load,
                  fmt::format("{}: model output shape {} for a warm-up batch of {} does not fit model.type {} with {} "
                              "classes (expected {})",
                              config_.model.path.string(), shape_of(y), n, to_string(config_.model.type),
                              classes_.model.size(), expected_shape(n)));
    if (y.size(0) != n) {
      why = fmt::format("its output {} does not have {} rows", shape_of(y), n);
      return false;
    }
    batch_size_ = n;
    return true;
  }

  /// The message of a failed warm-up: the input shape, where its size came from, what to do.
  std::string warm_up_failure(int batch, const ExportMetadata& meta, const std::string& why) const {
    const Config::Model& m = config_.model;
    const std::string source =
        m.input_size_line > 0 ? fmt::format("set at {}:{}", config_.file.string(), m.input_size_line)
        : meta.has_imgsz()    ? std::string("auto: the export's imgsz")
                              : std::string("auto, and the model's config.txt gives no imgsz");
    const std::string export_batch =
        meta.batch > 0 && meta.batch != batch ? fmt::format(", nor a batch of {} (the export's)", meta.batch) : "";
    const std::string advice =
        m.input_size_line == 0 && !meta.has_imgsz()
            ? fmt::format("A traced model takes only the input size it was traced at: set model.input_size to it (an "
                          "Ultralytics export's imgsz), or export the model with dynamic=True; and check model.type "
                          "({})",
                          to_string(m.type))
            : fmt::format("Check that model.input_size, processing.batch_size and model.type ({}) are what the model "
                          "was made for",
                          to_string(m.type));
    return fmt::format("{}: {}: the model failed on its warm-up input [{}, 3, {}, {}] (processing.batch_size {}; "
                       "model.input_size {}: {}){}: {}. {}",
                       m.path.string(), kModelConfigMismatch, batch, input_size_, input_size_, batch, input_size_,
                       source, export_batch, why, advice);
  }

  /// A group of inputs through the model (Inference): batches of at most batch_size rows of all
  /// inputs taken together, each staged only when it is next, so that memory does not grow
  /// with the number of crops.
  class Run : public Inference {
   public:
    Run(TorchModel& model, const std::vector<const ModelInput*>& inputs) : model_(model), inputs_(inputs) {
      for (const ModelInput* in : inputs_) {
        total_ += in->count;
        if (in->count > 0 && in->pixels != inputs_.front()->pixels)
          throw Error(ExitCode::failed, "one model batch mixes inputs of different pixel normalisations");
      }
      stage_next();
    }

    void launch() override {
      if (!staged_.defined()) return;
      c10::InferenceMode guard;
      const PixelNormalisation& pixels = inputs_[first_input_]->pixels;
      raw_ = model_.guarded(end_ - begin_, [&] { return model_.launch_rows(staged_, pixels); });
      staged_ = torch::Tensor();
    }

    void fetch() override {
      c10::InferenceMode guard;
      while (raw_.defined()) {
        fetched_.push_back({begin_, end_, model_.guarded(end_ - begin_, [&] { return model_.fetch_rows(raw_, end_ - begin_); })});
        raw_ = torch::Tensor();
        if (stage_next()) launch();  // the group's further batches, one after the other
      }
    }

    std::vector<ModelOutput> outputs() override {
      c10::InferenceMode guard;
      std::vector<ModelOutput> out(inputs_.size());
      for (const Fetched& batch : fetched_) model_.decode(batch, inputs_, out);
      fetched_.clear();
      return out;
    }

   private:
    /// Stages the next batch's rows; false when none is left.
    bool stage_next() {
      if (end_ >= total_) return false;
      begin_ = end_;
      end_ = std::min<int64_t>(total_, begin_ + model_.batch_size_);
      staged_ = model_.staging(end_ - begin_);
      const int64_t s = model_.input_size_, per = 3 * s * s;
      uint8_t* out = staged_.data_ptr<uint8_t>();
      while (input_ < inputs_.size() && next_row_ >= inputs_[input_]->count) ++input_, next_row_ = 0;
      first_input_ = input_;
      for (int64_t row = begin_; row < end_;) {
        while (next_row_ >= inputs_[input_]->count) ++input_, next_row_ = 0;
        const int n = static_cast<int>(std::min<int64_t>(inputs_[input_]->count - next_row_, end_ - row));
        inputs_[input_]->write(next_row_, n, static_cast<int>(s), out + (row - begin_) * per);
        next_row_ += n;
        row += n;
      }
      return true;
    }

    TorchModel& model_;
    std::vector<const ModelInput*> inputs_;
    int64_t total_ = 0;
    int64_t begin_ = 0, end_ = 0;  // rows of the batch staged or launched
    size_t input_ = 0;             // the input holding the next row to stage
    int next_row_ = 0;             // that row, within its input
    size_t first_input_ = 0;       // the input of the staged batch's first row
    torch::Tensor staged_, raw_;
    std::vector<Fetched> fetched_;
  };

  torch::jit::Module module_;
  const Config config_;  // a copy, so the model does not depend on the caller's lifetime
  torch::Tensor mapping_;  // [model classes, dataset classes], on the model's device
  torch::Device device_tensor_{torch::kCPU};
  torch::ScalarType dtype_ = torch::kFloat;  // of the inputs: the weights' (place())
  PixelNormalisation pixels_;                // the factors below are for these
  torch::Tensor scale_, shift_;              // [1, 3, 1, 1] float32 on the device
};

class ClassifierModel : public TorchModel {
 public:
  using TorchModel::TorchModel;

 protected:
  bool fits(const torch::Tensor& y) const override {
    return y.dim() == 2 && y.size(1) == static_cast<int64_t>(classes_.model.size());
  }
  std::string expected_shape(int64_t rows) const override {
    return fmt::format("[{}, {}]", rows, classes_.model.size());
  }

  /// [n, dataset classes] probabilities.
  std::vector<torch::Tensor> fetch_rows(const torch::Tensor& raw, int64_t rows) const override {
    const torch::Tensor y = raw.to(torch::kFloat).contiguous();  // [n, model classes]
    if (!fits(y) || y.size(0) != rows)
      throw Error(ExitCode::model_load, fmt::format("model output shape {} for a batch of {} crops", shape_of(y), rows));
    // Rows that are already distributions are probabilities; anything else is logits.
    const bool distribution = (y.min().item<float>() >= -1e-6f) && ((y.sum(1) - 1).abs().max().item<float>() < 1e-3f);
    return {(distribution ? y : torch::softmax(y, 1)).matmul(mapping_).to(torch::kCPU).contiguous()};
  }

  void decode(const Fetched& batch, const std::vector<const ModelInput*>& inputs,
              std::vector<ModelOutput>& out) const override {
    const int64_t d = static_cast<int64_t>(classes_.dataset.size());
    const float* p = batch.host[0].data_ptr<float>();
    size_t input = 0;
    for (int64_t row = batch.begin; row < batch.end; ++row, p += d) {
      while (out[input].box_scores.size() == static_cast<size_t>(inputs[input]->count)) ++input;
      out[input].box_scores.emplace_back(p, p + d);
    }
  }
};

/// yolov8 ([B, 4+nc, A], no objectness) and yolov5 ([B, N, 5+nc], score = objectness x class).
class DetectorModel : public TorchModel {
 public:
  DetectorModel(torch::jit::Module module, const Config& config, ClassMap classes, const Placement& placement,
                int input_size, bool v5)
      : TorchModel(std::move(module), config, std::move(classes), placement, input_size), v5_(v5) {}

 protected:
  bool fits(const torch::Tensor& y) const override {
    const int64_t nc = static_cast<int64_t>(classes_.model.size());
    return y.dim() == 3 && (v5_ ? y.size(2) == 5 + nc : y.size(1) == 4 + nc);
  }
  std::string expected_shape(int64_t rows) const override {
    const size_t nc = classes_.model.size();
    return v5_ ? fmt::format("[{}, N, {}] (5 + {} classes)", rows, 5 + nc, nc)
               : fmt::format("[{}, {}, A] (4 + {} classes)", rows, 4 + nc, nc);
  }

  /// On the device, over the whole batch: the scores per dataset class of every prediction, and
  /// only the candidates whose best score reaches the floor (the lower of model.conf_threshold
  /// and verification.background_threshold) come back, with whether each image's output held
  /// NaN. Host tensors: [K, 2] (image in the batch, prediction) in ascending order, [K, 4] boxes
  /// (cx, cy, w, h in input pixels), [K, dataset classes] scores, [K] best score, [K] its class,
  /// [n] NaN.
  std::vector<torch::Tensor> fetch_rows(const torch::Tensor& raw, int64_t rows) const override {
    const torch::Tensor y = raw.to(torch::kFloat).contiguous();
    if (!fits(y) || y.size(0) != rows)
      throw Error(ExitCode::model_load, fmt::format("model output shape {} for a batch of {} images", shape_of(y), rows));
    const torch::Tensor nan_rows = y.isnan().flatten(1).any(1);  // [n] bool: NaN anywhere in an image's output
    // rows: [n, A, 4 + nc] with cx, cy, w, h in input pixels, then scores per model class.
    const torch::Tensor preds = v5_ ? y : y.transpose(1, 2);
    torch::Tensor scores = v5_ ? preds.slice(2, 5) * preds.slice(2, 4, 5) : preds.slice(2, 4);
    scores = scores.matmul(mapping_);  // [n, A, dataset classes], aliased classes summed
    const auto [best, cls] = scores.max(2);
    const torch::Tensor where = (best >= floor()).nonzero();  // [K, 2], row-major: by image, then prediction
    const int64_t per_image = best.size(1);
    const torch::Tensor flat = where.select(1, 0) * per_image + where.select(1, 1);
    auto host = [](const torch::Tensor& t) { return t.to(torch::kCPU).contiguous(); };
    return {host(where),
            host(preds.slice(2, 0, 4).reshape({-1, 4}).index_select(0, flat)),
            host(scores.reshape({-1, scores.size(2)}).index_select(0, flat)),
            host(best.reshape({-1}).index_select(0, flat)),
            host(cls.reshape({-1}).index_select(0, flat)),
            host(nan_rows)};
  }

  void decode(const Fetched& batch, const std::vector<const ModelInput*>& inputs,
              std::vector<ModelOutput>& out) const override {
    const torch::Tensor& where = batch.host[0];
    const auto image_of = where.accessor<int64_t, 2>();
    const auto nan_rows = batch.host[5].accessor<bool, 1>();
    int64_t from = 0;
    // One row per image: row b of the batch is inputs[begin + b] (every detector input has count 1).
    for (int64_t b = 0; b < batch.end - batch.begin; ++b) {
      int64_t to = from;
      while (to < where.size(0) && image_of[to][0] == b) ++to;
      ModelOutput& o = out[static_cast<size_t>(batch.begin + b)];
      decode_image(batch, from, to, *inputs[static_cast<size_t>(batch.begin + b)], o);
      o.non_finite = nan_rows[b];
      from = to;
    }
  }

 private:
  double floor() const {
    const double conf = config_.model.conf_threshold, background = config_.verification.background_threshold;
    return background > 0 ? std::min(conf, background) : conf;
  }

  /// One image's candidates (rows [from, to) of the fetched batch) -> detections (and weak
  /// ones, see ModelOutput) in original pixels, after class-aware NMS.
  void decode_image(const Fetched& batch, int64_t from, int64_t to, const ModelInput& in, ModelOutput& out) const {
    torch::Tensor boxes = batch.host[1].slice(0, from, to), scores = batch.host[2].slice(0, from, to);
    torch::Tensor best = batch.host[3].slice(0, from, to), cls = batch.host[4].slice(0, from, to);
    // As Ultralytics caps NMS input, keep the 30000 best candidates at most.
    if (to - from > kMaxCandidates) {
      const torch::Tensor order = std::get<1>(best.topk(kMaxCandidates));
      boxes = boxes.index_select(0, order);
      scores = scores.index_select(0, order);
      best = best.index_select(0, order);
      cls = cls.index_select(0, order);
    }
    boxes = boxes.contiguous();
    scores = scores.contiguous();
    const auto b = boxes.accessor<float, 2>();
    const auto s = scores.accessor<float, 2>();
    const auto best_a = best.accessor<float, 1>();
    const auto cls_a = cls.accessor<int64_t, 1>();
    const double conf = config_.model.conf_threshold;
    std::vector<Detection> dets;
    dets.reserve(static_cast<size_t>(boxes.size(0)));
    for (int64_t i = 0; i < boxes.size(0); ++i) {
      const Box in_input{b[i][0] - b[i][2] / 2, b[i][1] - b[i][3] / 2, b[i][0] + b[i][2] / 2, b[i][1] + b[i][3] / 2};
      Detection d;
      d.box = unletterbox(in_input, in.letterbox, in.image_w, in.image_h);
      d.cls = static_cast<int>(cls_a[i]);
      d.score = best_a[i];
      d.probs.assign(&s[i][0], &s[i][0] + scores.size(1));
      dets.push_back(std::move(d));
    }
    for (Detection& d : nms(std::move(dets), config_.model.nms_iou)) {
      if (d.score >= conf) {
        if (out.detections.size() < kMaxDetections) out.detections.push_back(std::move(d));
      } else if (out.weak.size() < kMaxDetections) {
        d.probs.clear();
        d.probs.shrink_to_fit();
        out.weak.push_back(std::move(d));
      }
    }
  }

  static constexpr int64_t kMaxCandidates = 30000;
  static constexpr size_t kMaxDetections = 300;
  bool v5_;
};

/// model.type text: token ids and mask in, class scores or document vectors out.
class TorchTextModel : public TextModel {
 public:
  TorchTextModel(torch::jit::Module module, const Config& config, ClassMap classes, const Placement& placement)
      : module_(std::move(module)), config_(config), embed_(config.task == Task::embed),
        device_tensor_(placement.device) {
    classes_ = std::move(classes);
    if (!embed_) mapping_ = mapping_matrix(classes_);
    device_ = placement.name;
    if (!embed_) width_ = static_cast<int64_t>(classes_.dataset.size());
  }

  std::vector<float> run(const TokenBatch& batch) override {
    c10::InferenceMode guard;
    // The batch's buffers are borrowed, not copied: [B, L] int64 each.
    const torch::Tensor ids = torch::from_blob(const_cast<int64_t*>(batch.ids.data()), {batch.rows, batch.cols}, torch::kLong);
    const torch::Tensor mask = torch::from_blob(const_cast<int64_t*>(batch.mask.data()), {batch.rows, batch.cols}, torch::kLong);
    const torch::Tensor y = scores(ids, mask);
    std::vector<float> out(static_cast<size_t>(y.numel()));
    std::copy_n(y.data_ptr<float>(), out.size(), out.data());
    return out;
  }

  bool probe(int batch) override {
    c10::InferenceMode guard;
    const std::string what = fmt::format("{}: the model failed on a batch of {} documents", config_.model.path.string(), batch);
    return probe_forward(device_tensor_, what, [&] {
      const int64_t length = std::max(2, config_.model.max_length);
      const torch::Tensor ids = torch::ones({batch, length}, torch::TensorOptions().dtype(torch::kLong).device(device_tensor_));
      first_tensor(module_.forward({ids, torch::ones_like(ids)}));
    });
  }

  /// The warm-up: one forward on a two-token document [1, largest_id]; checks the output's
  /// shape for the task and learns the embedding width.
  void check_output_shape(int64_t largest_id) {
    c10::InferenceMode guard;
    const torch::Tensor ids = torch::tensor({int64_t{1}, std::max<int64_t>(1, largest_id)}, torch::kLong).unsqueeze(0);
    const torch::Tensor mask = torch::ones({1, 2}, torch::kLong);
    const torch::Tensor raw = raw_forward(ids, mask);
    const bool ok = embed_ ? (raw.dim() == 2 || raw.dim() == 3) && raw.size(0) == 1
                           : raw.dim() == 2 && raw.size(0) == 1 && raw.size(1) == static_cast<int64_t>(classes_.model.size());
    if (!ok)
      throw Error(ExitCode::model_load,
                  fmt::format("{}: model output shape {} does not fit task {} (expected {})", config_.model.path.string(),
                              shape_of(raw), to_string(config_.task),
                              embed_ ? std::string("[1, D] or [1, L, D]") : fmt::format("[1, {}] (the model's classes)", classes_.model.size())));
    if (embed_) width_ = raw.size(raw.dim() - 1);
  }

 private:
  /// The model's own output, float32 on the CPU.
  torch::Tensor raw_forward(const torch::Tensor& ids, const torch::Tensor& mask) {
    torch::Tensor y = first_tensor(module_.forward({ids.to(device_tensor_), mask.to(device_tensor_)}));
    return y.to(torch::kCPU, torch::kFloat).contiguous();
  }

  /// [B, width()] float32 contiguous on the CPU.
  torch::Tensor scores(const torch::Tensor& ids, const torch::Tensor& mask) {
    torch::Tensor y = raw_forward(ids, mask);
    if (y.size(0) != ids.size(0))
      throw Error(ExitCode::model_load, fmt::format("model output shape {} for a batch of {} documents", shape_of(y), ids.size(0)));
    if (embed_) {
      if (y.dim() == 3) {
        if (config_.model.pooling == Pooling::cls) {
          y = y.select(1, 0);
        } else {
          const torch::Tensor m = mask.to(torch::kFloat).unsqueeze(2);  // [B, L, 1]
          y = (y * m).sum(1) / m.sum(1).clamp_min(1.0);
        }
      }
      return y.contiguous();
    }
    if (y.dim() != 2 || y.size(1) != static_cast<int64_t>(classes_.model.size()))
      throw Error(ExitCode::model_load, fmt::format("model output shape {} for a batch of {} documents", shape_of(y), ids.size(0)));
    // Rows that are already distributions are probabilities; anything else is logits.
    const bool distribution = (y.min().item<float>() >= -1e-6f) && ((y.sum(1) - 1).abs().max().item<float>() < 1e-3f);
    return (distribution ? y : torch::softmax(y, 1)).matmul(mapping_).contiguous();  // [B, dataset classes]
  }

  torch::jit::Module module_;
  const Config config_;
  const bool embed_;
  torch::Tensor mapping_;
  torch::Device device_tensor_{torch::kCPU};
};

}  // namespace

namespace {

class ModelProbe : public BatchProbe {
 public:
  explicit ModelProbe(std::unique_ptr<ModelBase> model) : model_(std::move(model)) {}
  bool run(int batch) override {
    gpu_memory_peak_and_reset();
    const bool fits = model_->probe(batch);
    peak_ = gpu_memory_peak_and_reset();
    return fits;
  }
  uint64_t memory_total() const override { return gpu_memory_total(); }
  uint64_t last_peak() const override { return peak_; }
  std::string device() const override { return model_->device(); }

 private:
  std::unique_ptr<ModelBase> model_;
  uint64_t peak_ = 0;
};

}  // namespace

std::unique_ptr<BatchProbe> make_batch_probe(std::unique_ptr<ModelBase> model) {
  return std::make_unique<ModelProbe>(std::move(model));
}

uint64_t gpu_memory_total() {
#ifdef LV_TORCH_CUDA
  if (torch::cuda::is_available()) return at::cuda::getDeviceProperties(0)->totalGlobalMem;
#endif
  return 0;
}

uint64_t gpu_memory_peak_and_reset() {
#ifdef LV_TORCH_CUDA
  if (torch::cuda::is_available()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
    const uint64_t peak = static_cast<uint64_t>(stats.allocated_bytes[0].peak);  // [0]: all pools together
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);
    return peak;
  }
#endif
  return 0;
}

void set_model_threads(int threads) {
  torch::set_num_threads(threads);
}

std::unique_ptr<Model> load_model(const Config& config, const std::vector<std::string>& dataset_classes,
                                  const std::function<void(const char*)>& on_phase) {
  const std::string path = config.model.path.string();
  if (config.model.type == ModelType::text)
    throw usage_error(fmt::format("{}: model.type text reads documents: it is doc_worker's (load_text_model)", path));
  const torch::Device device = pick_device();
  std::string config_txt;
  torch::jit::Module module = load_module(path, device, config_txt);

  // What the export says about its input, against the config: before any image is read.
  const ExportMetadata meta = parse_export_metadata(config_txt, config.model.path);
  const int input_size = resolve_input_size(config, meta);

  std::vector<std::string> model_classes = config.model.class_names;
  if (model_classes.empty()) model_classes = class_names_from_model_config(config_txt);
  if (model_classes.empty()) model_classes = dataset_classes;
  ClassMap classes = build_class_map(dataset_classes, model_classes, config.model.aliases);

  const Placement placement = place(module, device, config.processing.fp16, path);
  std::unique_ptr<TorchModel> model;
  if (config.model.type == ModelType::classifier)
    model = std::make_unique<ClassifierModel>(std::move(module), config, std::move(classes), placement, input_size);
  else
    model = std::make_unique<DetectorModel>(std::move(module), config, std::move(classes), placement, input_size,
                                            config.model.type == ModelType::yolov5);
  if (on_phase) on_phase("warm-up");
  try {
    model->warm_up(meta);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ExitCode::model_load, fmt::format("{}: the model failed at warm-up: {}", path, torch_message(e)));
  }
  return model;
}

std::unique_ptr<TextModel> load_text_model(const Config& config, const std::vector<std::string>& dataset_classes,
                                           int64_t largest_token_id, const std::function<void(const char*)>& on_phase) {
  const std::string path = config.model.path.string();
  const torch::Device device = pick_device();
  std::string config_txt;
  torch::jit::Module module = load_module(path, device, config_txt);
  ClassMap classes;
  if (config.task != Task::embed) {
    std::vector<std::string> model_classes = config.model.class_names;
    if (model_classes.empty()) model_classes = class_names_from_model_config(config_txt);
    std::vector<std::string> dataset = dataset_classes.empty() ? model_classes : dataset_classes;
    if (model_classes.empty()) model_classes = dataset;
    if (model_classes.empty())
      throw usage_error(fmt::format("{}: task {} needs class names: input.classes, model.class_names or the model's "
                                    "config.txt",
                                    config.file.string(), to_string(config.task)));
    classes = build_class_map(dataset, model_classes, config.model.aliases);
  }
  const Placement placement = place(module, device, config.processing.fp16, path);
  auto model = std::make_unique<TorchTextModel>(std::move(module), config, std::move(classes), placement);
  try {
    if (on_phase) on_phase("warm-up");
    model->check_output_shape(largest_token_id);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ExitCode::model_load,
                fmt::format("{}: the model failed on a warm-up input holding token id {}, the largest the tokenizer "
                            "gives ({}): {}",
                            path, largest_token_id,
                            config.model.tokenizer == Tokenizer::hashed ? "model.hash_buckets - 1: does the model have "
                                                                          "that many embedding rows?"
                                                                        : "the vocab's last line",
                            torch_message(e)));
  }
  return model;
}

}  // namespace lv
