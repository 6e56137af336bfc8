// The document pipeline end to end: the real orchestrator on 4 fake GPUs runs the real
// doc_worker over a JSONL corpus the test writes, with a keyword model whose answers are known
// (tests/worker/test_models.h), for each task; and a worker killed mid-shard is retried with
// --retry-failed to the same outputs as a clean run.
#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "hashed_tokenizer.h"
#include "npy.h"
#include "pipeline_util.h"
#include "process_util.h"
#include "test_models.h"
#include "test_util.h"
#include "worker_catch.h"

using nlohmann::json;
namespace fs = std::filesystem;
using lv::test::read_text;
using lv::test::write_text;

namespace {

constexpr int kBuckets = 65536;
const std::vector<std::string> kClasses = {"a", "b", "c"};
const char* const kKeywords[] = {"alpha", "beta", "gamma"};  // class a, b, c

/// One line of the corpus and what the run must make of it.
struct Doc {
  std::string line;      ///< the JSONL line as written ("" for a blank line)
  std::string id;        ///< "" when the record has no usable id
  std::string verdict;   ///< verify: correct | mislabeled | uncertain | unlabeled | error; "" = no item
  std::string suggested; ///< mislabeled / unlabeled: the class the model suggests
  int keyword = -1;      ///< the class whose keyword the text holds, -1 for none
  bool truncated = false;
};

std::string record(const std::string& id, const std::string& text, const std::string& label) {
  json r = {{"id", id}, {"text", text}, {"source", "test"}};
  if (!label.empty()) r["label"] = label;
  return r.dump();
}

/// 40 documents: 30 plain ones (keyword i % 3, label wrong every 7th) and one of each bad kind,
/// placed so that a duplicate id lands in the same shard as its first occurrence.
std::vector<Doc> make_docs() {
  std::vector<Doc> docs;
  auto plain = [&](int i) {
    const int k = i % 3;
    const bool wrong = i % 7 == 3;
    const int label = wrong ? (k + 1) % 3 : k;
    const std::string id = fmt::format("doc{:02d}", i);
    docs.push_back({record(id, fmt::format("report {} on the {} topic", i, kKeywords[k]), kClasses[label]), id,
                    wrong ? "mislabeled" : "correct", wrong ? kClasses[k] : "", k});
  };
  plain(0);
  docs.push_back({record("doc00", "alpha again", "a"), "", "error", "", -1, false});  // duplicate id, same shard
  plain(1);
  docs.push_back({"", "", "", "", -1, false});                                    // blank line: not an item
  docs.push_back({record("none1", "nothing to see here", "c"), "none1", "uncertain", "", -1});
  docs.push_back({"{\"id\": \"bad\", \"text\": ", "", "error", "", -1, false});      // invalid JSON
  docs.push_back({R"({"id": "notext", "label": "a"})", "", "error", "", -1, false});
  docs.push_back({R"({"id": "empty", "text": "", "label": "a"})", "", "error", "", -1, false});
  docs.push_back({R"({"id": "number", "text": 42, "label": "a"})", "", "error", "", -1, false});
  docs.push_back({record("badlabel", "alpha", "zebra"), "", "error", "", -1, false});
  docs.push_back({record("nolabel", "some beta words", ""), "nolabel", "unlabeled", "b", 1});
  std::string huge = "gamma";
  while (huge.size() < 5000) huge += " filler";
  docs.push_back({record("huge", huge, "c"), "huge", "correct", "", 2, true});
  for (int i = 2; i < 30; ++i) plain(i);
  // No id at all: named by its line, never a duplicate of anything.
  docs.push_back({R"({"text": "gamma without a name", "label": "c", "source": "test"})", "", "correct", "", 2, false});
  // doc03's id again, in the last shard: no worker sees both, the merge does.
  docs.push_back({record("doc03", "beta once more", "b"), "doc03", "correct", "", 1, false});
  return docs;
}

struct DocPipeline : lv::test::RunDir {
  std::vector<Doc> docs = make_docs();

