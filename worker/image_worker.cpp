#include "image_worker.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <optional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <fmt/core.h>
#include <opencv2/core.hpp>

#include "atomic_file.h"
#include "devices.h"
#include "byte_text.h"
#include "error.h"
#include "image_io.h"
#include "item_list.h"
#include "image_counts.h"
#include "journal.h"
#include "message.h"
#include "model.h"
#include "output_paths.h"
#include "run_state.h"
#include "path_guard.h"
#include "progress.h"
#include "report.h"
#include "task_pool.h"
#include "worker_kit.h"

namespace lv {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> dataset_classes(const Config& config) { return dataset_class_names(config); }

namespace {

/// A positive thread count from environment variable `name`, if it holds one.
std::optional<int> threads_from_env(const char* name) {
  const char* text = std::getenv(name);
  if (!text) return std::nullopt;
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || n <= 0 || n > 1024) return std::nullopt;
  return static_cast<int>(n);
}

}  // namespace

int core_share() {
  if (const auto share = threads_from_env(kCoresPerWorkerEnv)) return *share;
  if (const auto omp = threads_from_env("OMP_NUM_THREADS")) return *omp;
  return static_cast<int>(usable_cpus());  // this process's CPU set and cgroup quota, not the machine's
}

int model_threads(const Config& config) {
  return config.processing.num_threads > 0 ? config.processing.num_threads : core_share();
}

int decode_threads(const Config& config, bool model_on_gpu) {
  if (config.processing.decode_threads > 0) return config.processing.decode_threads;
  return std::max(model_on_gpu ? 2 : 1, core_share());
}

namespace {

/// One item between decoding and writing.
struct Pending {
  ImageResult result;
  cv::Mat bgr;               ///< kept only when debug images may be drawn
  cv::Mat review;            ///< output.review: the image for thumbnails (review_image(); shares bgr's pixels when it can)
  ModelInput input;
  std::string label_text;    ///< the label file's text, for the output tree
  fs::path source;           ///< the image file
};

class ShardRun {
 public:
  /// `durability`: of the output files (JournalCommitter::output_durability()).
  ShardRun(const Config& config, const WorkerArgs& args, Model& model, fs::path root, Durability durability)
      : config_(config), args_(args), model_(model), root_(std::move(root)), canonical_root_(canonical_root(root_)),
        covered_(model.covered()), durability_(durability), stems_(root_) {}

  /// Reads the stage A inputs of one item: label file, image, model input. Never throws.
  Pending decode(const std::string& item) const {
    Pending p;
    p.result.path = item;
    p.result.shard = args_.shard;
    p.source = root_ / fs::path(item);
    try {
      // Such a name in the output tree would be taken for a leftover and removed or skipped.
      if (is_temporary_name(fs::path(item).filename().native()))
        return fail(std::move(p), "the file name ends like a temporary file (.tmp.<digits>), which output trees "
                                  "reserve: rename it");
      // The input rule a folder scan applies (item_list.h), here for listed items too: a link
      // must not pull in (or copy out) a file from outside the input root, and a FIFO or a
      // device must never be opened. A missing image is left to load_image ("file not found").
      std::error_code ec;
      const fs::file_type own = fs::symlink_status(p.source, ec).type();
      if (!ec && own != fs::file_type::not_found)
        if (const std::string why = input_file_problem(canonical_root_, p.source, own); !why.empty())
          return fail(std::move(p), fmt::format("image: {}", why));
      if (const auto label_file = find_label_file(p.source)) {
        p.result.label_file = label_file->lexically_relative(root_).generic_string();
        if (const std::string why = label_file_refusal(canonical_root_, *label_file); !why.empty())
          return fail(std::move(p), fmt::format("label file {}: {}", *p.result.label_file, why));
        try {
          p.label_text = read_file(*label_file);
        } catch (const Error& e) {
          return fail(std::move(p), fmt::format("cannot read the label file: {}", e.what()));
        }
        p.result.labels = parse_labels(p.label_text, static_cast<int>(model_.classes().dataset.size()));
        p.result.label_hash = content_hash(p.label_text);
      }
      p.result.keep_extension = stems_.shares_label(item);
      // Two images whose label files would be one in the output: the second would replace the
      // first's (one shard) or fail the merge (two). Neither gets outputs; both say why.
      if (const auto other = stems_.output_clash(item))
        return fail(std::move(p), fmt::format("its output label file (labels/ or labels_original/) would be "
                                              "{}'s too: rename one of the two",
                                              *other));
      LoadedImage image = load_image(p.source, config_.processing.max_image_pixels);
      if (image.error) return fail(std::move(p), *image.error);
      p.result.width = image.bgr.cols;
      p.result.height = image.bgr.rows;
      if (config_.model.type == ModelType::classifier)
        p.input = prepare_crops(image.bgr, p.result.labels.boxes, model_.input_size(), config_.model.crop_margin,
                                config_.model.mean, config_.model.std);
      else
        p.input = prepare_letterbox(image.bgr, model_.input_size());
      if (config_.output.review && config_.task == Task::verify) p.review = review_image(image.bgr);
      if (config_.output.debug_images != DebugImages::none) p.bgr = std::move(image.bgr);
    } catch (const std::exception& e) {
      return fail(std::move(p), fmt::format("cannot process the image: {}", e.what()));
    }
    return p;
  }

