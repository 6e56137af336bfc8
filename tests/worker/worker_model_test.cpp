// The TorchScript backends against models whose outputs are known by construction.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "error.h"
#include "image_io.h"
#include "model.h"
#include "test_models.h"
#include "test_util.h"
#include "verdict.h"
#include "worker_catch.h"

using namespace lv;
namespace fs = std::filesystem;

namespace {

/// 100x100: left half pure red, right half pure green (BGR in memory).
cv::Mat red_green() {
  cv::Mat m(100, 100, CV_8UC3, cv::Scalar(0, 255, 0));
  m(cv::Rect(0, 0, 50, 100)).setTo(cv::Scalar(0, 0, 255));
  return m;
}

Config classifier_config(const fs::path& model) {
  Config c;
  c.model.path = model;
  c.model.type = ModelType::classifier;
  c.model.input_size = 32;
  return c;
}

LabelBox box(int cls, double cx, double cy, double w, double h) { return {cls, cx, cy, w, h, 1}; }

// softmax([10, 0, 0])[0] = e^10 / (e^10 + 2)
const double kPureRed = 22026.4658 / (22026.4658 + 2);
// softmax([5, 5, 0]) = e^5 / (2 e^5 + 1) twice, then 1 / (2 e^5 + 1)
const double kHalfHalf = 148.413159 / (2 * 148.413159 + 1);
const double kHalfBlue = 1 / (2 * 148.413159 + 1);

}  // namespace

TEST_CASE("classifier: mean-colour model gives hand-computed probabilities", "[worker][model]") {
  test::TempDir dir;
  for (bool probabilities : {true, false}) {
    const fs::path file = dir / (probabilities ? "p.pt" : "l.pt");
    test::save_mean_colour_classifier(file, 10.0, probabilities);
    const auto model = load_model(classifier_config(file), {"red", "green", "blue"});
    CHECK(model->device() == "cpu");
    const ModelInput in = prepare_crops(red_green(), {box(0, 0.25, 0.5, 0.5, 1.0), box(0, 0.5, 0.5, 0.5, 1.0)}, 32, 0.0,
                                        {0, 0, 0}, {1, 1, 1});
    REQUIRE(in.count == 2);
    const auto out = model->infer({&in});
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].box_scores.size() == 2);
    // Logits get a softmax; probabilities are taken as they are (a second softmax would give 0.58).
    CHECK(out[0].box_scores[0][0] == Approx(kPureRed).epsilon(1e-4));
    CHECK(out[0].box_scores[1][0] == Approx(kHalfHalf).epsilon(1e-3));
    CHECK(out[0].box_scores[1][1] == Approx(kHalfHalf).epsilon(1e-3));
    CHECK(out[0].box_scores[1][2] == Approx(kHalfBlue).epsilon(1e-2));
  }
}

TEST_CASE("a model failing on a batch is one line naming the model, without traceback or backtrace",
          "[worker][model]") {
  test::TempDir dir;
  const fs::path file = dir / "failing.pt";
  test::save_failing_classifier(file);
  const auto model = load_model(classifier_config(file), {"red", "green", "blue"});  // zeros at warm-up: fine
  const cv::Mat white(40, 40, CV_8UC3, cv::Scalar(255, 255, 255));
  const ModelInput in = prepare_crops(white, {box(0, 0.5, 0.5, 1.0, 1.0)}, 32, 0.0, {0, 0, 0}, {1, 1, 1});
  std::string message;
  try {
    model->infer({&in});
  } catch (const Error& e) {
    message = e.what();
  }
  INFO(message);
  CHECK(message.find(file.string() + ": the model failed on a batch of 1: ") == 0);
  CHECK(message.find("must match the size of tensor b (5)") != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);  // the orchestrator reads the log's last lines
}

