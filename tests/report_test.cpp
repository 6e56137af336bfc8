#include "report.h"

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "byte_text.h"
#include "catch.h"
#include "error.h"
#include "image_counts.h"
#include "journal.h"
#include "test_util.h"

using nlohmann::json;

namespace {

json box(int label, const std::string& name, const std::string& verdict) {
  json b = {{"index", 0}, {"label", label}, {"verdict", verdict}};
  if (!name.empty()) b["label_name"] = name;
  return b;
}

json image(const std::string& path, const std::string& verdict, json boxes, int missing = 0,
           json error = nullptr) {
  json m = json::array();
  for (int i = 0; i < missing; ++i) m.push_back({{"class", 0}, {"confidence", 0.95}});
  return {{"path", path}, {"verdict", verdict}, {"shard", 0}, {"boxes", std::move(boxes)},
          {"missing", m}, {"error", std::move(error)}};
}

// Items d/i0.jpg .. d/i8.jpg in three shards of three; item i has one "cat" box whose verdict
// cycles correct, mislabeled, uncertain, and a field the merge must carry through.
struct Fixture {
  std::vector<std::string> items;
  std::vector<lv::ShardItems> shards = {{0, 0, 3}, {1, 3, 6}, {2, 6, 9}};
  std::vector<lv::ShardSummary> summaries;

  Fixture() {
    for (int i = 0; i < 9; ++i) items.push_back("d/i" + std::to_string(i) + ".jpg");
    summaries.push_back({0, "GPU 0", 3, "succeeded", 0, 1, 1.5, "gpu0.log", {}, {}});
    summaries.push_back({1, "GPU 1", 3, "succeeded", 0, 2, 3.0, "gpu1.log", {}, {}});
    summaries.push_back({2, "GPU 3", 3, "succeeded", std::nullopt, 1, 0.0, "gpu2.log", {}, {}});
  }

  json record(int i, int shard) const {
    static const char* verdicts[] = {"correct", "mislabeled", "uncertain"};
    json r = image(items[static_cast<size_t>(i)], verdicts[i % 3], json::array({box(0, "cat", verdicts[i % 3])}));
    r["shard"] = shard;
    r["extra"] = i;
    return r;
  }

  /// A shard report whose images are the given item indices, in that order, counted as the
  /// image worker counts them.
  json report(int shard, const std::vector<int>& order) const {
    std::vector<json> images;
    for (int i : order) images.push_back(record(i, shard));
    return {{"schema_version", 1}, {"status", "complete"}, {"shard", shard}, {"summary", lv::summarize(images)},
            {"per_class", lv::per_class_counts(images)}, {"images", images}};
  }

  std::vector<std::optional<json>> scrambled() const {
    return {report(0, {2, 0, 1}), report(1, {5, 3, 4}), report(2, {8, 6, 7})};
  }

  json merge(std::vector<std::optional<json>> reports) const {
    return lv::merge_reports(items, shards, std::move(reports), summaries, "label_verifier");
  }