  /// Turns the model's output into verdicts, or labels for task autolabel (main thread).
  void judge(Pending& p, const ModelOutput& out) const {
    ImageResult& r = p.result;
    if (out.non_finite) warn_nan(r.path);
    if (config_.task == Task::autolabel) {
      r.verdict = Verdict::correct;  // not an error: its outputs are written
      // An image with a label file keeps it; the model's boxes are for images that have none.
      if (!r.label_file && !out.non_finite) r.autolabeled = confident(out.detections, config_.autolabel.conf_threshold);
      return;
    }
    if (!r.label_file) {
      // No label file at all: nothing to verify, and not "correct with 0 boxes" either. A
      // detector's confident predictions are the labels it suggests.
      r.verdict = Verdict::unlabeled;
      r.predictions = out.detections;
      if (!out.non_finite) r.missing = confident(out.detections, config_.verification.missing_threshold);
      return;
    }
    const auto& boxes = r.labels.boxes;
    std::vector<Box> pixels;
    std::vector<int> classes;
    for (const LabelBox& b : boxes) {
      pixels.push_back(from_yolo(b.cx, b.cy, b.w, b.h, r.width, r.height));
      classes.push_back(b.cls);
    }
    const std::vector<bool> dup = find_duplicates(pixels, classes);
    if (config_.model.type == ModelType::classifier) {
      for (size_t i = 0; i < boxes.size(); ++i) {
        BoxResult br = judge_classification(out.box_scores[i], boxes[i].cls, covered_, config_.verification);
        if (dup[i]) {
          br.verdict = Verdict::uncertain;
          br.reason = reason::kDuplicate;
          br.suggested = -1;
        }
        r.results.push_back(std::move(br));
      }
    } else {
      DetectionJudgement j =
          judge_detections(pixels, classes, dup, out.detections, out.weak, covered_, config_.verification);
      r.results = std::move(j.boxes);
      r.missing = std::move(j.missing);
      r.predictions = out.detections;
      if (out.non_finite) {
        // NaN scores match nothing: every box would read "not_detected" without a word.
        for (BoxResult& b : r.results) b = model_output_nan_result();
        r.missing.clear();
      }
    }
    r.verdict = image_verdict(r.results, !r.missing.empty(), !r.labels.errors.empty());
    for (const BoxResult& b : r.results)
      if (b.reason == reason::kModelOutputNan) warn_nan(r.path);
  }

  /// Writes one item's outputs and returns its record (pool thread). Never throws.
  json write(Pending& p) const {
    ImageResult& r = p.result;
    if (config_.task == Task::autolabel) {
      try {
        if (!r.error) write_autolabeled(p);
        // Debug images on request only (debug_images: all): "issues" has no meaning here.
        if (!r.error && !p.bgr.empty() && config_.output.debug_images == DebugImages::all)
          write_jpeg(debug_image_path(args_.output_dir, r.path), draw_debug(p.bgr, r, model_.classes()),
                     durability_);
      } catch (const std::exception& e) {
        return to_autolabel_record(error_result(r.path, r.shard, fmt::format("cannot write the outputs: {}", e.what())),
                                   model_.classes());
      }
      return to_autolabel_record(r, model_.classes());
    }
    try {
      if (r.verdict != Verdict::error) write_tree(p);
      const bool issue = r.verdict != Verdict::correct;
      if (!p.bgr.empty() && (config_.output.debug_images == DebugImages::all ||
                             (config_.output.debug_images == DebugImages::issues && issue)))
        write_jpeg(debug_image_path(args_.output_dir, r.path), draw_debug(p.bgr, r, model_.classes()),
                   durability_);
      if (config_.output.review && issue && !p.review.empty()) write_thumbnails(args_.output_dir, p.review, r);
    } catch (const std::exception& e) {
      ImageResult failed = error_result(r.path, r.shard, fmt::format("cannot write the outputs: {}", e.what()));
      return to_record(failed, model_.classes(), false);
    }
    // The adaptive policy judges again from every box's scores after the merge.
    const bool probabilities =
        config_.report.include_probabilities || config_.verification.policy == Policy::adaptive;
    return to_record(r, model_.classes(), probabilities, config_.report.include_predictions);
  }

