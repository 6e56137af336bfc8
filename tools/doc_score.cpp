#include "doc_score.h"

#include <cmath>
#include <unordered_map>

#include <fmt/core.h>

#include "error.h"

namespace lv::demo {

using nlohmann::json;

namespace {

Error bad_input(const std::string& message) { return Error(ExitCode::input_unreadable, message); }

double ratio(int64_t num, int64_t den) { return den > 0 ? static_cast<double>(num) / static_cast<double>(den) : 0.0; }

std::optional<double> docs_per_s(int64_t docs, std::optional<double> seconds) {
  if (!seconds || !(*seconds > 0)) return std::nullopt;
  return static_cast<double>(docs) / *seconds;
}

}  // namespace

double DocScore::model_accuracy() const { return ratio(predicted_true, docs); }
double DocScore::suggested_accuracy() const { return ratio(suggested_right, verifier.true_positives); }
double DocScore::uncertain_share() const { return ratio(uncertain, docs); }

DocScore score_doc_verdicts(const json& report, const std::vector<DocTruth>& truth, const std::string& report_name) {
  if (!report.is_object() || !report.contains("items") || !report["items"].is_array())
    throw bad_input(fmt::format("{}: not a document verification report (no \"items\" list)", report_name));
  DocScore s;
  const auto names = report.find("class_names");
  if (names == report.end() || !names->is_array() || names->empty())
    throw bad_input(fmt::format("{}: \"class_names\" is missing or empty", report_name));
  std::unordered_map<std::string, int> class_index;
  for (const auto& n : *names) {
    if (!n.is_string()) throw bad_input(fmt::format("{}: \"class_names\" holds a non-string", report_name));
    class_index.emplace(n.get<std::string>(), static_cast<int>(s.class_names.size()));
    s.class_names.push_back(n.get<std::string>());
  }
  auto index_of = [&](const std::string& name, const std::string& where) {
    const auto it = class_index.find(name);
    if (it == class_index.end()) throw bad_input(fmt::format("{}: '{}' is not in \"class_names\"", where, name));
    return it->second;
  };
  if (const auto shards = report.find("shards"); shards != report.end() && shards->is_array()) {
    for (const auto& shard : *shards) {
      s.shard_items += shard.value("items", int64_t{0});
      s.slowest_shard_s = std::max(s.slowest_shard_s, shard.value("seconds", 0.0));
    }
  }

  std::unordered_map<std::string, const DocTruth*> by_id;
  for (const auto& t : truth) by_id[t.id] = &t;

  s.has_probabilities = true;
  std::vector<std::vector<double>> probs;
  std::vector<int> labels;
  std::vector<bool> swapped;
  int64_t matched = 0;
  size_t position = 0;
  for (const auto& item : report["items"]) {
    const std::string where = fmt::format("{}: items[{}]", report_name, position++);
    const auto id_it = item.find("id");
    if (id_it == item.end() || !id_it->is_string()) throw bad_input(fmt::format("{}: \"id\" is missing or not a string", where));
    const std::string id = id_it->get<std::string>();
    const auto found = by_id.find(id);
    if (found == by_id.end())
      throw bad_input(fmt::format("{} ('{}'): not in the truth file (report and truth of different datasets?)", where, id));
    const DocTruth& t = *found->second;
    ++matched;
    const std::string verdict = item.value("verdict", "");
    if (verdict == "error") {
      ++s.errors;
      continue;
    }
    const std::string label = item.value("label", "");
    if (label != t.given_label)
      throw bad_input(fmt::format("{} ('{}'): label '{}' but the truth file gave '{}' (report and truth of different "
                                  "datasets?)", where, id, label, t.given_label));
    const int label_index = index_of(label, where);
    const bool flagged = verdict == "mislabeled";
    if (verdict == "correct") ++s.correct;
    else if (flagged) ++s.mislabeled;
    else if (verdict == "uncertain") ++s.uncertain;
    else throw bad_input(fmt::format("{} ('{}'): unknown verdict '{}'", where, id, verdict));
    ++s.docs;
    if (t.swapped) ++s.swapped;

    if (flagged && t.swapped) {
      ++s.verifier.true_positives;
      const auto sug = item.find("suggested");
      if (sug != item.end() && sug->is_string() && sug->get<std::string>() == t.true_label) ++s.suggested_right;
    } else if (flagged) {
      ++s.verifier.false_positives;
    } else if (t.swapped) {
      ++s.verifier.false_negatives;
      if (verdict == "uncertain") ++s.swapped_uncertain;
      else ++s.swapped_correct;
    }

    // The model alone: the argmax of its probabilities, else its "predicted" class.
    const auto p = item.find("probabilities");
    if (p == item.end() || !p->is_array()) {
      s.has_probabilities = false;
      const auto predicted = item.find("predicted");
      if (predicted != item.end() && predicted->is_string() && predicted->get<std::string>() == t.true_label) ++s.predicted_true;
      continue;
    }
    std::vector<double> row;
    for (const auto& v : *p) {
      if (!v.is_number()) throw bad_input(fmt::format("{} ('{}'): \"probabilities\" holds a non-number", where, id));
      row.push_back(v.get<double>());
    }
    if (row.size() != s.class_names.size())
      throw bad_input(fmt::format("{} ('{}'): {} probabilities for {} class names", where, id, row.size(), s.class_names.size()));
    size_t best = 0;
    for (size_t c = 1; c < row.size(); ++c)
      if (row[c] > row[best]) best = c;
    if (s.class_names[best] == t.true_label) ++s.predicted_true;
    probs.push_back(std::move(row));
    labels.push_back(label_index);
    swapped.push_back(t.swapped);
  }
  s.missing_from_report = static_cast<int64_t>(truth.size()) - matched;

  if (s.has_probabilities && !probs.empty()) {
    const std::vector<bool> issues = confident_learning_issues(probs, labels, &s.cl_thresholds);
    for (size_t i = 0; i < issues.size(); ++i) {
      if (issues[i] && swapped[i]) ++s.confident_learning.true_positives;
      else if (issues[i]) ++s.confident_learning.false_positives;
      else if (swapped[i]) ++s.confident_learning.false_negatives;
    }
  } else {
    s.has_probabilities = false;
  }
  return s;
}

std::string format_doc_score(const DocScore& s, std::optional<double> seconds, const DocTargets& targets) {
  std::string out;
  out += fmt::format("scored {} documents; {} labels were swapped ({:.1f} %)\n", s.docs, s.swapped,
                     100.0 * ratio(s.swapped, s.docs));
  if (s.missing_from_report > 0)
    out += fmt::format("warning: {} documents of the truth file are not in the report (partial run?); not scored\n",
                       s.missing_from_report);
  if (s.errors > 0) out += fmt::format("warning: {} documents have verdict \"error\"; not scored\n", s.errors);
  out += fmt::format("verdicts: correct {}, mislabeled {}, uncertain {}\n", s.correct, s.mislabeled, s.uncertain);
  out += fmt::format("  {:<34} {:>6}   {}\n", "figure", "value", "target");
  const auto& v = s.verifier;
  out += format_target_row("model accuracy (true topics)", s.model_accuracy(), fmt::format(">= {:.2f}", targets.model_accuracy),
                           s.model_accuracy() >= targets.model_accuracy);
  out += format_target_row("mislabeled precision", v.precision(), fmt::format(">= {:.2f}", targets.precision),
                           v.precision() >= targets.precision);
  out += format_target_row("mislabeled recall", v.recall(), fmt::format(">= {:.2f}", targets.recall), v.recall() >= targets.recall);
  if (s.has_probabilities)
    out += format_target_row("mislabeled F1", v.f1(), fmt::format("> {:.3f} (baseline)", s.confident_learning.f1()),
                             v.f1() > s.confident_learning.f1());
  else
    out += fmt::format("  {:<34} {:>6.3f}   (no probabilities in the report: no baseline)\n", "mislabeled F1", v.f1());
  out += format_target_row("suggested topic accuracy", s.suggested_accuracy(),
                           fmt::format(">= {:.2f}", targets.suggested_accuracy),
                           s.suggested_accuracy() >= targets.suggested_accuracy);
  out += format_target_row("uncertain share of documents", s.uncertain_share(), fmt::format("<= {:.2f}", targets.uncertain_share),
                           s.uncertain_share() <= targets.uncertain_share);
  out += fmt::format("  counts: {} found, {} false alarms, {} missed ({} left uncertain, {} called correct)\n",
                     v.true_positives, v.false_positives, v.false_negatives, s.swapped_uncertain, s.swapped_correct);
  if (s.has_probabilities) {
    const auto& c = s.confident_learning;
    out += fmt::format("baseline, confident learning on the same probabilities: precision {:.3f}, recall {:.3f}, "
                       "F1 {:.3f} ({} found, {} false alarms, {} missed)\n",
                       c.precision(), c.recall(), c.f1(), c.true_positives, c.false_positives, c.false_negatives);
  }
  if (const auto rate = docs_per_s(s.docs + s.errors, seconds))
    out += fmt::format("run time {:.1f} s, {:.1f} docs/s\n", *seconds, *rate);
  if (const auto rate = docs_per_s(s.shard_items, s.slowest_shard_s))
    out += fmt::format("workers: {} docs, slowest shard {:.1f} s: {:.1f} docs/s\n", s.shard_items, s.slowest_shard_s, *rate);
  return out;
}

json doc_score_to_json(const DocScore& s, std::optional<double> seconds, const DocTargets& targets) {
  auto detection = [](const DetectionScore& d) {
    return json{{"true_positives", d.true_positives}, {"false_positives", d.false_positives},
                {"false_negatives", d.false_negatives}, {"precision", d.precision()},
                {"recall", d.recall()}, {"f1", d.f1()}};
  };
  json j = {{"docs", s.docs},
            {"swapped", s.swapped},
            {"errors", s.errors},
            {"missing_from_report", s.missing_from_report},
            {"verdicts", {{"correct", s.correct}, {"mislabeled", s.mislabeled}, {"uncertain", s.uncertain}}},
            {"model_accuracy", s.model_accuracy()},
            {"mislabeled", detection(s.verifier)},
            {"suggested_accuracy", s.suggested_accuracy()},
            {"uncertain_share", s.uncertain_share()},
            {"swapped_left_uncertain", s.swapped_uncertain},
            {"swapped_called_correct", s.swapped_correct}};
  if (s.has_probabilities) {
    json t = json::object();
    for (size_t c = 0; c < s.cl_thresholds.size() && c < s.class_names.size(); ++c)
      t[s.class_names[c]] = std::isnan(s.cl_thresholds[c]) ? json(nullptr) : json(s.cl_thresholds[c]);
    j["confident_learning"] = detection(s.confident_learning);
    j["confident_learning"]["thresholds"] = std::move(t);
  } else {
    j["confident_learning"] = nullptr;
  }
  if (const auto rate = docs_per_s(s.docs + s.errors, seconds)) j["seconds"] = *seconds, j["docs_per_s"] = *rate;
  if (const auto rate = docs_per_s(s.shard_items, s.slowest_shard_s))
    j["workers_docs_per_s"] = *rate, j["slowest_shard_s"] = s.slowest_shard_s;
  j["targets"] = {{"model_accuracy", targets.model_accuracy}, {"precision", targets.precision},
                  {"recall", targets.recall}, {"suggested_accuracy", targets.suggested_accuracy},
                  {"uncertain_share", targets.uncertain_share}};
  return j;
}

}  // namespace lv::demo