TEST_CASE("classifier: crops of many images are batched and split back in order", "[worker][model]") {
  test::TempDir dir;
  test::save_mean_colour_classifier(dir / "m.pt", 10.0, true);
  Config c = classifier_config(dir / "m.pt");
  c.processing.batch_size = 2;  // 5 crops: batches of 2, 2, 1
  const auto model = load_model(c, {"red", "green", "blue"});
  const cv::Mat img = red_green();
  const ModelInput a = prepare_crops(img, {box(0, 0.25, 0.5, 0.5, 1), box(0, 0.75, 0.5, 0.5, 1)}, 32, 0, {0, 0, 0}, {1, 1, 1});
  const ModelInput none = prepare_crops(img, {}, 32, 0, {0, 0, 0}, {1, 1, 1});
  const ModelInput b = prepare_crops(img, {box(0, 0.75, 0.5, 0.5, 1), box(0, 0.25, 0.5, 0.5, 1), box(0, 0.8, 0.2, 0.2, 0.2)},
                                     32, 0, {0, 0, 0}, {1, 1, 1});
  const auto out = model->infer({&a, &none, &b});
  REQUIRE(out.size() == 3);
  CHECK(out[0].box_scores.size() == 2);
  CHECK(out[1].box_scores.empty());
  REQUIRE(out[2].box_scores.size() == 3);
  auto argmax = [](const std::vector<float>& p) { return std::max_element(p.begin(), p.end()) - p.begin(); };
  CHECK(argmax(out[0].box_scores[0]) == 0);
  CHECK(argmax(out[0].box_scores[1]) == 1);
  CHECK(argmax(out[2].box_scores[0]) == 1);
  CHECK(argmax(out[2].box_scores[1]) == 0);
  CHECK(argmax(out[2].box_scores[2]) == 1);
}

TEST_CASE("classifier: crop margin pulls in context", "[worker][model]") {
  test::TempDir dir;
  test::save_mean_colour_classifier(dir / "m.pt", 3.0, true);
  const auto model = load_model(classifier_config(dir / "m.pt"), {"red", "green", "blue"});
  // Box x 25..50 (red); with a margin of one box size: x 0..75, two thirds red, one third green.
  const ModelInput in = prepare_crops(red_green(), {box(0, 0.375, 0.5, 0.25, 1.0)}, 32, 1.0, {0, 0, 0}, {1, 1, 1});
  const auto out = model->infer({&in});
  // softmax(3 * [2/3, 1/3, 0]) = [e^2, e^1, 1] / (e^2 + e + 1)
  const double sum = 7.389056 + 2.718282 + 1;
  CHECK(out[0].box_scores[0][0] == Approx(7.389056 / sum).epsilon(0.02));
  CHECK(out[0].box_scores[0][1] == Approx(2.718282 / sum).epsilon(0.05));
}

TEST_CASE("classifier: mean and std normalise RGB in [0, 1]", "[worker][model]") {
  // Red pixel (1, 0, 0) with mean 0.5, std 0.25 -> (2, -2, -2); scale 1 -> softmax([2, -2, -2]).
  const ModelInput in = prepare_crops(red_green(), {box(0, 0.25, 0.5, 0.5, 1.0)}, 8, 0, {0.5, 0.5, 0.5}, {0.25, 0.25, 0.25});
  REQUIRE(in.count == 1);
  std::vector<float> data(3 * 8 * 8, 0.0f);
  in.write_floats(0, 1, 8, data.data());
  CHECK(data[0] == Approx(2.0));
  CHECK(data[64] == Approx(-2.0));
  CHECK(data[128] == Approx(-2.0));
}

