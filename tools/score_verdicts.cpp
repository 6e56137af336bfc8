// score_verdicts: how well a verification run found the demo's injected label errors, against
// the confident-learning baseline on the same probabilities (run with
// report.include_probabilities: true for the baseline).
//
//   score_verdicts --report demo/output/verification_report.json --truth demo/data/truth.jsonl --seconds 93.5
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "error.h"
#include "message.h"
#include "program.h"
#include "verdict_score.h"

int main(int argc, char** argv) {
  lv::set_program_name("score_verdicts");

  // Options.
  CLI::App app{"Scores verification_report.json against the demo dataset's truth.jsonl: precision, recall and F1 "
               "of 'mislabeled', suggested-class accuracy, uncertain share, and the confident-learning baseline."};
  std::string report_path, truth_path, json_path;
  double seconds = -1;
  app.add_option("--report", report_path, "the merged verification_report.json")->required();
  app.add_option("--truth", truth_path, "truth.jsonl written by make_demo_dataset")->required();
  app.add_option("--seconds", seconds, "wall time of the run, for images/s")->check(CLI::NonNegativeNumber);
  app.add_option("--json", json_path, "also write the figures as JSON to this file ('-': stdout, instead of the text)");
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;

  return lv::run_guarded([&] {
    // Inputs.
    const auto truth = lv::demo::read_truth(truth_path);
    const auto report = lv::demo::read_report_file(report_path);

    // Score and print.
    const auto score = lv::demo::score_verdicts(report, truth, report_path);
    lv::demo::Timing timing;
    if (seconds >= 0) timing.seconds = seconds;
    lv::demo::print_figures(lv::demo::format_score(score, timing),
                            lv::demo::score_to_json(score, timing), json_path);
    return 0;
  });
}
