#pragma once
// TorchScript models built by the tests, with outputs known without running the worker.
// The header is free of LibTorch so that only test_models.cpp pays for including it.
#include <filesystem>
#include <string>
#include <vector>

namespace lv::test {

/// A classifier over RGB classes (red, green, blue): the mean of each input channel over the
/// crop, times `scale`; softmax applied inside when `probabilities`, else raw logits.
/// `spin` extra matrix products per forward make it slow (for interruption tests).
void save_mean_colour_classifier(const std::filesystem::path& file, double scale, bool probabilities, int spin = 0);
/// A two-class classifier that answers [1, 0] for every row when its input equals `expected`
/// bit for bit (same shape, same floats), else [0, 1]: shows what the model was given.
void save_input_checking_classifier(const std::filesystem::path& file, const std::vector<float>& expected,
                                    int rows, int size);

/// A 3-class classifier that takes zeros (its warm-up) but fails in the TorchScript interpreter
/// on a batch whose mean is above 0.5 (a white crop: "The size of tensor a (S) must match the
/// size of tensor b (5)"): a failure at inference, as an out-of-memory in a real run.
void save_failing_classifier(const std::filesystem::path& file);

/// A CNN of the demo classifier's shape (tools/demo_classifier.h) with fixed random weights:
/// [B, 3, 32, 32] -> conv 5x5/2 (W) -> conv 3x3 + pool (2W) -> conv 3x3 + pool (4W) -> 128 ->
/// `classes` logits. Its answers mean nothing; its forward costs what a real one does (benchmarks).
/// A 3-class classifier (mean colour) that raises CUDA's out-of-memory error for a batch above
/// `limit`: the out-of-memory paths, on the CPU.
void save_oom_above_classifier(const std::filesystem::path& file, int limit);

/// A 3-class classifier (mean colour) that fails on any batch but exactly `batch` rows: checks
/// that the worker fills its batches.
void save_exact_batch_classifier(const std::filesystem::path& file, int batch);

/// A 3-class classifier (mean colour) that fails on a batch of fewer than `min` or more than
/// `max` rows: checks that the worker runs no sliver batches.
void save_batch_range_classifier(const std::filesystem::path& file, int min, int max);

void save_conv_classifier(const std::filesystem::path& file, int classes, int width = 32);

/// A classifier whose output has `classes` columns whatever the input (wrong-shape tests).
void save_fixed_width_classifier(const std::filesystem::path& file, int classes);

/// A detector returning the same raw output for every image of the batch: `rows` x `cols`
/// values laid out as given, the batch dimension added in front. `names_json` is stored as
/// the extra file config.txt when not empty.
void save_constant_detector(const std::filesystem::path& file, const std::vector<float>& values, int rows, int cols,
                            const std::string& names_json);

/// The yolov8 fixture of the model and GPU tests: raw output [4 + 2 classes (cat, dog), 4
/// anchors] for a 200x100 image letterboxed into 64 (r = 0.32, 16 px padding above and
/// below); names in config.txt.
void save_two_class_yolov8(const std::filesystem::path& file);

/// A detector shaped like an Ultralytics YOLOv8 export traced at `size` (two classes, cat and
/// dog): output [B, 6, A] with A = (size / 8)^2 anchors, added to a plain tensor attribute
/// `anchors` [1, 6, A] (neither parameter nor buffer: what a traced export keeps as a constant,
/// and Module::to() does not move). Any batch size is taken, but any other input size fails
/// with LibTorch's "The size of tensor a (...) must match the size of tensor b (...)". Anchor 0
/// holds a cat (0.9; dog 0.05) at input pixels (S/4, 3S/8)-(3S/4, 5S/8); the others score 0.
/// With `batch_one_only` the forward reshapes its input to one row, as a graph traced with a
/// fixed view does, so only batches of 1 are taken. `config_txt` (when not empty) is stored as
/// config.txt.
void save_ultralytics_like_detector(const std::filesystem::path& file, int size, const std::string& config_txt,
                                    bool batch_one_only = false);

/// A detector of any input size S (as a dynamic=True export): output [B, 6, 1], one cat (0.9;
/// dog 0.05) of 10 x 10 input pixels centred in the input. `config_txt` as above.
void save_dynamic_detector(const std::filesystem::path& file, const std::string& config_txt);

/// A classifier with fp16 weights (as an export with half=True): a 1x1 convolution with weight
/// 10 x identity [3, 3, 1, 1] and bias (0, 1, 2), both torch.half, then the mean over the
/// crop: logits 10 x (channel means) + (0, 1, 2). `config_txt` as above.
void save_half_conv_classifier(const std::filesystem::path& file, const std::string& config_txt);

/// A yolov8-layout detector for 32 x 32 inputs (model.input_size 32) that finds colour in
/// each quadrant: one anchor per 16 x 16 cell (row by row: top-left, top-right, bottom-left,
/// bottom-right), its box the cell, its scores for red, green, blue the cell's mean R, G, B in
/// [0, 1]. A pure-colour quadrant scores 1 for its colour and 0 for the others; a black one 0.
/// Names red, green, blue in config.txt (with Ultralytics' imgsz [32, 32]). `spin` extra
/// matrix products per forward make it slow (interruption tests).
void save_quadrant_detector(const std::filesystem::path& file, int spin = 0);

/// A text model (model.type text) that knows a few keywords: forward(input_ids [B, L],
/// attention_mask [B, L]). Token id t (taken modulo `vocab`) votes 5 for class c when t is in
/// `class_ids[c]`; other ids vote nothing. Classes (embed false): the masked sum of votes,
/// [B, C] logits. Embed: the votes of each token, [B, L, C] (a mean pooled by the worker).
/// `names_json` goes to config.txt when not empty; `spin` extra matrix products per forward
/// make it slow (interruption tests).
void save_keyword_text_model(const std::filesystem::path& file, int vocab,
                             const std::vector<std::vector<int64_t>>& class_ids, const std::string& names_json,
                             bool embed, int spin = 0);

/// A text classifier with fixed random weights (benchmarks: its answers mean nothing, its
/// forward costs what a real one of this shape does). `conv_layers` 0: the text demo's shape,
/// an embedding bag (masked mean of [buckets, dim] rows, then a linear layer to `classes`);
/// more: that many 1-D convolutions of width 3 over the token vectors before the mean, a
/// stand-in for a heavier encoder.
void save_random_text_classifier(const std::filesystem::path& file, int64_t buckets, int dim, int classes,
                                 int conv_layers);

}  // namespace lv::test
