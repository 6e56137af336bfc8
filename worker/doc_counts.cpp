#include "doc_counts.h"

#include <map>
#include <string>

namespace lv {
namespace {

using json = nlohmann::json;

std::string string_field(const json& record, const char* key) {
  const auto it = record.find(key);
  return it != record.end() && it->is_string() ? it->get<std::string>() : std::string();
}

class DocumentCounter : public RecordCounter {
 public:
  void add(const json& record) override {
    ++total_;
    if (record.value("truncated", false)) ++truncated_;
    const std::string verdict = string_field(record, "verdict");
    const auto error = record.find("error");
    const bool failed = verdict == "error" || (error != record.end() && error->is_string() && !error->get_ref<const std::string&>().empty());
    if (failed) {
      ++errors_;
      return;
    }
    if (verdict == "classified") {
      ++classified_;
      ++classes_[string_field(record, "predicted")]["documents"];
    } else if (verdict == "embedded") {
      ++embedded_;
    } else if (verdict == "unlabeled") {
      ++unlabeled_;
    } else {
      // correct, mislabeled, and anything else (needs a person's look) as uncertain.
      const std::string v = verdict == "correct" || verdict == "mislabeled" ? verdict : "uncertain";
      ++by_verdict_[v];
      auto& c = classes_[string_field(record, "label")];
      ++c["documents"];
      ++c[v];
    }
  }

  json summary() const override {
    const auto count = [this](const char* v) {
      const auto it = by_verdict_.find(v);
      return it == by_verdict_.end() ? int64_t{0} : it->second;
    };
    return json{{"total_documents", total_}, {"correct", count("correct")},   {"mislabeled", count("mislabeled")},
                {"uncertain", count("uncertain")}, {"unlabeled", unlabeled_}, {"classified", classified_},
                {"embedded", embedded_},         {"errors", errors_},         {"truncated", truncated_}};
  }

  json per_class() const override {
    json out = json::object();
    for (const auto& [name, counts] : classes_) {
      json c = json::object();
      for (const auto& [key, n] : counts) c[key] = n;
      out[name] = std::move(c);
    }
    return out;
  }

 private:
  int64_t total_ = 0, truncated_ = 0, errors_ = 0, classified_ = 0, embedded_ = 0, unlabeled_ = 0;
  std::map<std::string, int64_t> by_verdict_;
  std::map<std::string, std::map<std::string, int64_t>> classes_;
};

}  // namespace

std::unique_ptr<RecordCounter> document_counter() { return std::make_unique<DocumentCounter>(); }

ReportLayout document_report_layout() {
  ReportLayout layout;
  layout.records_key = "items";
  layout.counter = document_counter;
  return layout;
}

}  // namespace lv
