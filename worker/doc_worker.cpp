#include "doc_worker.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <cstdio>
#include <fstream>
#include <future>
#include <numeric>
#include <optional>
#include <unordered_map>

#include <fmt/core.h>

#include "atomic_file.h"
#include "byte_text.h"
#include "doc_counts.h"
#include "document_corpus.h"
#include "error.h"
#include "hashed_tokenizer.h"
#include "journal.h"
#include "message.h"
#include "model.h"
#include "npy.h"
#include "report.h"
#include "token_batch.h"
#include "verdict.h"
#include "wordpiece.h"

namespace lv {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

/// The hidden file of a shard's document vectors while it runs: float32 rows appended in the
/// order documents finish; a journal record names its row. Turned into concat/embeddings.npy
/// (input order) at the end.
constexpr const char* kRowsFile = ".embeddings.f32";

/// model.tokenizer behind one call.
class TextTokenizer {
 public:
  explicit TextTokenizer(const Config& config) : max_length_(static_cast<size_t>(config.model.max_length)) {
    if (config.model.tokenizer == lv::Tokenizer::hashed) {
      hashed_.emplace();
      hashed_->buckets = config.model.hash_buckets;
      hashed_->bigrams = config.model.hash_bigrams;
    } else {
      wordpiece_.emplace(WordPieceTokenizer::from_vocab_file(config.model.vocab));
    }
  }
  std::vector<int64_t> encode(std::string_view text) const {
    return hashed_ ? hashed_->encode(text, max_length_) : wordpiece_->encode(text, max_length_);
  }
  int64_t pad_id() const { return hashed_ ? 0 : wordpiece_->pad_id(); }
  /// The largest id encode() can give.
  int64_t largest_id() const {
    return hashed_ ? hashed_->buckets - 1 : static_cast<int64_t>(wordpiece_->vocab_size()) - 1;
  }

 private:
  size_t max_length_;
  std::optional<HashedTokenizer> hashed_;
  std::optional<WordPieceTokenizer> wordpiece_;
};

/// One document between reading and the model.
struct Prepared {
  json record;                  ///< item, line, id, label, shard (+ truncated); the verdict comes later
  int label = -1;               ///< dataset class of the label, -1 when none
  std::vector<int64_t> tokens;  ///< empty for a record that is already an error
  bool failed = false;
  std::string snippet;          ///< task verify: the text's start, for a flagged document's record
};

/// How much of a flagged document's text its record keeps (the review page shows it).
constexpr size_t kSnippetBytes = 240;

/// The record's common fields: which document, and what it said.
json base_record(const DocumentRecord& d, int shard) {
  json r = json::object();
  set_bytes_field(r, "item", d.item);
  r["line"] = d.line;
  // A record without an id is named by its line ("line" below) and takes no part in the
  // duplicate checks: its line number could equal another record's real id.
  if (d.id_given) set_bytes_field(r, "id", d.id);
  else r["id"] = nullptr;
  if (d.label) set_bytes_field(r, "label", *d.label);
  else r["label"] = nullptr;
  r["shard"] = shard;
  r["error"] = nullptr;
  if (d.truncated) {
    r["truncated"] = true;
    r["text_bytes"] = d.text_bytes;
  }
  return r;
}

void fail(Prepared& p, const std::string& why) {
  p.failed = true;
  p.record["verdict"] = "error";
  p.record["error"] = why;
}

/// Files written side by side under temporary names and renamed into place together once all
/// are complete; any left uncommitted are removed.
class OutputSet {
 public:
  ~OutputSet() {
    for (auto& f : files_) {
      f.out.close();
      std::error_code ec;
      if (!committed_) fs::remove(f.tmp, ec);
    }
  }
  std::ofstream& open(const fs::path& path) {
    fs::create_directories(path.parent_path());
    files_.push_back({path, temporary_path(path), {}});
    files_.back().out.open(files_.back().tmp, std::ios::binary | std::ios::trunc);
    if (!files_.back().out) throw Error(ExitCode::failed, fmt::format("{}: cannot write", printable(path.string())));
    return files_.back().out;
  }
  void commit() {
    for (auto& f : files_) {
      f.out.close();
      if (!f.out) throw Error(ExitCode::failed, fmt::format("{}: write failed", printable(f.path.string())));
    }
    for (auto& f : files_) fs::rename(f.tmp, f.path);
    committed_ = true;
  }

