// bench_worker: image_worker throughput against the bare model forward on the same crops and
// against a naive sequential loop, plus peak memory for a small and a large shard.
//
//   bench_worker [--images N] [--large M] [--boxes B] [--threads T] [--dir DIR]
//   bench_worker --box-counts 1000,4000,20000 [--type classifier|yolov8] [--cnn] [--repeat R] [--threads T]
//
// The second form puts N label boxes on one image and compares the full worker on it with the
// pure model forward over the same N crops (detectors: over the one image), in one run, and
// times each stage of the worker's per-box path (issue 7, case 13).
//
// Prints figures; asserts nothing (DESIGN §10). CPU only unless the LibTorch build has CUDA.
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <cmath>
#include <random>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <opencv2/imgcodecs.hpp>

#include "atomic_file.h"
#include "image_record.h"
#include "verdict.h"
#include "config.h"
#include "image_io.h"
#include "image_worker.h"
#include "item_list.h"
#include "model.h"
#include "task_pool.h"
#include "test_models.h"
#include "worker_kit.h"

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// CPU seconds of this process, all threads: less swayed than wall time by other load on a
/// shared machine, and what an overhead costs in work.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Writes `n` 320x240 JPEGs with `boxes` labelled boxes each under dir/data/images.
void make_images(const fs::path& dir, int from, int to, int boxes) {
  std::mt19937 rng(1234);
  for (int i = from; i < to; ++i) {
    const fs::path img = dir / "data/images" / fmt::format("{:06d}.jpg", i);
    if (fs::exists(img)) continue;
    cv::Mat m(240, 320, CV_8UC3, cv::Scalar(rng() % 256, rng() % 256, rng() % 256));
    std::string labels;
    for (int b = 0; b < boxes; ++b) {
      const int x = 20 + b * 90, cls = static_cast<int>(rng() % 3);
      m(cv::Rect(x, 60, 80, 120)).setTo(cls == 0 ? cv::Scalar(0, 0, 255) : cls == 1 ? cv::Scalar(0, 255, 0) : cv::Scalar(255, 0, 0));
      labels += fmt::format("{} {} 0.5 {} 0.5\n", cls, (x + 40) / 320.0, 80 / 320.0);
    }
    cv::imwrite(img.string(), m);
    std::ofstream(dir / "data/labels" / fmt::format("{:06d}.txt", i)) << labels;
  }
}

void write_items(const fs::path& file, int n) {
  std::ofstream out(file);
  for (int i = 0; i < n; ++i) out << fmt::format("images/{:06d}.jpg\n", i);
}