 private:
  static Pending fail(Pending p, std::string why) {
    ImageResult r = error_result(p.result.path, p.result.shard, std::move(why));
    r.label_file = p.result.label_file;
    r.label_hash = p.result.label_hash;
    r.labels = std::move(p.result.labels);
    p.result = std::move(r);
    p.bgr.release();
    p.review.release();
    p.input = {};
    return p;
  }

  /// The predictions of `dets` scoring at least `threshold` whose class the dataset knows.
  std::vector<Detection> confident(const std::vector<Detection>& dets, double threshold) const {
    std::vector<Detection> out;
    for (const Detection& d : dets)
      if (d.score >= threshold && d.cls >= 0 && static_cast<size_t>(d.cls) < covered_.size() && covered_[static_cast<size_t>(d.cls)])
        out.push_back(d);
    return out;
  }

  /// One YOLO line per detection of an image of w x h.
  static std::vector<std::string> yolo_lines(const std::vector<Detection>& dets, int w, int h) {
    std::vector<std::string> lines;
    for (const Detection& d : dets) {
      const std::vector<double> b = to_yolo(d.box, w, h);
      lines.push_back(yolo_line(d.cls, {b[0], b[1], b[2], b[3]}));
    }
    return lines;
  }

  void warn_nan(const std::string& path) const {
    std::call_once(nan_warning_, [&] {
      print_warning(fmt::format("the model output NaN for {}: its boxes are uncertain ({}); further images "
                                "with NaN are counted in the report only",
                                printable(path), reason::kModelOutputNan));
    });
  }

  void write_tree(const Pending& p) const {
    const ImageResult& r = p.result;
    const std::string_view folder = folder_of(r.verdict);
    const fs::path image_out = output_image_path(args_.output_dir, folder, r.path);
    fs::create_directories(image_out.parent_path());
    place_image(p.source, image_out);
    // The corrected labels, and the original beside them, when there is something to correct:
    // a mislabeled image's fixes, or the labels suggested for an unlabeled one.
    std::string corrected;
    if (r.verdict == Verdict::mislabeled) {
      corrected = fix_label_text(p.label_text, label_fixes(r));
    } else if (r.verdict == Verdict::unlabeled && !r.missing.empty()) {
      corrected = fix_label_text("", {}, yolo_lines(r.missing, r.width, r.height));
    } else if (!r.label_file) {
      return;
    } else {
      const fs::path label_out = output_label_path(args_.output_dir, folder, r.path, r.keep_extension);
      fs::create_directories(label_out.parent_path());
      write_file_atomic(label_out, p.label_text, durability_);
      return;
    }
    const fs::path label_out = output_label_path(args_.output_dir, folder, r.path, r.keep_extension);
    fs::create_directories(label_out.parent_path());
    write_file_atomic(label_out, corrected, durability_);
    const fs::path original = original_label_path(args_.output_dir, folder, r.path, r.keep_extension);
    fs::create_directories(original.parent_path());
    write_file_atomic(original, p.label_text, durability_);
  }

  /// Task autolabel: the image under autolabeled/ with its labels beside it (its own label
  /// file when it has one, never replaced; else the predictions).
  void write_autolabeled(const Pending& p) const {
    const ImageResult& r = p.result;
    const fs::path image_out = output_image_path(args_.output_dir, kAutolabelFolder, r.path);
    fs::create_directories(image_out.parent_path());
    place_image(p.source, image_out);
    const fs::path label_out = output_label_path(args_.output_dir, kAutolabelFolder, r.path, r.keep_extension);
    fs::create_directories(label_out.parent_path());
    write_file_atomic(label_out,
                      r.label_file ? p.label_text : fix_label_text("", {}, yolo_lines(r.autolabeled, r.width, r.height)),
                      durability_);
  }

