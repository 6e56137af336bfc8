// An Ultralytics export's metadata (config.txt) and the input size a run takes from it.
#include "catch.h"
#include "config.h"
#include "error.h"
#include "export_metadata.h"
#include "failure_marks.h"

using namespace lv;

namespace {

// What `YOLO('yolov8n.yaml').export(format='torchscript')` writes with Ultralytics 8.0.81.
const char* const k8081 =
    R"({"description": "Ultralytics YOLOv8n model", "author": "Ultralytics", "license": "AGPL-3.0 )"
    R"(https://ultralytics.com/license", "version": "8.0.81", "stride": 32, "task": "detect", "batch": 1, )"
    R"("imgsz": [640, 640], "names": {"0": "person", "1": "bicycle"}})";

/// The error resolve_input_size throws, or ExitCode::ok and "" when it returns.
std::pair<ExitCode, std::string> resolve_error(const Config& c, const ExportMetadata& meta) {
  try {
    resolve_input_size(c, meta);
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  return {ExitCode::ok, ""};
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Config config_from(const std::string& model_section) {
  return parse_config("input:\n  images: data\n  classes: [a, b]\nmodel:\n  path: m.pt\n  type: yolov8\n" + model_section,
                      "/runs/config.yaml");
}

}  // namespace

TEST_CASE("export metadata: an Ultralytics 8.0.81 export says imgsz [640, 640] and batch 1", "[export_metadata]") {
  const ExportMetadata m = parse_export_metadata(k8081, "m.pt");
  CHECK(m.imgsz_h == 640);
  CHECK(m.imgsz_w == 640);
  CHECK(m.batch == 1);
  CHECK_FALSE(m.dynamic);
  CHECK_FALSE(m.half);
  CHECK(describe_imgsz(m) == "640");
}

TEST_CASE("export metadata: newer exports give imgsz as one number and args.batch, half, dynamic",
          "[export_metadata]") {
  const ExportMetadata m = parse_export_metadata(
      R"({"imgsz": 320, "args": {"batch": 8, "half": true, "dynamic": true, "int8": false}, "names": ["a"]})", "m.pt");
  CHECK(m.imgsz_h == 320);
  CHECK(m.imgsz_w == 320);
  CHECK(m.batch == 8);
  CHECK(m.dynamic);
  CHECK(m.half);
  // The top-level batch is the export's; args.batch only stands in for it.
  CHECK(parse_export_metadata(R"({"batch": 2, "args": {"batch": 8}})", "m.pt").batch == 2);
  const ExportMetadata wide = parse_export_metadata(R"({"imgsz": [480, 640]})", "m.pt");
  CHECK(wide.imgsz_h == 480);
  CHECK(wide.imgsz_w == 640);
  CHECK(describe_imgsz(wide) == "[480, 640] (height, width)");
}

TEST_CASE("export metadata: a model from elsewhere has none", "[export_metadata]") {
  for (const char* text : {"", "not json", "[1, 2]", R"({"names": ["a", "b"]})", R"({"stride": 32})"}) {
    INFO(text);
    const ExportMetadata m = parse_export_metadata(text, "m.pt");
    CHECK_FALSE(m.has_imgsz());
    CHECK(m.batch == 0);
    CHECK_FALSE(m.dynamic);
  }
}

TEST_CASE("export metadata: a key that is there but malformed is exit 3 naming the model and the key",
          "[export_metadata]") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"imgsz": "640"})", "imgsz"},          {R"({"imgsz": [640, 0]})", "imgsz"},
      {R"({"imgsz": [1, 2, 3]})", "imgsz"},      {R"({"batch": -1})", "batch"},
      {R"({"args": {"batch": 1.5}})", "args.batch"}, {R"({"args": {"dynamic": "yes"}})", "args.dynamic"},
  };
  for (const auto& [text, key] : cases) {
    INFO(text);
    try {
      parse_export_metadata(text, "/models/best.pt");
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::model_load);
      CHECK(has(e.what(), "/models/best.pt: config.txt"));
      CHECK(has(e.what(), std::string(": ") + key + ": expected"));
    }
  }
}

TEST_CASE("config: model.input_size remembers the line that sets it, auto or left out, line 0",
          "[export_metadata][config]") {
  CHECK(config_from("").model.input_size_line == 0);
  CHECK(config_from("").model.input_size == 64);
  CHECK(config_from("  input_size: auto\n").model.input_size_line == 0);
  CHECK(config_from("  input_size: auto\n").model.input_size == 64);
  const Config c = config_from("  input_size: 320\n");
  CHECK(c.model.input_size == 320);
  CHECK(c.model.input_size_line == 7);
  try {
    config_from("  input_size: big\n");
    FAIL("accepted input_size: big");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("/runs/config.yaml:7: model.input_size: expected an integer, got 'big'") !=
          std::string::npos);
  }
}


TEST_CASE("input size: left out, it is the export's imgsz, without one, model.input_size's default",
          "[export_metadata]") {
  const ExportMetadata meta = parse_export_metadata(k8081, "m.pt");
  CHECK(resolve_input_size(config_from(""), meta) == 640);
  CHECK(resolve_input_size(config_from(""), ExportMetadata{}) == 64);
  CHECK(resolve_input_size(config_from("  input_size: 320\n"), ExportMetadata{}) == 320);
  CHECK(resolve_input_size(config_from("  input_size: 640\n"), meta) == 640);  // the same size, said twice
}

TEST_CASE("input size: a config contradicting a non-dynamic export is exit 2 naming both", "[export_metadata]") {
  const auto [code, msg] = resolve_error(config_from("  input_size: 320\n"), parse_export_metadata(k8081, "m.pt"));
  CHECK(code == ExitCode::usage);
  CHECK(has(msg, "/runs/config.yaml:7: model.input_size: "));
  CHECK(has(msg, std::string(kModelConfigMismatch)));
  CHECK(has(msg, "the config says 320"));
  CHECK(has(msg, "/runs/m.pt was exported for imgsz 640"));
}

TEST_CASE("input size: a dynamic export takes the config's size, else its own", "[export_metadata]") {
  const ExportMetadata meta = parse_export_metadata(R"({"imgsz": [640, 640], "args": {"dynamic": true}})", "m.pt");
  CHECK(resolve_input_size(config_from("  input_size: 320\n"), meta) == 320);
  CHECK(resolve_input_size(config_from(""), meta) == 640);
  // Not square but dynamic: the longer side holds the whole letterbox.
  CHECK(resolve_input_size(config_from(""), parse_export_metadata(R"({"imgsz": [480, 640], "args": {"dynamic": true}})",
                                                                  "m.pt")) == 640);
}

TEST_CASE("input size: a non-square, non-dynamic export is exit 3: images are letterboxed into a square",
          "[export_metadata]") {
  const ExportMetadata meta = parse_export_metadata(R"({"imgsz": [480, 640], "batch": 1})", "m.pt");
  for (const char* section : {"", "  input_size: 640\n"}) {
    INFO(section);
    const auto [code, msg] = resolve_error(config_from(section), meta);
    CHECK(code == ExitCode::model_load);
    CHECK(has(msg, "/runs/m.pt: "));
    CHECK(has(msg, "imgsz [480, 640] (height, width)"));
    CHECK(has(msg, "imgsz=640"));
    CHECK(has(msg, std::string(kModelConfigMismatch)));
  }
}
