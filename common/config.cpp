#include "config.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"

namespace lv {

std::string_view to_string(DebugImages v) {
  switch (v) {
    case DebugImages::all: return "all";
    case DebugImages::issues: return "issues";
    case DebugImages::none: return "none";
  }
  return "?";
}
std::string_view to_string(LinkMode v) { return v == LinkMode::copy ? "copy" : "hardlink"; }
std::string_view to_string(ModelType v) {
  switch (v) {
    case ModelType::classifier: return "classifier";
    case ModelType::yolov8: return "yolov8";
    case ModelType::yolov5: return "yolov5";
    case ModelType::text: return "text";
  }
  return "?";
}
std::string_view to_string(Task v) {
  switch (v) {
    case Task::verify: return "verify";
    case Task::classify: return "classify";
    case Task::embed: return "embed";
    case Task::autolabel: return "autolabel";
  }
  return "?";
}
std::string_view to_string(Tokenizer v) { return v == Tokenizer::wordpiece ? "wordpiece" : "hashed"; }
std::string_view to_string(Pooling v) { return v == Pooling::mean ? "mean" : "cls"; }
std::string_view to_string(Policy v) { return v == Policy::fixed ? "fixed" : "adaptive"; }
std::string_view to_string(LauncherKind v) { return v == LauncherKind::local ? "local" : "slurm"; }

namespace {

namespace fs = std::filesystem;

/// Walks one YAML mapping, remembering which keys were read so that the rest can be reported
/// as unknown. Every error names the file, the line and the full key path.
class Section {
 public:
  Section(const YAML::Node& node, std::string path, const fs::path& file)
      : node_(node), path_(std::move(path)), file_(file) {
    if (node_ && !node_.IsNull() && !node_.IsMap())
      fail(node_, "expected a mapping of keys");
  }

  [[noreturn]] void fail(const YAML::Node& at, const std::string& what) const {
    fail_at(at, path_, what);
  }
  [[noreturn]] void fail_at(const YAML::Node& at, const std::string& key, const std::string& what) const {
    const YAML::Mark mark = at.Mark();
    const std::string where = mark.line >= 0 ? fmt::format("{}:{}", file_.string(), mark.line + 1) : file_.string();
    throw usage_error(fmt::format("{}: {}: {}", where, key.empty() ? "(top level)" : key, what));
  }

  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  /// The child node for `key`, or an undefined node; marks the key as known.
  YAML::Node child(const std::string& key) {
    known_.insert(key);
    if (!node_ || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    return node_[key];
  }

  Section section(const std::string& key) { return Section(child(key), key_path(key), file_); }

  std::string scalar(const std::string& key, const YAML::Node& n, const char* expected) const {
    if (!n.IsScalar()) fail_at(n, key_path(key), fmt::format("expected {}", expected));
    return n.Scalar();
  }

  void get_string(const std::string& key, std::string& out) {
    const YAML::Node n = child(key);
    if (!present(n)) return;
    out = scalar(key, n, "a string");
  }

  void get_path(const std::string& key, fs::path& out) {
    const YAML::Node n = child(key);
    if (!present(n)) return;
    const std::string s = scalar(key, n, "a path");
    out = resolve(s);
  }

  fs::path resolve(const std::string& s) const {
    if (s.empty()) return {};
    const fs::path p(s);
    return p.is_absolute() ? p.lexically_normal() : (file_.parent_path() / p).lexically_normal();
  }

  void get_bool(const std::string& key, bool& out) {
    const YAML::Node n = child(key);
    if (!present(n)) return;
    const std::string s = scalar(key, n, "true or false");
    if (s == "true" || s == "True" || s == "yes") out = true;
    else if (s == "false" || s == "False" || s == "no") out = false;
    else fail_at(n, key_path(key), fmt::format("expected true or false, got '{}'", s));
  }

  void get_double(const std::string& key, double& out, double lo, double hi) {
    const YAML::Node n = child(key);
    if (!present(n)) return;
    const std::string s = scalar(key, n, "a number");
    double v = 0;
    size_t used = 0;
    try {
      v = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty() || !std::isfinite(v))
      fail_at(n, key_path(key), fmt::format("expected a number, got '{}'", s));
    if (v < lo || v > hi)
      fail_at(n, key_path(key), fmt::format("expected a number in [{}, {}], got {}", lo, hi, s));
    out = v;
  }

  void get_int(const std::string& key, int64_t& out, int64_t lo, int64_t hi) {
    const YAML::Node n = child(key);
    if (!present(n)) return;
    out = parse_int(key, n, lo, hi);
  }
  void get_int(const std::string& key, int& out, int lo, int hi) {
    int64_t v = out;
    get_int(key, v, lo, hi);
    out = static_cast<int>(v);
  }

  int64_t parse_int(const std::string& key, const YAML::Node& n, int64_t lo, int64_t hi) const {
    const std::string s = scalar(key, n, "an integer");
    int64_t v = 0;
    size_t used = 0;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty()) fail_at(n, key_path(key), fmt::format("expected an integer, got '{}'", s));
    if (v < lo || v > hi)
      fail_at(n, key_path(key), fmt::format("expected an integer in [{}, {}], got {}", lo, hi, v));
    return v;
  }