  DocPipeline(const std::string& task, int spin) {
    std::string corpus;
    for (const Doc& d : docs) corpus += d.line + "\n";
    write_text(dir / "corpus.jsonl", corpus);
    lv::HashedTokenizer tok;
    tok.buckets = kBuckets;
    tok.bigrams = false;
    std::vector<std::vector<int64_t>> ids;
    for (const char* k : kKeywords) ids.push_back(tok.encode(k, 1));
    REQUIRE(ids[0] != ids[1]);
    REQUIRE(ids[1] != ids[2]);
    REQUIRE(ids[0] != ids[2]);
    lv::test::save_keyword_text_model(dir / "model.pt", kBuckets, ids, R"({"names": ["a", "b", "c"]})",
                                      task == "embed", spin);
    write_text(dir / "config.yaml",
               "task: " + task +
                   "\n"
                   "input:\n  documents: corpus.jsonl\n  classes: [a, b, c]\n"
                   "output:\n  dir: output\n"
                   "model:\n  path: model.pt\n  type: text\n  tokenizer: hashed\n  hash_buckets: 65536\n"
                   "  hash_bigrams: false\n  max_length: 64\n"
                   "processing:\n  batch_size: 4\n  num_threads: 1\n  max_document_bytes: 1000\n"
                   "report:\n  top_k: 2\n"
                   "worker:\n  executable: " LV_DOC_WORKER "\n"
                   "orchestrator:\n  stop_grace_s: 2\n  status_interval_s: 0.5\n");
  }


