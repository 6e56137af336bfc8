// The TorchScript backends. This is the only worker translation unit that includes LibTorch.
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "error.h"
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

class TorchModel : public Model {
 public:
  TorchModel(torch::jit::Module module, const Config& config, ClassMap classes)
      : module_(std::move(module)), config_(config), mapping_(mapping_matrix(classes)) {
    classes_ = std::move(classes);
    const bool cuda = torch::cuda::is_available();
    device_tensor_ = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    half_ = cuda && config.processing.fp16;
    module_.eval();
    module_.to(device_tensor_);
    if (half_) module_.to(torch::kHalf);
    device_ = cuda ? (half_ ? "cuda:0 (fp16)" : "cuda:0") : "cpu";
  }

  /// Runs one batch [n, 3, S, S] float32 on the model's device; returns the float32 CPU output.
  torch::Tensor forward(const torch::Tensor& batch) {
    torch::Tensor x = batch.to(device_tensor_, half_ ? torch::kHalf : torch::kFloat);
    torch::Tensor y = first_tensor(module_.forward({x}));
    return y.to(torch::kCPU, torch::kFloat).contiguous();
  }

  /// One forward on zeros of one input's shape: the warm-up, and the check of the output shape.
  void check_output_shape() {
    c10::InferenceMode guard;
    const int64_t s = config_.model.input_size;
    const torch::Tensor y = forward(torch::zeros({1, 3, s, s}));
    if (!fits(y)) {
      throw Error(ExitCode::model_load,
                  fmt::format("{}: model output shape {} does not fit model.type {} with {} classes (expected {})",
                              config_.model.path.string(), shape_of(y), to_string(config_.model.type),
                              classes_.model.size(), expected_shape()));
    }
  }

 protected:
  virtual bool fits(const torch::Tensor& y) const = 0;
  virtual std::string expected_shape() const = 0;

  /// Calls `run(batch, begin, end)` for each batch of at most processing.batch_size rows of all
  /// inputs taken together ([end - begin, 3, S, S], rows begin..end). The rows are written into
  /// one buffer reused from batch to batch, so memory does not grow with the number of crops.
  template <typename Run>
  void for_each_batch(const std::vector<const ModelInput*>& inputs, Run run) const {
    const int64_t s = config_.model.input_size, batch = config_.processing.batch_size;
    int64_t total = 0;
    for (const ModelInput* in : inputs) total += in->count;
    const torch::Tensor buffer = torch::empty({std::min(batch, total), 3, s, s}, torch::kFloat);
    const int64_t per = 3 * s * s;
    size_t input = 0;
    int first = 0;  // the next row of inputs[input]
    for (int64_t begin = 0; begin < total; begin += batch) {
      const int64_t end = std::min(total, begin + batch);
      for (int64_t row = begin; row < end;) {
        while (first >= inputs[input]->count) {
          ++input;
          first = 0;
        }
        const int n = static_cast<int>(std::min<int64_t>(inputs[input]->count - first, end - row));
        inputs[input]->write(first, n, static_cast<int>(s), buffer.data_ptr<float>() + (row - begin) * per);
        first += n;
        row += n;
      }
      run(buffer.slice(0, 0, end - begin), begin, end);
    }
  }

  torch::jit::Module module_;
  const Config config_;  // a copy, so the model does not depend on the caller's lifetime
  torch::Tensor mapping_;  // [model classes, dataset classes]
  torch::Device device_tensor_{torch::kCPU};
  bool half_ = false;
};

class ClassifierModel : public TorchModel {
 public:
  using TorchModel::TorchModel;

  std::vector<ModelOutput> infer(const std::vector<const ModelInput*>& inputs) override {
    c10::InferenceMode guard;
    std::vector<ModelOutput> out(inputs.size());
    const int64_t d = static_cast<int64_t>(classes_.dataset.size());
    size_t input = 0;
    for_each_batch(inputs, [&](const torch::Tensor& batch, int64_t begin, int64_t end) {
      torch::Tensor y = forward(batch);  // [n, model classes]
      if (!fits(y) || y.size(0) != end - begin)
        throw Error(ExitCode::model_load, fmt::format("model output shape {} for a batch of {} crops", shape_of(y), end - begin));
      // Rows that are already distributions are probabilities; anything else is logits.
      const bool distribution = (y.min().item<float>() >= -1e-6f) && ((y.sum(1) - 1).abs().max().item<float>() < 1e-3f);
      const torch::Tensor scores = (distribution ? y : torch::softmax(y, 1)).matmul(mapping_).contiguous();  // [n, dataset classes]
      const float* p = scores.data_ptr<float>();
      for (int64_t row = begin; row < end; ++row, p += d) {
        while (out[input].box_scores.size() == static_cast<size_t>(inputs[input]->count)) ++input;
        out[input].box_scores.emplace_back(p, p + d);
      }
    });
    return out;
  }

