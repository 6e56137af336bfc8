// The document scorer on a hand-made report and truth whose figures are worked out below.
#include "doc_score.h"

#include "catch.h"
#include "error.h"

using lv::demo::DocTruth;
using lv::demo::score_doc_verdicts;
using nlohmann::json;

namespace {

// Ten documents, three classes (devel, utils, net: the report's class_names order). Per doc:
// true topic, given label (= the report's label), the verifier's verdict and suggestion, and
// the model's probabilities.
//
//  doc  true   given  swapped verdict     suggested     probabilities (devel utils net)
//  d0   devel  devel  no      correct     -             .80 .10 .10
//  d1   utils  net    yes     mislabeled  utils (right) .10 .80 .10
//  d2   net    net    no      mislabeled  devel         .65 .05 .30
//  d3   devel  utils  yes     uncertain   -             .70 .20 .10
//  d4   utils  utils  no      uncertain   -             .20 .60 .20
//  d5   net    devel  yes     mislabeled  utils (wrong) .05 .50 .45
//  d6   utils  utils  no      correct     -             .00 .54 .46
//  d7   devel  net    yes     correct     -             .50 .05 .45
//  d8   net    net    no      correct     -             .00 .45 .55
//  d9   devel  devel  no      correct     -             .90 .05 .05
//
// Model accuracy: argmax is the true topic except on d2 (devel, true net) and d5 (utils, true
// net): 8 of 10. Verifier: found d1, d5 (TP 2); false alarm d2 (FP 1); missed d3 (uncertain),
// d7 (correct) (FN 2). Precision 2/3, recall 2/4, F1 = 2 (2/3)(1/2) / (2/3 + 1/2) = 4/7.
// Suggestion right on d1 only: 1/2. Uncertain: 2 of 10.
//
// Confident learning, thresholds from the docs by given label:
//   t_devel = (.80 + .05 + .90) / 3 = .5833   (d0, d5, d9)
//   t_utils = (.20 + .60 + .54) / 3 = .4467   (d3, d4, d6)
//   t_net   = (.10 + .30 + .45 + .55) / 4 = .35  (d1, d2, d7, d8)
// confident class = argmax over classes with p >= t:
//   d0 devel ok; d1 utils issue; d2 devel issue; d3 devel issue; d4 utils ok; d5 {utils, net}
//   -> utils issue; d6 {utils, net} -> utils ok; d7 {net} ok (.50 < t_devel); d8 {utils, net}
//   -> net ok; d9 devel ok.
// Issues d1, d2, d3, d5: TP 3 (d1, d3, d5), FP 1 (d2), FN 1 (d7): precision = recall = F1 = .75.
struct Row {
  const char* id;
  const char* truth;
  const char* given;
  const char* verdict;
  const char* suggested;  // nullptr: null
  std::vector<double> probs;
};
const std::vector<std::string> kClasses = {"devel", "utils", "net"};
const std::vector<Row> kRows = {
    {"d0", "devel", "devel", "correct", nullptr, {.80, .10, .10}},
    {"d1", "utils", "net", "mislabeled", "utils", {.10, .80, .10}},
    {"d2", "net", "net", "mislabeled", "devel", {.65, .05, .30}},
    {"d3", "devel", "utils", "uncertain", nullptr, {.70, .20, .10}},
    {"d4", "utils", "utils", "uncertain", nullptr, {.20, .60, .20}},
    {"d5", "net", "devel", "mislabeled", "utils", {.05, .50, .45}},
    {"d6", "utils", "utils", "correct", nullptr, {.00, .54, .46}},
    {"d7", "devel", "net", "correct", nullptr, {.50, .05, .45}},
    {"d8", "net", "net", "correct", nullptr, {.00, .45, .55}},
    {"d9", "devel", "devel", "correct", nullptr, {.90, .05, .05}},
};

std::vector<DocTruth> truth_of(const std::vector<Row>& rows) {
  std::vector<DocTruth> out;
  for (const auto& r : rows) out.push_back({r.id, r.truth, r.given, std::string(r.truth) != r.given});
  return out;
}

/// A report in the doc_worker's merged format: two shards of five items.
json report_of(const std::vector<Row>& rows, bool with_probabilities) {
  json items = json::array();
  int line = 1;
  for (const auto& r : rows) {
    size_t best = 0;
    for (size_t c = 1; c < r.probs.size(); ++c)
      if (r.probs[c] > r.probs[best]) best = c;
    json item = {{"item", std::to_string(line) + ":" + std::to_string(100 * line)},
                 {"line", line},
                 {"id", r.id},
                 {"verdict", r.verdict},
                 {"reason", "hand-made"},
                 {"label", r.given},
                 {"suggested", r.suggested ? json(r.suggested) : json(nullptr)},
                 {"predicted", kClasses[best]},
                 {"confidence", r.probs[best]},
                 {"error", nullptr}};
    if (with_probabilities) item["probabilities"] = r.probs;
    items.push_back(item);
    ++line;
  }
  json shards = json::array();
  for (int k = 0; k < 2; ++k)
    shards.push_back({{"index", k}, {"device", "CPU " + std::to_string(k)}, {"items", 5}, {"status", "succeeded"},
                      {"exit_code", 0}, {"attempts", 1}, {"seconds", k == 0 ? 2.0 : 2.5}, {"items_per_s", 2.0},
                      {"log", "gpu" + std::to_string(k) + ".log"}});
  return {{"schema_version", 1}, {"tool", {{"name", "orchestrator"}}}, {"status", "complete"}, {"task", "verify"},
          {"class_names", kClasses}, {"summary", json::object()}, {"per_class", json::object()},
          {"shards", shards}, {"items", items}, {"unprocessed", json::array()}};
}

std::string error_of(const json& report, const std::vector<DocTruth>& truth) {
  try {
    score_doc_verdicts(report, truth, "r.json");
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::input_unreadable);
    return e.what();
  }
  FAIL("no lv::Error thrown");
  return "";
}

}  // namespace

