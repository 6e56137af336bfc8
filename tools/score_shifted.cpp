// score_shifted: both verification policies (the fixed rule and adaptive) on the demo's own
// scenes and on shifted variants of them, from reports of verification.policy adaptive (each
// also holds the fixed rule's verdicts), with the worst shifted case beside the demo's figure.
//
//   score_shifted --dataset demo demo/run/output/verification_report.json demo/data/truth.jsonl
//                 --dataset "busy background" demo/shifted/busy/run/output/verification_report.json ...
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "error.h"
#include "message.h"
#include "program.h"
#include "verdict_score.h"

int main(int argc, char** argv) {
  lv::set_program_name("score_shifted");
  CLI::App app{"Precision, recall and F1 of 'mislabeled' under both policies on the demo and on shifted scenes; "
               "the first --dataset is the demo's own."};
  std::vector<std::vector<std::string>> datasets;
  app.add_option("--dataset", datasets, "NAME REPORT TRUTH (a report of verification.policy adaptive)")
      ->expected(3)
      ->allow_extra_args(false)
      ->take_all()
      ->required();
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;
  return lv::run_guarded([&] {
    std::vector<lv::demo::PolicyScores> rows;
    for (const auto& d : datasets) {
      const auto score = lv::demo::score_verdicts(lv::demo::read_report_file(d[1]), lv::demo::read_truth(d[2]), d[1]);
      rows.push_back(lv::demo::policy_scores(d[0], score));
    }
    fmt::print("{}", lv::demo::format_policy_table(rows));
    return 0;
  });
}
