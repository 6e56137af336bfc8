// Pre-flight checks: the model archive, class names against the dataset's, where outputs lie.
#include <zip.h>

#include "catch.h"
#include "config.h"
#include "error.h"
#include "preflight.h"
#include "test_util.h"

using namespace lv;
using namespace lv::test;
namespace fs = std::filesystem;

namespace {

/// A zip archive with the given entries, as torch.jit.save lays one out.
void write_zip(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  REQUIRE(z);
  for (const auto& [name, data] : entries) {
    zip_source_t* src = zip_source_buffer(z, data.data(), data.size(), 0);
    REQUIRE(src);
    REQUIRE(zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE) >= 0);
  }
  REQUIRE(zip_close(z) == 0);
}

Config config_in(const TempDir& dir, const std::string& text) {
  write_text(dir / "config.yaml", text);
  return load_config(dir / "config.yaml");
}

}  // namespace

TEST_CASE("preflight: class names come from the archive's extra/config.txt", "[preflight]") {
  TempDir dir;
  write_zip(dir / "m.pt", {{"m/data.pkl", "x"}, {"m/extra/config.txt", R"({"names": {"0": "person", "1": "car"}})"}});
  CHECK(model_archive_class_names(dir / "m.pt") == std::vector<std::string>{"person", "car"});
  write_zip(dir / "plain.pt", {{"archive/data.pkl", "x"}});
  CHECK(model_archive_class_names(dir / "plain.pt").empty());
}

TEST_CASE("preflight: a missing, foreign or non-TorchScript model file is exit 3 naming the file", "[preflight]") {
  TempDir dir;
  write_text(dir / "text.pt", "this is not a zip archive");
  write_zip(dir / "other.zip", {{"readme.txt", "hello"}});
  fs::create_directories(dir / "folder.pt");
  for (const char* name : {"missing.pt", "text.pt", "other.zip", "folder.pt"}) {
    try {
      model_archive_class_names(dir / name);
      FAIL("accepted " << name);
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::model_load);
      CHECK(std::string(e.what()).find((dir / name).string()) != std::string::npos);
    }
  }
}

TEST_CASE("preflight: model.input_size against the export's imgsz, before any worker starts", "[preflight]") {
  TempDir dir;
  write_zip(dir / "m.pt", {{"m/data.pkl", "x"},
                           {"m/extra/config.txt", R"({"stride": 32, "task": "detect", "batch": 1, "imgsz": [640, 640], )"
                                                  R"("names": {"0": "person", "1": "car"}})"}});
  const std::string base = "input:\n  images: data\n  classes: [person, car]\nmodel:\n  path: m.pt\n  type: yolov8\n";
  CHECK_NOTHROW(check_model_and_classes(config_in(dir, base)));
  CHECK_NOTHROW(check_model_and_classes(config_in(dir, base + "  input_size: 640\n")));
  try {
    check_model_and_classes(config_in(dir, base + "  input_size: 320\n"));
    FAIL("a contradicting model.input_size was accepted");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    const std::string msg = e.what();
    CHECK(msg.find((dir / "config.yaml").string() + ":7: model.input_size: ") != std::string::npos);
    CHECK(msg.find("the config says 320") != std::string::npos);
    CHECK(msg.find("imgsz 640") != std::string::npos);
  }
  CHECK(model_archive_config_text(dir / "m.pt").find(R"("imgsz": [640, 640])") != std::string::npos);
}

TEST_CASE("preflight: dataset classes nothing maps to are listed, aliases make them judgeable", "[preflight]") {
  TempDir dir;
  write_zip(dir / "m.pt", {{"m/data.pkl", "x"}, {"m/extra/config.txt", R"({"names": ["person", "car", "dog"]})"}});
  const std::string base = "input:\n  images: data\n  classes: [pedestrian, car, bicycle]\nmodel:\n  path: m.pt\n";
  CHECK(check_model_and_classes(config_in(dir, base)).unjudgeable_classes ==
        std::vector<std::string>{"pedestrian", "bicycle"});
  CHECK(check_model_and_classes(config_in(dir, base + "  aliases: {pedestrian: person}\n")).unjudgeable_classes ==
        std::vector<std::string>{"bicycle"});
}

TEST_CASE("preflight: no dataset class judgeable is a config error naming both lists", "[preflight]") {
  TempDir dir;
  write_zip(dir / "m.pt", {{"m/data.pkl", "x"}, {"m/extra/config.txt", R"({"names": ["person", "car"]})"}});
  try {
    check_model_and_classes(config_in(dir, "input:\n  images: data\n  classes: [Person, Car]\nmodel:\n  path: m.pt\n"));
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    const std::string what = e.what();
    CHECK(what.find("person, car") != std::string::npos);
    CHECK(what.find("Person, Car") != std::string::npos);
  }
}

TEST_CASE("preflight: lies_inside follows symlinks and accepts paths that do not exist yet", "[preflight]") {
  TempDir dir;
  fs::create_directories(dir / "data" / "a");
  fs::create_directories(dir / "elsewhere");
  fs::create_directory_symlink(dir / "data", dir / "link_to_data");
  CHECK(lies_inside(dir / "data" / "out", dir / "data"));
  CHECK(lies_inside(dir / "data", dir / "data"));
  CHECK(lies_inside(dir / "link_to_data" / "new" / "deeper", dir / "data"));
  CHECK_FALSE(lies_inside(dir / "data_out", dir / "data"));
  CHECK_FALSE(lies_inside(dir / "elsewhere", dir / "data"));
  CHECK_FALSE(lies_inside(dir.path(), dir / "data"));
}