  template <typename Enum>
  void get_enum(const std::string& key, Enum& out, std::initializer_list<Enum> values) {
    const YAML::Node n = child(key);
    if (!present(n)) return;
    const std::string s = scalar(key, n, "a string");
    std::vector<std::string_view> names;
    for (Enum v : values) {
      if (to_string(v) == s) {
        out = v;
        return;
      }
      names.push_back(to_string(v));
    }
    fail_at(n, key_path(key), fmt::format("expected one of {}, got '{}'", fmt::join(names, " | "), s));
  }

  std::vector<std::string> string_list(const std::string& key, const YAML::Node& n) const {
    if (!n.IsSequence()) fail_at(n, key_path(key), "expected a list of strings");
    std::vector<std::string> out;
    for (size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) fail_at(n[i], fmt::format("{}[{}]", key_path(key), i), "expected a string");
      out.push_back(n[i].Scalar());
    }
    return out;
  }

  /// string_list() of class names: a name given twice would make two ids mean one class.
  std::vector<std::string> name_list(const std::string& key, const YAML::Node& n) const {
    std::vector<std::string> out = string_list(key, n);
    for (size_t i = 1; i < out.size(); ++i) {
      const auto first = std::find(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(i), out[i]);
      if (first != out.begin() + static_cast<std::ptrdiff_t>(i))
        fail_at(n[i], fmt::format("{}[{}]", key_path(key), i),
                fmt::format("'{}' is already {}[{}]; each class name once", out[i], key_path(key), first - out.begin()));
    }
    return out;
  }

  void get_string_list(const std::string& key, std::vector<std::string>& out) {
    const YAML::Node n = child(key);
    if (!present(n)) return;
    out = string_list(key, n);
  }

