#pragma once
/// The YAML run configuration (DESIGN §4); every key is documented in configs/default.yaml.
///
/// Relative paths in the file are resolved against the folder that holds the config file, so
/// the orchestrator and its workers agree whatever their working directory.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lv {

enum class DebugImages { all, issues, none };
enum class LinkMode { copy, hardlink };
enum class ModelType { classifier, yolov8, yolov5, text };
enum class Task { verify, classify, embed, autolabel };
enum class Tokenizer { wordpiece, hashed };
enum class Pooling { mean, cls };
enum class Policy { fixed, adaptive };
enum class LauncherKind { local, slurm };

std::string_view to_string(DebugImages v);
std::string_view to_string(LinkMode v);
std::string_view to_string(ModelType v);
std::string_view to_string(Task v);
std::string_view to_string(Tokenizer v);
std::string_view to_string(Pooling v);
std::string_view to_string(Policy v);
std::string_view to_string(LauncherKind v);

struct Config {
  std::filesystem::path file;  ///< the file this was loaded from (absolute); empty for defaults

  /// What the workers do: verify labels (images and documents), classify or embed (documents),
  /// autolabel (images, with a detector).
  Task task = Task::verify;

  struct Input {
    std::filesystem::path images;        ///< a folder (recursive scan) or a list file; for a list of folders, their deepest common folder (the root items are relative to)
    std::vector<std::filesystem::path> image_folders;  ///< `images` given as a list of folders: each one, in order
    std::filesystem::path documents;     ///< .jsonl, .tsv/.csv with a header, or a folder of .txt (instead of images)
    std::filesystem::path root;          ///< list files only; empty = the list file's folder
    std::filesystem::path classes_file;  ///< set when `classes` is a path
    std::vector<std::string> classes;    ///< set when `classes` is an inline list
  } input;

  struct Output {
    std::filesystem::path dir;
    DebugImages debug_images = DebugImages::issues;
    LinkMode link_mode = LinkMode::copy;
    bool review = true;                  ///< review/ page (orchestrator), thumbnails of flagged boxes, issues.csv
  } output;

  struct Model {
    std::filesystem::path path;
    ModelType type = ModelType::classifier;
    /// The side of the square model input. auto or left out (input_size_line 0): the model's
    /// own, an Ultralytics export's `imgsz` in its config.txt, else 64.
    int input_size = 64;
    int input_size_line = 0;             ///< the config line that sets input_size; 0: auto
    std::vector<std::string> class_names;
    std::map<std::string, std::vector<std::string>> aliases;  ///< dataset name -> model names
    double crop_margin = 0.0;            ///< classifier: context around each box, in box sizes
    std::vector<double> mean{0.0, 0.0, 0.0};  ///< classifier: per-channel RGB mean (input in [0,1])
    std::vector<double> std{1.0, 1.0, 1.0};   ///< classifier: per-channel RGB std
    double nms_iou = 0.45;               ///< detectors: class-aware NMS IoU
    double conf_threshold = 0.25;        ///< detectors: predictions below this are dropped
    Tokenizer tokenizer = Tokenizer::wordpiece;  ///< text: how documents become token ids
    std::filesystem::path vocab;         ///< text, wordpiece: the model's vocab.txt
    int max_length = 128;                ///< text: tokens per document, [CLS] and [SEP] included
    int64_t hash_buckets = 262144;       ///< text, hashed: ids are 1 + hash % (buckets - 1)
    bool hash_bigrams = true;            ///< text, hashed: word bigrams too
    Pooling pooling = Pooling::mean;     ///< text, embed: how a [B, L, D] output becomes [B, D]
  } model;

  struct Verification {
    double correct_threshold = 0.5;
    double mislabel_threshold = 0.8;
    double iou_threshold = 0.5;
    double missing_threshold = 0.9;
    double location_min_iou = 0.1;       ///< detectors: partial overlap from here up to iou_threshold can be bad_location
    double background_threshold = 0.05; ///< detectors: no prediction this strong near a label box makes it spurious; 0: never
    Policy policy = Policy::fixed;       ///< adaptive: per-class thresholds from the run's own scores too (classifiers; image_worker --finalize)
  } verification;

