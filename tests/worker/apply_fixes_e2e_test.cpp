// orchestrator --apply-fixes / --undo-fixes (issue 12) after a real run on the colour dataset
// of colour_pipeline.h, whose wrong labels are known: images 0, 5, 10, 15, 20 have box 1
// labelled with the left half's colour; the right half's is (i + 1) % 3.
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "colour_pipeline.h"

using nlohmann::json;
namespace fs = std::filesystem;
using lv::test::Pipeline;
using lv::test::read_text;
using lv::test::write_text;

namespace {

struct Fixing : Pipeline {
  Fixing() : Pipeline(24, 0) {
    const auto r = orchestrate({"--num-gpus", "4"});
    INFO(r.output);
    REQUIRE(r.code == 0);
    REQUIRE(report()["summary"]["mislabeled"] == 5);
  }
  /// The label file of image i and the item it belongs to.
  fs::path labels(int i) const {
    return dir / "data" / lv::test::kFolders[i % 3] / "labels" / fmt::format("img_{}.txt", 100 + i);
  }
  std::string item(int i) const { return fmt::format("{}/JPEGImages/img_{}.png", lv::test::kFolders[i % 3], 100 + i); }
  std::string run_id() const { return json::parse(read_text(dir / "run_state.json"))["run_id"]; }
  /// decisions.json as the review page exports it: box 1 of each image, with its decision.
  fs::path decisions(const std::vector<std::pair<int, std::string>>& list, const std::string& run) const {
    json d{{"run_id", run}, {"decisions", json::array()}};
    for (const auto& [i, decision] : list)
      d["decisions"].push_back({{"id", item(i) + "#b1"}, {"image", item(i)}, {"kind", "box"}, {"box_index", 1},
                                {"decision", decision}});
    write_text(dir / "decisions.json", d.dump(2));
    return dir / "decisions.json";
  }
  lv::test::RunResult fix(std::vector<std::string> args) const {
    args.insert(args.begin(), {LV_ORCHESTRATOR, "--config", "config.yaml"});
    return lv::test::run_program(args, env(), dir.path());
  }
};

}  // namespace

TEST_CASE("apply-fixes writes the accepted corrections, backs each file up, and undo puts them back", "[fixes]") {
  Fixing f;
  const std::string before0 = read_text(f.labels(0)), before5 = read_text(f.labels(5)), before10 = read_text(f.labels(10));
  f.decisions({{0, "accept"}, {5, "accept"}, {10, "reject"}}, f.run_id());

  const auto dry = f.fix({"--apply-fixes", "decisions.json", "--dry-run"});
  INFO(dry.output);
  REQUIRE(dry.code == 0);
  CHECK_THAT(dry.output, Catch::Contains("-0 0.75 0.5 0.5 1\n+1 0.75 0.5 0.5 1"));  // image 0: red -> green
  CHECK_THAT(dry.output, Catch::Contains("dry run: 2 label file(s) would change (2 line(s) changed, 0 removed, 0 added)"));
  CHECK(read_text(f.labels(0)) == before0);  // nothing written
  CHECK_FALSE(fs::exists(f.dir / "fixes"));

  const auto applied = f.fix({"--apply-fixes", "decisions.json"});
  INFO(applied.output);
  REQUIRE(applied.code == 0);
  CHECK(read_text(f.labels(0)) == "0 0.25 0.5 0.5 1\n1 0.75 0.5 0.5 1\n");
  CHECK(read_text(f.labels(5)) == "2 0.25 0.5 0.5 1\n0 0.75 0.5 0.5 1\n");  // image 5: blue | red
  CHECK(read_text(f.labels(10)) == before10);                               // rejected
  REQUIRE(fs::is_directory(f.dir / "fixes"));
  const fs::path backup = fs::directory_iterator(f.dir / "fixes")->path();
  CHECK(read_text(backup / "files" / fs::relative(f.labels(0), f.dir / "data")) == before0);
  CHECK_THAT(applied.output, Catch::Contains("--undo-fixes " + backup.string()));

  // The dataset as fixed: a new run finds the three wrong labels left, no more.
  const auto again = f.orchestrate({"--num-gpus", "4", "--restart"});
  INFO(again.output);
  REQUIRE(again.code == 0);
  CHECK(f.report()["summary"]["mislabeled"] == 3);

  const auto undone = f.fix({"--undo-fixes", backup.string()});
  INFO(undone.output);
  REQUIRE(undone.code == 0);
  CHECK_THAT(undone.output, Catch::Contains("2 label file(s) restored"));
  CHECK(read_text(f.labels(0)) == before0);
  CHECK(read_text(f.labels(5)) == before5);
}

TEST_CASE("apply-fixes refuses a label file changed since the run, naming it, and writes nothing", "[fixes]") {
  Fixing f;
  const std::string before0 = read_text(f.labels(0));
  f.decisions({{0, "accept"}, {5, "accept"}}, f.run_id());
  write_text(f.labels(5), read_text(f.labels(5)) + "1 0.5 0.5 0.1 0.1\n");  // someone labelled on
  const auto r = f.fix({"--apply-fixes", "decisions.json"});
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Catch::Contains(f.labels(5).string()));
  CHECK_THAT(r.output, Catch::Contains("changed since the run"));
  CHECK(read_text(f.labels(0)) == before0);  // the other file is not written either
  CHECK_FALSE(fs::exists(f.dir / "fixes"));

  // Decisions exported from another run's page name other boxes.
  f.decisions({{0, "accept"}}, "another-run");
  const auto other = f.fix({"--apply-fixes", "decisions.json"});
  CHECK(other.code == 1);
  CHECK_THAT(other.output, Catch::Contains("holds decisions of run 'another-run'"));
  CHECK(read_text(f.labels(0)) == before0);
}