  /// The message of the lv::Error the merge throws, or "(no error)".
  std::string merge_error(std::vector<std::optional<json>> reports) const {
    try {
      merge(std::move(reports));
    } catch (const lv::Error& e) {
      CHECK(e.code() == lv::ExitCode::failed);
      return e.what();
    }
    return "(no error)";
  }
};

std::vector<std::string> paths_of(const json& images) {
  std::vector<std::string> out;
  for (const json& r : images) out.push_back(r.at("path").get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("summarize counts boxes by reason", "[report]") {
  json spurious = box(0, "cat", "mislabeled");
  spurious["reason"] = "spurious";
  json moved = box(0, "cat", "mislabeled");
  moved["reason"] = "bad_location";
  json ok = box(1, "dog", "correct");
  ok["reason"] = "label_confirmed";
  const json s = lv::summarize({image("a.jpg", "mislabeled", {spurious, moved, ok}), image("b.jpg", "mislabeled", {spurious})});
  CHECK(s.at("reasons") == json{{"spurious", 2}, {"bad_location", 1}, {"label_confirmed", 1}});
}

TEST_CASE("autolabel counts: images by source, boxes per class and a confidence histogram", "[report][autolabel]") {
  const auto label = [](int cls, const char* name, double confidence) {
    return json{{"class", cls}, {"class_name", name}, {"confidence", confidence}, {"box", {0.5, 0.5, 0.1, 0.1}}};
  };
  const std::vector<json> images = {
      {{"path", "a.jpg"}, {"source", "predicted"}, {"labels", {label(0, "cat", 0.55), label(1, "dog", 0.97)}}, {"error", nullptr}},
      {{"path", "b.jpg"}, {"source", "predicted"}, {"labels", {label(0, "cat", 1.0)}}, {"error", nullptr}},
      {{"path", "c.jpg"}, {"source", "predicted"}, {"labels", json::array()}, {"error", nullptr}},
      {{"path", "d.jpg"}, {"source", "existing"}, {"labels", json::array()}, {"error", nullptr}},
      {{"path", "e.jpg"}, {"source", nullptr}, {"labels", json::array()}, {"error", "cannot decode image"}},
  };
  const auto counter = lv::autolabel_counter();
  for (const json& i : images) counter->add(i);
  const json s = counter->summary();
  CHECK(s.at("images") == 5);
  CHECK(s.at("labeled_images") == 2);
  CHECK(s.at("empty_images") == 1);
  CHECK(s.at("kept_existing") == 1);
  CHECK(s.at("boxes") == 3);
  CHECK(s.at("errors") == 1);
  // 0.55 in 0.5-0.6; 0.97 and 1.0 (the top bin is closed) in 0.9-1.0.
  const json& h = s.at("confidence_histogram");
  CHECK(h.size() == 10);
  CHECK(h.at("0.5-0.6") == 1);
  CHECK(h.at("0.9-1.0") == 2);
  CHECK(h.at("0.0-0.1") == 0);
  CHECK(counter->per_class() == json{{"cat", {{"boxes", 2}}}, {"dog", {{"boxes", 1}}}});
}

TEST_CASE("summarize counts boxes and missing labels and errors and image verdicts", "[report]") {
  const std::vector<json> images = {
      image("a.jpg", "correct", {box(0, "cat", "correct"), box(1, "dog", "correct")}),
      image("b.jpg", "mislabeled",
            {box(0, "cat", "mislabeled"), box(1, "dog", "uncertain"), box(2, "bird", "correct")}, 2),
      image("c.jpg", "uncertain", {box(2, "bird", "uncertain")}, 1),
      image("d.jpg", "error", json::array(), 0, "cannot decode"),
      image("e.jpg", "correct", json::array()),
      // An unknown box verdict counts as uncertain; a box without a name is keyed by its id.
      image("f.jpg", "uncertain", {box(7, "", "weird")}),
      // An error string makes the image an error whatever its verdict; an empty one does not.
      image("g.jpg", "correct", json::array(), 0, "label file unreadable"),
      image("h.jpg", "correct", json::array(), 0, ""),
      image("i.jpg", "unlabeled", json::array(), 2),
  };
  const json s = lv::summarize(images);
  CHECK(s.at("total_images") == 9);
  CHECK(s.at("total_boxes") == 7);
  CHECK(s.at("correct") == 3);
  CHECK(s.at("mislabeled") == 1);
  CHECK(s.at("uncertain") == 3);
  CHECK(s.at("missing") == 5);
  CHECK(s.at("unlabeled") == 1);
  CHECK(s.at("errors") == 2);
  CHECK(s.at("images_by_verdict") ==
        json{{"correct", 3}, {"mislabeled", 1}, {"uncertain", 2}, {"unlabeled", 1}, {"error", 2}});
  CHECK(s.at("correct").get<int>() + s.at("mislabeled").get<int>() + s.at("uncertain").get<int>() ==
        s.at("total_boxes").get<int>());
  CHECK(s.at("reasons") == json::object());  // these boxes give no reason

  const json pc = lv::per_class_counts(images);
  const json expected = {
      {"7", {{"boxes", 1}, {"correct", 0}, {"mislabeled", 0}, {"uncertain", 1}}},
      {"bird", {{"boxes", 2}, {"correct", 1}, {"mislabeled", 0}, {"uncertain", 1}}},
      {"cat", {{"boxes", 2}, {"correct", 1}, {"mislabeled", 1}, {"uncertain", 0}}},
      {"dog", {{"boxes", 2}, {"correct", 1}, {"mislabeled", 0}, {"uncertain", 1}}},
  };
  CHECK(pc == expected);
  CHECK(pc.begin().key() == "7");  // keys sorted
}

TEST_CASE("summarize of no images is all zeros", "[report]") {
  const json s = lv::summarize({});
  CHECK(s.at("total_images") == 0);
  CHECK(s.at("total_boxes") == 0);
  CHECK(s.at("errors") == 0);
  CHECK(lv::per_class_counts({}) == json::object());
}

TEST_CASE("write_shard_report streams the journal with the worker's counts, fields and rate", "[report]") {
  lv::test::TempDir dir;
  {
    lv::JournalWriter journal(dir.path() / "j.jsonl", true);
    journal.append(image("b.jpg", "mislabeled", {box(1, "dog", "mislabeled")}));
    journal.append(image("a.jpg", "correct", {box(0, "cat", "correct")}));
  }
  const json head = lv::write_shard_report(dir.path() / "r.json", dir.path() / "j.jsonl", 3, "image_worker",
                                           {"a.jpg", "b.jpg", "c.jpg"}, 4.0, lv::image_report_layout(),
                                           json{{"task", "verify"}});
  const json r = json::parse(lv::test::read_text(dir.path() / "r.json"));
  CHECK(r.at("schema_version") == lv::kReportSchemaVersion);
  CHECK(r.at("tool") == json{{"name", "image_worker"}, {"version", LV_VERSION}});
  CHECK(r.at("status") == "partial");  // c.jpg has no record
  CHECK(r.at("shard") == 3);
  CHECK(r.at("seconds") == 4.0);
  CHECK(r.at("items_per_s") == 0.75);
  CHECK(r.at("task") == "verify");
  CHECK(r.at("summary").at("total_boxes") == 2);
  CHECK(r.at("summary").at("mislabeled") == 1);
  CHECK(r.at("per_class").size() == 2);
  CHECK(paths_of(r.at("images")) == std::vector<std::string>{"a.jpg", "b.jpg"});
  CHECK(r.at("unprocessed") == json{"c.jpg"});
  CHECK(head.at("summary") == r.at("summary"));
}

TEST_CASE("report_records reads a streamed report's records a line at a time, any other report whole", "[report]") {
  lv::test::TempDir dir;
  const json b = image("b.jpg", "mislabeled", {box(1, "dog", "mislabeled")});
  const json a = image("a.jpg", "correct", {box(0, "cat", "correct")});
  {
    lv::JournalWriter journal(dir.path() / "j.jsonl", true);
    journal.append(b);
    journal.append(a);
  }
  lv::write_shard_report(dir.path() / "r.json", dir.path() / "j.jsonl", 0, "image_worker", {"a.jpg", "b.jpg"}, 1.0,
                         lv::image_report_layout());
  const auto read = [](lv::RecordLines& lines) {
    std::vector<json> out;
    std::vector<int64_t> keys;
    lines.scan([&](int64_t key, std::string_view line) {
      out.push_back(json::parse(line));
      keys.push_back(key);
    });
    for (size_t i = 0; i < keys.size(); ++i) CHECK(json::parse(lines.line_at(keys[i])) == out[i]);
    return out;
  };
  const auto streamed = lv::report_records(dir.path() / "r.json");
  CHECK(read(*streamed) == std::vector<json>{a, b});  // report order: the items' order
  // The same report on one line (written by another tool): parsed whole.
  lv::test::write_text(dir.path() / "one.json", json::parse(lv::test::read_text(dir.path() / "r.json")).dump());
  CHECK(read(*lv::report_records(dir.path() / "one.json")) == std::vector<json>{a, b});
  // No records at all.
  lv::write_shard_report(dir.path() / "e.json", dir.path() / "none.jsonl", 0, "image_worker", {}, 1.0,
                         lv::image_report_layout());
  CHECK(read(*lv::report_records(dir.path() / "e.json")).empty());
}

TEST_CASE("add_counts sums numbers at any depth and keeps keys of either side", "[report]") {
  json into = {{"items", 2}, {"seconds", 1.5}, {"by", {{"a", 1}}}, {"task", "verify"}};
  lv::add_counts(into, json{{"items", 3}, {"seconds", 0.25}, {"by", {{"a", 2}, {"b", 5}}}, {"task", "other"},
                            {"new", 7}});
  CHECK(into == json{{"items", 5}, {"seconds", 1.75}, {"by", {{"a", 3}, {"b", 5}}}, {"task", "verify"}, {"new", 7}});
  CHECK(into.at("items").is_number_integer());
}

TEST_CASE("merge adds up counters it does not know and keeps records under \"items\"", "[report]") {
  // A worker of another kind: records name their item with "item", counters have its names.
  const std::vector<std::string> items = {"1:0", "2:10", "3:25"};
  auto rec = [](const std::string& item, const std::string& colour) {
    return json{{"item", item}, {"colour", colour}};
  };
  json r0 = {{"shard", 0},
             {"task", "paint"},
             {"summary", {{"painted", 2}, {"by_colour", {{"red", 1}, {"blue", 1}}}}},
             {"per_class", {{"red", {{"items", 1}}}}},
             {"items", {rec("2:10", "blue"), rec("1:0", "red")}}};
  json r1 = {{"shard", 1},
             {"summary", {{"painted", 1}, {"by_colour", {{"red", 1}}}, {"spilled", 4}}},
             {"per_class", {{"red", {{"items", 1}}}, {"green", {{"items", 0}}}}},
             {"items", {rec("3:25", "red")}}};
  const std::vector<lv::ShardSummary> summaries = {{0, "GPU 0", 2, "succeeded", 0, 1, 1.0, "gpu0.log", {}, {}},
                                                   {1, "GPU 1", 1, "succeeded", 0, 1, 1.0, "gpu1.log", {}, {}}};
  const json m = lv::merge_reports(items, {{0, 0, 2}, {1, 2, 3}}, {r0, r1}, summaries, "orchestrator");
  CHECK(m.at("status") == "complete");
  CHECK(m.at("summary") == json{{"painted", 3}, {"by_colour", {{"red", 2}, {"blue", 1}}}, {"spilled", 4}});
  CHECK(m.at("per_class") == json{{"red", {{"items", 2}}}, {"green", {{"items", 0}}}});
  REQUIRE(m.at("items").size() == 3);
  CHECK(m.at("items")[0].at("item") == "1:0");
  CHECK(m.at("items")[2].at("colour") == "red");
  CHECK_FALSE(m.contains("images"));
}

TEST_CASE("merge puts every item once in input order across shards", "[report]") {
  Fixture f;
  const json m = f.merge(f.scrambled());
  CHECK(m.at("status") == "complete");
  CHECK(m.at("schema_version") == lv::kReportSchemaVersion);
  CHECK(m.at("tool").at("name") == "label_verifier");
  CHECK(paths_of(m.at("images")) == f.items);
  for (int i = 0; i < 9; ++i) CHECK(m.at("images")[static_cast<size_t>(i)].at("extra") == i);
  CHECK(m.at("images")[4].at("shard") == 1);
  CHECK(m.at("unprocessed") == json::array());

  const json& s = m.at("summary");
  CHECK(s.at("total_images") == 9);
  CHECK(s.at("total_boxes") == 9);
  CHECK(s.at("correct") == 3);
  CHECK(s.at("mislabeled") == 3);
  CHECK(s.at("uncertain") == 3);
  CHECK(m.at("per_class") == json{{"cat", {{"boxes", 9}, {"correct", 3}, {"mislabeled", 3}, {"uncertain", 3}}}});

  const json& shards = m.at("shards");
  REQUIRE(shards.size() == 3);
  CHECK(shards[0] == json{{"index", 0}, {"device", "GPU 0"}, {"items", 3}, {"status", "succeeded"},
                          {"exit_code", 0}, {"attempts", 1}, {"seconds", 1.5}, {"items_per_s", 2.0},
                          {"log", "gpu0.log"}});
  CHECK(shards[1].at("items_per_s") == 1.0);
  CHECK(shards[2].at("exit_code").is_null());
  CHECK(shards[2].at("device") == "GPU 3");
  CHECK(shards[2].at("items_per_s") == 0.0);
}

TEST_CASE("merge lists the items of a shard without a report as unprocessed", "[report]") {
  Fixture f;
  auto reports = f.scrambled();
  reports[1] = std::nullopt;
  const json m = f.merge(std::move(reports));
  CHECK(m.at("status") == "partial");
  CHECK(m.at("unprocessed") == json{"d/i3.jpg", "d/i4.jpg", "d/i5.jpg"});
  CHECK(paths_of(m.at("images")) ==
        std::vector<std::string>{"d/i0.jpg", "d/i1.jpg", "d/i2.jpg", "d/i6.jpg", "d/i7.jpg", "d/i8.jpg"});
  CHECK(m.at("summary").at("total_images") == 6);
  CHECK(m.at("summary").at("total_boxes") == 6);
}

TEST_CASE("merge lists an item a shard report lacks as unprocessed", "[report]") {
  Fixture f;
  auto reports = f.scrambled();
  reports[2] = f.report(2, {8, 6});
  const json m = f.merge(std::move(reports));
  CHECK(m.at("status") == "partial");
  CHECK(m.at("unprocessed") == json{"d/i7.jpg"});
  CHECK(m.at("images").size() == 8);
  CHECK(m.at("images")[6].at("path") == "d/i6.jpg");
  CHECK(m.at("images")[7].at("path") == "d/i8.jpg");
}

TEST_CASE("merge refuses a path twice in one report", "[report]") {
  Fixture f;
  auto reports = f.scrambled();
  reports[0] = f.report(0, {0, 1, 0, 2});
  const std::string msg = f.merge_error(std::move(reports));
  CHECK(msg.find("twice") != std::string::npos);
  CHECK(msg.find("d/i0.jpg") != std::string::npos);
  CHECK(msg.find("shard 0") != std::string::npos);
}

TEST_CASE("merge refuses a record of another shard and names both shards", "[report]") {
  Fixture f;
  auto reports = f.scrambled();
  reports[2] = f.report(2, {6, 7, 8, 4});
  const std::string msg = f.merge_error(std::move(reports));
  CHECK(msg.find("shard 2") != std::string::npos);
  CHECK(msg.find("shard 1") != std::string::npos);
  CHECK(msg.find("d/i4.jpg") != std::string::npos);
}

TEST_CASE("merge refuses a record whose path is not an item", "[report]") {
  Fixture f;
  auto reports = f.scrambled();
  reports[1]->at("images").push_back(image("d/zzz.jpg", "correct", json::array()));
  const std::string msg = f.merge_error(std::move(reports));
  CHECK(msg.find("d/zzz.jpg") != std::string::npos);
  CHECK(msg.find("not in the item list") != std::string::npos);
}

TEST_CASE("merge refuses inconsistent shards", "[report]") {
  Fixture f;
  f.shards[1] = {1, 2, 6};  // overlaps shard 0
  CHECK(f.merge_error(f.scrambled()).find("both cover") != std::string::npos);
  Fixture g;
  CHECK(g.merge_error({g.report(0, {0, 1, 2})}).find("3 shards") != std::string::npos);
}

TEST_CASE("merge matches records to items by bytes when a file name is not UTF-8", "[report][bytes]") {
  // Before, the merge threw json type_error 316 and left only verification_report.json.tmp.
  Fixture f;
  f.items[4] = "d/\xff\xfe.jpg";
  f.items[7] = "d/caf\xe9.jpg";
  auto reports = f.scrambled();
  for (auto& r : *reports[1]->find("images"))
    if (r["extra"] == 4) lv::set_bytes_field(r, "path", f.items[4]);
  reports[2] = std::nullopt;  // shard 2 failed: its items, the Latin-1 one among them, are unprocessed
  f.summaries[0].log = "work\xe9/gpu0.log";
  const json m = f.merge(std::move(reports));
  CHECK(m.at("status") == "partial");
  REQUIRE(m.at("images").size() == 6);
  const json& odd = m.at("images")[4];
  CHECK(odd.at("path") == "d/\\xFF\\xFE.jpg");
  CHECK(odd.at("path_escaped") == true);
  CHECK(lv::get_bytes_field(odd, "path") == f.items[4]);
  CHECK(m.at("unprocessed") ==
        json{"d/i6.jpg", {{"path", "d/caf\\xE9.jpg"}, {"path_escaped", true}}, "d/i8.jpg"});
  CHECK(lv::get_bytes_field(m.at("unprocessed")[1], "path") == f.items[7]);
  CHECK(lv::get_bytes_field(m.at("shards")[0], "log") == "work\xe9/gpu0.log");
}

TEST_CASE("merge errors quote item names that are not UTF-8 printably", "[report][bytes]") {
  // Before, the raw bytes went into the message (and from there into JSON and terminals).
  Fixture f;
  f.items[0] = f.items[1] = "d/\xff.jpg";
  auto reports = f.scrambled();
  for (auto& r : *reports[0]->find("images")) lv::set_bytes_field(r, "path", f.items[r["extra"].get<size_t>()]);
  CHECK(f.merge_error(std::move(reports)) == "merge: the item list holds 'd/\\xFF.jpg' twice (items 0 and 1)");
}

TEST_CASE("stream_report lists the values of a unique field held by more than one item", "[report]") {
  const std::vector<std::string> items = {"1:0", "2:9", "3:20", "4:31", "5:40"};
  auto rec = [](const std::string& item, const std::string& id, json error = nullptr) {
    return json{{"item", item}, {"id", id}, {"error", std::move(error)}}.dump();
  };
  // Shard 0 holds x and y; shard 1 holds y again (a repeat across shards), x as an error (the
  // worker flagged it already) and z.
  auto first = lv::memory_lines({rec("2:9", "y"), rec("1:0", "x")});
  auto second = lv::memory_lines({rec("3:20", "y"), rec("4:31", "x", "duplicate id"), rec("5:40", "z")});
  const std::vector<lv::ReportPart> parts = {{0, 0, 2, first.get(), false, json::object()},
                                             {1, 2, 5, second.get(), false, json::object()}};
  lv::ReportLayout layout;
  layout.records_key = "items";
  layout.unique_field = "id";
  std::ostringstream out;
  const json head = lv::stream_report(out, items, parts, json::object(), layout);
  const json report = json::parse(out.str());
  const json expected = json::array({json{{"field", "id"}, {"value", "y"}, {"items", {"2:9", "3:20"}}}});
  CHECK(report.at("duplicates") == expected);
  CHECK(head.at("duplicates") == expected);
  layout.unique_field.clear();
  std::ostringstream plain;
  lv::stream_report(plain, items, parts, json::object(), layout);
  CHECK_FALSE(json::parse(plain.str()).contains("duplicates"));
}

TEST_CASE("record_fields reads a record's top-level fields without building the rest, and refuses what json refuses",
          "[report]") {
  const std::vector<std::string> wanted = {"path", "path_escaped", "error", "md5"};
  const json r = lv::record_fields(
      R"({"path":"a/b.jpg","boxes":[{"path":"inner","error":"x"}],"error":null,"md5":"ab","extra":{"path":1},"path":"c.jpg"})",
      wanted);
  REQUIRE(r.is_object());
  CHECK(r.at("path") == "c.jpg");  // the last of a repeated key, as json::parse keeps it
  CHECK(r.at("error").is_null());
  CHECK(r.at("md5") == "ab");
  CHECK_FALSE(r.contains("boxes"));
  CHECK_FALSE(r.contains("extra"));
  CHECK(lv::record_item(r) == std::optional<std::string>("c.jpg"));
  // Nested values of wanted keys come back empty, of their type: an object error is an error.
  const json nested = lv::record_fields(R"({"path":"x.jpg","error":{"why":"bad"},"md5":[1]})", wanted);
  CHECK(nested.at("error").is_object());
  CHECK(nested.at("md5").is_array());
  // What json::parse refuses, this refuses: torn lines, garbage inside a nested value, arrays.
  for (const char* bad : {R"({"path":"a.jpg","boxes":[1,2)", R"({"path":"a.jpg","boxes":[1,x]})", R"(["path"])", "17",
                          "", R"({"path":"a.jpg"} trailing)"}) {
    INFO(bad);
    CHECK_FALSE(lv::record_fields(bad, wanted).is_object());
    CHECK_FALSE(json::parse(bad, nullptr, false).is_object());
  }
  // An escaped name (not UTF-8) keeps its flag, so record_item gives its bytes.
  json escaped;
  lv::set_bytes_field(escaped, "path", std::string("caf\xe9.jpg"));
  const json back = lv::record_fields(escaped.dump(), wanted);
  CHECK(lv::record_item(back) == std::optional<std::string>(std::string("caf\xe9.jpg")));
}

TEST_CASE("the merge leaves out journal lines with NUL bytes or a byte-order mark: the report stays valid JSON",
          "[report]") {
  lv::test::TempDir dir;
  const auto rec = [](const std::string& path) { return json{{"path", path}, {"verdict", "correct"}}.dump(); };
  // A power loss leaves NULs after a record; an editor's BOM before another.
  lv::test::write_text(dir / "journal.jsonl", rec("a.jpg") + "\n" + "\xEF\xBB\xBF" + rec("b.jpg") + "\n" + rec("c.jpg") +
                                        std::string("\0\0\0,\"x\"", 7) + "\n" + rec("d.jpg") + "\n");
  const auto lines = lv::journal_lines(dir / "journal.jsonl");
  const std::vector<std::string> items = {"a.jpg", "b.jpg", "c.jpg", "d.jpg"};
  std::vector<lv::ReportPart> parts{{0, 0, 4, lines.get(), true, json{{"summary", json::object()}}}};
  std::ostringstream out;
  lv::stream_report(out, items, parts, json{{"tool", "test"}}, lv::ReportLayout{});
  const std::string text = out.str();
  CHECK(text.find('\0') == std::string::npos);
  CHECK(text.find("\xEF\xBB\xBF") == std::string::npos);
  const json report = json::parse(text);  // throws if the report is not JSON
  REQUIRE(report["images"].size() == 2);
  CHECK(report["images"][0]["path"] == "a.jpg");
  CHECK(report["images"][1]["path"] == "d.jpg");
  CHECK(report["unprocessed"] == json::array({"b.jpg", "c.jpg"}));
  CHECK(report["status"] == "partial");
}