  struct Autolabel {
    double conf_threshold = 0.5;         ///< task autolabel: predictions written as labels from this score
  } autolabel;

  struct Processing {
    int batch_size = 32;
    int num_threads = 0;                 ///< 0 = auto (cores / workers)
    bool fp16 = false;
    int64_t max_image_pixels = 100'000'000;  ///< refuse larger images (memory guard)
    int decode_threads = 0;              ///< image decoding/preprocessing threads per worker; 0 = auto
    int64_t max_document_bytes = 1 << 20;  ///< documents: longer texts are cut here (noted in the report)
  } processing;

  struct Report {
    bool include_probabilities = false;
    bool include_predictions = false;    ///< detectors: every prediction of an image in its record
    int top_k = 3;                       ///< classify: labels listed per document
  } report;

  struct Worker {
    std::string executable = "image_worker";
    std::vector<std::string> args;
  } worker;

  struct Orchestrator {
    double stall_timeout_s = 600;
    double startup_timeout_s = 900;      ///< before the first progress line: no sign of life this long = stalled
    double stop_grace_s = 10;            ///< SIGTERM, then SIGKILL after this long
    int max_retries = 0;
    double status_interval_s = 10;       ///< progress lines when stdout is not a terminal
    bool balance = true;                 ///< idle GPUs take over the unstarted tail of busy shards
    LauncherKind launcher = LauncherKind::local;  ///< local processes, or the tasks of a Slurm job array
  } orchestrator;

  /// launcher slurm: what each array task asks Slurm for (issue 11; README "Running on a Slurm
  /// cluster"). Empty strings and 0 leave the cluster's defaults.
  struct Slurm {
    int tasks = 0;                       ///< shards = array tasks (--num-gpus overrides); 0: --num-gpus must say
    std::string partition;               ///< --partition
    std::string account;                 ///< --account
    std::string qos;                     ///< --qos
    std::string time_limit;              ///< --time per task ("HH:MM:SS", "D-HH:MM", minutes)
    std::string gres = "gpu:1";          ///< --gres per task; "" asks for none (CPU tasks)
    int cpus_per_task = 0;               ///< --cpus-per-task
    std::string memory;                  ///< --mem per task ("16G")
    int max_concurrent = 0;              ///< %K of --array: at most this many tasks at once; 0 = no limit
    std::vector<std::string> sbatch_args;  ///< more sbatch arguments, one argv element each
  } slurm;
};

/// Loads and validates a config file. An unknown key, a wrong type or an out-of-range value
/// throws lv::Error (exit 2) whose message names the file, the line, the key path and what
/// was expected. Keys left out take the defaults above.
Config load_config(const std::filesystem::path& file);

/// Parses config text as if it were read from `file` (used by tests and by load_config).
/// A second YAML document (`---`) is an error, as is a class name listed twice.
Config parse_config(const std::string& text, const std::filesystem::path& file);

/// Class names from a classes file: one name a line, surrounding blanks trimmed, blank lines
/// and a leading UTF-8 byte order mark skipped. Throws lv::Error naming the file: exit 4 when
/// it is not a readable regular file or holds no names; exit 2, with both lines, when a name
/// repeats.
std::vector<std::string> read_classes_file(const std::filesystem::path& file);

/// The input the run lists: input.documents when set, else input.images.
const std::filesystem::path& input_path(const Config& config);

/// The folder images are relative to: input.images when it is a folder; else input.root; else
/// the list file's folder. Throws lv::Error (exit 4) when input.images does not exist.
std::filesystem::path input_root(const Config& config);

/// The dataset's class names: `input.classes` when given inline, else read_classes_file() of
/// `input.classes_file`. Throws lv::Error (exit 2) naming input.classes when neither is set.
std::vector<std::string> dataset_class_names(const Config& config);

}  // namespace lv