TEST_CASE("the document scorer's figures match the hand-worked example", "[doc_score]") {
  const auto s = score_doc_verdicts(report_of(kRows, true), truth_of(kRows), "report.json");
  CHECK(s.docs == 10);
  CHECK(s.swapped == 4);
  CHECK(s.errors == 0);
  CHECK(s.missing_from_report == 0);
  CHECK(s.correct == 5);
  CHECK(s.mislabeled == 3);
  CHECK(s.uncertain == 2);
  CHECK(s.model_accuracy() == Approx(0.8));

  CHECK(s.verifier.true_positives == 2);
  CHECK(s.verifier.false_positives == 1);
  CHECK(s.verifier.false_negatives == 2);
  CHECK(s.verifier.precision() == Approx(2.0 / 3));
  CHECK(s.verifier.recall() == Approx(0.5));
  CHECK(s.verifier.f1() == Approx(4.0 / 7));
  CHECK(s.suggested_accuracy() == Approx(0.5));
  CHECK(s.uncertain_share() == Approx(0.2));
  CHECK(s.swapped_uncertain == 1);
  CHECK(s.swapped_correct == 1);

  REQUIRE(s.has_probabilities);
  REQUIRE(s.cl_thresholds.size() == 3);
  CHECK(s.cl_thresholds[0] == Approx(1.75 / 3));
  CHECK(s.cl_thresholds[1] == Approx(1.34 / 3));
  CHECK(s.cl_thresholds[2] == Approx(0.35));
  CHECK(s.confident_learning.true_positives == 3);
  CHECK(s.confident_learning.false_positives == 1);
  CHECK(s.confident_learning.false_negatives == 1);
  CHECK(s.confident_learning.f1() == Approx(0.75));

  CHECK(s.shard_items == 10);
  CHECK(s.slowest_shard_s == Approx(2.5));
}