  /// A list of paths, each resolved like get_path().
  std::vector<fs::path> path_list(const std::string& key, const YAML::Node& n) const {
    std::vector<fs::path> out;
    for (const std::string& s : string_list(key, n)) {
      if (s.empty()) fail_at(n[out.size()], fmt::format("{}[{}]", key_path(key), out.size()), "expected a path");
      fs::path p = resolve(s);
      if (p.filename().empty() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();  // "cam2/"
      out.push_back(std::move(p));
    }
    return out;
  }

  void get_number_list(const std::string& key, std::vector<double>& out, size_t count) {
    const YAML::Node n = child(key);
    if (!present(n)) return;
    if (!n.IsSequence() || n.size() != count)
      fail_at(n, key_path(key), fmt::format("expected a list of {} numbers", count));
    std::vector<double> v;
    for (size_t i = 0; i < n.size(); ++i) {
      double d = 0;
      try {
        size_t used = 0;
        const std::string text = n[i].IsScalar() ? n[i].Scalar() : std::string();
        d = std::stod(text, &used);
        if (used != text.size() || !std::isfinite(d)) throw std::invalid_argument("not a number");
      } catch (const std::exception&) {
        fail_at(n[i], fmt::format("{}[{}]", key_path(key), i), "expected a number");
      }
      v.push_back(d);
    }
    out = v;
  }

  static bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

  /// Throws for the first key that nothing read.
  void finish() const {
    if (!node_ || !node_.IsMap()) return;
    std::set<std::string> seen;
    for (const auto& kv : node_) {
      if (!kv.first.IsScalar()) fail_at(kv.first, path_, "expected a plain key name");
      const std::string key = kv.first.Scalar();
      // yaml-cpp keeps one of two equal keys silently; a config must not say two things.
      if (!seen.insert(key).second) fail_at(kv.first, key_path(key), "key given twice");
      if (known_.count(key) == 0) {
        std::vector<std::string> names(known_.begin(), known_.end());
        fail_at(kv.first, key_path(key), fmt::format("unknown key (known keys here: {})", fmt::join(names, ", ")));
      }
    }
  }

  const fs::path& file() const { return file_; }

 private:
  YAML::Node node_;
  std::string path_;
  fs::path file_;
  std::set<std::string> known_;
};

/// The deepest folder that holds every one of `folders` (input.images given as a list): the
/// root their items are named from, so that `cam1/a.jpg` and `cam2/a.jpg` stay two items.
/// A folder listed twice or inside another listed one would list its images twice: refused,
/// naming both entries.
fs::path common_folder(const std::vector<fs::path>& folders, const Section& s, const YAML::Node& node) {
  if (folders.empty()) s.fail_at(node, s.key_path("images"), "expected a folder, a list file, or a list of folders");
  const auto inside = [](const fs::path& inner, const fs::path& outer) {
    auto o = outer.begin();
    auto i = inner.begin();
    for (; o != outer.end(); ++o, ++i) {
      if (o->empty()) continue;  // a trailing separator
      if (i == inner.end() || *i != *o) return false;
    }
    return true;
  };
  for (size_t a = 0; a < folders.size(); ++a)
    for (size_t b = 0; b < folders.size(); ++b)
      if (a != b && inside(folders[b], folders[a]))
        s.fail_at(node[b], fmt::format("{}[{}]", s.key_path("images"), b),
                  fmt::format("{} is {} {}[{}] ({}): its images would be listed twice", folders[b].string(),
                              folders[b] == folders[a] ? "the same folder as" : "inside", s.key_path("images"), a,
                              folders[a].string()));
  fs::path common;
  for (const fs::path& part : folders.front()) {
    if (part.empty()) break;
    const fs::path next = common / part;
    if (!std::all_of(folders.begin(), folders.end(), [&](const fs::path& f) { return inside(f, next); })) break;
    common = next;
  }
  return common;
}

/// Records where each document starts; nothing else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

/// YAML::Load reads the first document and drops the rest without a word, so look for a
/// second one. Never YAML::LoadAll: yaml-cpp 0.7 loops forever on text such as "," (each call
/// yields another empty document at the same place); two calls here are enough to tell.
void refuse_second_document(const std::string& text, const fs::path& file) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts handler;
  if (!parser.HandleNextDocument(handler) || !parser.HandleNextDocument(handler)) return;
  if (handler.starts.size() != 2) throw usage_error(fmt::format("{}: a second YAML document is not allowed", file.string()));
  const YAML::Mark& second = handler.starts.back();
  if (handler.starts.size() == 2 && second.pos == handler.starts.front().pos)
    throw usage_error(fmt::format("{}:{}: invalid YAML: no document can start at column {} ('{}')", file.string(),
                                  second.line + 1, second.column + 1, printable(text.substr(second.pos, 1))));
  throw usage_error(fmt::format("{}:{}: a second YAML document (after '---') is not allowed: one config per file",
                                file.string(), second.line + 1));
}

}  // namespace