  void place_image(const fs::path& from, const fs::path& to) const {
    std::error_code ec;
    if (config_.output.link_mode == LinkMode::hardlink) {
      fs::remove(to, ec);
      // Linux links a symlink itself, not its target: an output tree must hold files only (the
      // merge refuses links), so link what it points to (decode() checked it is inside the root).
      const fs::path target = fs::canonical(from, ec);
      if (!ec) fs::create_hard_link(target, to, ec);
      if (!ec) return;
      // Another file system, or links not allowed: a copy keeps the tree complete.
      std::call_once(link_warning_, [&] {
        print_warning(fmt::format("output.link_mode hardlink: cannot link {} ({}); copying instead", printable(to.string()),
                                  ec.message()));
      });
    }
    // Under a temporary name, then renamed: a worker killed mid-copy leaves a temporary
    // (removed on --resume, never merged), not a truncated image under the final name.
    const fs::path tmp = temporary_path(to);
    try {
      fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
      fs::rename(tmp, to);
    } catch (const fs::filesystem_error&) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw;
    }
  }

  const Config& config_;
  const WorkerArgs& args_;
  Model& model_;
  const fs::path root_;
  const fs::path canonical_root_;  ///< root_ with links resolved, for outside_canonical_root_reason
  const std::vector<bool> covered_;
  const Durability durability_;
  mutable std::once_flag link_warning_;
  mutable std::once_flag nan_warning_;
  mutable StemIndex stems_;
};

}  // namespace

