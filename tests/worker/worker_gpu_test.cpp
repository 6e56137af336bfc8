// The CUDA path of the TorchScript backends (worker/torchscript_model.cpp): load_model picks
// cuda:0, fp32 and fp16 outputs against values known from the models' definitions, and forward
// timings at batch 32, CPU against CUDA. Without CUDA every case only warns; run with
// --skip-without-cuda (as ctest does) the program exits 77 at once, which ctest reports as
// skipped (label gpu). No OpenCV: inputs are built by hand. LibTorch stays in gpu_helpers.cpp
// and test_models.cpp.
#if !defined(LV_CATCH2_V3)
#define CATCH_CONFIG_RUNNER
#endif
#include "worker_catch.h"
#if defined(LV_CATCH2_V3)
#include <catch2/catch_session.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <random>
#include <string_view>

#include "error.h"
#include "geometry.h"
#include "gpu_helpers.h"
#include "model.h"
#include "test_models.h"
#include "test_util.h"

using namespace lv;
namespace fs = std::filesystem;
namespace gpu = lv::test::gpu;

namespace {

/// softmax in double.
std::vector<double> softmax(const std::vector<double>& logits) {
  const double top = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(logits[i] - top);
  for (double& v : p) v /= sum;
  return p;
}

/// load_model with a readable failure: the lv::Error message (e.g. LibTorch's) ends up in the report.
std::unique_ptr<Model> load_or_fail(const Config& c, const std::vector<std::string>& classes) {
  try {
    return load_model(c, classes);
  } catch (const std::exception& e) {
    FAIL("load_model threw: " << e.what());
  }
  return nullptr;
}

Config classifier_config(const fs::path& model, int size, bool fp16) {
  Config c;
  c.model.path = model;
  c.model.type = ModelType::classifier;
  c.model.input_size = size;
  c.processing.fp16 = fp16;
  c.processing.batch_size = 32;
  return c;
}

/// `count` crops of S x S: crop 0 pure red, crop 1 left half red and right half green, the rest
/// uniform random bytes.
ModelInput colour_crops(int count, int s, uint32_t seed) {
  ModelInput in;
  in.count = count;
  in.data.assign(static_cast<size_t>(count) * 3 * s * s, 0);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(0, 255);
  const size_t plane = static_cast<size_t>(s) * s;
  for (int k = 0; k < count; ++k) {
    uint8_t* crop = in.data.data() + static_cast<size_t>(k) * 3 * plane;
    for (int y = 0; y < s; ++y)
      for (int x = 0; x < s; ++x) {
        const size_t at = static_cast<size_t>(y) * s + x;
        if (k == 0) {
          crop[at] = 255;
        } else if (k == 1) {
          crop[(x < s / 2 ? 0 : plane) + at] = 255;
        } else {
          for (int c = 0; c < 3; ++c) crop[c * plane + at] = static_cast<uint8_t>(u(rng));
        }
      }
  }
  return in;
}

/// The crops as the floats the model sees.
std::vector<float> floats_of(const ModelInput& in, int s) {
  std::vector<float> out(static_cast<size_t>(in.count) * 3 * s * s);
  in.write_floats(0, in.count, s, out.data());
  return out;
}

/// The mean-colour classifier's probabilities by hand: softmax(scale * channel means).
std::vector<std::vector<double>> mean_colour_expected(const ModelInput& in, int s, double scale) {
  std::vector<std::vector<double>> out;
  const size_t plane = static_cast<size_t>(s) * s;
  const std::vector<float> floats = floats_of(in, s);
  for (int k = 0; k < in.count; ++k) {
    std::vector<double> logits(3, 0.0);
    for (int c = 0; c < 3; ++c) {
      const float* p = floats.data() + (static_cast<size_t>(k) * 3 + c) * plane;
      double sum = 0;
      for (size_t i = 0; i < plane; ++i) sum += p[i];
      logits[c] = scale * sum / static_cast<double>(plane);
    }
    out.push_back(softmax(logits));
  }
  return out;
}

double max_abs_diff(const std::vector<std::vector<float>>& got, const std::vector<std::vector<double>>& want) {
  double d = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i)
    for (size_t j = 0; j < got[i].size() && j < want[i].size(); ++j)
      d = std::max(d, std::abs(static_cast<double>(got[i][j]) - want[i][j]));
  return d;
}

struct ExpectedDetection {
  int cls;
  double score;
  Box box;
};