Config parse_config(const std::string& raw, const fs::path& file) {
  // A byte-order mark (Windows editors add one) is not YAML: yaml-cpp took it for a scalar.
  const std::string_view bom = "\xEF\xBB\xBF";
  const std::string text = std::string_view(raw).substr(0, 3) == bom ? raw.substr(3) : raw;
  YAML::Node root;
  try {
    root = YAML::Load(text);
    refuse_second_document(text, file);
  } catch (const YAML::Exception& e) {
    throw usage_error(fmt::format("{}:{}: invalid YAML: {}", file.string(), e.mark.line + 1, e.msg));
  }

  Config c;
  c.file = file;
  Section top(root, "", file);
  top.get_enum("task", c.task, {Task::verify, Task::classify, Task::embed, Task::autolabel});

  {
    Section s = top.section("input");
    if (const YAML::Node images = s.child("images"); Section::present(images) && images.IsSequence()) {
      c.input.image_folders = s.path_list("images", images);
      c.input.images = common_folder(c.input.image_folders, s, images);
    } else {
      s.get_path("images", c.input.images);
    }
    s.get_path("documents", c.input.documents);
    s.get_path("root", c.input.root);
    const YAML::Node classes = s.child("classes");
    if (Section::present(classes)) {
      if (classes.IsSequence()) {
        c.input.classes = s.name_list("classes", classes);
      } else {
        c.input.classes_file = s.resolve(s.scalar("classes", classes, "a path or a list of names"));
      }
    }
    s.finish();
  }
  {
    Section s = top.section("output");
    s.get_path("dir", c.output.dir);
    s.get_enum("debug_images", c.output.debug_images, {DebugImages::all, DebugImages::issues, DebugImages::none});
    s.get_enum("link_mode", c.output.link_mode, {LinkMode::copy, LinkMode::hardlink});
    s.get_bool("review", c.output.review);
    s.finish();
  }
  {
    Section s = top.section("model");
    s.get_path("path", c.model.path);
    s.get_enum("type", c.model.type, {ModelType::classifier, ModelType::yolov8, ModelType::yolov5, ModelType::text});
    // auto (or left out): the model's own size, an export's imgsz (export_metadata.h).
    if (const YAML::Node n = s.child("input_size"); Section::present(n) && !(n.IsScalar() && n.Scalar() == "auto")) {
      c.model.input_size = static_cast<int>(s.parse_int("input_size", n, 8, 8192));
      c.model.input_size_line = n.Mark().line + 1;
    }
    if (const YAML::Node names = s.child("class_names"); Section::present(names))
      c.model.class_names = s.name_list("class_names", names);
    const YAML::Node aliases = s.child("aliases");
    if (Section::present(aliases)) {
      if (!aliases.IsMap()) s.fail_at(aliases, "model.aliases", "expected a mapping {dataset name: model name or list}");
      for (const auto& kv : aliases) {
        if (!kv.first.IsScalar()) s.fail_at(kv.first, "model.aliases", "expected a dataset class name as key");
        const std::string name = kv.first.Scalar();
        if (c.model.aliases.count(name)) s.fail_at(kv.first, "model.aliases." + name, "key given twice");
        const std::string key = "aliases." + name;
        if (kv.second.IsScalar()) c.model.aliases[name] = {kv.second.Scalar()};
        else if (kv.second.IsSequence()) c.model.aliases[name] = s.string_list(key, kv.second);
        else s.fail_at(kv.second, s.key_path(key), "expected a model class name or a list of them");
      }
    }
    s.get_double("crop_margin", c.model.crop_margin, 0.0, 2.0);
    s.get_number_list("mean", c.model.mean, 3);
    s.get_number_list("std", c.model.std, 3);
    for (double v : c.model.std)
      if (v <= 0) s.fail_at(s.child("std"), "model.std", "expected positive numbers");
    s.get_double("nms_iou", c.model.nms_iou, 0.0, 1.0);
    s.get_double("conf_threshold", c.model.conf_threshold, 0.0, 1.0);
    s.get_enum("tokenizer", c.model.tokenizer, {Tokenizer::wordpiece, Tokenizer::hashed});
    s.get_path("vocab", c.model.vocab);
    s.get_int("max_length", c.model.max_length, 2, 1 << 20);
    s.get_int("hash_buckets", c.model.hash_buckets, 2, int64_t{1} << 40);
    s.get_bool("hash_bigrams", c.model.hash_bigrams);
    s.get_enum("pooling", c.model.pooling, {Pooling::mean, Pooling::cls});
    s.finish();
  }
  {
    Section s = top.section("verification");
    s.get_double("correct_threshold", c.verification.correct_threshold, 0.0, 1.0);
    s.get_double("mislabel_threshold", c.verification.mislabel_threshold, 0.0, 1.0);
    s.get_double("iou_threshold", c.verification.iou_threshold, 0.0, 1.0);
    s.get_double("missing_threshold", c.verification.missing_threshold, 0.0, 1.0);
    s.get_double("location_min_iou", c.verification.location_min_iou, 0.0, 1.0);
    s.get_double("background_threshold", c.verification.background_threshold, 0.0, 1.0);
    s.get_enum("policy", c.verification.policy, {Policy::fixed, Policy::adaptive});
    s.finish();
  }
  {
    Section s = top.section("autolabel");
    s.get_double("conf_threshold", c.autolabel.conf_threshold, 0.0, 1.0);
    s.finish();
  }
  {
    Section s = top.section("processing");
    s.get_int("batch_size", c.processing.batch_size, 1, 65536);
    const YAML::Node threads = s.child("num_threads");
    if (Section::present(threads)) {
      if (threads.IsScalar() && threads.Scalar() == "auto") c.processing.num_threads = 0;
      else c.processing.num_threads = static_cast<int>(s.parse_int("num_threads", threads, 1, 1024));
    }
    s.get_bool("fp16", c.processing.fp16);
    s.get_int("max_image_pixels", c.processing.max_image_pixels, 1, int64_t{1} << 40);
    const YAML::Node decode = s.child("decode_threads");
    if (Section::present(decode)) {
      if (decode.IsScalar() && decode.Scalar() == "auto") c.processing.decode_threads = 0;
      else c.processing.decode_threads = static_cast<int>(s.parse_int("decode_threads", decode, 1, 256));
    }
    s.get_int("max_document_bytes", c.processing.max_document_bytes, 1, int64_t{1} << 30);
    s.finish();
  }
  {
    Section s = top.section("report");
    s.get_bool("include_probabilities", c.report.include_probabilities);
    s.get_bool("include_predictions", c.report.include_predictions);
    s.get_int("top_k", c.report.top_k, 1, 100000);
    s.finish();
  }
  {
    Section s = top.section("worker");
    // Documents are read by doc_worker unless the config names another worker.
    if (!c.input.documents.empty()) c.worker.executable = "doc_worker";
    s.get_string("executable", c.worker.executable);
    if (c.worker.executable.empty()) s.fail_at(s.child("executable"), "worker.executable", "expected a program name or path");
    s.get_string_list("args", c.worker.args);
    s.finish();
  }
  {
    Section s = top.section("orchestrator");
    s.get_double("stall_timeout_s", c.orchestrator.stall_timeout_s, 0.0, 1e9);
    s.get_double("startup_timeout_s", c.orchestrator.startup_timeout_s, 0.0, 1e9);
    s.get_double("stop_grace_s", c.orchestrator.stop_grace_s, 0.0, 3600.0);
    s.get_int("max_retries", c.orchestrator.max_retries, 0, 100);
    s.get_double("status_interval_s", c.orchestrator.status_interval_s, 0.1, 86400.0);
    s.get_bool("balance", c.orchestrator.balance);
    s.get_enum("launcher", c.orchestrator.launcher, {LauncherKind::local, LauncherKind::slurm});
    s.finish();
  }
  {
    Section s = top.section("slurm");
    s.get_int("tasks", c.slurm.tasks, 0, 100000);
    s.get_string("partition", c.slurm.partition);
    s.get_string("account", c.slurm.account);
    s.get_string("qos", c.slurm.qos);
    s.get_string("time_limit", c.slurm.time_limit);
    s.get_string("gres", c.slurm.gres);
    s.get_int("cpus_per_task", c.slurm.cpus_per_task, 0, 100000);
    s.get_string("memory", c.slurm.memory);
    s.get_int("max_concurrent", c.slurm.max_concurrent, 0, 100000);
    s.get_string_list("sbatch_args", c.slurm.sbatch_args);
    s.finish();
  }
  top.finish();

  // Where a cross-key mistake is reported: the deepest of the keys present.
  auto at = [&root](std::initializer_list<const char*> keys) {
    YAML::Node n(root);  // shares the tree; reset() below rebinds, operator= would write into it
    for (const char* key : keys) {
      if (!n.IsMap()) break;
      const YAML::Node next = static_cast<const YAML::Node&>(n)[key];
      if (!next.IsDefined()) break;
      n.reset(next);
    }
    return n;
  };
  const bool documents = !c.input.documents.empty();
  if (c.input.images.empty() && !documents)
    top.fail_at(root, "input.images",
                "required: a folder of images or a list file (or input.documents: a .jsonl, .tsv, .csv or a folder of .txt)");
  if (!c.input.images.empty() && documents)
    top.fail_at(at({"input", "documents"}), "input.documents", "give input.images or input.documents, not both");
  if (documents && c.model.type != ModelType::text)
    top.fail_at(at({"model", "type"}), "model.type",
                fmt::format("input.documents needs model.type: text, got '{}'", to_string(c.model.type)));
  if (!documents && c.model.type == ModelType::text)
    top.fail_at(at({"model", "type"}), "model.type", "model.type text reads input.documents, which is not set");
  if (!documents && c.task != Task::verify && c.task != Task::autolabel)
    top.fail_at(at({"task"}), "task",
                fmt::format("task {} needs input.documents (images: verify or autolabel)", to_string(c.task)));
  if (documents && c.task == Task::autolabel)
    top.fail_at(at({"task"}), "task", "task autolabel reads input.images (documents: verify, classify or embed)");
  if (c.task == Task::autolabel && c.autolabel.conf_threshold < c.model.conf_threshold)
    top.fail_at(at({"autolabel", "conf_threshold"}), "autolabel.conf_threshold",
                fmt::format("{} is below model.conf_threshold {}: the model's predictions under that are dropped "
                            "before any is written; lower model.conf_threshold too",
                            c.autolabel.conf_threshold, c.model.conf_threshold));
  if (c.task == Task::autolabel && c.model.type == ModelType::classifier)
    top.fail_at(at({"model", "type"}), "model.type",
                "task autolabel needs a detector (yolov8 or yolov5): a classifier only judges boxes it is given");
  if (c.verification.policy == Policy::adaptive && (c.model.type != ModelType::classifier || c.task != Task::verify))
    top.fail_at(at({"verification", "policy"}), "verification.policy",
                "adaptive judges the class scores of a crop classifier (model.type classifier, task verify); "
                "detectors and documents use the fixed rules");
  if (documents && c.model.tokenizer == Tokenizer::wordpiece && c.model.vocab.empty())
    top.fail_at(at({"model"}), "model.vocab", "required with model.tokenizer wordpiece: the model's vocab.txt");
  if (c.output.dir.empty()) c.output.dir = (file.parent_path() / "output").lexically_normal();
  return c;
}

