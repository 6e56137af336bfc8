// score_detector_verdicts: how well a verification run with a detector found each kind of
// label error the demo dataset maker injected (wrong class, missing, badly placed, spurious,
// duplicate boxes), and the detector's own mAP@0.5 (run with report.include_predictions: true).
//
//   score_detector_verdicts --report demo/detector_run/output/verification_report.json
//       --truth demo/detector_data/truth.jsonl --seconds 41.2
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "detection_score.h"
#include "error.h"
#include "fashion_mnist.h"
#include "message.h"
#include "program.h"
#include "verdict_score.h"

int main(int argc, char** argv) {
  lv::set_program_name("score_detector_verdicts");

  // Options.
  CLI::App app{"Scores a detector's verification_report.json against the demo dataset's truth.jsonl: precision and "
               "recall per kind of label noise, and the detector's mAP@0.5 from the report's predictions."};
  std::string report_path, truth_path, json_path;
  double seconds = -1;
  int classes = static_cast<int>(lv::demo::kFashionClassNames.size());
  app.add_option("--report", report_path, "the merged verification_report.json")->required();
  app.add_option("--truth", truth_path, "truth.jsonl written by make_demo_dataset")->required();
  app.add_option("--classes", classes, "number of classes (for the mAP)")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--seconds", seconds, "wall time of the run, for images/s")->check(CLI::NonNegativeNumber);
  app.add_option("--json", json_path, "also write the figures as JSON to this file ('-': stdout, instead of the text)");
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;

  return lv::run_guarded([&] {
    // Inputs.
    const auto truth = lv::demo::read_truth(truth_path);
    const auto report = lv::demo::read_report_file(report_path);

    // Score and print.
    const auto score = lv::demo::score_detector_verdicts(report, truth, report_path, classes);
    lv::demo::Timing timing;
    if (seconds >= 0) timing.seconds = seconds;
    lv::demo::print_figures(lv::demo::format_detector_score(score, timing),
                            lv::demo::detector_score_to_json(score, timing), json_path);
    return 0;
  });
}
