// The review page and issues.csv (issue 12) after a real run (orchestrator + image_worker on
// the colour dataset of colour_pipeline.h), checked in a real headless Chromium from file://:
// Debian's chromium package (tools/setup.sh installs it; LV_CHROMIUM names another).
#include <cstdlib>
#include <cstring>
#include <set>
#include <regex>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "colour_pipeline.h"

using nlohmann::json;
namespace fs = std::filesystem;
using lv::test::Pipeline;
using lv::test::read_text;

namespace {

std::string chromium() {
  const char* given = std::getenv("LV_CHROMIUM");
  return given ? given : "/usr/bin/chromium";
}

/// Chromium's DOM of `url` after its scripts ran (up to `budget_ms` of virtual time), with its
/// log lines (console messages are ":CONSOLE" lines). `profile` keeps localStorage between runs.
std::string dump_dom(const std::string& url, const fs::path& profile, int budget_ms = 5000) {
  const lv::test::RunResult r = lv::test::run_program(
      {chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile.string(),
       "--allow-file-access-from-files", "--enable-logging=stderr", "--v=0",
       fmt::format("--virtual-time-budget={}", budget_ms), "--dump-dom", url},
      {}, profile.parent_path(), std::chrono::seconds(60));
  INFO(r.output);
  REQUIRE(r.code == 0);
  return r.output;
}

/// The text of the element with `id` in a dumped DOM (entities &amp; &lt; &gt; undone).
std::string text_of(const std::string& dom, const std::string& id) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex("id=\"" + id + "\"[^>]*>([^<]*)<"))) return "";
  std::string text = m[1];
  for (const auto& [entity, c] : {std::pair{"&lt;", "<"}, std::pair{"&gt;", ">"}, std::pair{"&amp;", "&"}})
    for (size_t at = text.find(entity); at != std::string::npos; at = text.find(entity, at)) text.replace(at, std::strlen(entity), c);
  return text;
}

std::string attribute_of(const std::string& dom, const std::string& id, const std::string& attribute) {
  std::smatch m;
  const std::regex tag("<[^>]*id=\"" + id + "\"[^>]*>");
  if (!std::regex_search(dom, m, tag)) return "";
  std::smatch a;
  const std::string element = m[0];
  if (!std::regex_search(element, a, std::regex(attribute + "=\"([^\"]*)\""))) return "";
  return a[1];
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

/// One finished run of 24 images whose 5 wrong labels are known (colour_pipeline.h).
struct Reviewed : Pipeline {
  json merged;  ///< the merged report
  fs::path profile;
  Reviewed() : Pipeline(24, 0) {
    const auto r = orchestrate({"--num-gpus", "4"});
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("Review: " + (dir / "output/review/index.html").string() + " (5 flagged box(es)"));
    merged = report();
    profile = dir / "chromium-profile";
  }
  std::string page(const std::string& hash = "") const {
    return "file://" + (dir / "output/review/index.html").string() + hash;
  }
};

}  // namespace