Config load_config(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw usage_error(fmt::format("{}: config file not found (pass --config PATH)", file.string()));
  std::string text;
  try {
    text = read_file(file);
  } catch (const Error& e) {
    throw usage_error(e.what());
  }
  return parse_config(text, fs::absolute(file).lexically_normal());
}

std::vector<std::string> read_classes_file(const fs::path& file) {
  std::error_code ec;
  const fs::file_status st = fs::status(file, ec);
  // A FIFO would block the read forever; a folder would read as "no names".
  if (fs::exists(st) && !fs::is_regular_file(st))
    throw Error(ExitCode::input_unreadable, fmt::format("{}: input.classes: not a regular file", file.string()));
  std::string text;
  try {
    text = read_file(file);
  } catch (const Error& e) {
    throw Error(ExitCode::input_unreadable, fmt::format("{} (input.classes)", e.what()));
  }
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  std::vector<std::string> names;
  std::map<std::string, int> line_of;
  int line = 0;
  size_t start = 0;
  while (start < text.size()) {
    ++line;
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view raw = std::string_view(text).substr(start, end - start);
    start = end + 1;
    const size_t b = raw.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) continue;
    std::string name(raw.substr(b, raw.find_last_not_of(" \t\r") - b + 1));
    if (const auto it = line_of.find(name); it != line_of.end())
      throw usage_error(fmt::format("{}:{}: input.classes: '{}' is already on line {}; each class name once",
                                    file.string(), line, name, it->second));
    line_of.emplace(name, line);
    names.push_back(std::move(name));
  }
  if (names.empty())
    throw Error(ExitCode::input_unreadable, fmt::format("{}: input.classes: the classes file holds no names", file.string()));
  return names;
}

const fs::path& input_path(const Config& config) {
  return config.input.documents.empty() ? config.input.images : config.input.documents;
}

std::vector<std::string> dataset_class_names(const Config& config) {
  if (!config.input.classes.empty()) return config.input.classes;
  if (config.input.classes_file.empty())
    throw usage_error(fmt::format("{}: input.classes: required: a classes file or a list of names", config.file.string()));
  return read_classes_file(config.input.classes_file);
}

fs::path input_root(const Config& config) {
  std::error_code ec;
  const fs::path& images = config.input.images;
  if (fs::is_directory(images, ec)) return images;
  if (!fs::exists(images, ec))
    throw Error(ExitCode::input_unreadable, fmt::format("{}: input.images: no such file or folder", images.string()));
  return config.input.root.empty() ? images.parent_path() : config.input.root;
}

}  // namespace lv