 protected:
  bool fits(const torch::Tensor& y) const override {
    return y.dim() == 2 && y.size(1) == static_cast<int64_t>(classes_.model.size());
  }
  std::string expected_shape() const override { return fmt::format("[1, {}]", classes_.model.size()); }
};

/// yolov8 ([B, 4+nc, A], no objectness) and yolov5 ([B, N, 5+nc], score = objectness x class).
class DetectorModel : public TorchModel {
 public:
  DetectorModel(torch::jit::Module module, const Config& config, ClassMap classes, bool v5)
      : TorchModel(std::move(module), config, std::move(classes)), v5_(v5) {}

  std::vector<ModelOutput> infer(const std::vector<const ModelInput*>& inputs) override {
    c10::InferenceMode guard;
    std::vector<ModelOutput> out(inputs.size());
    // One row per image ([B, 3, S, S]): row b is inputs[b] (every detector input has count 1).
    for_each_batch(inputs, [&](const torch::Tensor& batch, int64_t begin, int64_t end) {
      const torch::Tensor y = forward(batch);
      if (!fits(y) || y.size(0) != end - begin)
        throw Error(ExitCode::model_load, fmt::format("model output shape {} for a batch of {} images", shape_of(y), end - begin));
      const torch::Tensor nan_rows = y.isnan().flatten(1).any(1);  // [n] bool: NaN anywhere in an image's output
      for (int64_t b = begin; b < end; ++b) {
        ModelOutput& o = out[static_cast<size_t>(b)];
        decode(y[b - begin], *inputs[static_cast<size_t>(b)], o);
        o.non_finite = nan_rows[b - begin].item<bool>();
      }
    });
    return out;
  }

 protected:
  bool fits(const torch::Tensor& y) const override {
    const int64_t nc = static_cast<int64_t>(classes_.model.size());
    return y.dim() == 3 && (v5_ ? y.size(2) == 5 + nc : y.size(1) == 4 + nc);
  }
  std::string expected_shape() const override {
    const size_t nc = classes_.model.size();
    return v5_ ? fmt::format("[1, N, {}] (5 + {} classes)", 5 + nc, nc) : fmt::format("[1, {}, A] (4 + {} classes)", 4 + nc, nc);
  }