TEST_CASE("the model normalises 8-bit rows on its device bit for bit as write_floats does", "[worker][model]") {
  // Random pixels, ImageNet's mean and std (every factor inexact), and the detectors' x / 255.
  cv::Mat noise(40, 60, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(256));
  const std::vector<LabelBox> boxes{box(0, 0.3, 0.4, 0.5, 0.6), box(1, 0.7, 0.5, 0.4, 0.9), box(0, 0.5, 0.5, 1, 1)};
  for (const bool imagenet : {true, false}) {
    INFO("imagenet " << imagenet);
    const std::vector<double> mean = imagenet ? std::vector<double>{0.485, 0.456, 0.406} : std::vector<double>{0, 0, 0};
    const std::vector<double> std = imagenet ? std::vector<double>{0.229, 0.224, 0.225} : std::vector<double>{1, 1, 1};
    const ModelInput in = prepare_crops(noise, boxes, 8, 0.1, mean, std);
    std::vector<float> expected(3 * 3 * 8 * 8);
    in.write_floats(0, 3, 8, expected.data());
    // The host reference by its definition: (x / 255 - mean) / std, near the floats given.
    std::vector<uint8_t> bytes(expected.size());
    in.write(0, 3, 8, bytes.data());
    for (size_t i = 0; i < bytes.size(); i += 37) {
      const size_t c = (i / 64) % 3;
      CHECK(expected[i] == Approx((bytes[i] / 255.0 - mean[c]) / std[c]).margin(1e-5));
    }
    test::TempDir dir;
    test::save_input_checking_classifier(dir / "m.pt", expected, 3, 8);
    Config c = classifier_config(dir / "m.pt");
    c.model.input_size = 8;
    c.processing.batch_size = 3;
    const auto model = load_model(c, {"same", "different"});
    const auto out = model->infer({&in});
    REQUIRE(out[0].box_scores.size() == 3);
    for (const auto& scores : out[0].box_scores) CHECK(scores[0] == 1.0f);
    // And the check can fail: one pixel different is seen.
    expected[100] += 1e-6f;
    test::save_input_checking_classifier(dir / "m.pt", expected, 3, 8);
    CHECK(load_model(c, {"same", "different"})->infer({&in})[0].box_scores[0][0] == 0.0f);
  }
}

TEST_CASE("classifier: crops are made on demand, any range of them, the same as one by one", "[worker][model]") {
  // Left half red, right half green: crop 0 is red, crop 1 green, crop 2 straddles both.
  const std::vector<LabelBox> boxes{box(0, 0.25, 0.5, 0.5, 1), box(0, 0.75, 0.5, 0.5, 1), box(0, 0.5, 0.5, 0.5, 1)};
  const ModelInput in = prepare_crops(red_green(), boxes, 4, 0, {0, 0, 0}, {1, 1, 1}, /*eager_bytes=*/0);
  REQUIRE(in.count == 3);
  CHECK(in.data.empty());  // nothing held until the model asks
  // Few crops are made at once, on the decoding thread, and equal those made on demand.
  const ModelInput eager = prepare_crops(red_green(), boxes, 4, 0, {0, 0, 0}, {1, 1, 1});
  CHECK_FALSE(eager.fill);
  REQUIRE(eager.data.size() == 3 * 3 * 4 * 4);
  const size_t per = 3 * 4 * 4;
  std::vector<uint8_t> all(3 * per), middle(2 * per);
  in.write(0, 3, 4, all.data());
  in.write(1, 2, 4, middle.data());
  CHECK(all[0] == 255);        // crop 0, R plane
  CHECK(all[16] == 0);         // crop 0, G plane
  CHECK(all[per] == 0);        // crop 1, R plane
  CHECK(all[per + 16] == 255); // crop 1, G plane
  CHECK(std::equal(middle.begin(), middle.end(), all.begin() + static_cast<std::ptrdiff_t>(per)));
  CHECK(eager.data == all);
}

TEST_CASE("aliases sum model classes, unmapped classes are never suggested", "[worker][model]") {
  test::TempDir dir;
  test::save_mean_colour_classifier(dir / "m.pt", 10.0, true);
  Config c = classifier_config(dir / "m.pt");
  c.model.class_names = {"red", "green", "blue"};
  c.model.aliases = {{"warm", {"red", "blue"}}};
  const auto model = load_model(c, {"warm", "green"});
  const ModelInput in = prepare_crops(red_green(), {box(0, 0.5, 0.5, 0.5, 1.0)}, 32, 0, {0, 0, 0}, {1, 1, 1});
  const auto out = model->infer({&in});
  REQUIRE(out[0].box_scores[0].size() == 2);
  // warm = p(red) + p(blue) = 0.49832 + 0.00336 = 0.50168 >= 0.5: correct, though red alone is not.
  CHECK(out[0].box_scores[0][0] == Approx(kHalfHalf + kHalfBlue).epsilon(1e-3));
  const BoxResult r = judge_classification(out[0].box_scores[0], 0, model->covered(), {});
  CHECK(r.verdict == Verdict::correct);

  // Without blue in the dataset, a blue crop labelled red is uncertain, never "blue".
  Config rg = classifier_config(dir / "m.pt");
  rg.model.class_names = {"red", "green", "blue"};
  const auto plain = load_model(rg, {"red", "green"});
  CHECK(plain->covered() == std::vector<bool>{true, true});
  const ModelInput blue = prepare_crops(cv::Mat(20, 20, CV_8UC3, cv::Scalar(255, 0, 0)), {box(0, 0.5, 0.5, 1, 1)}, 32, 0,
                                        {0, 0, 0}, {1, 1, 1});
  const auto po = plain->infer({&blue});
  CHECK(po[0].box_scores[0][0] < 0.001f);
  const BoxResult b = judge_classification(po[0].box_scores[0], 0, plain->covered(), {});
  CHECK(b.verdict == Verdict::uncertain);
  CHECK(b.reason == "low_confidence");
  CHECK(b.suggested == -1);
}