TEST_CASE("the document scorer prints each figure beside its target, and docs/s", "[doc_score]") {
  const auto s = score_doc_verdicts(report_of(kRows, true), truth_of(kRows), "report.json");
  const std::string text = lv::demo::format_doc_score(s, 4.0);
  CHECK_THAT(text, Catch::Contains("model accuracy (true topics)") && Catch::Contains("0.800") &&
                       Catch::Contains(">= 0.80                ok"));
  CHECK_THAT(text, Catch::Contains("mislabeled precision") && Catch::Contains("0.667") && Catch::Contains("BELOW TARGET"));
  CHECK_THAT(text, Catch::Contains("> 0.750 (baseline)"));
  CHECK_THAT(text, Catch::Contains("precision 0.750, recall 0.750, F1 0.750 (3 found, 1 false alarms, 1 missed)"));
  CHECK_THAT(text, Catch::Contains("run time 4.0 s, 2.5 docs/s"));
  CHECK_THAT(text, Catch::Contains("workers: 10 docs, slowest shard 2.5 s: 4.0 docs/s"));
  const json j = lv::demo::doc_score_to_json(s, 4.0);
  CHECK(j["mislabeled"]["recall"].get<double>() == Approx(0.5));
  CHECK(j["confident_learning"]["f1"].get<double>() == Approx(0.75));
  CHECK(j["confident_learning"]["thresholds"]["net"].get<double>() == Approx(0.35));
  CHECK(j["docs_per_s"].get<double>() == Approx(2.5));
}

TEST_CASE("error items and docs missing from a partial report are counted apart, not scored", "[doc_score]") {
  std::vector<Row> rows = kRows;
  rows.push_back({"d10", "web", "web", "correct", nullptr, {.3, .3, .4}});
  rows.push_back({"d11", "net", "devel", "error", nullptr, {.4, .3, .3}});
  json report = report_of(rows, true);
  report["items"][11].erase("probabilities");
  report["items"][11]["error"] = "empty text";
  report["items"].erase(10);  // d10 was never processed
  const auto s = score_doc_verdicts(report, truth_of(rows), "report.json");
  CHECK(s.docs == 10);
  CHECK(s.errors == 1);
  CHECK(s.missing_from_report == 1);
  CHECK(s.verifier.false_negatives == 2);
  CHECK(s.has_probabilities);
  CHECK_THAT(lv::demo::format_doc_score(s, std::nullopt),
             Catch::Contains("1 documents of the truth file are not in the report") &&
                 Catch::Contains("1 documents have verdict \"error\""));
}

TEST_CASE("without probabilities the model accuracy comes from 'predicted' and there is no baseline", "[doc_score]") {
  const auto s = score_doc_verdicts(report_of(kRows, false), truth_of(kRows), "report.json");
  CHECK_FALSE(s.has_probabilities);
  CHECK(s.model_accuracy() == Approx(0.8));
  CHECK(lv::demo::doc_score_to_json(s, std::nullopt)["confident_learning"].is_null());
  CHECK_THAT(lv::demo::format_doc_score(s, std::nullopt), Catch::Contains("no probabilities in the report"));
}

TEST_CASE("a report that does not fit the truth file is refused", "[doc_score]") {
  const auto truth = truth_of(kRows);
  json wrong_label = report_of(kRows, true);
  wrong_label["items"][5]["label"] = "net";
  CHECK_THAT(error_of(wrong_label, truth),
             Catch::Contains("r.json: items[5] ('d5'): label 'net' but the truth file gave 'devel'"));

  json unknown = report_of(kRows, true);
  unknown["items"][0]["id"] = "zz";
  CHECK_THAT(error_of(unknown, truth), Catch::Contains("items[0] ('zz'): not in the truth file"));

  json ragged = report_of(kRows, true);
  ragged["items"][2]["probabilities"] = {0.5, 0.5};
  CHECK_THAT(error_of(ragged, truth), Catch::Contains("items[2] ('d2'): 2 probabilities for 3 class names"));

  json no_classes = report_of(kRows, true);
  no_classes.erase("class_names");
  CHECK_THAT(error_of(no_classes, truth), Catch::Contains("\"class_names\" is missing"));

  CHECK_THAT(error_of(json{{"images", json::array()}}, truth), Catch::Contains("not a document verification report"));
}