 private:
  /// One image's raw predictions -> detections (and weak ones, see ModelOutput) in original
  /// pixels, after class-aware NMS.
  void decode(const torch::Tensor& pred, const ModelInput& in, ModelOutput& out) const {
    const double conf = config_.model.conf_threshold, background = config_.verification.background_threshold;
    const double floor = background > 0 ? std::min(conf, background) : conf;
    // rows: [A, 4 + nc] with cx, cy, w, h in input pixels, then scores per model class.
    const torch::Tensor rows = v5_ ? pred : pred.transpose(0, 1);
    torch::Tensor scores = v5_ ? rows.slice(1, 5) * rows.slice(1, 4, 5) : rows.slice(1, 4);
    scores = scores.matmul(mapping_);  // [A, dataset classes], aliased classes summed
    const auto [best, cls] = scores.max(1);
    torch::Tensor keep = (best >= floor).nonzero().squeeze(1);
    // As Ultralytics caps NMS input, keep the 30000 best candidates at most.
    if (keep.size(0) > kMaxCandidates) keep = keep.index_select(0, std::get<1>(best.index_select(0, keep).topk(kMaxCandidates)));
    const torch::Tensor boxes = rows.slice(1, 0, 4).index_select(0, keep).contiguous();
    const torch::Tensor kept_scores = scores.index_select(0, keep).contiguous();
    const auto b = boxes.accessor<float, 2>();
    const auto s = kept_scores.accessor<float, 2>();
    const auto k = keep.accessor<int64_t, 1>();
    const auto best_a = best.accessor<float, 1>();
    const auto cls_a = cls.accessor<int64_t, 1>();
    std::vector<Detection> dets;
    dets.reserve(static_cast<size_t>(keep.size(0)));
    for (int64_t i = 0; i < keep.size(0); ++i) {
      const Box in_input{b[i][0] - b[i][2] / 2, b[i][1] - b[i][3] / 2, b[i][0] + b[i][2] / 2, b[i][1] + b[i][3] / 2};
      Detection d;
      d.box = unletterbox(in_input, in.letterbox, in.image_w, in.image_h);
      d.cls = static_cast<int>(cls_a[k[i]]);
      d.score = best_a[k[i]];
      d.probs.assign(&s[i][0], &s[i][0] + kept_scores.size(1));
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
  TorchTextModel(torch::jit::Module module, const Config& config, ClassMap classes)
      : module_(std::move(module)), config_(config), embed_(config.task == Task::embed) {
    classes_ = std::move(classes);
    if (!embed_) mapping_ = mapping_matrix(classes_);
    const bool cuda = torch::cuda::is_available();
    device_tensor_ = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    half_ = cuda && config.processing.fp16;
    module_.eval();
    module_.to(device_tensor_);
    if (half_) module_.to(torch::kHalf);
    device_ = cuda ? (half_ ? "cuda:0 (fp16)" : "cuda:0") : "cpu";
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
  bool half_ = false;
};

/// The message of a LibTorch exception without the C++ backtrace it may carry.
std::string torch_message(const std::exception& e) {
  std::string what = e.what();
  if (const size_t cut = what.find("\nException raised from"); cut != std::string::npos) what.resize(cut);
  return what;
}

}  // namespace

void set_model_threads(int threads) {
  torch::set_num_threads(threads);
}

std::unique_ptr<Model> load_model(const Config& config, const std::vector<std::string>& dataset_classes,
                                  const std::function<void(const char*)>& on_phase) {
  const std::string path = config.model.path.string();
  torch::jit::ExtraFilesMap extra{{"config.txt", ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::Device(torch::kCPU), extra);
  } catch (const std::exception& e) {
    std::string what = e.what();
    // LibTorch appends a C++ backtrace to some messages; the first lines say what went wrong.
    if (const size_t cut = what.find("\nException raised from"); cut != std::string::npos) what.resize(cut);
    throw Error(ExitCode::model_load, fmt::format("{}: model.path: cannot load the TorchScript model: {}", path, what));
  }

  std::vector<std::string> model_classes = config.model.class_names;
  if (model_classes.empty()) model_classes = class_names_from_model_config(extra["config.txt"]);
  if (model_classes.empty()) model_classes = dataset_classes;
  ClassMap classes = build_class_map(dataset_classes, model_classes, config.model.aliases);

  std::unique_ptr<TorchModel> model;
  try {
    switch (config.model.type) {
      case ModelType::classifier:
        model = std::make_unique<ClassifierModel>(std::move(module), config, std::move(classes));
        break;
      case ModelType::yolov8:
      case ModelType::yolov5:
        model = std::make_unique<DetectorModel>(std::move(module), config, std::move(classes),
                                                config.model.type == ModelType::yolov5);
        break;
      case ModelType::text:
        throw usage_error(fmt::format("{}: model.type text reads documents: it is doc_worker's (load_text_model)", path));
    }
    if (on_phase) on_phase("warm-up");
    model->check_output_shape();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (const size_t cut = what.find("\nException raised from"); cut != std::string::npos) what.resize(cut);
    throw Error(ExitCode::model_load, fmt::format("{}: the model failed on a {}x{} warm-up input: {}", path,
                                                  config.model.input_size, config.model.input_size, what));
  }
  return model;
}

std::unique_ptr<TextModel> load_text_model(const Config& config, const std::vector<std::string>& dataset_classes,
                                           int64_t largest_token_id, const std::function<void(const char*)>& on_phase) {
  const std::string path = config.model.path.string();
  torch::jit::ExtraFilesMap extra{{"config.txt", ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::Device(torch::kCPU), extra);
  } catch (const std::exception& e) {
    throw Error(ExitCode::model_load,
                fmt::format("{}: model.path: cannot load the TorchScript model: {}", path, torch_message(e)));
  }
  ClassMap classes;
  if (config.task != Task::embed) {
    std::vector<std::string> model_classes = config.model.class_names;
    if (model_classes.empty()) model_classes = class_names_from_model_config(extra["config.txt"]);
    std::vector<std::string> dataset = dataset_classes.empty() ? model_classes : dataset_classes;
    if (model_classes.empty()) model_classes = dataset;
    if (model_classes.empty())
      throw usage_error(fmt::format("{}: task {} needs class names: input.classes, model.class_names or the model's "
                                    "config.txt",
                                    config.file.string(), to_string(config.task)));
    classes = build_class_map(dataset, model_classes, config.model.aliases);
  }
  auto model = std::make_unique<TorchTextModel>(std::move(module), config, std::move(classes));
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
