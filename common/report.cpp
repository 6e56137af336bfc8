#include "report.h"

#include <map>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/core.h>

#include "error.h"

#ifndef LV_VERSION
#define LV_VERSION "unknown"
#endif

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
/// two always agree and a million-record merge walks its records once.
class Tally {
 public:
  void add(const json& image) {
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

  json summary() const {
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

  json per_class() const {
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

Tally tally(const std::vector<json>& images) {
  Tally t;
  for (const json& image : images) t.add(image);
  return t;
}

double rate(int64_t items, double seconds) {
  return seconds > 0 ? static_cast<double>(items) / seconds : 0.0;
}

json tool_block(const std::string& tool_name) {
  return json{{"name", tool_name}, {"version", LV_VERSION}};
}

}  // namespace

json summarize(const std::vector<json>& images) { return tally(images).summary(); }

json per_class_counts(const std::vector<json>& images) { return tally(images).per_class(); }

json make_shard_report(int shard, const std::string& tool_name, const std::vector<json>& images,
                       double seconds, bool complete) {
  json report = json::object();
  report["schema_version"] = kReportSchemaVersion;
  report["tool"] = tool_block(tool_name);
  report["status"] = complete ? "complete" : "partial";
  report["shard"] = shard;
  report["seconds"] = seconds;
  report["items_per_s"] = rate(static_cast<int64_t>(images.size()), seconds);
  const Tally t = tally(images);
  report["summary"] = t.summary();
  report["per_class"] = t.per_class();
  report["images"] = images;
  return report;
}

json merge_reports(const std::vector<std::string>& items, const std::vector<ShardItems>& shards,
                   std::vector<std::optional<json>> shard_reports,
                   const std::vector<ShardSummary>& shard_summaries, const std::string& tool_name) {
  const int64_t n = static_cast<int64_t>(items.size());
  if (shard_reports.size() != shards.size())
    throw Error(ExitCode::failed, fmt::format("merge: {} shard reports for {} shards",
                                              shard_reports.size(), shards.size()));

  // Keys view the strings of `items`, which outlive this function; no path is copied.
  std::unordered_map<std::string_view, int64_t> index_of;
  index_of.reserve(items.size());
  for (int64_t i = 0; i < n; ++i) {
    const auto [it, inserted] = index_of.emplace(items[static_cast<size_t>(i)], i);
    if (!inserted)
      throw Error(ExitCode::failed, fmt::format("merge: the item list holds '{}' twice (items {} and {})",
                                                items[static_cast<size_t>(i)], it->second, i));
  }

  constexpr int kNoShard = -1;
  std::vector<int> owner(items.size(), kNoShard);  // position in `shards` of each item's shard
  for (size_t k = 0; k < shards.size(); ++k) {
    const ShardItems& s = shards[k];
    if (s.begin < 0 || s.end < s.begin || s.end > n)
      throw Error(ExitCode::failed, fmt::format("merge: shard {} covers items [{}, {}) of {}",
                                                s.index, s.begin, s.end, n));
    for (int64_t i = s.begin; i < s.end; ++i) {
      int& o = owner[static_cast<size_t>(i)];
      if (o != kNoShard)
        throw Error(ExitCode::failed, fmt::format("merge: shards {} and {} both cover item {} '{}'",
                                                  shards[static_cast<size_t>(o)].index, s.index, i,
                                                  items[static_cast<size_t>(i)]));
      o = static_cast<int>(k);
    }
  }

  std::vector<json> slots(items.size());  // null until a report supplies the record
  std::vector<char> filled(items.size(), 0);
  for (size_t k = 0; k < shards.size(); ++k) {
    std::optional<json>& report = shard_reports[k];
    if (!report) continue;
    const int shard_index = shards[k].index;
    const auto images = report->find("images");
    if (images == report->end() || !images->is_array())
      throw Error(ExitCode::failed,
                  fmt::format("merge: shard {} report: \"images\" is missing or not an array", shard_index));
    for (json& record : *images) {
      const auto p = record.find("path");
      if (p == record.end() || !p->is_string())
        throw Error(ExitCode::failed,
                    fmt::format("merge: shard {} report: an image record has no string \"path\"", shard_index));
      const std::string& path = p->get_ref<const std::string&>();
      const auto found = index_of.find(path);
      if (found == index_of.end())
        throw Error(ExitCode::failed,
                    fmt::format("merge: shard {} report holds '{}', which is not in the item list",
                                shard_index, path));
      const size_t i = static_cast<size_t>(found->second);
      if (owner[i] != static_cast<int>(k)) {
        const std::string belongs = owner[i] == kNoShard
                                        ? std::string("no shard")
                                        : fmt::format("shard {}", shards[static_cast<size_t>(owner[i])].index);
        throw Error(ExitCode::failed,
                    fmt::format("merge: shard {} report holds '{}', which belongs to {}",
                                shard_index, path, belongs));
      }
      if (filled[i])
        throw Error(ExitCode::failed,
                    fmt::format("merge: shard {} report holds '{}' twice", shard_index, path));
      filled[i] = 1;
      slots[i] = std::move(record);
    }
  }

  std::vector<json> merged;
  merged.reserve(items.size());
  json unprocessed = json::array();
  for (size_t i = 0; i < items.size(); ++i) {
    if (filled[i]) merged.push_back(std::move(slots[i]));
    else unprocessed.push_back(items[i]);
  }
  slots = {};

  json shard_list = json::array();
  for (const ShardSummary& s : shard_summaries) {
    shard_list.push_back(json{
        {"index", s.index},
        {"device", s.device},
        {"items", s.items},
        {"status", s.status},
        {"exit_code", s.exit_code ? json(*s.exit_code) : json(nullptr)},
        {"attempts", s.attempts},
        {"seconds", s.seconds},
        {"items_per_s", rate(s.items, s.seconds)},
        {"log", s.log},
    });
  }

  json out = json::object();
  out["schema_version"] = kReportSchemaVersion;
  out["tool"] = tool_block(tool_name);
  out["status"] = unprocessed.empty() ? "complete" : "partial";
  const Tally t = tally(merged);
  out["summary"] = t.summary();
  out["per_class"] = t.per_class();
  out["shards"] = std::move(shard_list);
  out["images"] = json::array();
  out["images"].get_ref<json::array_t&>() = std::move(merged);
  out["unprocessed"] = std::move(unprocessed);
  return out;
}

}  // namespace lv
