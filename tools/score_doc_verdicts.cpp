// score_doc_verdicts: the text demo's scorer. With --report: how well a document verification
// run found the swapped topic labels, against the confident-learning baseline on the same
// probabilities (report.include_probabilities: true). With --embeddings: how often a
// document's nearest neighbour in the embed task's output has the same true topic.
//
//   score_doc_verdicts --report demo/docs_run/output/verification_report.json --truth demo/docs/truth.jsonl
//   score_doc_verdicts --embeddings demo/docs_run_embed/output/embeddings.npy
//       --ids demo/docs_run_embed/output/embeddings_ids.txt --truth demo/docs/truth.jsonl
#include <iostream>
#include <optional>
#include <string>
#include <unordered_map>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "doc_dataset.h"
#include "doc_score.h"
#include "embedding_check.h"
#include "error.h"
#include "message.h"
#include "program.h"

int main(int argc, char** argv) {
  lv::set_program_name("score_doc_verdicts");

  // Options.
  CLI::App app{"Scores the text demo: a document verification_report.json against truth.jsonl (precision, recall, "
               "F1 of 'mislabeled', the confident-learning baseline), or embeddings by nearest-neighbour topics."};
  std::string report_path, truth_path, json_path, embeddings_path, ids_path;
  double seconds = -1;
  size_t max_queries = 2000;
  uint64_t seed = 1;
  app.add_option("--truth", truth_path, "truth.jsonl written by make_doc_dataset")->required();
  app.add_option("--report", report_path, "the merged verification_report.json of a verify run");
  app.add_option("--seconds", seconds, "wall time of the run, for docs/s")->check(CLI::NonNegativeNumber);
  app.add_option("--json", json_path, "also write the figures as JSON to this file ('-': stdout, instead of the text)");
  app.add_option("--embeddings", embeddings_path, "embeddings.npy of an embed run (float32 [N, D])");
  app.add_option("--ids", ids_path, "embeddings_ids.txt: the id of each row, one a line");
  app.add_option("--max-queries", max_queries, "embeddings: look up the neighbours of at most N docs (0: all)")
      ->capture_default_str();
  app.add_option("--seed", seed, "embeddings: seed of the sample of docs")->capture_default_str();
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;
  if (report_path.empty() == embeddings_path.empty()) {
    lv::print_error("give either --report or --embeddings (with --ids)");
    return lv::to_int(lv::ExitCode::usage);
  }
  if (!embeddings_path.empty() && ids_path.empty()) {
    lv::print_error("--embeddings needs --ids");
    return lv::to_int(lv::ExitCode::usage);
  }

  return lv::run_guarded([&] {
    const auto truth = lv::demo::read_doc_truth(truth_path);

    // Embed task: nearest neighbours by cosine, their true topics against chance.
    if (!embeddings_path.empty()) {
      const auto embeddings = lv::demo::read_npy_float32_matrix(embeddings_path);
      const auto ids = lv::demo::read_id_lines(ids_path);
      if (static_cast<int64_t>(ids.size()) != embeddings.rows)
        throw lv::Error(lv::ExitCode::input_unreadable, fmt::format("{}: {} ids for {} rows of {}", ids_path, ids.size(),
                                                                    embeddings.rows, embeddings_path));
      std::unordered_map<std::string, int> topic_of;
      for (const auto& t : truth) topic_of[t.id] = lv::demo::doc_topic_index(t.true_label);
      std::vector<int> topics;
      for (size_t i = 0; i < ids.size(); ++i) {
        const auto it = topic_of.find(ids[i]);
        if (it == topic_of.end())
          throw lv::Error(lv::ExitCode::input_unreadable,
                          fmt::format("{}:{}: id '{}' is not in {}", ids_path, i + 1, ids[i], truth_path));
        topics.push_back(it->second);
      }
      const auto a = lv::demo::nearest_neighbour_agreement(embeddings, topics, max_queries, seed);
      fmt::print("embeddings: {} docs of dimension {}; nearest neighbour (cosine) has the same true topic for "
                 "{:.3f} of {} docs (chance {:.3f})\n",
                 embeddings.rows, embeddings.cols, a.share(), a.queries, a.chance);
      return 0;
    }

    // Verify task: verdicts and probabilities against the swaps.
    const auto report = lv::demo::read_report_file(report_path);
    const auto score = lv::demo::score_doc_verdicts(report, truth, report_path);
    std::optional<double> run_seconds;
    if (seconds >= 0) run_seconds = seconds;
    lv::demo::print_figures(lv::demo::format_doc_score(score, run_seconds),
                            lv::demo::doc_score_to_json(score, run_seconds), json_path);
    return 0;
  });
}