 private:
  struct File {
    fs::path path, tmp;
    std::ofstream out;
  };
  std::deque<File> files_;
  bool committed_ = false;
};

/// An id written as one line of embeddings_ids.txt: backslashes and line breaks escaped.
std::string id_line(std::string_view id) {
  std::string out;
  for (char c : id) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

class DocShard {
 public:
  DocShard(const Config& config, const WorkerArgs& args, TextModel& model, const std::vector<std::string>& classes,
           const TextTokenizer& tokenizer)
      : config_(config),
        args_(args),
        model_(model),
        classes_(classes),
        covered_(model.covered()),
        tokenizer_(tokenizer),
        reader_(config.input.documents, static_cast<size_t>(config.processing.max_document_bytes)) {
    for (size_t i = 0; i < classes_.size(); ++i) class_index_.emplace(classes_[i], static_cast<int>(i));
  }

  /// Ids already seen in this shard (a resumed run's journal): a later document with one of
  /// them is a duplicate.
  void remember_id(const std::string& id, int64_t line) { first_line_.emplace(id, line); }

  /// Reads and tokenizes documents, in input order (so "the first" of two equal ids is the
  /// earlier line).
  std::vector<Prepared> prepare(const std::vector<std::string>& items, size_t begin, size_t end) {
    std::vector<Prepared> out;
    out.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      DocumentRecord d = reader_.read(items[i]);
      Prepared p;
      p.record = base_record(d, args_.shard);
      if (!d.error.empty()) {
        fail(p, d.error);
      } else if (d.id_given && !first_line_.emplace(d.id, d.line).second) {
        fail(p, fmt::format("duplicate id '{}': already on line {}", printable(d.id), first_line_.at(d.id)));
      } else if (config_.task == Task::verify && d.label) {
        const auto found = class_index_.find(*d.label);
        if (found == class_index_.end()) fail(p, fmt::format("label '{}' is not among the classes (input.classes)", printable(*d.label)));
        else p.label = found->second;
      }
      if (!p.failed) {
        if (config_.task == Task::verify) p.snippet = std::string(utf8_prefix(d.text, kSnippetBytes));
        p.tokens = tokenizer_.encode(d.text);
        if (p.tokens.empty()) fail(p, "no tokens: the text holds no word the tokenizer keeps");
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  /// Runs the model over the prepared documents in length-sorted batches and journals each
  /// record. Stops between batches when `stop` is set.
  void process(std::vector<Prepared>& docs, ShardJournal& journal, const std::atomic<bool>& stop) {
    std::vector<size_t> valid;
    // Records are journalled a batch at a time, flushed once per batch: a crash re-does at
    // most one batch (a document's outputs are written only at the end of the shard).
    for (size_t i = 0; i < docs.size(); ++i) {
      if (docs[i].failed) journal.append(docs[i].record, /*flush=*/false);
      else valid.push_back(i);
    }
    journal.flush();
    std::vector<size_t> lengths;
    for (size_t i : valid) lengths.push_back(docs[i].tokens.size());
    const std::vector<size_t> order = length_sorted_order(lengths, std::max<size_t>(1, lengths.size()));
    const size_t batch = static_cast<size_t>(config_.processing.batch_size);
    for (size_t b = 0; b < order.size() && !stop; b += batch) {
      std::vector<Prepared*> group;
      std::vector<const std::vector<int64_t>*> seqs;
      for (size_t k = b; k < std::min(order.size(), b + batch); ++k) {
        group.push_back(&docs[valid[order[k]]]);
        seqs.push_back(&group.back()->tokens);
      }
      const TokenBatch tb = pad_batch(seqs, tokenizer_.pad_id());
      const std::vector<float> out = model_.run(tb);
      const size_t width = static_cast<size_t>(model_.width());
      for (size_t r = 0; r < group.size(); ++r) {
        judge(*group[r], out.data() + r * width, width);
        journal.append(group[r]->record, /*flush=*/false);
      }
      journal.flush();
    }
  }

  /// Writes the shard's concat/ files in input order from the journal and the corpus.
  void write_outputs(const std::vector<std::string>& items, const fs::path& journal_path) {
    // Where each item's (last) record is in the journal.
    const auto lines = journal_lines(journal_path);
    std::unordered_map<std::string, int64_t> where;
    lines->scan([&](int64_t key, std::string_view line) {
      const json r = json::parse(line, nullptr, false);
      if (const auto item = record_item(r)) where[*item] = key;
    });
    const fs::path dir = args_.output_dir / kConcatDirName;
    OutputSet files;
    if (config_.task == Task::embed) {
      write_embeddings(items, *lines, where, files, dir);
    } else {
      std::map<std::string, std::ofstream*> by_verdict;
      std::ofstream* corrected = config_.task == Task::verify ? &files.open(dir / "documents_corrected.jsonl") : nullptr;
      const std::vector<std::string> names = config_.task == Task::verify
                                                 ? std::vector<std::string>{"correct", "mislabeled", "uncertain", "unlabeled", "error"}
                                                 : std::vector<std::string>{"classified", "error"};
      for (const std::string& v : names)
        by_verdict[v] = &files.open(dir / (v == "error" ? std::string("errors.jsonl") : v + ".jsonl"));
      for (const std::string& item : items) {
        const auto found = where.find(item);
        if (found == where.end()) continue;
        const json r = json::parse(lines->line_at(found->second));
        const DocumentRecord d = reader_.read(item);
        const std::string verdict = r.value("verdict", "error");
        nlohmann::ordered_json out = d.fields.is_object() ? d.fields : nlohmann::ordered_json::object();
        for (const char* key : {"verdict", "reason", "suggested", "predicted", "confidence", "label_prob", "top_k", "error"})
          if (r.contains(key)) out[key] = r[key];
        if (verdict == "error" || !d.fields.is_object()) out["line"] = r.value("line", int64_t{0});
        const auto target = by_verdict.find(verdict);
        *(target == by_verdict.end() ? by_verdict["error"] : target->second) << out.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
        if (corrected && d.fields.is_object()) {
          nlohmann::ordered_json fixed = d.fields;
          if (verdict == "mislabeled" && r.contains("suggested") && r["suggested"].is_string()) {
            fixed["original_label"] = d.fields.contains("label") ? d.fields["label"] : nlohmann::ordered_json(nullptr);
            fixed["label"] = r["suggested"];
          }
          *corrected << fixed.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
        }
      }
    }
    files.commit();
  }

  /// The embedding rows file, opened for appending (after dropping a torn last row).
  void open_rows() {
    rows_path_ = args_.output_dir / kRowsFile;
    const size_t row_bytes = static_cast<size_t>(model_.width()) * sizeof(float);
    std::error_code ec;
    const uintmax_t size = fs::exists(rows_path_, ec) ? fs::file_size(rows_path_) : 0;
    if (!args_.resume || size % row_bytes != 0) {
      // A fresh start, or a kill in the middle of a row: keep only whole rows.
      if (!args_.resume) fs::remove(rows_path_, ec);
      else fs::resize_file(rows_path_, size - size % row_bytes);
    }
    next_row_ = fs::exists(rows_path_, ec) ? static_cast<int64_t>(fs::file_size(rows_path_) / row_bytes) : 0;
    rows_ = std::fopen(rows_path_.c_str(), "ab");
    if (!rows_) throw Error(ExitCode::failed, fmt::format("{}: cannot open for writing", rows_path_.string()));
  }
  ~DocShard() {
    if (rows_) std::fclose(rows_);
  }

 private:
  void judge(Prepared& p, const float* values, size_t width) {
    json& r = p.record;
    if (config_.task == Task::embed) {
      if (std::fwrite(values, sizeof(float), width, rows_) != width || std::fflush(rows_) != 0)
        throw Error(ExitCode::failed, fmt::format("{}: write failed", rows_path_.string()));
      r["verdict"] = "embedded";
      r["scratch_row"] = next_row_++;  // in .embeddings.f32; embeddings.npy follows embeddings_ids.txt
      return;
    }
    const std::vector<float> probs(values, values + width);
    const auto name = [this](int c) { return c >= 0 ? json(classes_[static_cast<size_t>(c)]) : json(nullptr); };
    if (config_.report.include_probabilities) r["probabilities"] = probs;
    if (config_.task == Task::classify) {
      std::vector<int> order(width);
      std::iota(order.begin(), order.end(), 0);
      const size_t k = std::min(width, static_cast<size_t>(config_.report.top_k));
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                        [&](int a, int b) { return probs[static_cast<size_t>(a)] > probs[static_cast<size_t>(b)]; });
      json top = json::array();
      for (size_t i = 0; i < k; ++i) top.push_back({{"label", name(order[i])}, {"prob", probs[static_cast<size_t>(order[i])]}});
      r["verdict"] = "classified";
      r["predicted"] = name(order[0]);
      r["confidence"] = probs[static_cast<size_t>(order[0])];
      r["top_k"] = std::move(top);
      return;
    }
    if (p.label < 0) {
      // Verify, but the document has no label: what the model thinks, for a person to label.
      const auto best = std::max_element(probs.begin(), probs.end());
      r["verdict"] = "unlabeled";
      r["reason"] = "no_label";
      r["predicted"] = name(static_cast<int>(best - probs.begin()));
      r["confidence"] = *best;
      r["suggested"] = r["predicted"];
      r["snippet"] = p.snippet;
      return;
    }
    const BoxResult b = judge_classification(probs, p.label, covered_, config_.verification);
    r["verdict"] = std::string(to_string(b.verdict));
    r["reason"] = b.reason;
    r["predicted"] = name(b.predicted);
    r["confidence"] = b.confidence;
    r["label_prob"] = b.label_prob;
    r["suggested"] = name(b.suggested);
    if (b.verdict != Verdict::correct) r["snippet"] = p.snippet;  // for the review page
  }

  void write_embeddings(const std::vector<std::string>& items, RecordLines& lines,
                        const std::unordered_map<std::string, int64_t>& where, OutputSet& files, const fs::path& dir) {
    if (rows_) std::fflush(rows_);
    const int64_t width = model_.width();
    std::vector<std::pair<int64_t, std::string>> rows;  // row, id, in input order
    for (const std::string& item : items) {
      const auto found = where.find(item);
      if (found == where.end()) continue;
      const json r = json::parse(lines.line_at(found->second));
      if (!r.contains("scratch_row") || !r["scratch_row"].is_number_integer()) continue;
      // A record without an id is listed by its line: "line:12".
      rows.emplace_back(r["scratch_row"].get<int64_t>(), r["id"].is_string() ? get_bytes_field(r, "id")
                                                            : fmt::format("line:{}", r.value("line", int64_t{0})));
    }
    std::ofstream& npy = files.open(dir / "embeddings.npy");
    std::ofstream& ids = files.open(dir / "embeddings_ids.txt");
    npy << npy_header("<f4", {static_cast<int64_t>(rows.size()), width});
    std::ifstream in(rows_path_, std::ios::binary);
    std::vector<char> row(static_cast<size_t>(width) * sizeof(float));
    for (const auto& [index, id] : rows) {
      in.seekg(static_cast<std::streamoff>(index) * static_cast<std::streamoff>(row.size()));
      if (!in.read(row.data(), static_cast<std::streamsize>(row.size())))
        throw Error(ExitCode::failed, fmt::format("{}: row {} is missing", rows_path_.string(), index));
      npy.write(row.data(), static_cast<std::streamsize>(row.size()));
      ids << id_line(id) << '\n';
    }
  }

  const Config& config_;
  const WorkerArgs& args_;
  TextModel& model_;
  const std::vector<std::string> classes_;
  const std::vector<bool> covered_;
  const TextTokenizer& tokenizer_;
  CorpusReader reader_;
  std::unordered_map<std::string, int> class_index_;
  std::unordered_map<std::string, int64_t> first_line_;
  fs::path rows_path_;
  std::FILE* rows_ = nullptr;
  int64_t next_row_ = 0;
};

}  // namespace

std::unique_ptr<TextModel> load_doc_model(const Config& config) {
  std::vector<std::string> classes;
  if (config.task != Task::embed && (!config.input.classes.empty() || !config.input.classes_file.empty()))
    classes = dataset_class_names(config);
  const TextTokenizer tokenizer(config);
  return load_text_model(config, classes, tokenizer.largest_id());
}

ExitCode run_doc_worker(const Config& config, const WorkerArgs& args, const std::atomic<bool>& stop) {
  const auto started = std::chrono::steady_clock::now();
  if (config.input.documents.empty())
    throw usage_error(fmt::format("{}: input.documents: required by doc_worker", config.file.string()));
  std::vector<std::string> classes;
  if (config.task != Task::embed && (!config.input.classes.empty() || !config.input.classes_file.empty()))
    classes = dataset_class_names(config);
  if (config.task == Task::verify && classes.empty())
    throw usage_error(fmt::format("{}: input.classes: required by task verify (the labels' names)", config.file.string()));
  const std::vector<std::string> items = read_shard_items(args.items);

  const TextTokenizer tokenizer(config);  // a vocab.txt problem stops us before the model loads
  print_phase("loading model");
  const std::unique_ptr<TextModel> model =
      load_text_model(config, classes, tokenizer.largest_id(), [](const char* phase) { print_phase(phase); });
  if (classes.empty()) classes = model->classes().dataset;
  print_note(fmt::format("shard {}: {} documents, task {}, model {} ({} tokenizer, max_length {}, {} {}) on {}",
                         args.shard, items.size(), to_string(config.task), config.model.path.string(),
                         to_string(config.model.tokenizer), config.model.max_length, model->width(),
                         config.task == Task::embed ? "dimensions" : "classes", model->device()));

  ShardJournal journal(args, items);
  DocShard shard(config, args, *model, classes, tokenizer);
  if (args.resume) {
    journal_lines(journal.journal_path())->scan([&](int64_t, std::string_view line) {
      const json r = json::parse(line, nullptr, false);
      if (record_item(r) && r.contains("id") && r["id"].is_string() && r.value("verdict", "") != "error")
        shard.remember_id(get_bytes_field(r, "id"), r.value("line", int64_t{0}));
    });
  }
  if (config.task == Task::embed) shard.open_rows();
  const std::vector<std::string> todo = journal.todo(items);

  bool interrupted = false;
  {
    ProgressTicker ticker(journal.done(), journal.failed(), static_cast<int64_t>(items.size()));
    // Reading and tokenizing the next window overlaps the model's work on this one.
    const size_t window = static_cast<size_t>(config.processing.batch_size) * 8;
    std::future<std::vector<Prepared>> next;
    auto start_window = [&](size_t begin) {
      const size_t end = std::min(todo.size(), begin + window);
      next = std::async(std::launch::async, [&shard, &todo, begin, end] { return shard.prepare(todo, begin, end); });
    };
    if (!todo.empty()) start_window(0);
    for (size_t begin = 0; begin < todo.size() && !stop; begin += window) {
      std::vector<Prepared> docs = next.get();
      if (begin + window < todo.size()) start_window(begin + window);
      shard.process(docs, journal, stop);
#if defined(__GLIBC__)
      // The heap keeps what the model's batches freed (the freed blocks are fragmented by the
      // small records allocated meanwhile, and never reach the trim threshold): hand it back
      // every 16 windows, so memory stays flat over the shard (measured: 20k -> 100k documents
      // grew 327 -> 871 MB without; a trim per window cost a third of the throughput).
      if ((begin / window) % 16 == 15) malloc_trim(0);
#endif
    }
    if (next.valid()) next.wait();
    interrupted = stop.load();
  }
  if (!interrupted) {
    const auto t = std::chrono::steady_clock::now();
    shard.write_outputs(items, journal.journal_path());
    print_note(fmt::format("{} written in input order in {:.2f} s", printable((args.output_dir / kConcatDirName).string()),
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count()));
  }
  // An id must be unique across the corpus; this shard checks its own, the merge all of them.
  json fields{{"task", std::string(to_string(config.task))}, {"unique_field", "id"}};
  if (config.task != Task::embed) fields["class_names"] = classes;
  return finish_shard(args, journal, items, "doc_worker", started, interrupted, document_report_layout(), fields);
}

}  // namespace lv