  /// The docs that are items (every line but blank ones), in input order.
  std::vector<const Doc*> items() const {
    std::vector<const Doc*> out;
    for (const Doc& d : docs)
      if (!d.line.empty()) out.push_back(&d);
    return out;
  }
  /// Docs the model judges (items that are not errors), in input order.
  std::vector<const Doc*> judged() const {
    std::vector<const Doc*> out;
    for (const Doc* d : items())
      if (d->verdict != "error") out.push_back(d);
    return out;
  }
};

std::vector<json> jsonl(const fs::path& file) {
  std::vector<json> out;
  const std::string text = read_text(file);
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    out.push_back(json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

/// The 1-based line of `doc` in the corpus.
int line_of(const std::vector<Doc>& docs, const Doc* doc) { return static_cast<int>(doc - docs.data()) + 1; }

}  // namespace

TEST_CASE("documents, task verify, 4 fake GPUs: verdicts, bad lines, per-verdict files in input order", "[docs]") {
  DocPipeline p("verify", 0);
  const auto r = p.orchestrate({"--num-gpus", "4"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  const json report = p.report();
  CHECK(report["status"] == "complete");
  CHECK(report["task"] == "verify");
  CHECK(report["class_names"] == json(kClasses));
  const std::vector<const Doc*> items = p.items();
  REQUIRE(report["items"].size() == items.size());
  std::map<std::string, int> expected;
  int64_t last_line = 0;
  for (size_t k = 0; k < items.size(); ++k) {
    const json& rec = report["items"][k];
    INFO(items[k]->line);
    CHECK(rec["verdict"] == items[k]->verdict);
    CHECK(rec["line"].get<int64_t>() > last_line);  // input order
    last_line = rec["line"].get<int64_t>();
    ++expected[items[k]->verdict];
    if (!items[k]->suggested.empty()) CHECK(rec["suggested"] == items[k]->suggested);
    if (items[k]->verdict == "error") CHECK(rec["error"].is_string());
    CHECK(rec.value("truncated", false) == items[k]->truncated);
  }
  // The reasons a user reads, with their line numbers.
  auto error_of = [&](const std::string& needle) {
    for (const json& rec : report["items"])
      if (rec["error"].is_string() && rec["error"].get<std::string>().find(needle) != std::string::npos) return rec;
    return json();
  };
  CHECK(error_of("duplicate id 'doc00': already on line 1")["line"] == 2);
  CHECK(error_of("invalid JSON")["line"] == 6);
  CHECK(error_of("no \"text\" field")["line"] == 7);
  CHECK(error_of("empty text")["line"] == 8);
  CHECK(error_of("\"text\" is not a string")["line"] == 9);
  CHECK(error_of("label 'zebra' is not among the classes")["line"] == 10);
  CHECK(read_text(p.dir / "rejected_items.txt").find("blank line") != std::string::npos);
  CHECK(report["items"][items.size() - 2]["id"].is_null());
  CHECK(report["items"][items.size() - 2]["verdict"] == "correct");
  // A repeat across shards: listed by the merge, said by the orchestrator.
  REQUIRE(report["duplicates"].size() == 1);
  CHECK(report["duplicates"][0]["value"] == "doc03");
  CHECK(report["duplicates"][0]["items"].size() == 2);
  CHECK(r.output.find("warning: 1 id value(s) are held by more than one item") != std::string::npos);

  const json& s = report["summary"];
  CHECK(s["total_documents"] == items.size());
  CHECK(s["correct"] == expected["correct"]);
  CHECK(s["mislabeled"] == expected["mislabeled"]);
  CHECK(s["uncertain"] == expected["uncertain"]);
  CHECK(s["unlabeled"] == expected["unlabeled"]);
  CHECK(s["errors"] == expected["error"]);
  CHECK(s["truncated"] == 1);
  CHECK(report["per_class"]["a"]["documents"].get<int>() > 0);

  // Per-verdict files: the original record (fields in their order) plus the verdict, in input order.
  for (const std::string verdict : {"correct", "mislabeled", "uncertain", "unlabeled"}) {
    std::vector<std::string> want, got;
    for (const Doc* d : items)
      if (d->verdict == verdict) want.push_back(d->id);
    for (const json& line : jsonl(p.dir / "output" / (verdict + ".jsonl"))) {
      got.push_back(line.value("id", ""));
      CHECK(line["verdict"] == verdict);
      CHECK(line["source"] == "test");
    }
    CHECK(got == want);
  }
  CHECK(jsonl(p.dir / "output/errors.jsonl").size() == static_cast<size_t>(expected["error"]));
  const std::string first_mislabeled = read_text(p.dir / "output/mislabeled.jsonl");
  CHECK(first_mislabeled.rfind("{\"id\":", 0) == 0);  // the record's own key order is kept

  // The corrected corpus: every record that is a JSON object, in input order, suggestions
  // applied and originals kept (a line that is no JSON cannot be written back as one).
  std::vector<const Doc*> objects;
  for (const Doc* d : items)
    if (json::parse(d->line, nullptr, false).is_object()) objects.push_back(d);
  REQUIRE(objects.size() == items.size() - 1);
  const std::vector<json> corrected = jsonl(p.dir / "output/documents_corrected.jsonl");
  REQUIRE(corrected.size() == objects.size());
  for (size_t k = 0; k < corrected.size(); ++k) {
    const Doc& d = *objects[k];
    CHECK(corrected[k].value("id", json()) == json::parse(d.line).value("id", json()));
    if (d.verdict == "mislabeled") {
      CHECK(corrected[k]["label"] == d.suggested);
      CHECK(corrected[k]["original_label"] != d.suggested);
    } else {
      CHECK_FALSE(corrected[k].contains("original_label"));
    }
  }
  for (int s = 0; s < 4; ++s) CHECK_FALSE(fs::exists(p.dir / ("output_gpu" + std::to_string(s))));

  // A second --merge-only finds the earlier merge complete and leaves output/ as it is.
  const std::string merged = read_text(p.dir / "output/verification_report.json");
  const auto again = p.orchestrate({"--merge-only"});
  INFO(again.output);
  CHECK(again.code == 0);
  CHECK(read_text(p.dir / "output/verification_report.json") == merged);

  // An edit in place that keeps every byte offset (a label fixed) is still a changed input.
  std::string corpus = read_text(p.dir / "corpus.jsonl");
  const size_t at = corpus.find("\"label\": \"a\"");
  REQUIRE(at != std::string::npos);
  corpus[at + 10] = 'b';
  write_text(p.dir / "corpus.jsonl", corpus);
  const auto retry = p.orchestrate({"--retry-failed"});
  INFO(retry.output);
  CHECK(retry.code == 2);
  CHECK(retry.output.find("(its content changed)") != std::string::npos);
}

TEST_CASE("documents, task classify: top-k labels per document in input order, --merge-only rebuilds them",
          "[docs]") {
  DocPipeline p("classify", 0);
  const auto r = p.orchestrate({"--num-gpus", "4", "--keep-gpu-outputs"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  const json report = p.report();
  CHECK(report["summary"]["classified"] == p.judged().size() + 1);  // the label "zebra" does not matter here
  const std::vector<json> classified = jsonl(p.dir / "output/classified.jsonl");
  REQUIRE(classified.size() == p.judged().size() + 1);
  for (const json& line : classified) {
    REQUIRE(line["top_k"].size() == 2);
    CHECK(line["top_k"][0]["prob"].get<double>() >= line["top_k"][1]["prob"].get<double>());
    if (line["id"] == "nolabel") CHECK(line["predicted"] == "b");
    if (line["id"] == "doc05") CHECK(line["predicted"] == "c");  // keyword 5 % 3 = gamma
  }
  // The per-GPU trees are kept; a merge again (say, after output/ was damaged) gives the same.
  CHECK(fs::exists(p.dir / "output_gpu3/concat/classified.jsonl"));
  const std::string before = read_text(p.dir / "output/classified.jsonl");
  const json report_before = p.report();
  fs::remove(p.dir / "output/classified.jsonl");
  write_text(p.dir / "output/errors.jsonl", "damaged");
  const auto again = p.orchestrate({"--merge-only", "--keep-gpu-outputs"});
  INFO(again.output);
  REQUIRE(again.code == 0);
  CHECK(read_text(p.dir / "output/classified.jsonl") == before);
  CHECK(jsonl(p.dir / "output/errors.jsonl").size() == report_before["summary"]["errors"].get<size_t>());
  CHECK(report_before["summary"]["errors"] == 5);  // duplicate id, invalid JSON, no text, empty, not a string
  CHECK(p.report()["items"] == report_before["items"]);
}

TEST_CASE("documents, task embed: one matrix in input order with its ids", "[docs]") {
  DocPipeline p("embed", 0);
  const auto r = p.orchestrate({"--num-gpus", "4"});
  INFO(r.output);
  REQUIRE(r.code == 0);
  std::vector<const Doc*> embedded;
  for (const Doc* d : p.items())
    if (d->verdict != "error" || d->line.find("zebra") != std::string::npos) embedded.push_back(d);
  const lv::NpyInfo info = lv::read_npy_header(p.dir / "output/embeddings.npy");
  CHECK(info.descr == "<f4");
  REQUIRE(info.shape == std::vector<int64_t>{static_cast<int64_t>(embedded.size()), 3});
  const std::string bytes = read_text(p.dir / "output/embeddings.npy");
  REQUIRE(bytes.size() == info.data_offset + embedded.size() * 3 * sizeof(float));
  const std::string ids = read_text(p.dir / "output/embeddings_ids.txt");
  std::string want_ids;
  for (size_t k = 0; k < embedded.size(); ++k) {
    float row[3];
    std::memcpy(row, bytes.data() + info.data_offset + k * sizeof row, sizeof row);
    const int keyword = embedded[k]->keyword >= 0 ? embedded[k]->keyword
                        : embedded[k]->line.find("alpha") != std::string::npos ? 0 : -1;
    INFO(embedded[k]->line);
    for (int c = 0; c < 3; ++c) {
      if (c == keyword) CHECK(row[c] > 0.0f);
      else CHECK(row[c] == 0.0f);
    }
    const json original = json::parse(embedded[k]->line);
    want_ids += original.contains("id") ? original["id"].get<std::string>() + "\n"
                                        : "line:" + std::to_string(line_of(p.docs, embedded[k])) + "\n";
  }
  CHECK(ids == want_ids);
}

TEST_CASE("documents: a worker killed mid-shard, then --retry-failed, equals a clean run", "[docs]") {
  DocPipeline clean("verify", 0);
  REQUIRE(clean.orchestrate({"--num-gpus", "4"}).code == 0);

  DocPipeline p("verify", /*spin=*/400);
  lv::test::Child orchestrator({LV_ORCHESTRATOR, "--config", "config.yaml", "--num-gpus", "4"}, p.env(), p.dir.path(),
                               p.dir / "run.out");
  REQUIRE(lv::test::wait_until([&] { return lv::test::last_progress(read_text(p.dir / "gpu2.log")) >= 4; },
                               std::chrono::seconds(120)));
  const pid_t victim = lv::test::worker_pid("doc_worker", p.dir.path(), 2);
  REQUIRE(victim > 0);
  ::kill(victim, SIGKILL);
  const auto code = orchestrator.wait(std::chrono::seconds(240));
  INFO(orchestrator.output());
  REQUIRE(code == 1);
  CHECK(p.report()["status"] == "partial");

  const auto retry = p.orchestrate({"--retry-failed"});
  INFO(retry.output);
  REQUIRE(retry.code == 0);
  CHECK(read_text(p.dir / "gpu2.log").find("resuming: ") != std::string::npos);
  CHECK(lv::test::comparable_report(p.report()) == lv::test::comparable_report(clean.report()));
  CHECK(lv::test::output_tree(p.dir / "output") == lv::test::output_tree(clean.dir / "output"));
}
