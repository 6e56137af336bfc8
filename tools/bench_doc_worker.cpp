// bench_doc_worker: doc_worker throughput against the bare model forward on the same batches,
// what reading + tokenizing alone costs, and peak memory of the worker (small vs large shard)
// and of the orchestrator planning a corpus (100k vs 1M documents: the corpus repeated).
//
//   bench_doc_worker [--docs N] [--large M] [--plan-docs P] [--words W] [--conv K] [--threads T]
//                    [--model PATH --buckets B] [--dir DIR]
//
// The model is the text demo's shape (an embedding bag over hashed words and bigrams, 12
// classes) with random weights, or with --conv K that many 1-D convolutions before the mean (a
// heavier encoder), or --model PATH (e.g. demo/models/doc_classifier.pt with its --buckets).
// Prints figures; asserts nothing (DESIGN §10). CPU only unless the LibTorch build has CUDA.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "config.h"
#include "doc_worker.h"
#include "document_corpus.h"
#include "hashed_tokenizer.h"
#include "model.h"
#include "test_models.h"
#include "token_batch.h"
#include "wordpiece.h"
#include "worker_kit.h"

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// `n` JSONL documents of about `words` words from a 5000-word vocabulary (seeded), labelled
/// with one of 12 classes; written once and reused.
void make_corpus(const fs::path& file, int64_t n, int words) {
  if (fs::exists(file)) return;
  std::mt19937 rng(7);
  std::vector<std::string> vocab;
  for (int i = 0; i < 5000; ++i) {
    std::string w;
    for (int k = 0; k < 3 + i % 7; ++k) w += static_cast<char>('a' + (i * 31 + k * 7 + k * k) % 26);
    vocab.push_back(w + std::to_string(i % 97));
  }
  std::uniform_int_distribution<int> pick(0, 4999), len(words / 2, words * 3 / 2), cls(0, 11);
  std::ofstream out(file);
  for (int64_t i = 0; i < n; ++i) {
    std::string text;
    for (int k = len(rng); k > 0; --k) text += vocab[static_cast<size_t>(pick(rng))] + (k % 11 == 0 ? ". " : " ");
    out << nlohmann::json{{"id", fmt::format("d{}", i)}, {"text", text}, {"label", fmt::format("c{}", cls(rng))}}.dump()
        << '\n';
  }
}

std::string config_text(const fs::path& corpus, const fs::path& model, int64_t buckets, int threads) {
  std::string classes;
  for (int c = 0; c < 12; ++c) classes += fmt::format("{}c{}", c ? ", " : "", c);
  return fmt::format(
      "task: verify\ninput:\n  documents: {}\n  classes: [{}]\noutput:\n  dir: out\n"
      "model:\n  path: {}\n  type: text\n  tokenizer: hashed\n  hash_buckets: {}\n  max_length: 256\n"
      "processing:\n  batch_size: 64\n  num_threads: {}\n",
      corpus.string(), classes, model.string(), buckets, threads);
}