TEST_CASE("issues.csv ranks the flagged boxes, likeliest label errors first", "[browser][review]") {
  Reviewed run;
  const std::string csv = read_text(run.dir / "output/issues.csv");
  std::vector<std::string> lines;
  for (size_t at = 0; at < csv.size();) {
    const size_t nl = csv.find('\n', at);
    lines.push_back(csv.substr(at, nl - at));
    at = nl + 1;
  }
  REQUIRE(lines.size() == 6);  // the header and the 5 wrong labels (images 0, 5, 10, 15, 20: box 1)
  CHECK(lines[0] == "rank,image,box_index,label,suggestion,confidence,reason,score,verdict");
  std::set<std::string> images;
  double previous = -1;
  for (size_t k = 1; k < lines.size(); ++k) {
    std::vector<std::string> f;
    for (size_t at = 0;;) {
      const size_t comma = lines[k].find(',', at);
      f.push_back(lines[k].substr(at, comma == std::string::npos ? std::string::npos : comma - at));
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
    REQUIRE(f.size() == 9);
    CHECK(f[0] == std::to_string(k));
    CHECK(f[2] == "1");
    CHECK(f[8] == "mislabeled");
    // The score is the model's probability of the given label, ranked ascending.
    const double score = std::stod(f[7]);
    CHECK(score >= previous);
    previous = score;
    images.insert(f[1]);
    // Its row in the report says the same.
    for (const json& image : run.merged["images"])
      if (image["path"] == f[1]) {
        CHECK(image["boxes"][1]["label_name"] == f[3]);
        CHECK(image["boxes"][1]["suggested_name"] == f[4]);
        CHECK(std::abs(image["boxes"][1]["label_prob"].get<double>() - score) < 1e-5);
      }
    CHECK(fs::exists(run.dir / "output/review/thumbs" / (f[1] + ".b1.jpg")));
  }
  CHECK(images.size() == 5);
}

TEST_CASE("the review page loads from file:// without console errors and shows the report's counts",
          "[browser][review]") {
  Reviewed run;
  const std::string dom = dump_dom(run.page(), run.profile);
  CHECK(dom.find(":CONSOLE") == std::string::npos);  // no error, no warning, no log line
  CHECK(attribute_of(dom, "status", "data-loaded") == "all");
  for (const auto& [key, value] : run.merged["summary"].items()) {
    if (!value.is_number()) continue;
    INFO(key);
    std::smatch m;
    REQUIRE(std::regex_search(dom, m, std::regex("data-key=\"" + key + "\">([^<]*)<")));
    CHECK(m[1] == value.dump());
  }
  CHECK(attribute_of(dom, "matching", "data-count") == "5");
  CHECK(count_of(dom, "class=\"card mislabeled") == 5);
  // Every card shows its thumbnail, the worker's crop.
  CHECK(count_of(dom, "<img src=\"thumbs/") == 5);
}

TEST_CASE("a filter in the page's address shows the boxes it names and no other", "[browser][review]") {
  Reviewed run;
  std::map<std::string, int> by_label;
  for (const json& image : run.merged["images"])
    for (const json& box : image["boxes"])
      if (box["verdict"] == "mislabeled") ++by_label[box["label_name"].get<std::string>()];
  REQUIRE(by_label.size() >= 2);  // the constructed labels spread over the colours
  for (const auto& [label, count] : by_label) {
    INFO(label);
    const std::string dom = dump_dom(run.page("#label=" + label), run.profile);
    CHECK(attribute_of(dom, "matching", "data-count") == std::to_string(count));
    CHECK(count_of(dom, "class=\"card ") == static_cast<size_t>(count));
  }
  const std::string none = dump_dom(run.page("#verdict=uncertain"), run.profile);
  CHECK(attribute_of(none, "matching", "data-count") == "0");
  CHECK(count_of(none, "class=\"card ") == 0);
}

TEST_CASE("a decision made with the keyboard survives a reload, and the export holds it", "[browser][review]") {
  Reviewed run;
  const std::string harness = "file://" LV_SOURCE_DIR "/tests/fixtures/review_harness.html?keys=a&page=" + run.page();
  const std::string dom = dump_dom(harness, run.profile, 8000);
  const std::string result = text_of(dom, "result");
  INFO(result);
  const json seen = json::parse(result);
  const std::string first = seen["first"];
  REQUIRE_FALSE(first.empty());
  CHECK(seen["accepted"] == "1");
  REQUIRE(seen["exported"]["decisions"].size() == 1);
  const json& d = seen["exported"]["decisions"][0];
  CHECK(d["id"] == first);
  CHECK(d["decision"] == "accept");
  CHECK(d["box_index"] == 1);
  CHECK(d["kind"] == "box");
  CHECK(first.rfind(d["image"].get<std::string>() + "#b1", 0) == 0);
  CHECK(seen["exported"]["run_id"] == json::parse(read_text(run.dir / "run_state.json"))["run_id"]);

  // A new browser process on the same profile: the page reads the decision back.
  const std::string again = dump_dom(run.page(), run.profile);
  CHECK(attribute_of(again, "decided", "data-accept") == "1");
  CHECK(count_of(again, "<span class=\"decision accept\">accept</span>") == 1);
}