TEST_CASE("model load failures exit 3 naming the file and the shapes", "[worker][model]") {
  test::TempDir dir;
  auto load_error = [&](const Config& c, const std::vector<std::string>& classes) {
    try {
      load_model(c, classes);
    } catch (const Error& e) {
      return std::make_pair(e.code(), std::string(e.what()));
    }
    return std::make_pair(ExitCode::ok, std::string());
  };
  auto [code, msg] = load_error(classifier_config(dir / "missing.pt"), {"a"});
  CHECK(code == ExitCode::model_load);
  CHECK(msg.find((dir / "missing.pt").string()) != std::string::npos);
  test::write_text(dir / "corrupt.pt", "this is not a zip archive");
  std::tie(code, msg) = load_error(classifier_config(dir / "corrupt.pt"), {"a"});
  CHECK(code == ExitCode::model_load);
  CHECK(msg.find("corrupt.pt: model.path: cannot load the TorchScript model: ") != std::string::npos);

  test::save_fixed_width_classifier(dir / "five.pt", 5);
  std::tie(code, msg) = load_error(classifier_config(dir / "five.pt"), {"a", "b", "c"});
  CHECK(code == ExitCode::model_load);
  // The warm-up runs at the real batch shape (processing.batch_size 32).
  CHECK(msg.find("model output shape [32, 5] for a warm-up batch of 32 does not fit model.type classifier with 3 "
                 "classes (expected [32, 3])") != std::string::npos);

  Config v8 = classifier_config(dir / "five.pt");
  v8.model.type = ModelType::yolov8;
  std::tie(code, msg) = load_error(v8, {"a", "b", "c"});
  CHECK(code == ExitCode::model_load);
  CHECK(msg.find("[32, 5] for a warm-up batch of 32 does not fit model.type yolov8 with 3 classes (expected [32, 7, "
                 "A] (4 + 3 classes))") != std::string::npos);
}

TEST_CASE("yolov8: letterbox inverted, class-aware NMS, verdicts by hand", "[worker][model]") {
  test::TempDir dir;
  test::save_two_class_yolov8(dir / "v8.pt");
  Config c = classifier_config(dir / "v8.pt");
  c.model.type = ModelType::yolov8;
  c.model.input_size = 64;
  const auto model = load_model(c, {"cat", "dog"});
  CHECK(model->classes().model == std::vector<std::string>{"cat", "dog"});
  const ModelInput in = prepare_letterbox(cv::Mat(100, 200, CV_8UC3, cv::Scalar(0, 0, 0)), 64);
  CHECK((in.letterbox.top == 16 && in.letterbox.left == 0));
  const auto out = model->infer({&in, &in});
  REQUIRE(out.size() == 2);
  const auto& d = out[1].detections;
  REQUIRE(d.size() == 3);  // anchor 1 overlaps anchor 0 (IoU 0.97), same class: suppressed
  CHECK(d[0].cls == 1);
  CHECK(d[0].score == Approx(0.97f));
  // Anchor 3: input (46, 28)-(54, 36) -> x / 0.32, (y - 16) / 0.32.
  CHECK(d[0].box.x1 == Approx(143.75));
  CHECK(d[0].box.y1 == Approx(37.5));
  CHECK(d[0].box.x2 == Approx(168.75));
  CHECK(d[0].box.y2 == Approx(62.5));
  CHECK(d[1].cls == 1);
  CHECK(d[1].score == Approx(0.95f));
  CHECK(d[2].cls == 0);
  CHECK(d[2].box.x1 == Approx(50));
  CHECK(d[2].box.y1 == Approx(25));
  CHECK(d[2].box.x2 == Approx(150));
  CHECK(d[2].box.y2 == Approx(75));

  // Label 0: cat at (50, 25)-(150, 75); label 1: cat at (20, 40)-(40, 60) where the model sees a dog.
  const std::vector<Box> labels = {from_yolo(0.5, 0.5, 0.5, 0.5, 200, 100), from_yolo(0.15, 0.5, 0.1, 0.2, 200, 100)};
  const auto j = judge_detections(labels, {0, 0}, {false, false}, d, out[0].weak, model->covered(), {});
  CHECK(j.boxes[0].verdict == Verdict::correct);
  CHECK(j.boxes[0].confidence == Approx(0.9f));
  CHECK(j.boxes[1].verdict == Verdict::mislabeled);
  CHECK(j.boxes[1].suggested == 1);
  REQUIRE(j.missing.size() == 1);
  CHECK(j.missing[0].score == Approx(0.97f));
}

