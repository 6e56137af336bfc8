#include "image_counts.h"

#include <map>
#include <string>
#include <string_view>

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
        {"errors", errors_},
        {"images_by_verdict",
         {{"correct", img_correct_}, {"mislabeled", img_mislabeled_}, {"uncertain", img_uncertain_},
          {"error", errors_}}},
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
  int64_t img_correct_ = 0, img_mislabeled_ = 0, img_uncertain_ = 0;
  BoxCounts all_;
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

ReportLayout image_report_layout() {
  ReportLayout layout;
  layout.records_key = "images";
  layout.counter = image_counter;
  return layout;
}

}  // namespace lv