ExitCode run_image_worker(const Config& config, const WorkerArgs& args, const std::atomic<bool>& stop) {
  const auto started = std::chrono::steady_clock::now();
  const fs::path root = input_root(config);
  const std::vector<std::string> classes = dataset_classes(config);
  const std::vector<std::string> items = read_shard_items(args.items);

  // Start-up can take minutes (a large model, a busy GPU): say so, so a watchdog sees life.
  print_phase("loading model");
  const std::unique_ptr<Model> model = load_model(config, classes, [](const char* phase) { print_phase(phase); });
  print_note(fmt::format("shard {}: {} items, model {} ({}, {} classes, input {}x{}, batch {}) on {}, {} decode "
                         "threads",
                         args.shard, items.size(), config.model.path.string(), to_string(config.model.type),
                         model->classes().model.size(), model->input_size(), model->input_size(), model->batch_size(),
                         model->device(), decode_threads(config, model->device() != "cpu")));

  // The journal: carry over finished items on --resume, else start afresh.
  ShardJournal journal(args, items);
  const std::vector<std::string> todo = journal.todo(items);

  if (config.task == Task::autolabel && args.shard == 0) {
    // The run's classes.txt, once for the run (every shard's tree is merged into one; two
    // copies would collide): by shard 0, which every plan has.
    const fs::path classes_file = args.output_dir / std::string(kAutolabelFolder) / "classes.txt";
    fs::create_directories(classes_file.parent_path());
    std::string text;
    for (const std::string& name : model->classes().dataset) text += name + "\n";
    write_file_atomic(classes_file, text);
  }

  const int decoders = decode_threads(config, model->device() != "cpu");
  const int batch = model->batch_size();  // the model's: its export's batch when it refused processing.batch_size
  // A whole batch in flight plus what the decoders prepare meanwhile: batch_size is honoured
  // (a batch above 64 was silently cut to 64 + 2 decode_threads images, issue 10 item 6). The
  // orchestrator's margin for a killed worker (RunnerOptions::in_flight_extra) counts on this.
  const size_t max_in_flight = static_cast<size_t>(batch + 2 * decoders);
  // Records reach the journal a group at a time, after one sync of the tree where that reports
  // every error (the writers then leave their files unsynced), else after an fsync each.
  JournalCommitter committer(journal, args.output_dir, max_in_flight);
  ShardRun run(config, args, *model, root, committer.output_durability());
  bool interrupted = false;
  {
    ProgressTicker ticker(journal.done(), journal.failed(), static_cast<int64_t>(items.size()));
    TaskPool pool(decoders);
    std::deque<std::future<Pending>> decoding;
    size_t next = 0;

    auto fill = [&] {
      while (!stop && next < todo.size() && decoding.size() < max_in_flight) {
        std::string item = todo[next++];
        decoding.push_back(pool.submit([&run, item] { return run.decode(item); }));
      }
    };

    // A group between the model and the writers. The model's device works on one group while
    // the host judges and writes the one before and builds the one after (Inference).
    struct Flight {
      std::vector<std::shared_ptr<Pending>> group;
      std::vector<Pending*> owners;  // the items the model runs on: read, and with boxes or a detector
      std::unique_ptr<Inference> inference;
    };
    // Judges a fetched group and hands its items to the writers.
    auto complete = [&](Flight& f, const std::vector<ModelOutput>& outputs) {
      for (Pending* owner : f.owners) owner->input = {};
      for (const auto& p : f.group) {
        if (!p->result.error) {
          const auto it = std::find(f.owners.begin(), f.owners.end(), p.get());
          run.judge(*p, it == f.owners.end() ? ModelOutput{} : outputs[static_cast<size_t>(it - f.owners.begin())]);
        }
        committer.push(pool.submit([&run, p] { return run.write(*p); }));
      }
    };
    // A step of the model's; false (the error kept for after the writers) when it failed.
    std::exception_ptr model_failure;
    auto model_step = [&](const auto& step) {
      try {
        step();
        return true;
      } catch (...) {
        model_failure = std::current_exception();
        return false;
      }
    };
    // Fetches and completes the group in flight, if any.
    std::optional<Flight> previous;
    auto land = [&] {
      std::vector<ModelOutput> outputs;
      const bool ok = !previous || !previous->inference || model_step([&] {
        previous->inference->fetch();  // waits for the device
        outputs = previous->inference->outputs();
      });
      if (ok && previous) complete(*previous, outputs);
      previous.reset();
      return ok;
    };

    // A decoded item whose crops would have overfilled the last group's batch: it opens the next
    // group (a group of 66 crops ran as a batch of 64 and one of 2, which costs a whole forward's
    // fixed overhead on CPU).
    std::shared_ptr<Pending> carried;
    for (;;) {
      fill();
      if (stop || (decoding.empty() && !carried)) break;
      // A batch: whole images until their crops (classifier) or images (detectors) fill it. An
      // image with more crops than a batch goes alone, over several batches.
      Flight flight;
      int units = 0;
      while ((carried || !decoding.empty()) && units < batch && flight.group.size() < max_in_flight) {
        std::shared_ptr<Pending> p = std::move(carried);
        if (!p) {
          p = std::make_shared<Pending>(decoding.front().get());
          decoding.pop_front();
          fill();
        }
        if (units > 0 && units + p->input.count > batch) {
          carried = std::move(p);
          break;
        }
        units += p->input.count;
        flight.group.push_back(std::move(p));
      }
      std::vector<const ModelInput*> inputs;
      for (const auto& p : flight.group) {
        if (p->result.error || p->input.count == 0) continue;
        inputs.push_back(&p->input);
        flight.owners.push_back(p.get());
      }
      // Staged on the host; the last group fetched; the device starts on this one while the
      // host decodes, judges and writes the last one.
      if (!inputs.empty() && !model_step([&] { flight.inference = model->prepare(inputs); })) break;
      std::vector<ModelOutput> outputs;
      if (previous && previous->inference && !model_step([&] { previous->inference->fetch(); })) break;
      const bool launched = !flight.inference || model_step([&] { flight.inference->launch(); });
      if (previous && previous->inference && !model_step([&] { outputs = previous->inference->outputs(); })) break;
      if (previous) complete(*previous, outputs);
      if (!launched) break;
      previous = std::move(flight);
    }
    if (!model_failure) land();
    // Items already judged are finished; items still decoding are dropped (not journalled).
    try {
      committer.finish();
    } catch (const std::exception& e) {
      if (!model_failure) throw;
      // The model's failure goes first: the orchestrator classifies it (an out-of-memory is
      // retried with a smaller batch); the items not journalled are done again on --resume.
      print_warning(fmt::format("the finished items could not all be journalled: {}", e.what()));
    }
    interrupted = stop.load();
    if (model_failure) {
      try {
        std::rethrow_exception(model_failure);
      } catch (const Error& e) {
        throw;
      } catch (const std::exception& e) {
        throw Error(ExitCode::failed, fmt::format("the model failed: {}", e.what()));
      }
    }
  }
  json fields{{"task", to_string(config.task)}};
  if (config.verification.policy == Policy::adaptive) {
    // The verdicts are final only once the whole run's scores are known: the orchestrator
    // calls `image_worker --finalize` after the merge (finalize.h), which needs these.
    fields["finalize"] = true;
    fields["judgeable_classes"] = model->covered();
  }
  return finish_shard(args, journal, items, "image_worker", started, interrupted,
                      config.task == Task::autolabel ? autolabel_report_layout() : image_report_layout(), fields);
}

}  // namespace lv