/// Runs image_worker as a child; returns (seconds, peak RSS in MiB).
std::pair<double, double> run_child(const std::string& worker, const fs::path& dir, const fs::path& items, const fs::path& out) {
  fs::remove_all(out);
  const auto t = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string cfg = (dir / "config.yaml").string(), it = items.string(), o = out.string();
    const int fd = ::open((dir / "bench.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("LV_REPORT_PEAK_RSS", "1", 1);
    execl(worker.c_str(), worker.c_str(), "--config", cfg.c_str(), "--items", it.c_str(), "--output-dir", o.c_str(),
          "--shard", "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const double seconds = seconds_since(t);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fmt::print("image_worker failed; see {}\n", (dir / "bench.log").string());
  // The worker's own VmHWM: wait4's ru_maxrss would include this (large) parent's peak,
  // which survives fork and exec.
  const std::string log = lv::read_file(dir / "bench.log");
  const size_t at = log.rfind("peak memory ");
  return {seconds, at == std::string::npos ? -1.0 : std::atof(log.c_str() + at + 12) * 1e6 / (1024.0 * 1024.0)};
}


// --- Many boxes on one image (issue 7, case 13) ---

/// The side of the many-box image, and of the detector's input (letterbox scale 1/2).
constexpr int kSceneSide = 1280;
constexpr int kDetectorInput = 640;

/// A kSceneSide-square PNG under dir/data/images/boxes_N.png with `n` boxes on a grid: each
/// cell painted red, green or blue with a 1-pixel black border, its box the painted square;
/// one label in ten names another colour (mislabeled). Returns the label text.
std::string make_box_scene(const fs::path& dir, int n) {
  const int grid = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int cell = kSceneSide / grid;
  std::mt19937 rng(4321);
  cv::Mat m(kSceneSide, kSceneSide, CV_8UC3, cv::Scalar(0, 0, 0));
  const cv::Scalar bgr[3] = {cv::Scalar(0, 0, 255), cv::Scalar(0, 255, 0), cv::Scalar(255, 0, 0)};
  std::string labels;
  for (int i = 0; i < n; ++i) {
    const int x = (i % grid) * cell + 1, y = (i / grid) * cell + 1, side = cell - 2;
    const int colour = static_cast<int>(rng() % 3);
    const int label = i % 10 == 9 ? (colour + 1) % 3 : colour;
    m(cv::Rect(x, y, side, side)).setTo(bgr[colour]);
    labels += fmt::format("{} {:.6f} {:.6f} {:.6f} {:.6f}\n", label, (x + side / 2.0) / kSceneSide,
                          (y + side / 2.0) / kSceneSide, static_cast<double>(side) / kSceneSide,
                          static_cast<double>(side) / kSceneSide);
  }
  cv::imwrite((dir / "data/images" / fmt::format("boxes_{}.png", n)).string(), m);
  std::ofstream(dir / "data/labels" / fmt::format("boxes_{}.txt", n)) << labels;
  return labels;
}

/// A yolov8 detector whose raw output [7, A] predicts, with score 0.9, the first A label boxes
/// of the scene at their painted colour: what a good detector would say, so matching has
/// real work. A = min(n, 8400), as a 640-pixel yolov8 has 8400 anchors.
void save_scene_detector(const fs::path& file, int n) {
  const int grid = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int cell = kSceneSide / grid;
  const int anchors = std::min(n, 8400);
  std::mt19937 rng(4321);  // the scene's colours, drawn in the same order
  std::vector<float> v(static_cast<size_t>(7 * anchors), 0.0f);
  auto at = [&](int row, int a) -> float& { return v[static_cast<size_t>(row * anchors + a)]; };
  for (int i = 0; i < anchors; ++i) {
    const double x = (i % grid) * cell + 1, y = (i / grid) * cell + 1, side = cell - 2;
    const int colour = static_cast<int>(rng() % 3);
    const double scale = static_cast<double>(kDetectorInput) / kSceneSide;
    at(0, i) = static_cast<float>((x + side / 2) * scale);
    at(1, i) = static_cast<float>((y + side / 2) * scale);
    at(2, i) = at(3, i) = static_cast<float>(side * scale);
    at(4 + colour, i) = 0.9f;
  }
  lv::test::save_constant_detector(file, v, 7, anchors, "");
}

/// Makes all of an input's crops now (the worker makes them batch by batch inside infer), so
/// that a timed infer is the model's forward alone.
void materialise(lv::ModelInput& in, int size) {
  if (!in.fill) return;
  std::vector<uint8_t> data(static_cast<size_t>(in.count) * 3 * static_cast<size_t>(size) * static_cast<size_t>(size));
  in.write(0, in.count, size, data.data());
  in.fill = nullptr;
  in.data = std::move(data);
}

struct StageTimes {
  double decode = 0, crops = 0, forward = 0, judge = 0, record = 0, debug = 0;
};

/// Each stage of one item's path, timed alone with the library's own functions.
StageTimes time_stages(const lv::Config& config, lv::Model& model, const fs::path& image, const std::string& labels_text) {
  StageTimes t;
  double start = cpu_seconds();
  const lv::LoadedImage loaded = lv::load_image(image, config.processing.max_image_pixels);
  lv::ImageResult r;
  r.path = image.filename().string();
  r.labels = lv::parse_labels(labels_text, static_cast<int>(model.classes().dataset.size()));
  r.width = loaded.bgr.cols;
  r.height = loaded.bgr.rows;
  t.decode = cpu_seconds() - start;

  start = cpu_seconds();
  const bool classifier = config.model.type == lv::ModelType::classifier;
  lv::ModelInput in = classifier ? lv::prepare_crops(loaded.bgr, r.labels.boxes, config.model.input_size,
                                                     config.model.crop_margin, config.model.mean, config.model.std)
                                 : lv::prepare_letterbox(loaded.bgr, config.model.input_size);
  if (in.fill) {
    // As the worker does: batch by batch into one reused buffer.
    const int size = config.model.input_size, batch = config.processing.batch_size;
    std::vector<uint8_t> buffer(static_cast<size_t>(batch) * 3 * static_cast<size_t>(size) * static_cast<size_t>(size));
    for (int first = 0; first < in.count; first += batch) in.write(first, std::min(batch, in.count - first), size, buffer.data());
  }
  t.crops = cpu_seconds() - start;
  materialise(in, config.model.input_size);

  start = cpu_seconds();
  const std::vector<lv::ModelOutput> out = model.infer({&in});
  t.forward = cpu_seconds() - start;

  start = cpu_seconds();
  std::vector<lv::Box> pixels;
  std::vector<int> classes;
  for (const lv::LabelBox& b : r.labels.boxes) {
    pixels.push_back(lv::from_yolo(b.cx, b.cy, b.w, b.h, r.width, r.height));
    classes.push_back(b.cls);
  }
  const std::vector<bool> dup = lv::find_duplicates(pixels, classes);
  const std::vector<bool> covered = model.covered();
  if (classifier) {
    for (size_t i = 0; i < pixels.size(); ++i)
      r.results.push_back(lv::judge_classification(out[0].box_scores[i], classes[i], covered, config.verification));
  } else {
    lv::DetectionJudgement j = lv::judge_detections(pixels, classes, dup, out[0].detections, out[0].weak, covered,
                                                    config.verification);
    r.results = std::move(j.boxes);
    r.missing = std::move(j.missing);
    r.predictions = out[0].detections;
  }
  r.verdict = lv::image_verdict(r.results, !r.missing.empty(), false);
  t.judge = cpu_seconds() - start;

  start = cpu_seconds();
  const std::string line = lv::to_record(r, model.classes(), false).dump();
  t.record = cpu_seconds() - start;

  start = cpu_seconds();
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", lv::draw_debug(loaded.bgr, r, model.classes()), jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  t.debug = cpu_seconds() - start;
  return t;
}

/// The many-box benchmark: for each count, the full worker in process on one image against
/// the pure forward over the same input, then each stage alone.
int bench_box_counts(const fs::path& dir, const std::vector<int>& counts, const std::string& type, bool cnn, int threads,
                     int repeat) {
  fs::create_directories(dir / "data/images");
  fs::create_directories(dir / "data/labels");
  lv::set_model_threads(threads);
  cv::setNumThreads(1);
  const bool classifier = type == "classifier";
  const int input_size = !classifier ? kDetectorInput : cnn ? 32 : 64;
  fmt::print("one {}x{} image with N label boxes, model {} ({}), {} model threads, batch 64, debug images: issues\n",
             kSceneSide, kSceneSide,
             !classifier ? "constant yolov8 detector" : cnn ? "CNN of the demo's shape" : "mean-colour classifier",
             classifier ? fmt::format("{}-pixel crops", input_size) : "640-pixel input, max 300 detections", threads);
  fmt::print("CPU seconds (all threads; fastest of {}) unless marked wall; overhead = worker - forward\n", repeat);
  fmt::print("{:>6} {:>12} {:>9} {:>9} {:>9} {:>10} {:>12} {:>12} {:>15} | {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}\n", "N",
             "worker wall", "boxes/s", "worker", "forward", "overhead", "forward/box", "overhead/box", "overhead/forward", "decode", "crops", "forward",
             "judge", "record", "debug");
  for (const int n : counts) {
    const std::string labels = make_box_scene(dir, n);
    const fs::path model_path = dir / fmt::format("{}_{}.pt", type, n);
    if (classifier && cnn)
      lv::test::save_conv_classifier(model_path, 3);
    else if (classifier)
      lv::test::save_mean_colour_classifier(model_path, 10.0, false);
    else
      save_scene_detector(model_path, n);
    std::ofstream(dir / "config.yaml") << "input:\n  images: data\n  classes: [red, green, blue]\n"
                                       << "output:\n  debug_images: issues\n"
                                       << fmt::format("model:\n  path: {}\n  type: {}\n  input_size: {}\n",
                                                      model_path.string(), type, input_size)
                                       << fmt::format("processing:\n  batch_size: 64\n  num_threads: {}\n", threads);
    std::ofstream(dir / "items.txt") << fmt::format("images/boxes_{}.png\n", n);
    const lv::Config config = lv::load_config(dir / "config.yaml");
    const auto model = lv::load_model(config, {"red", "green", "blue"});
    const fs::path image = dir / "data/images" / fmt::format("boxes_{}.png", n);

    // The pure forward over the same input, prepared beforehand (not timed).
    const lv::LoadedImage loaded = lv::load_image(image, config.processing.max_image_pixels);
    const auto boxes = lv::parse_labels(labels, 3).boxes;
    lv::ModelInput in = classifier ? lv::prepare_crops(loaded.bgr, boxes, config.model.input_size, config.model.crop_margin,
                                                       config.model.mean, config.model.std)
                                   : lv::prepare_letterbox(loaded.bgr, config.model.input_size);
    materialise(in, config.model.input_size);

    // The pure forward and the full worker in process (model load, decode, crops, forward,
    // verdicts, outputs, report), alternated; the fastest of `repeat` runs of each, since on a
    // shared machine other load only ever adds time.
    double forward_s = 1e300, full_s = 1e300, full_wall_s = 1e300;
    std::atomic<bool> stop{false};
    const lv::WorkerArgs args{{}, dir / "items.txt", dir / fmt::format("out_{}", n), 0, false, {}};
    // Round 0 is not counted: the first forwards and worker run of a process cost up to 3x more
    // (fresh memory faulted in, kernels chosen), a fixed cost that is not per box.
    for (int k = 0; k <= repeat; ++k) {
      if (k == 1) forward_s = full_s = full_wall_s = 1e300;
      double c = cpu_seconds();
      model->infer({&in});
      forward_s = std::min(forward_s, cpu_seconds() - c);
      fs::remove_all(args.output_dir);
      const auto t = std::chrono::steady_clock::now();
      c = cpu_seconds();
      lv::run_image_worker(config, args, stop);
      full_s = std::min(full_s, cpu_seconds() - c);
      full_wall_s = std::min(full_wall_s, seconds_since(t));
    }
    in = {};

    const StageTimes st = time_stages(config, *model, image, labels);
    const double overhead = full_s - forward_s;
    fmt::print("{:>6} {:>11.2f}s {:>9.0f} {:>9.2f} {:>9.2f} {:>10.2f} {:>10.1f}us {:>10.1f}us {:>15.3f} | {:>7.2f} {:>7.2f} {:>7.2f} {:>7.2f} {:>7.2f} {:>7.2f}\n",
               n, full_wall_s, n / full_wall_s, full_s, forward_s, overhead, forward_s / n * 1e6, overhead / n * 1e6, overhead / forward_s, st.decode, st.crops,
               st.forward, st.judge, st.record, st.debug);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

/// Detector mode: the worker in process against the backend alone (letterboxed input
/// prepared beforehand; forward, output decoding and NMS timed) over the first `images`
/// images of a real dataset, as `config_file` sets it up, debug images off.
int bench_detector(const fs::path& dir, const fs::path& config_file, int images, int threads) {
  lv::tune_allocator_for_batches();  // as image_worker's main() does: both sides alike
  lv::Config config = lv::load_config(config_file);
  config.output.debug_images = lv::DebugImages::none;
  config.processing.num_threads = threads;
  const fs::path root = config.input.images;
  std::vector<std::string> items;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && lv::has_image_extension(e.path())) items.push_back(e.path().lexically_relative(root).string());
  std::sort(items.begin(), items.end());
  if (items.size() > static_cast<size_t>(images)) items.resize(static_cast<size_t>(images));
  fs::create_directories(dir);
  {
    std::ofstream list(dir / "detector_items.txt");
    for (const auto& i : items) list << i << "\n";
  }
  lv::set_model_threads(threads);
  cv::setNumThreads(1);
  const auto model = lv::load_model(config, lv::dataset_class_names(config));
  const int size = model->input_size();

  // 1. The backend alone on the same images, letterboxed beforehand (not timed).
  std::vector<lv::ModelInput> inputs;
  for (const auto& item : items) {
    const auto loaded = lv::load_image(root / item, config.processing.max_image_pixels);
    inputs.push_back(lv::prepare_letterbox(loaded.bgr, size));
    materialise(inputs.back(), size);
  }
  std::vector<const lv::ModelInput*> all;
  for (const auto& in : inputs) all.push_back(&in);
  const size_t batch = static_cast<size_t>(config.processing.batch_size);
  const auto forward_all = [&] {
    for (size_t i = 0; i < all.size(); i += batch)
      model->infer({all.begin() + static_cast<std::ptrdiff_t>(i),
                    all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), i + batch))});
  };
  forward_all();  // warm-up: the first forwards of a process cost more
  auto t = std::chrono::steady_clock::now();
  forward_all();
  const double forward_s = seconds_since(t);

  // 2. The input pipeline alone: what the decode threads can prepare (decode, letterbox into 8-bit
  //    rows; the model normalises them on its device), so a GPU user sees whether the input or the model binds.
  double input_s = 0;
  const int decoders = lv::decode_threads(config, model->device() != "cpu");
  {
    lv::TaskPool pool(decoders);
    std::vector<std::future<void>> done;
    t = std::chrono::steady_clock::now();
    for (const auto& item : items)
      done.push_back(pool.submit([&, item] {
        const auto loaded = lv::load_image(root / item, config.processing.max_image_pixels);
        lv::ModelInput in = lv::prepare_letterbox(loaded.bgr, size);
        materialise(in, size);
      }));
    for (auto& f : done) f.get();
    input_s = seconds_since(t);
  }

  // 3. The full worker in process (decode, letterbox, forward, verdicts, output tree, report).
  std::atomic<bool> stop{false};
  lv::WorkerArgs args{config.file, dir / "detector_items.txt", dir / "out_detector", 0, false, {}};
  fs::remove_all(args.output_dir);
  t = std::chrono::steady_clock::now();
  lv::run_image_worker(config, args, stop);
  const double full_s = seconds_since(t);

  const double n = static_cast<double>(items.size());
  fmt::print("\n{} images of {}, {}x{} letterbox, batch {}, {} model threads, {} decode threads, debug images off\n",
             items.size(), root.string(), size, size, batch, threads, decoders);
  fmt::print("input pipeline: {:8.1f} images/s ({:.2f} s: decode, letterbox; {} decode threads)\n", n / input_s,
             input_s, decoders);
  fmt::print("backend alone:  {:8.1f} images/s ({:.2f} s: forward, decoding, NMS)\n", n / forward_s, forward_s);
  fmt::print("the {} binds: the full worker cannot beat {:.1f} images/s here\n",
             input_s > forward_s ? "input pipeline" : "model", n / std::max(input_s, forward_s));
  fmt::print("full worker:    {:8.1f} images/s ({:.2f} s)  ratio to the backend {:.2f}\n", n / full_s, full_s,
             forward_s / full_s);
  return 0;
}

int main(int argc, char** argv) {
  CLI::App app{"Benchmarks image_worker on generated images (CPU)."};
  int images = 1000, large = 10000, boxes = 3, threads = 2;
  std::string dir_arg = (fs::temp_directory_path() / "lv_bench_worker").string();
  std::string worker = (fs::path(argv[0]).parent_path() / "image_worker").string();
  app.add_option("--images", images, "images for the throughput runs")->capture_default_str();
  app.add_option("--large", large, "images for the second peak-memory run")->capture_default_str();
  app.add_option("--boxes", boxes, "labelled boxes per image (1..3)")->capture_default_str();
  app.add_option("--threads", threads, "model threads")->capture_default_str();
  app.add_option("--dir", dir_arg, "work folder (kept, images reused)")->capture_default_str();
  app.add_option("--worker", worker, "image_worker binary")->capture_default_str();
  std::string model_arg;
  int input_size = 64, classes = 3;
  app.add_option("--model", model_arg,
                 "a TorchScript classifier to use instead of the built-in trivial one (e.g. the demo CNN)");
  app.add_option("--input-size", input_size, "with --model: its crop size")->capture_default_str();
  app.add_option("--classes", classes, "with --model: its number of classes (>= 3)")->capture_default_str();
  std::vector<int> box_counts;
  std::string type = "classifier";
  app.add_option("--box-counts", box_counts, "many-box mode: one image with each of these numbers of boxes")
      ->delimiter(',')->check(CLI::Range(1, 100000));
  app.add_option("--type", type, "many-box mode: classifier or yolov8")->capture_default_str()
      ->check(CLI::IsMember({"classifier", "yolov8"}));
  bool cnn = false;
  bool no_review = false;
  int repeat = 3;
  int rounds = 5;
  app.add_option("--rounds", rounds, "throughput mode: rounds of forward, worker and naive loop in turn (medians printed)")
      ->capture_default_str()->check(CLI::Range(1, 50));
  app.add_option("--repeat", repeat, "many-box mode: runs of each, the fastest kept")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_flag("--no-review", no_review,
               "throughput mode: output.review false (no thumbnails of flagged boxes; the default writes them)");
  app.add_flag("--cnn", cnn, "many-box mode, classifier: a CNN of the demo's shape (random weights, 32-px crops) "
                             "instead of the trivial mean-colour model");
  std::string detector_config;
  app.add_option("--detector-config", detector_config,
                 "detector mode: a config of a yolov8/yolov5 model and its dataset (e.g. configs/demo_detector.yaml); "
                 "the worker against the backend alone on its first --images images");
  CLI11_PARSE(app, argc, argv);
  if (!detector_config.empty()) return bench_detector(fs::path(dir_arg) / "detector", detector_config, images, threads);
  if (!box_counts.empty()) return bench_box_counts(fs::path(dir_arg) / "boxes", box_counts, type, cnn, threads, repeat);
  const fs::path dir = dir_arg;
  fs::create_directories(dir / "data/images");
  fs::create_directories(dir / "data/labels");

  fmt::print("generating {} images ({} boxes each) in {}\n", std::max(images, large), boxes, dir.string());
  make_images(dir, 0, std::max(images, large), boxes);
  // The model: a trivial one (the forward costs almost nothing: the worker's own overhead
  // shows) or a real CNN given with --model (the forward dominates, as in real use).
  std::vector<std::string> class_names{"red", "green", "blue"};
  fs::path model_path = dir / "model.pt";
  if (model_arg.empty()) {
    lv::test::save_mean_colour_classifier(model_path, 10.0, false);
    input_size = 64;
  } else {
    model_path = fs::absolute(model_arg);
    for (int c = 3; c < classes; ++c) class_names.push_back(fmt::format("class{}", c));
  }
  std::string names;
  for (const auto& n : class_names) names += (names.empty() ? "" : ", ") + n;
  std::ofstream(dir / "config.yaml") << "input:\n  images: data\n  classes: [" << names << "]\n"
                                     << "output:\n  debug_images: none\n" << (no_review ? "  review: false\n" : "")
                                     << fmt::format("model:\n  path: {}\n  input_size: {}\n  class_names: [{}]\n",
                                                    model_path.string(), input_size, names)
                                     << fmt::format("processing:\n  batch_size: 64\n  num_threads: {}\n  decode_threads: 2\n", threads);
  write_items(dir / "small.txt", images);
  write_items(dir / "large.txt", large);
  const lv::Config config = lv::load_config(dir / "config.yaml");
  lv::set_model_threads(threads);
  cv::setNumThreads(1);
  const auto model = lv::load_model(config, class_names);

  // 1. Pure forward on the same crops, prepared beforehand (not timed).
  std::vector<lv::ModelInput> inputs;
  for (int i = 0; i < images; ++i) {
    const fs::path img = dir / "data/images" / fmt::format("{:06d}.jpg", i);
    const auto loaded = lv::load_image(img, config.processing.max_image_pixels);
    const auto labels = lv::parse_labels(lv::read_file(dir / "data/labels" / fmt::format("{:06d}.txt", i)), 3);
    inputs.push_back(lv::prepare_crops(loaded.bgr, labels.boxes, input_size, 0, {0, 0, 0}, {1, 1, 1}));
    materialise(inputs.back(), input_size);
  }
  std::vector<const lv::ModelInput*> all;
  for (const auto& in : inputs) all.push_back(&in);
  model->infer({all.data(), all.data() + std::min<size_t>(all.size(), 8)});  // warm-up
  write_items(dir / "one.txt", 1);
  std::atomic<bool> stop{false};

  // The three, in turn, `rounds` times: this machine's speed drifts (other VMs, the disk), and
  // pairing within a round keeps each ratio meaningful; the medians are the figures.
  struct Round {
    double forward_s, fixed_s, full_s, naive_s;
    double steady_s() const { return std::max(1e-9, full_s - fixed_s); }
  };
  std::vector<Round> measured;
  for (int round = 0; round < rounds; ++round) {
    Round r{};
    // 1. Pure forward on the same crops, prepared beforehand (not timed).
    auto t = std::chrono::steady_clock::now();
    model->infer(all);
    r.forward_s = seconds_since(t);

    // 2. The full worker, in process (no process start-up). Its fixed costs (loading the
    // model, the warm-up forward, the shard report) are measured on a one-image shard and
    // shown apart: the baselines run on a model loaded beforehand.
    lv::WorkerArgs one{{}, dir / "one.txt", dir / "out_one", 0, false, {}};
    fs::remove_all(one.output_dir);
    t = std::chrono::steady_clock::now();
    lv::run_image_worker(config, one, stop);
    r.fixed_s = seconds_since(t);
    lv::WorkerArgs args{{}, dir / "small.txt", dir / "out_full", 0, false, {}};
    fs::remove_all(args.output_dir);
    t = std::chrono::steady_clock::now();
    lv::run_image_worker(config, args, stop);
    r.full_s = seconds_since(t);

    // 3. Naive loop: read, crop, forward, one image at a time.
    t = std::chrono::steady_clock::now();
    for (int i = 0; i < images; ++i) {
      const fs::path img = dir / "data/images" / fmt::format("{:06d}.jpg", i);
      const auto loaded = lv::load_image(img, config.processing.max_image_pixels);
      const auto labels = lv::parse_labels(lv::read_file(dir / "data/labels" / fmt::format("{:06d}.txt", i)), 3);
      const lv::ModelInput in = lv::prepare_crops(loaded.bgr, labels.boxes, input_size, 0, {0, 0, 0}, {1, 1, 1});
      model->infer({&in});
    }
    r.naive_s = seconds_since(t);
    measured.push_back(r);
  }

  const double n = images, b = static_cast<double>(images) * boxes;
  fmt::print("\n{} images, {} boxes, batch 64, {} model threads, 2 decode threads, model {} ({}px crops), {} rounds\n",
             images, images * boxes, threads, model_arg.empty() ? "trivial mean-colour" : model_arg, input_size, rounds);
  fmt::print("round  forward s  worker s (fixed s)  naive s   worker/forward  worker/naive  worker/best  whole run/best\n");
  std::vector<double> to_forward, to_naive, to_best, whole_to_best;
  for (size_t k = 0; k < measured.size(); ++k) {
    const Round& r = measured[k];
    const double best = std::min(r.forward_s, r.naive_s);
    to_forward.push_back(r.forward_s / r.steady_s());
    to_naive.push_back(r.naive_s / r.steady_s());
    to_best.push_back(best / r.steady_s());
    whole_to_best.push_back(best / r.full_s);
    fmt::print("{:5}  {:9.2f}  {:8.2f} ({:4.2f})    {:7.2f}   {:14.2f}  {:12.2f}  {:11.2f}  {:14.2f}\n", k + 1, r.forward_s,
               r.full_s, r.fixed_s, r.naive_s, to_forward.back(), to_naive.back(), to_best.back(), whole_to_best.back());
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  std::vector<double> forward_rate, worker_rate, naive_rate;
  for (const Round& r : measured) {
    forward_rate.push_back(b / r.forward_s);
    worker_rate.push_back(b / r.steady_s());
    naive_rate.push_back(b / r.naive_s);
  }
  fmt::print("medians: pure forward {:.1f} boxes/s, full worker {:.1f} boxes/s (fixed costs excluded), naive loop {:.1f} "
             "boxes/s\n",
             median(forward_rate), median(worker_rate), median(naive_rate));
  fmt::print("         full worker / batched forward {:.2f}, / naive loop {:.2f}, / the best of both {:.2f} (whole run "
             "{:.2f}); {:.1f} images/s\n",
             median(to_forward), median(to_naive), median(to_best), median(whole_to_best), n * median(worker_rate) / b);

  // 4. Peak memory of the worker process, small shard against large shard.
  const auto [s1, m1] = run_child(worker, dir, dir / "small.txt", dir / "out_small");
  const auto [s2, m2] = run_child(worker, dir, dir / "large.txt", dir / "out_large");
  fmt::print("peak RSS:       {} images {:.0f} MiB ({:.1f} s);  {} images {:.0f} MiB ({:.1f} s)\n", images, m1, s1, large, m2, s2);
  return 0;
}