void check_detections(const std::vector<Detection>& got, const std::vector<ExpectedDetection>& want, double score_tol,
                      double box_tol, double& worst_score, double& worst_box) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("detection " << i);
    CHECK(got[i].cls == want[i].cls);
    const double ds = std::abs(got[i].score - want[i].score);
    const double db = std::max({std::abs(got[i].box.x1 - want[i].box.x1), std::abs(got[i].box.y1 - want[i].box.y1),
                                std::abs(got[i].box.x2 - want[i].box.x2), std::abs(got[i].box.y2 - want[i].box.y2)});
    CHECK(ds <= score_tol);
    CHECK(db <= box_tol);
    worst_score = std::max(worst_score, ds);
    worst_box = std::max(worst_box, db);
  }
}

/// One black 200 x 100 image letterboxed into 64 (r = 0.32, 16 px above and below).
ModelInput letterboxed_black() {
  ModelInput in;
  in.count = 1;
  in.data.assign(3 * 64 * 64, 0);
  in.letterbox = compute_letterbox(200, 100, 64);
  in.image_w = 200;
  in.image_h = 100;
  return in;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("gpu: mean-colour classifier on cuda:0 gives softmax(scale * channel means), fp32 and fp16", "[gpu]") {
  if (!gpu::cuda_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  test::TempDir dir;
  const int s = 32;
  const double scale = 10.0;
  const ModelInput in = colour_crops(40, s, 1);  // 40 crops: batches of 32 and 8
  const auto want = mean_colour_expected(in, s, scale);
  REQUIRE(want[0][0] == Approx(22026.4658 / (22026.4658 + 2)).epsilon(1e-6));  // the hand formula itself
  for (bool fp16 : {false, true}) {
    for (bool probabilities : {true, false}) {
      INFO("fp16 " << fp16 << ", model returns " << (probabilities ? "probabilities" : "logits"));
      const fs::path file = dir / (probabilities ? "p.pt" : "l.pt");
      test::save_mean_colour_classifier(file, scale, probabilities);
      const auto model = load_or_fail(classifier_config(file, s, fp16), {"red", "green", "blue"});
      CHECK(model->device() == (fp16 ? "cuda:0 (fp16)" : "cuda:0"));
      const auto out = model->infer({&in});
      REQUIRE(out.size() == 1);
      REQUIRE(out[0].box_scores.size() == 40);
      for (const auto& row : out[0].box_scores) REQUIRE(row.size() == 3);
      const double diff = max_abs_diff(out[0].box_scores, want);
      std::cout << "[gpu] mean-colour " << (probabilities ? "probabilities" : "logits") << " on " << model->device()
                << ": max |CUDA - hand| = " << diff << " over 40 crops x 3 classes\n";
      CHECK(diff <= (fp16 ? 1e-2 : 1e-5));
    }
  }
}

TEST_CASE("gpu: yolov8 and yolov5 constant detectors give the CPU's detections on cuda:0, fp32 and fp16", "[gpu]") {
  if (!gpu::cuda_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  test::TempDir dir;
  test::save_two_class_yolov8(dir / "v8.pt");  // the yolov8 case of worker_model_test.cpp
  // What the CPU gives (worker_model_test.cpp), by hand: input box -> x / 0.32, (y - 16) / 0.32;
  // anchor 1 is suppressed by anchor 0 (same class, IoU 0.97).
  const std::vector<ExpectedDetection> v8_want = {
      {1, 0.97, {143.75, 37.5, 168.75, 62.5}},
      {1, 0.95, {20, 40, 40, 60}},
      {0, 0.9, {50, 25, 150, 75}},
  };
  test::save_constant_detector(dir / "v5.pt", {32, 32, 32, 16, 0.9f, 0.9f, 0.1f, 9.6f, 32, 6.4f, 6.4f, 0.2f, 0.9f, 0.1f}, 2,
                               7, "");
  const std::vector<ExpectedDetection> v5_want = {{0, 0.81, {50, 25, 150, 75}}};

  const ModelInput in = letterboxed_black();
  for (bool fp16 : {false, true}) {
    INFO("fp16 " << fp16);
    const double score_tol = fp16 ? 2e-3 : 1e-5;
    const double box_tol = fp16 ? 0.1 : 1e-3;
    double worst_score = 0, worst_box = 0;

    Config c = classifier_config(dir / "v8.pt", 64, fp16);
    c.model.type = ModelType::yolov8;
    const auto m8 = load_or_fail(c, {"cat", "dog"});
    CHECK(m8->device() == (fp16 ? "cuda:0 (fp16)" : "cuda:0"));
    const auto out8 = m8->infer({&in, &in, &in});
    REQUIRE(out8.size() == 3);
    for (const auto& o : out8) check_detections(o.detections, v8_want, score_tol, box_tol, worst_score, worst_box);
    REQUIRE(!out8[0].detections.empty());
    REQUIRE(out8[0].detections[2].probs.size() == 2);
    CHECK(std::abs(out8[0].detections[2].probs[1] - 0.05) <= score_tol);

    Config c5 = classifier_config(dir / "v5.pt", 64, fp16);
    c5.model.type = ModelType::yolov5;
    const auto m5 = load_or_fail(c5, {"cat", "dog"});
    const auto out5 = m5->infer({&in});
    REQUIRE(out5.size() == 1);
    check_detections(out5[0].detections, v5_want, score_tol, box_tol, worst_score, worst_box);
    std::cout << "[gpu] yolov8/yolov5 on " << m8->device() << ": max |score - CPU| = " << worst_score
              << ", max |box - CPU| = " << worst_box << " px\n";
  }
}

TEST_CASE("gpu: Ultralytics-like exports (a tensor attribute, a dynamic graph) load onto cuda:0 whole", "[gpu]") {
  if (!gpu::cuda_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  test::TempDir dir;
  // Anchors as a plain tensor attribute, as a traced export keeps its constants: Module::to()
  // would leave them on the CPU ("Expected all tensors to be on the same device").
  test::save_ultralytics_like_detector(dir / "traced.pt", 32,
                                       R"({"stride": 32, "task": "detect", "batch": 1, "imgsz": [32, 32], )"
                                       R"("names": {"0": "cat", "1": "dog"}})");
  test::save_dynamic_detector(dir / "dynamic.pt", R"({"imgsz": 32, "args": {"dynamic": true}, "names": ["cat", "dog"]})");
  ModelInput in;  // a black 200 x 100 image letterboxed into 32 (scale 0.16, 8 px above)
  in.count = 1;
  in.data.assign(3 * 32 * 32, 0);
  in.letterbox = compute_letterbox(200, 100, 32);
  in.image_w = 200;
  in.image_h = 100;
  for (bool fp16 : {false, true}) {
    INFO("fp16 " << fp16);
    const double score_tol = fp16 ? 2e-3 : 1e-5, box_tol = fp16 ? 0.2 : 1e-3;
    double worst_score = 0, worst_box = 0;
    for (const char* name : {"traced.pt", "dynamic.pt"}) {
      INFO(name);
      Config c = classifier_config(dir / name, 64, fp16);  // input_size left out: the export's imgsz, 32
      c.model.type = ModelType::yolov8;
      c.processing.batch_size = 4;
      const auto m = load_or_fail(c, {"cat", "dog"});
      CHECK(m->device() == (fp16 ? "cuda:0 (fp16)" : "cuda:0"));
      CHECK(m->input_size() == 32);
      CHECK(m->batch_size() == 4);
      const auto out = m->infer({&in, &in, &in, &in, &in});
      REQUIRE(out.size() == 5);
      // traced: input (8, 12)-(24, 20); dynamic: a 10 px box at the centre, (11, 11)-(21, 21).
      const ExpectedDetection want = std::string(name) == "traced.pt" ? ExpectedDetection{0, 0.9, {50, 25, 150, 75}}
                                                                      : ExpectedDetection{0, 0.9, {68.75, 18.75, 131.25, 81.25}};
      for (const auto& o : out) check_detections(o.detections, {want}, score_tol, box_tol, worst_score, worst_box);
    }
    std::cout << "[gpu] Ultralytics-like exports on cuda:0" << (fp16 ? " (fp16)" : "") << ": max |score - hand| = "
              << worst_score << ", max |box - hand| = " << worst_box << " px\n";
  }
}

TEST_CASE("gpu: fp16 weights (an export with half=True) run in fp16 on cuda:0 even with processing.fp16 false",
          "[gpu]") {
  if (!gpu::cuda_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  test::TempDir dir;
  test::save_half_conv_classifier(dir / "half.pt", R"({"args": {"half": true}, "names": ["red", "green", "blue"]})");
  const ModelInput in = colour_crops(2, 32, 1);  // pure red; left half red, right half green
  // Logits 10 x channel means + (0, 1, 2): (10, 1, 2) and (5, 6, 2).
  const std::vector<std::vector<double>> want = {softmax({10, 1, 2}), softmax({5, 6, 2})};
  for (bool fp16 : {false, true}) {
    INFO("fp16 " << fp16);
    const auto model = load_or_fail(classifier_config(dir / "half.pt", 32, fp16), {"red", "green", "blue"});
    CHECK(model->device() == "cuda:0 (fp16)");
    const auto out = model->infer({&in});
    REQUIRE(out[0].box_scores.size() == 2);
    const double diff = max_abs_diff(out[0].box_scores, want);
    std::cout << "[gpu] fp16-weight classifier, processing.fp16 " << fp16 << ": max |CUDA - hand| = " << diff << "\n";
    CHECK(diff <= 1e-2);
  }
}

TEST_CASE("gpu: conv classifier at batch 32, CUDA against CPU, and forward timings", "[gpu]") {
  if (!gpu::cuda_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  test::TempDir dir;
  const int s = 224, n = 32;
  gpu::save_conv_classifier(dir / "conv.pt", 3, 7);
  const ModelInput in = colour_crops(n, s, 2);
  // The CPU reference: the same module forwarded by LibTorch on the CPU, softmax in double.
  const std::vector<float> logits = gpu::cpu_forward(dir / "conv.pt", floats_of(in, s), n, s);
  REQUIRE(logits.size() == static_cast<size_t>(n) * 3);
  std::vector<std::vector<double>> want;
  for (int k = 0; k < n; ++k) want.push_back(softmax({logits[k * 3], logits[k * 3 + 1], logits[k * 3 + 2]}));

  for (bool fp16 : {false, true}) {
    INFO("fp16 " << fp16);
    const auto model = load_or_fail(classifier_config(dir / "conv.pt", s, fp16), {"a", "b", "c"});
    CHECK(model->device() == (fp16 ? "cuda:0 (fp16)" : "cuda:0"));
    auto out = model->infer({&in});  // also the warm-up of the timing below
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].box_scores.size() == static_cast<size_t>(n));
    const double diff = max_abs_diff(out[0].box_scores, want);
    // fp32 convolutions on CUDA may run in TF32 (cuDNN's default): looser than the 1e-5 above.
    CHECK(diff <= (fp16 ? 2e-2 : 5e-3));
    const int reps = 10;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) out = model->infer({&in});
    const double infer_ms = ms_since(t0) / reps;
    std::cout << "[gpu] conv classifier 224x224 on " << model->device() << ": max |CUDA - CPU| probability = " << diff
              << "; worker infer() of 32 crops (host data in, host scores out) " << infer_ms << " ms\n";
  }

  const double cpu_ms = gpu::forward_ms(dir / "conv.pt", gpu::Where::cpu, n, s, 5, 2);
  const double cuda_ms = gpu::forward_ms(dir / "conv.pt", gpu::Where::cuda, n, s, 50);
  const double half_ms = gpu::forward_ms(dir / "conv.pt", gpu::Where::cuda_fp16, n, s, 50);
  std::cout << "[gpu] conv classifier forward, batch 32 x 3 x 224 x 224, data on the device: CPU (" << gpu::cpu_threads()
            << " threads) " << cpu_ms << " ms, CUDA fp32 " << cuda_ms << " ms, CUDA fp16 " << half_ms << " ms\n";
  test::save_mean_colour_classifier(dir / "mean.pt", 10.0, true);
  const double mean_cpu = gpu::forward_ms(dir / "mean.pt", gpu::Where::cpu, n, s, 20);
  double mean_cuda = -1;
  try {
    mean_cuda = gpu::forward_ms(dir / "mean.pt", gpu::Where::cuda, n, s, 50);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what.resize(std::min<size_t>(what.size(), 400));
    std::cout << "[gpu] mean-colour classifier forward on CUDA failed: " << what << "\n";
  }
  std::cout << "[gpu] mean-colour classifier forward, batch 32 x 3 x 224 x 224: CPU " << mean_cpu << " ms, CUDA fp32 "
            << mean_cuda << " ms\n";
  CHECK(cpu_ms > 0);
}

int main(int argc, char* argv[]) {
  std::vector<char*> args;
  bool skip_without_cuda = false;
  for (int i = 0; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--skip-without-cuda")
      skip_without_cuda = true;
    else
      args.push_back(argv[i]);
  }
  if (skip_without_cuda && !gpu::cuda_available()) {
    std::cout << "no CUDA device: skipped\n";
    return 77;  // ctest: SKIP_RETURN_CODE 77
  }
  return Catch::Session().run(static_cast<int>(args.size()), args.data());
}
