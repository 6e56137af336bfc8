// set_yaml_value: one value changed, everything else byte for byte (issue 10, the batch finder).
#include "yaml_edit.h"

#include <sstream>
#include <string>
#include <vector>

#include "atomic_file.h"
#include "catch.h"
#include "config.h"
#include "error.h"
#include "test_util.h"

using lv::set_yaml_value;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("yaml edit: an existing value is replaced in place, comments and other keys stay byte for byte",
          "[yaml_edit]") {
  const std::string in =
      "# my config\n"
      "model:\n"
      "  path: m.pt   # the export\n"
      "processing:\n"
      "  # how many at once\n"
      "  batch_size: 32    # tuned by hand\n"
      "  num_threads: auto\n"
      "\n"
      "output: {dir: out}\n";
  const std::string out = set_yaml_value(in, "processing", "batch_size", "48", "config.yaml");
  CHECK(out ==
        "# my config\n"
        "model:\n"
        "  path: m.pt   # the export\n"
        "processing:\n"
        "  # how many at once\n"
        "  batch_size: 48    # tuned by hand\n"
        "  num_threads: auto\n"
        "\n"
        "output: {dir: out}\n");
  // Quoted values, and no newline at the end of the file.
  CHECK(set_yaml_value("processing:\n  batch_size: \"8\"", "processing", "batch_size", "4", "c.yaml") ==
        "processing:\n  batch_size: 4");
  CHECK(set_yaml_value("processing:\n    batch_size: '8' # q\n", "processing", "batch_size", "4", "c.yaml") ==
        "processing:\n    batch_size: 4 # q\n");
}

TEST_CASE("yaml edit: a missing key joins its section at the siblings' indent, a missing section is appended",
          "[yaml_edit]") {
  CHECK(set_yaml_value("processing:\n    fp16: true  # half\nmodel:\n  path: m.pt\n", "processing", "batch_size", "16",
                       "c.yaml") == "processing:\n    batch_size: 16\n    fp16: true  # half\nmodel:\n  path: m.pt\n");
  CHECK(set_yaml_value("model:\n  path: m.pt", "processing", "batch_size", "16", "c.yaml") ==
        "model:\n  path: m.pt\nprocessing:\n  batch_size: 16\n");
  CHECK(set_yaml_value("processing:\nmodel:\n  path: m.pt\n", "processing", "batch_size", "16", "c.yaml") ==
        "processing:\n  batch_size: 16\nmodel:\n  path: m.pt\n");
  CHECK(set_yaml_value("", "processing", "batch_size", "16", "c.yaml") == "processing:\n  batch_size: 16\n");
}

TEST_CASE("yaml edit: what cannot be edited in place is refused, naming the file and line", "[yaml_edit]") {
  const auto refused = [](const std::string& text) {
    try {
      set_yaml_value(text, "processing", "batch_size", "16", "conf.yaml");
    } catch (const lv::Error& e) {
      CHECK(e.code() == lv::ExitCode::usage);
      return std::string(e.what());
    }
    FAIL("not refused: " << text);
    return std::string();
  };
  CHECK(refused("model: {path: m.pt}\nprocessing: {batch_size: 8}\n").find("conf.yaml:2: processing: written in flow style") !=
        std::string::npos);
  CHECK(refused("processing:\n  batch_size: [8]\n").find("conf.yaml:2: processing.batch_size: expected a single value") !=
        std::string::npos);
  CHECK(refused("x: &n 8\nprocessing:\n  batch_size: *n\n").find("conf.yaml:3") != std::string::npos);
  CHECK(refused("processing: [1, 2]\n").find("processing: expected a mapping") != std::string::npos);
  CHECK(refused("processing:\n  batch_size: 8\n bad: [\n").find("conf.yaml") != std::string::npos);
}

TEST_CASE("yaml edit: on configs/default.yaml only the batch_size line changes, its comment kept", "[yaml_edit]") {
  const std::string in = lv::read_file(LV_SOURCE_DIR "/configs/default.yaml");
  const std::string out = set_yaml_value(in, "processing", "batch_size", "48", "default.yaml");
  const auto a = lines_of(in), b = lines_of(out);
  REQUIRE(a.size() == b.size());
  int changed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    ++changed;
    CHECK(a[i].find("batch_size: 32") != std::string::npos);
    CHECK(b[i] == a[i].substr(0, a[i].find("32")) + "48" + a[i].substr(a[i].find("32") + 2));
  }
  CHECK(changed == 1);
}

TEST_CASE("yaml edit of a file: a symlink's target is edited, its mode kept, a read-only file refused", "[yaml_edit]") {
  lv::test::TempDir dir;
  const std::string text = "processing:\n  batch_size: 32  # here\n";
  lv::test::write_text(dir / "real.yaml", text);
  std::filesystem::permissions(dir / "real.yaml", std::filesystem::perms(0640));
  std::filesystem::create_symlink("real.yaml", dir / "link.yaml");
  lv::set_yaml_value_in_file(dir / "link.yaml", "processing", "batch_size", "8");
  CHECK(std::filesystem::is_symlink(dir / "link.yaml"));
  CHECK(lv::read_file(dir / "real.yaml") == "processing:\n  batch_size: 8  # here\n");
  CHECK(std::filesystem::status(dir / "real.yaml").permissions() == std::filesystem::perms(0640));

  lv::test::write_text(dir / "ro.yaml", text);
  std::filesystem::permissions(dir / "ro.yaml", std::filesystem::perms(0444));
  CHECK_THROWS_WITH(lv::set_yaml_value_in_file(dir / "ro.yaml", "processing", "batch_size", "8"),
                    Catch::Contains("not writable") && Catch::Contains("batch_size: 8 by hand"));
  CHECK(lv::read_file(dir / "ro.yaml") == text);
}

TEST_CASE("a config with a byte-order mark loads, and the finder's edit keeps the mark", "[yaml_edit]") {
  const std::string bom = "\xEF\xBB\xBF";
  const std::string text = bom + "input:\n  images: data\nprocessing:\n  batch_size: 64 # c\n";
  CHECK(set_yaml_value(text, "processing", "batch_size", "16", "c.yaml") ==
        bom + "input:\n  images: data\nprocessing:\n  batch_size: 16 # c\n");
  const lv::Config config = lv::parse_config(text, "/tmp/c.yaml");
  CHECK(config.processing.batch_size == 64);
}
