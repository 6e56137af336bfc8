#include "review.h"

#include <algorithm>
#include <map>
#include <system_error>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"
#include "report.h"
#include "review_assets.h"
#include "run_state.h"

namespace lv {

namespace fs = std::filesystem;
using nlohmann::json;

std::string url_path(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~' || c == '/';
    out += keep ? std::string(1, static_cast<char>(c)) : fmt::format("%{:02X}", c);
  }
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

namespace {

/// One row of issues.csv.
struct IssueRow {
  double score = 0;         ///< label quality: lower = likelier an error
  int64_t image = 0;        ///< the record's position: ties keep input order
  int box = -1;             ///< label box index; -1 for a missing box
  int missing = -1;         ///< missing box position
  std::string line;         ///< the CSV line without its score ranking
};

std::string text_of(const json& j) { return j.is_string() ? j.get<std::string>() : std::string(); }
double number_of(const json& j) { return j.is_number() ? j.get<double>() : 0.0; }

}  // namespace

std::string box_suggestion(const json& box) {
  if (box.contains("suggested_name") && box["suggested_name"].is_string()) return box["suggested_name"];
  if (box.contains("suggested_box") && box["suggested_box"].is_array()) return "move box";
  const std::string reason = text_of(box.value("reason", json()));
  if (reason == "spurious" || reason == "duplicate") return "remove box";
  return "";
}

namespace {

/// The review data of one image record: what the page draws (every box, for the full view)
/// and its flagged boxes as rows of issues.csv. Null when nothing of it is flagged.
json review_image(const json& record, int64_t number, const fs::path& output_dir, std::vector<IssueRow>& rows) {
  const std::string path = get_bytes_field(record, "path");
  // Escaped as the report escapes it (path_escaped tells such a name from one that holds "\xHH").
  const std::string shown = escape_bytes(path);
  const std::string verdict = text_of(record.value("verdict", json()));
  json boxes = json::array(), missing = json::array();
  bool flagged = false;
  std::error_code ec;
  const auto thumb = [&](const std::string& tag) -> json {
    const std::string rel = path + "." + tag + ".jpg";
    // An empty one (a crash before the system wrote it: thumbnails are not synced) is none.
    const uintmax_t size = fs::file_size(output_dir / "review" / "thumbs" / rel, ec);
    return !ec && size > 0 ? json("thumbs/" + url_path(rel)) : json(nullptr);
  };
  const auto row = [&](int box, int miss, const std::string& label, const std::string& suggestion, double confidence,
                       const std::string& reason, double score, const std::string& kind) {
    IssueRow r;
    r.score = score;
    r.image = number;
    r.box = box;
    r.missing = miss;
    r.line = fmt::format("{},{},{},{},{:.6g},{},{:.6g},{}", csv_field(shown), box >= 0 ? std::to_string(box) : "",
                         csv_field(label), csv_field(suggestion), confidence, csv_field(reason), score, kind);
    rows.push_back(std::move(r));
  };
  for (const json& b : record.value("boxes", json::array())) {
    const std::string v = text_of(b.value("verdict", json()));
    const int index = b.value("index", -1);
    json out{{"i", index},
             {"l", b.value("label_name", json())},
             {"v", v},
             {"r", b.value("reason", json())},
             {"s", box_suggestion(b)},
             {"pr", b.value("predicted_name", json())},
             {"c", number_of(b.value("confidence", json()))},
             {"lp", number_of(b.value("label_prob", json()))},
             {"x", b.value("box", json::array())}};
    if (b.contains("suggested_box")) out["sx"] = b["suggested_box"];
    if (v != "correct") {
      flagged = true;
      out["t"] = thumb(fmt::format("b{}", index));
      // The label's quality: the model's probability of the given class (self-confidence).
      row(index, -1, text_of(b.value("label_name", json())), box_suggestion(b), number_of(b.value("confidence", json())),
          text_of(b.value("reason", json())), number_of(b.value("label_prob", json())), v);
    }
    boxes.push_back(std::move(out));
  }
  int k = 0;
  for (const json& m : record.value("missing", json::array())) {
    flagged = true;
    const double confidence = number_of(m.value("confidence", json()));
    missing.push_back({{"l", m.value("class_name", json())}, {"c", confidence}, {"x", m.value("box", json::array())},
                       {"t", thumb(fmt::format("m{}", k))}});
    // A confident box the labels lack: the likelier the error, the lower its quality.
    row(-1, k, "", text_of(m.value("class_name", json())), confidence, "missing", 1.0 - confidence, "missing");
    ++k;
  }
  if (!flagged) return nullptr;
  const bool has_image = verdict == "correct" || verdict == "mislabeled" || verdict == "uncertain";
  const std::string debug = path + ".jpg";
  return json{{"n", number},
              {"p", shown},
              {"pe", shown != path},
              {"v", verdict},
              {"sh", record.value("shard", json())},
              {"w", record.value("width", 0)},
              {"h", record.value("height", 0)},
              {"img", has_image ? json("../" + verdict + "/" + url_path(path)) : json(nullptr)},
              {"dbg", fs::exists(output_dir / "debug_images" / debug, ec) ? json("../debug_images/" + url_path(debug))
                                                                          : json(nullptr)},
              {"b", std::move(boxes)},
              {"m", std::move(missing)}};
}

/// The review data of one document record (task verify): its snippet in place of a thumbnail,
/// one "box" for the document's label. Null unless flagged (mislabeled, uncertain, unlabeled).
json review_document(const json& record, int64_t number, std::vector<IssueRow>& rows) {
  const std::string verdict = text_of(record.value("verdict", json()));
  if (verdict != "mislabeled" && verdict != "uncertain" && verdict != "unlabeled") return nullptr;
  const bool has_id = record.contains("id") && record["id"].is_string();
  const std::string name = get_bytes_field(record, has_id ? "id" : "item");
  const std::string shown = escape_bytes(name);
  const std::string label = record.contains("label") && record["label"].is_string() ? printable(get_bytes_field(record, "label")) : "";
  const std::string suggestion = text_of(record.value("suggested", json()));
  const double confidence = number_of(record.value("confidence", json()));
  // An unlabeled document has no label to doubt: after every label that may be wrong.
  const double score = verdict == "unlabeled" ? 1.0 : number_of(record.value("label_prob", json()));
  IssueRow r;
  r.score = score;
  r.image = number;
  r.box = 0;
  r.line = fmt::format("{},{},{},{},{:.6g},{},{:.6g},{}", csv_field(shown), record.value("line", int64_t{0}),
                       csv_field(label), csv_field(suggestion), confidence,
                       csv_field(text_of(record.value("reason", json()))), score, verdict);
  rows.push_back(std::move(r));
  json box{{"i", 0},
           {"l", label},
           {"v", verdict},
           {"r", record.value("reason", json())},
           {"s", suggestion},
           {"pr", record.value("predicted", json())},
           {"c", confidence},
           {"lp", number_of(record.value("label_prob", json()))},
           {"x", nullptr},
           {"t", nullptr}};
  return json{{"n", number},
              {"p", shown},
              {"pe", shown != name},
              {"ln", record.value("line", int64_t{0})},
              {"v", verdict},
              {"sh", record.value("shard", json())},
              {"txt", printable(text_of(record.value("snippet", json())))},
              {"img", nullptr},
              {"dbg", nullptr},
              {"w", 0},
              {"h", 0},
              {"b", json::array({std::move(box)})},
              {"m", json::array()}};
}

/// A JSON value as the argument of a call in a script file: JSON is JavaScript, but the two
/// line separators U+2028/2029 are not allowed in older engines' string literals.
std::string script_value(const json& value) {
  std::string text = value.dump();
  for (const std::string_view sep : {std::string_view("\xE2\x80\xA8"), std::string_view("\xE2\x80\xA9")})
    for (size_t at = text.find(sep); at != std::string::npos; at = text.find(sep, at))
      text.replace(at, sep.size(), sep.back() == '\xA8' ? "\\u2028" : "\\u2029");
  return text;
}

}  // namespace

ReviewStats write_review(const fs::path& output_dir, const std::string& run_id, int64_t page_images) {
  ReviewStats stats;
  const fs::path report_file = output_dir / kReportFileName;
  std::string records_key;
  const json header = read_report_header(report_file, &records_key);
  // Verdicts only (task verify): autolabel records hold labels, classify and embed none.
  const bool documents = records_key == "items";
  if (header.value("task", "verify") != "verify" || (records_key != "images" && !documents)) return stats;
  stats.written = true;
  const fs::path review = output_dir / "review";
  const fs::path data = review / "data";
  fs::create_directories(data);

  std::vector<IssueRow> rows;
  std::map<std::string, std::map<std::string, int64_t>> confusion;  // label -> suggestion -> boxes
  std::map<std::string, int64_t> reasons;
  json page = json::array();
  std::vector<std::string> page_files;
  const auto flush = [&] {
    if (page.empty()) return;
    const std::string name = fmt::format("page_{:04d}.js", page_files.size() + 1);
    write_file_atomic(data / name, fmt::format("LV_REVIEW_PAGE({}, {});\n", page_files.size() + 1, script_value(page)));
    page_files.push_back("data/" + name);
    page = json::array();
  };
  const std::unique_ptr<RecordLines> records = report_records(report_file);
  records->scan([&](int64_t, std::string_view line) {
    const json record = json::parse(line, nullptr, false);
    const int64_t number = stats.images++;
    if (!record.is_object()) throw Error(ExitCode::failed, fmt::format("{}: record {} is not JSON", report_file.string(), number + 1));
    json image = documents ? review_document(record, number, rows) : review_image(record, number, output_dir, rows);
    if (image.is_null()) return;
    for (const json& b : image["b"])
      if (b["v"] != "correct") {
        ++reasons[text_of(b["r"])];
        if (b["v"] == "mislabeled") ++confusion[text_of(b["l"])][text_of(b["s"])];
      }
    if (!image["m"].empty()) reasons["missing"] += static_cast<int64_t>(image["m"].size());
    ++stats.flagged_images;
    page.push_back(std::move(image));
    if (static_cast<int64_t>(page.size()) >= page_images) flush();
  });
  flush();
  stats.flagged_boxes = static_cast<int64_t>(rows.size());
  stats.pages = static_cast<int64_t>(page_files.size());

  // An earlier review of this output with more pages: its extra pages would be stale.
  std::error_code ec;
  for (fs::directory_iterator it(data, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("page_", 0) == 0 &&
        std::find(page_files.begin(), page_files.end(), "data/" + name) == page_files.end())
      fs::remove(it->path());
  }

  json summary{{"run_id", run_id},
               {"status", header.value("status", "")},
               {"summary", header.value("summary", json::object())},
               {"per_class", header.value("per_class", json::object())},
               {"shards", json::array()},
               {"confusion", confusion},
               {"reasons", reasons},
               {"images", stats.images},
               {"flagged_images", stats.flagged_images},
               {"flagged_boxes", stats.flagged_boxes},
               {"pages", page_files},
               {"kind", documents ? "documents" : "images"},
               {"report", "../" + std::string(kReportFileName)}};
  for (const json& s : header.value("shards", json::array()))
    summary["shards"].push_back({{"index", s.value("index", 0)}, {"device", s.value("device", "")}});
  write_file_atomic(data / "summary.js", "LV_REVIEW_SUMMARY(" + script_value(summary) + ");\n");
  for (const ReviewAsset& asset : review_assets()) write_file_atomic(review / asset.name, asset.content);

  // Likeliest errors first; ties in input order, boxes before the image's missing boxes.
  std::stable_sort(rows.begin(), rows.end(), [](const IssueRow& a, const IssueRow& b) {
    if (a.score != b.score) return a.score < b.score;
    if (a.image != b.image) return a.image < b.image;
    if ((a.box < 0) != (b.box < 0)) return a.box >= 0;
    return a.box >= 0 ? a.box < b.box : a.missing < b.missing;
  });
  write_file_atomic(output_dir / "issues.csv", [&](std::ostream& out) {
    out << (documents ? "rank,document,line,label,suggestion,confidence,reason,score,verdict\n"
                      : "rank,image,box_index,label,suggestion,confidence,reason,score,verdict\n");
    int64_t rank = 0;
    for (const IssueRow& r : rows) out << ++rank << ',' << r.line << '\n';
  });
  return stats;
}

}  // namespace lv