TEST_CASE("yolov5: score is objectness times class score", "[worker][model]") {
  test::TempDir dir;
  // One row: cx cy w h obj cat dog, for the 200x100 image's centre box.
  test::save_constant_detector(dir / "v5.pt", {32, 32, 32, 16, 0.9f, 0.9f, 0.1f, 9.6f, 32, 6.4f, 6.4f, 0.2f, 0.9f, 0.1f}, 2,
                               7, "");
  Config c = classifier_config(dir / "v5.pt");
  c.model.type = ModelType::yolov5;
  c.model.input_size = 64;
  c.model.conf_threshold = 0.25;
  const auto model = load_model(c, {"cat", "dog"});  // no config.txt: names = dataset classes
  const ModelInput in = prepare_letterbox(cv::Mat(100, 200, CV_8UC3, cv::Scalar(0, 0, 0)), 64);
  const auto out = model->infer({&in});
  REQUIRE(out[0].detections.size() == 1);  // the second row scores 0.2 x 0.9 = 0.18 < 0.25
  CHECK(out[0].detections[0].score == Approx(0.81f));
  CHECK(out[0].detections[0].box.x1 == Approx(50));
}

TEST_CASE("yolov8: aliases sum class scores per anchor before NMS", "[worker][model]") {
  test::TempDir dir;
  test::save_two_class_yolov8(dir / "v8.pt");
  Config c = classifier_config(dir / "v8.pt");
  c.model.type = ModelType::yolov8;
  c.model.input_size = 64;
  c.model.aliases = {{"animal", {"cat", "dog"}}};
  const auto model = load_model(c, {"animal"});
  const ModelInput in = prepare_letterbox(cv::Mat(100, 200, CV_8UC3, cv::Scalar(0, 0, 0)), 64);
  const auto d = model->infer({&in})[0].detections;
  REQUIRE(d.size() == 3);
  CHECK(d[0].score == Approx(0.98f));   // anchor 3: 0.01 + 0.97
  CHECK(d[1].score == Approx(0.97f));   // anchor 2: 0.02 + 0.95
  CHECK(d[2].score == Approx(0.95f));   // anchor 0: 0.9 + 0.05 (anchor 1, 0.95, suppressed)
}