/// Runs `argv` with LV_REPORT_PEAK_RSS set; returns (seconds, the "peak memory N MB" it prints).
std::pair<double, double> peak_of(const std::vector<std::string>& argv, const fs::path& log) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("LV_REPORT_PEAK_RSS", "1", 1);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const double seconds = seconds_since(start);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = text.rfind("peak memory ");
  return {seconds, at == std::string::npos ? -1.0 : std::atof(text.c_str() + at + 12)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"doc_worker vs the pure model forward; worker and orchestrator peak memory"};
  int64_t docs = 20000, large = 100000, plan_docs = 1000000;
  int words = 60, conv = 0, threads = 1;
  int64_t buckets = 262144;
  std::string model_arg, dir_arg = "/tmp/lv_bench_doc";
  app.add_option("--docs", docs, "documents for the throughput run")->capture_default_str();
  app.add_option("--large", large, "documents for the second worker peak-memory run")->capture_default_str();
  app.add_option("--plan-docs", plan_docs, "documents for the orchestrator planning run (0: skip)")->capture_default_str();
  app.add_option("--words", words, "mean words per document")->capture_default_str();
  app.add_option("--conv", conv, "1-D convolutions in the random model (0: embedding bag)")->capture_default_str();
  app.add_option("--threads", threads, "model threads")->capture_default_str();
  app.add_option("--model", model_arg, "a TorchScript text classifier (12 classes, hashed tokens) instead");
  app.add_option("--buckets", buckets, "hash buckets of the model")->capture_default_str();
  app.add_option("--dir", dir_arg, "work folder (corpora are kept for the next run)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const fs::path dir = dir_arg;
  fs::create_directories(dir);
  const fs::path bin = fs::canonical("/proc/self/exe").parent_path();

  // Corpus and model.
  const fs::path corpus = dir / fmt::format("corpus_{}_{}.jsonl", docs, words);
  make_corpus(corpus, docs, words);
  fs::path model = model_arg;
  if (model.empty()) {
    model = dir / fmt::format("random_text_{}_{}.pt", buckets, conv);
    lv::test::save_random_text_classifier(model, buckets, 64, 12, conv);
  }
  lv::write_file_atomic(dir / "config.yaml", config_text(corpus, fs::absolute(model), buckets, threads));
  const lv::Config config = lv::load_config(dir / "config.yaml");
  lv::set_model_threads(threads);
  fmt::print("corpus {} documents (~{} words), model {}, {} model thread(s), batch {}\n", docs, words, model.string(),
             threads, config.processing.batch_size);

  // Reading + tokenizing alone, one thread (what the worker overlaps with the model).
  const lv::CorpusListing listing = lv::list_documents(corpus);
  lv::CorpusReader reader(corpus, static_cast<size_t>(config.processing.max_document_bytes));
  lv::HashedTokenizer tok;
  tok.buckets = buckets;
  auto t = std::chrono::steady_clock::now();
  std::vector<std::vector<int64_t>> tokens;
  for (const std::string& item : listing.items) tokens.push_back(tok.encode(reader.read(item).text, 256));
  const double prepare_s = seconds_since(t);

  // WordPiece on the same texts, with a vocabulary of the corpus's words cut in two pieces
  // (every word is "head ##tail"), the way a BERT vocabulary splits most words.
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "."};
  {
    std::set<std::string> pieces;
    for (size_t k = 0; k < std::min<size_t>(listing.items.size(), 2000); ++k) {
      std::string text = reader.read(listing.items[k]).text;
      std::istringstream words(text);
      for (std::string w; words >> w;) {
        while (!w.empty() && w.back() == '.') w.pop_back();
        if (w.size() < 2) continue;
        pieces.insert(w.substr(0, w.size() / 2));
        pieces.insert("##" + w.substr(w.size() / 2));
      }
    }
    vocab.insert(vocab.end(), pieces.begin(), pieces.end());
  }
  const lv::WordPieceTokenizer wordpiece(vocab);
  t = std::chrono::steady_clock::now();
  size_t wordpiece_tokens = 0;
  for (const std::string& item : listing.items) wordpiece_tokens += wordpiece.encode(reader.read(item).text, 256).size();
  const double wordpiece_s = seconds_since(t);

  // The pure forward on the batches the worker makes (length-sorted windows of 8 batches).
  t = std::chrono::steady_clock::now();
  const auto text_model = lv::load_text_model(config, config.input.classes, buckets - 1);
  const double load_s = seconds_since(t);
  std::vector<size_t> lengths;
  for (const auto& s : tokens) lengths.push_back(s.size());
  const size_t batch = static_cast<size_t>(config.processing.batch_size);
  const std::vector<size_t> order = lv::length_sorted_order(lengths, batch * 8);
  std::vector<lv::TokenBatch> batches;
  for (size_t b = 0; b < order.size(); b += batch) {
    std::vector<const std::vector<int64_t>*> seqs;
    for (size_t k = b; k < std::min(order.size(), b + batch); ++k) seqs.push_back(&tokens[order[k]]);
    batches.push_back(lv::pad_batch(seqs, 0));
  }
  t = std::chrono::steady_clock::now();
  for (const lv::TokenBatch& b : batches) text_model->run(b);
  const double forward_s = seconds_since(t);

  // The whole worker, in process, on the same shard.
  lv::write_file_atomic(dir / "items.txt", [&](std::ostream& out) {
    for (const std::string& item : listing.items) out << item << '\n';
  });
  const lv::WorkerArgs args{dir / "config.yaml", dir / "items.txt", dir / "out_worker", 0, false, {}};
  std::atomic<bool> stop{false};
  t = std::chrono::steady_clock::now();
  lv::run_doc_worker(config, args, stop);
  const double worker_s = seconds_since(t);

  const double n = static_cast<double>(docs);
  fmt::print("read + tokenize alone (1 thread): {:8.2f} s  {:9.0f} docs/s\n", prepare_s, n / prepare_s);
  fmt::print("read + WordPiece instead:         {:8.2f} s  {:9.0f} docs/s  ({:.0f} tokens a document, vocabulary of {})\n",
             wordpiece_s, n / wordpiece_s, static_cast<double>(wordpiece_tokens) / n, vocab.size());
  fmt::print("pure model forward:               {:8.2f} s  {:9.0f} docs/s\n", forward_s, n / forward_s);
  fmt::print("doc_worker (in process, all of it): {:6.2f} s  {:9.0f} docs/s\n", worker_s, n / worker_s);
  fmt::print("  of which the model load + warm-up:  {:6.2f} s (paid once per shard)\n", load_s);
  fmt::print("worker / pure forward throughput: {:.2f} whole shard, {:.2f} after the model load   (target >= 0.85)\n",
             forward_s / worker_s, forward_s / std::max(1e-9, worker_s - load_s));

  // Worker peak memory: a small and a large shard, as child processes.
  if (large > 0) {
    const fs::path big = dir / fmt::format("corpus_{}_{}.jsonl", large, words);
    make_corpus(big, large, words);
    double mb[2] = {0, 0}, sec[2] = {0, 0};
    int64_t counts[2] = {docs, large};
    const fs::path corpora[2] = {corpus, big};
    for (int k = 0; k < 2; ++k) {
      const fs::path cfg = dir / fmt::format("config_{}.yaml", k);
      lv::write_file_atomic(cfg, config_text(corpora[k], fs::absolute(model), buckets, threads));
      const lv::CorpusListing l = lv::list_documents(corpora[k]);
      lv::write_file_atomic(dir / fmt::format("items_{}.txt", k), [&](std::ostream& out) {
        for (const std::string& item : l.items) out << item << '\n';
      });
      fs::remove_all(dir / fmt::format("out_{}", k));
      std::tie(sec[k], mb[k]) = peak_of({(bin / "doc_worker").string(), "--config", cfg.string(), "--items",
                                         (dir / fmt::format("items_{}.txt", k)).string(), "--output-dir",
                                         (dir / fmt::format("out_{}", k)).string(), "--shard", "0"},
                                        dir / fmt::format("worker_{}.log", k));
    }
    fmt::print("doc_worker peak memory: {} docs {:.0f} MB ({:.1f} s);  {} docs {:.0f} MB ({:.1f} s)\n", counts[0], mb[0],
               sec[0], counts[1], mb[1], sec[1]);
  }

  // Orchestrator planning (--dry-run): a tenth of the corpus and all of it, the lines repeated.
  if (plan_docs > 0) {
    double mb[2] = {0, 0}, sec[2] = {0, 0};
    const int64_t counts[2] = {plan_docs / 10, plan_docs};
    for (int k = 0; k < 2; ++k) {
      const fs::path file = dir / fmt::format("plan_{}.jsonl", counts[k]);
      if (!fs::exists(file)) {
        std::ifstream in(corpus);
        std::vector<std::string> lines;
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        std::ofstream out(file);
        for (int64_t i = 0; i < counts[k]; ++i) out << lines[static_cast<size_t>(i) % lines.size()] << '\n';
      }
      const fs::path cfg = dir / fmt::format("plan_{}.yaml", k);
      lv::write_file_atomic(cfg, config_text(file, fs::absolute(model), buckets, threads));
      std::tie(sec[k], mb[k]) =
          peak_of({(bin / "orchestrator").string(), "--config", cfg.string(), "--work-dir",
                   (dir / fmt::format("plan_work_{}", k)).string(), "--gpus", "cpu", "--cpu-workers", "4", "--dry-run"},
                  dir / fmt::format("plan_{}.log", k));
      fmt::print("orchestrator --dry-run: {:>8} docs ({:.0f} MB file) {:.2f} s, peak {:.0f} MB\n", counts[k],
                 static_cast<double>(fs::file_size(file)) / 1e6, sec[k], mb[k]);
    }
  }
  return 0;
}
