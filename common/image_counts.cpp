#include "image_counts.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace lv {
namespace {

using json = nlohmann::json;

enum class BoxVerdict { correct, mislabeled, uncertain };

/// The verdict string of a record, or "" when it has none (or it is not a string).
std::string_view verdict_of(const json& record) {
  const auto it = record.find("verdict");
  if (it == record.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

BoxVerdict box_verdict(const json& box) {
  const std::string_view v = verdict_of(box);
  if (v == "correct") return BoxVerdict::correct;
  if (v == "mislabeled") return BoxVerdict::mislabeled;
  // Anything else needs a person's look; counting it keeps the sum invariant.
  return BoxVerdict::uncertain;
}

bool has_error(const json& image) {
  if (verdict_of(image) == "error") return true;
  const auto it = image.find("error");
  if (it == image.end() || it->is_null()) return false;
  if (it->is_string()) return !it->get_ref<const std::string&>().empty();
  if (it->is_boolean()) return it->get<bool>();
  return !it->empty();  // an object or array describing the error
}

/// The image's "boxes" array, or nullptr when it has none.
const json* boxes_of(const json& image) {
  const auto it = image.find("boxes");
  if (it == image.end() || !it->is_array()) return nullptr;
  return &*it;
}

/// Counts of boxes by verdict.
struct BoxCounts {
  int64_t boxes = 0, correct = 0, mislabeled = 0, uncertain = 0;
  void add(BoxVerdict v) {
    ++boxes;
    switch (v) {
      case BoxVerdict::correct: ++correct; break;
      case BoxVerdict::mislabeled: ++mislabeled; break;
      case BoxVerdict::uncertain: ++uncertain; break;
    }
  }
};

/// One pass over image records that feeds both the summary and the per_class block, so the
/// two always agree.
class Tally : public RecordCounter {
 public:
  void add(const json& image) override {
    ++images_;
    if (const json* bs = boxes_of(image)) {
      for (const json& box : *bs) {
        const BoxVerdict v = box_verdict(box);
        all_.add(v);
        class_counts(box).add(v);
        const auto why = box.find("reason");
        if (why != box.end() && why->is_string()) ++reasons_[why->get_ref<const std::string&>()];
      }
    }
    const auto m = image.find("missing");
    if (m != image.end() && m->is_array()) missing_ += static_cast<int64_t>(m->size());
    if (has_error(image)) {
      ++errors_;
      return;
    }
    const std::string_view v = verdict_of(image);
    if (v == "correct") ++img_correct_;
    else if (v == "mislabeled") ++img_mislabeled_;
    else if (v == "unlabeled") ++img_unlabeled_;
    else ++img_uncertain_;
  }

  json summary() const override {
    return json{
        {"total_images", images_},
        {"total_boxes", all_.boxes},
        {"correct", all_.correct},
        {"mislabeled", all_.mislabeled},
        {"uncertain", all_.uncertain},
        {"missing", missing_},
        {"unlabeled", img_unlabeled_},
        {"errors", errors_},
        {"images_by_verdict",
         {{"correct", img_correct_}, {"mislabeled", img_mislabeled_}, {"uncertain", img_uncertain_},
          {"unlabeled", img_unlabeled_}, {"error", errors_}}},
        {"reasons", reasons_},
    };
  }

  json per_class() const override {
    json out = json::object();
    for (const auto& [name, c] : classes_)
      out[name] = json{{"boxes", c.boxes}, {"correct", c.correct}, {"mislabeled", c.mislabeled},
                       {"uncertain", c.uncertain}};
    return out;
  }

 private:
  /// The counts of the box's class: label_name, else the label id as a string, else "unknown".
  BoxCounts& class_counts(const json& box) {
    std::string_view key = "unknown";
    std::string id;
    const auto name = box.find("label_name");
    const auto label = box.find("label");
    if (name != box.end() && name->is_string() && !name->get_ref<const std::string&>().empty()) {
      key = name->get_ref<const std::string&>();
    } else if (label != box.end() && label->is_number_integer()) {
      id = std::to_string(label->get<int64_t>());
      key = id;
    } else if (label != box.end() && label->is_string()) {
      key = label->get_ref<const std::string&>();
    }
    auto it = classes_.find(key);  // heterogeneous lookup: no string built for known classes
    if (it == classes_.end()) it = classes_.emplace(std::string(key), BoxCounts{}).first;
    return it->second;
  }

  int64_t images_ = 0, missing_ = 0, errors_ = 0;
  int64_t img_correct_ = 0, img_mislabeled_ = 0, img_uncertain_ = 0, img_unlabeled_ = 0;
  BoxCounts all_;
  std::map<std::string, int64_t, std::less<>> reasons_;  ///< boxes by "reason"
  std::map<std::string, BoxCounts, std::less<>> classes_;
};

Tally count_all(const std::vector<json>& images) {
  Tally t;
  for (const json& image : images) t.add(image);
  return t;
}

}  // namespace

std::unique_ptr<RecordCounter> image_counter() { return std::make_unique<Tally>(); }

json summarize(const std::vector<json>& images) { return count_all(images).summary(); }

json per_class_counts(const std::vector<json>& images) { return count_all(images).per_class(); }

namespace {

/// The counts of task autolabel's records (autolabel_counter()).
class AutolabelTally : public RecordCounter {
 public:
  void add(const json& image) override {
    ++images_;
    if (has_error(image)) {
      ++errors_;
      return;
    }
    const auto source = image.find("source");
    if (source != image.end() && source->is_string() && source->get_ref<const std::string&>() == "existing") {
      ++kept_existing_;
      return;
    }
    const auto labels = image.find("labels");
    if (labels == image.end() || !labels->is_array() || labels->empty()) {
      ++empty_;
      return;
    }
    ++labeled_;
    for (const json& box : *labels) {
      ++boxes_;
      const auto name = box.find("class_name");
      const auto id = box.find("class");
      std::string key = "unknown";
      if (name != box.end() && name->is_string()) key = name->get<std::string>();
      else if (id != box.end() && id->is_number_integer()) key = std::to_string(id->get<int64_t>());
      ++per_class_[key];
      const auto conf = box.find("confidence");
      if (conf != box.end() && conf->is_number()) ++histogram_[histogram_bin(conf->get<double>())];
    }
  }

  json summary() const override {
    json histogram = json::object();
    for (int b = 0; b < kBins; ++b) histogram[bin_name(b)] = histogram_[static_cast<size_t>(b)];
    return json{{"images", images_},           {"labeled_images", labeled_}, {"empty_images", empty_},
                {"kept_existing", kept_existing_}, {"boxes", boxes_},          {"errors", errors_},
                {"confidence_histogram", histogram}};
  }

  json per_class() const override {
    json out = json::object();
    for (const auto& [name, n] : per_class_) out[name] = json{{"boxes", n}};
    return out;
  }

 private:
  static constexpr int kBins = 10;
  static size_t histogram_bin(double confidence) {
    return static_cast<size_t>(std::clamp(static_cast<int>(confidence * kBins), 0, kBins - 1));
  }
  static std::string bin_name(int b) {
    return fmt::format("{:.1f}-{:.1f}", static_cast<double>(b) / kBins, static_cast<double>(b + 1) / kBins);
  }

  int64_t images_ = 0, labeled_ = 0, empty_ = 0, kept_existing_ = 0, boxes_ = 0, errors_ = 0;
  std::array<int64_t, kBins> histogram_{};
  std::map<std::string, int64_t> per_class_;
};

}  // namespace

std::unique_ptr<RecordCounter> autolabel_counter() { return std::make_unique<AutolabelTally>(); }

ReportLayout autolabel_report_layout() {
  ReportLayout layout;
  layout.records_key = "images";
  layout.counter = autolabel_counter;
  return layout;
}

ReportLayout image_report_layout() {
  ReportLayout layout;
  layout.records_key = "images";
  layout.counter = image_counter;
  return layout;
}

}  // namespace lv