namespace {

/// The lv::Error load_model throws (code and message), or ExitCode::ok and "" when it loads.
std::pair<ExitCode, std::string> load_failure(const Config& c, const std::vector<std::string>& classes) {
  try {
    load_model(c, classes);
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  return {ExitCode::ok, ""};
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// config.txt as Ultralytics 8.0.81 writes it, for a model traced at 32.
const char* const kExport32 =
    R"({"description": "Ultralytics YOLOv8n model", "author": "Ultralytics", "version": "8.0.81", "stride": 32, )"
    R"("task": "detect", "batch": 1, "imgsz": [32, 32], "names": {"0": "cat", "1": "dog"}})";

/// A yolov8 config for `model` as a config file that leaves model.input_size out would give.
Config detector_config(const fs::path& model, int batch) {
  Config c = classifier_config(model);
  c.file = model.parent_path() / "config.yaml";
  c.model.type = ModelType::yolov8;
  c.model.input_size = 64;  // the default
  c.model.input_size_line = 0;
  c.processing.batch_size = batch;
  return c;
}

/// A black 200 x 100 image letterboxed into `size`.
ModelInput black_200x100(int size) { return prepare_letterbox(cv::Mat(100, 200, CV_8UC3, cv::Scalar(0, 0, 0)), size); }

/// One detection, class `cls`, at (x1, y1)-(x2, y2) in the original image's pixels.
void check_one(const ModelOutput& out, int cls, double score, double x1, double y1, double x2, double y2) {
  REQUIRE(out.detections.size() == 1);
  const Detection& d = out.detections[0];
  CHECK(d.cls == cls);
  CHECK(d.score == Approx(score));
  CHECK(d.box.x1 == Approx(x1));
  CHECK(d.box.y1 == Approx(y1));
  CHECK(d.box.x2 == Approx(x2));
  CHECK(d.box.y2 == Approx(y2));
}

}  // namespace

TEST_CASE("ultralytics export: model.input_size left out is the export's imgsz, a tensor attribute rides along",
          "[worker][model][export]") {
  test::TempDir dir;
  test::save_ultralytics_like_detector(dir / "v8.pt", 32, kExport32);
  const auto model = load_model(detector_config(dir / "v8.pt", 4), {"cat", "dog"});
  CHECK(model->input_size() == 32);
  CHECK(model->batch_size() == 4);  // "batch": 1 in the metadata, but the model takes 4: not shrunk
  CHECK(model->device() == "cpu");
  const ModelInput in = black_200x100(model->input_size());
  const auto out = model->infer({&in, &in, &in, &in, &in});  // a batch of 4, then 1
  REQUIRE(out.size() == 5);
  // Anchor 0: input (8, 12)-(24, 20) in 32 (scale 0.16, 8 px above) -> (50, 25)-(150, 75).
  for (const auto& o : out) check_one(o, 0, 0.9, 50, 25, 150, 75);
}

TEST_CASE("ultralytics export: an explicit model.input_size contradicting imgsz is exit 2 naming both, at load",
          "[worker][model][export]") {
  test::TempDir dir;
  test::save_ultralytics_like_detector(dir / "v8.pt", 32, kExport32);
  Config c = detector_config(dir / "v8.pt", 4);
  c.model.input_size = 64;
  c.model.input_size_line = 9;
  const auto [code, msg] = load_failure(c, {"cat", "dog"});
  CHECK(code == ExitCode::usage);
  CHECK(has(msg, (dir / "config.yaml").string() + ":9: model.input_size: "));
  CHECK(has(msg, "the config says 64"));
  CHECK(has(msg, (dir / "v8.pt").string() + " was exported for imgsz 32"));
  c.model.input_size = 32;  // the same size, said in the config
  CHECK(load_model(c, {"cat", "dog"})->input_size() == 32);
}

TEST_CASE("ultralytics export: without imgsz the default input size fails the warm-up, naming model.input_size",
          "[worker][model][export]") {
  test::TempDir dir;
  test::save_ultralytics_like_detector(dir / "v8.pt", 32, R"({"names": {"0": "cat", "1": "dog"}})");
  const auto [code, msg] = load_failure(detector_config(dir / "v8.pt", 4), {"cat", "dog"});
  CHECK(code == ExitCode::model_load);
  CHECK(has(msg, (dir / "v8.pt").string() + ": model/config mismatch: "));
  CHECK(has(msg, "warm-up input [4, 3, 64, 64]"));
  CHECK(has(msg, "model.input_size 64: auto, and the model's config.txt gives no imgsz"));
  CHECK(has(msg, "set model.input_size to it"));
  // LibTorch's own words: 64 / 8 squared anchors against the 16 baked in.
  CHECK(has(msg, "The size of tensor a (64) must match the size of tensor b (16) at non-singleton dimension 2"));
  CHECK_FALSE(has(msg, "Exception raised from"));
}

TEST_CASE("ultralytics export: a dynamic export takes the configured size, else its imgsz", "[worker][model][export]") {
  test::TempDir dir;
  test::save_dynamic_detector(dir / "dyn.pt", R"({"imgsz": 32, "batch": 1, "args": {"batch": 1, "dynamic": true}, )"
                                              R"("names": {"0": "cat", "1": "dog"}})");
  Config c = detector_config(dir / "dyn.pt", 4);
  const auto own = load_model(c, {"cat", "dog"});
  CHECK(own->input_size() == 32);
  // A 10 x 10 box at the centre of the input: in 32 (scale 0.16, 8 px above) (11, 11)-(21, 21).
  const ModelInput in32 = black_200x100(32);
  check_one(own->infer({&in32})[0], 0, 0.9, 68.75, 18.75, 131.25, 81.25);

  c.model.input_size = 48;
  c.model.input_size_line = 7;
  const auto set = load_model(c, {"cat", "dog"});
  CHECK(set->input_size() == 48);
  // In 48 (scale 0.24, 12 px above): (19, 19)-(29, 29) -> x / 0.24, (y - 12) / 0.24.
  const ModelInput in48 = black_200x100(48);
  check_one(set->infer({&in48})[0], 0, 0.9, 19 / 0.24, 7 / 0.24, 29 / 0.24, 17 / 0.24);
}

TEST_CASE("ultralytics export: a model that refuses the batch size runs at the export's batch",
          "[worker][model][export]") {
  test::TempDir dir;
  test::save_ultralytics_like_detector(dir / "b1.pt", 32, kExport32, /*batch_one_only=*/true);
  const auto model = load_model(detector_config(dir / "b1.pt", 4), {"cat", "dog"});
  CHECK(model->batch_size() == 1);
  const ModelInput in = black_200x100(32);
  const auto out = model->infer({&in, &in, &in});
  REQUIRE(out.size() == 3);
  for (const auto& o : out) check_one(o, 0, 0.9, 50, 25, 150, 75);

  // Without a batch in the metadata there is nothing to fall back to: the message names the batch.
  test::save_ultralytics_like_detector(dir / "b1_bare.pt", 32, R"({"imgsz": [32, 32], "names": ["cat", "dog"]})", true);
  const auto [code, msg] = load_failure(detector_config(dir / "b1_bare.pt", 4), {"cat", "dog"});
  CHECK(code == ExitCode::model_load);
  CHECK(has(msg, "model/config mismatch"));
  CHECK(has(msg, "warm-up input [4, 3, 32, 32] (processing.batch_size 4; model.input_size 32: auto: the export's "
                 "imgsz)"));
  CHECK(has(msg, "processing.batch_size"));
}

TEST_CASE("fp16 weights (an export with half=True) run as float32 on the CPU", "[worker][model][export]") {
  test::TempDir dir;
  test::save_half_conv_classifier(dir / "half.pt", R"({"imgsz": 32, "args": {"half": true}, "names": ["red", "green", "blue"]})");
  for (bool fp16 : {false, true}) {  // processing.fp16 is for CUDA: the CPU runs float32 either way
    INFO("processing.fp16 " << fp16);
    Config c = classifier_config(dir / "half.pt");
    c.processing.fp16 = fp16;
    const auto model = load_model(c, {"red", "green", "blue"});
    CHECK(model->device() == "cpu");
    const ModelInput in = prepare_crops(red_green(), {box(0, 0.25, 0.5, 0.5, 1.0), box(0, 0.5, 0.5, 0.5, 1.0)}, 32, 0.0,
                                        {0, 0, 0}, {1, 1, 1});
    const auto out = model->infer({&in});
    REQUIRE(out[0].box_scores.size() == 2);
    // Logits 10 x means + (0, 1, 2). Red crop: (10, 1, 2). Half red, half green: (5, 6, 2).
    const double e1 = 2.718281828, e2 = 7.389056099, e5 = 148.4131591, e6 = 403.4287935, e10 = 22026.46579;
    CHECK(out[0].box_scores[0][0] == Approx(e10 / (e10 + e1 + e2)).epsilon(1e-4));
    CHECK(out[0].box_scores[0][2] == Approx(e2 / (e10 + e1 + e2)).epsilon(1e-2));
    CHECK(out[0].box_scores[1][0] == Approx(e5 / (e5 + e6 + e2)).epsilon(1e-3));
    CHECK(out[0].box_scores[1][1] == Approx(e6 / (e5 + e6 + e2)).epsilon(1e-3));
    CHECK(out[0].box_scores[1][2] == Approx(e2 / (e5 + e6 + e2)).epsilon(1e-2));
  }
}
