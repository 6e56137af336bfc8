#include "config.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <fmt/core.h>

#include "catch.h"
#include "error.h"
#include "test_util.h"

namespace fs = std::filesystem;
using lv::test::TempDir;
using lv::test::write_text;

namespace {

const fs::path kFile = "/cfg/dir/config.yaml";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The message of the lv::Error that parse_config throws for `text`; fails the test when it
/// accepts the text or throws anything else, and checks the exit code is usage (2).
std::string config_error(const std::string& text) {
  try {
    lv::parse_config(text, kFile);
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::usage);
    return e.what();
  } catch (const std::exception& e) {
    FAIL("parse_config threw something other than lv::Error: " << e.what());
  }
  FAIL("parse_config accepted:\n" << text);
  return {};
}

/// "input.images" plus one more section, the smallest valid config around `section`.
std::string with_images(const std::string& section) { return "input:\n  images: data\n" + section; }

}  // namespace

TEST_CASE("config: keys left out take the documented defaults", "[config]") {
  const lv::Config c = lv::parse_config("input:\n  images: data\n", kFile);
  CHECK(c.file == kFile);
  CHECK(c.input.images == fs::path("/cfg/dir/data"));
  CHECK(c.input.root.empty());
  CHECK(c.input.classes_file.empty());
  CHECK(c.input.classes.empty());
  // output.dir defaults to "output" beside the config file.
  CHECK(c.output.dir == fs::path("/cfg/dir/output"));
  CHECK(c.output.debug_images == lv::DebugImages::issues);
  CHECK(c.output.link_mode == lv::LinkMode::copy);
  CHECK(c.model.type == lv::ModelType::classifier);
  CHECK(c.model.input_size == 64);
  CHECK(c.model.class_names.empty());
  CHECK(c.model.aliases.empty());
  CHECK(c.model.crop_margin == 0.0);
  CHECK(c.model.mean == std::vector<double>{0.0, 0.0, 0.0});
  CHECK(c.model.std == std::vector<double>{1.0, 1.0, 1.0});
  CHECK(c.model.nms_iou == 0.45);
  CHECK(c.model.conf_threshold == 0.25);
  CHECK(c.verification.correct_threshold == 0.5);
  CHECK(c.verification.mislabel_threshold == 0.8);
  CHECK(c.verification.iou_threshold == 0.5);
  CHECK(c.verification.missing_threshold == 0.9);
  CHECK(c.processing.batch_size == 32);
  CHECK(c.processing.num_threads == 0);
  CHECK_FALSE(c.processing.fp16);
  CHECK(c.processing.max_image_pixels == 100000000);
  CHECK(c.processing.decode_threads == 0);  // auto
  CHECK_FALSE(c.report.include_probabilities);
  CHECK(c.worker.executable == "image_worker");
  CHECK(c.worker.args.empty());
  CHECK(c.orchestrator.stall_timeout_s == 600.0);
  CHECK(c.orchestrator.stop_grace_s == 10.0);
  CHECK(c.orchestrator.max_retries == 0);
  CHECK(c.orchestrator.status_interval_s == 10.0);
}

TEST_CASE("config: every section is parsed", "[config]") {
  const std::string text = R"(# a full config
input:
  images: data/list.txt
  root: data
  classes: meta/classes.txt
output:
  dir: /abs/out
  debug_images: all
  link_mode: hardlink
model:
  path: ../models/m.pt
  type: yolov8
  input_size: 640
  class_names: [person, car]
  aliases: {pedestrian: person, vehicle: [car, truck]}
  crop_margin: 0.25
  mean: [0.5, 0.25, 0.125]
  std: [0.75, 2, 3]
  nms_iou: 0.6
  conf_threshold: 0.3
verification:
  correct_threshold: 0.6
  mislabel_threshold: 0.85
  iou_threshold: 0.4
  missing_threshold: 0.95
processing:
  batch_size: 8
  num_threads: 4
  fp16: true
  max_image_pixels: 5000000
  decode_threads: 3
report:
  include_probabilities: true
worker:
  executable: /opt/bin/my_worker
  args: [--verbose, "--x=1"]
orchestrator:
  stall_timeout_s: 120
  stop_grace_s: 5
  max_retries: 2
  status_interval_s: 0.5
)";
  const lv::Config c = lv::parse_config(text, kFile);
  CHECK(c.input.images == fs::path("/cfg/dir/data/list.txt"));
  CHECK(c.input.root == fs::path("/cfg/dir/data"));
  CHECK(c.input.classes_file == fs::path("/cfg/dir/meta/classes.txt"));
  CHECK(c.input.classes.empty());
  CHECK(c.output.dir == fs::path("/abs/out"));
  CHECK(c.output.debug_images == lv::DebugImages::all);
  CHECK(c.output.link_mode == lv::LinkMode::hardlink);
  CHECK(c.model.path == fs::path("/cfg/models/m.pt"));
  CHECK(c.model.type == lv::ModelType::yolov8);
  CHECK(c.model.input_size == 640);
  CHECK(c.model.class_names == std::vector<std::string>{"person", "car"});
  CHECK(c.model.aliases.size() == 2);
  CHECK(c.model.aliases.at("pedestrian") == std::vector<std::string>{"person"});
  CHECK(c.model.aliases.at("vehicle") == std::vector<std::string>{"car", "truck"});
  CHECK(c.model.crop_margin == 0.25);
  CHECK(c.model.mean == std::vector<double>{0.5, 0.25, 0.125});
  CHECK(c.model.std == std::vector<double>{0.75, 2.0, 3.0});
  CHECK(c.model.nms_iou == 0.6);
  CHECK(c.model.conf_threshold == 0.3);
  CHECK(c.verification.correct_threshold == 0.6);
  CHECK(c.verification.mislabel_threshold == 0.85);
  CHECK(c.verification.iou_threshold == 0.4);
  CHECK(c.verification.missing_threshold == 0.95);
  CHECK(c.processing.batch_size == 8);
  CHECK(c.processing.num_threads == 4);
  CHECK(c.processing.fp16);
  CHECK(c.processing.max_image_pixels == 5000000);
  CHECK(c.processing.decode_threads == 3);
  CHECK(c.report.include_probabilities);
  CHECK(c.worker.executable == "/opt/bin/my_worker");
  CHECK(c.worker.args == std::vector<std::string>{"--verbose", "--x=1"});
  CHECK(c.orchestrator.stall_timeout_s == 120.0);
  CHECK(c.orchestrator.stop_grace_s == 5.0);
  CHECK(c.orchestrator.max_retries == 2);
  CHECK(c.orchestrator.status_interval_s == 0.5);
}

TEST_CASE("config: the other enum values parse", "[config]") {
  const lv::Config c = lv::parse_config(
      with_images("output:\n  debug_images: none\n  link_mode: copy\nmodel:\n  type: yolov5\n"), kFile);
  CHECK(c.output.debug_images == lv::DebugImages::none);
  CHECK(c.output.link_mode == lv::LinkMode::copy);
  CHECK(c.model.type == lv::ModelType::yolov5);
  CHECK(lv::parse_config(with_images("model:\n  type: classifier\n"), kFile).model.type ==
        lv::ModelType::classifier);
  CHECK(lv::parse_config(with_images("output:\n  debug_images: issues\n"), kFile).output.debug_images ==
        lv::DebugImages::issues);
}

TEST_CASE("config: relative paths resolve against the config file's folder", "[config]") {
  const lv::Config c = lv::parse_config(
      "input:\n  images: ./a/../imgs\n  root: /data/root/\nmodel:\n  path: ../../m.pt\noutput:\n  dir: out/run1\n",
      "/srv/project/configs/run.yaml");
  CHECK(c.input.images == fs::path("/srv/project/configs/imgs"));
  CHECK(c.input.root == fs::path("/data/root/"));  // absolute: kept, only normalised
  CHECK(c.model.path == fs::path("/srv/m.pt"));
  CHECK(c.output.dir == fs::path("/srv/project/configs/out/run1"));
}

TEST_CASE("config: input.classes is a path or an inline list", "[config]") {
  SECTION("a path") {
    const lv::Config c = lv::parse_config("input:\n  images: data\n  classes: names.txt\n", kFile);
    CHECK(c.input.classes_file == fs::path("/cfg/dir/names.txt"));
    CHECK(c.input.classes.empty());
  }
  SECTION("an inline flow list") {
    const lv::Config c = lv::parse_config("input:\n  images: data\n  classes: [cat, dog, 'traffic light']\n", kFile);
    CHECK(c.input.classes_file.empty());
    CHECK(c.input.classes == std::vector<std::string>{"cat", "dog", "traffic light"});
  }
  SECTION("an inline block list") {
    const lv::Config c = lv::parse_config("input:\n  images: data\n  classes:\n    - cat\n    - dog\n", kFile);
    CHECK(c.input.classes_file.empty());
    CHECK(c.input.classes == std::vector<std::string>{"cat", "dog"});
  }
  SECTION("a mapping is neither") {
    const std::string msg = config_error("input:\n  images: data\n  classes: {a: b}\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:3: input.classes: "));
    CHECK(contains(msg, "a path or a list of names"));
  }
  SECTION("a nested list entry is not a name") {
    const std::string msg = config_error("input:\n  images: data\n  classes:\n    - cat\n    - [x, y]\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:5: input.classes[1]: expected a string"));
  }
}

TEST_CASE("config: processing.num_threads takes auto or an integer", "[config]") {
  CHECK(lv::parse_config(with_images("processing:\n  num_threads: auto\n"), kFile).processing.num_threads == 0);
  CHECK(lv::parse_config(with_images("processing:\n  num_threads: 1\n"), kFile).processing.num_threads == 1);
  CHECK(lv::parse_config(with_images("processing:\n  num_threads: 12\n"), kFile).processing.num_threads == 12);

  std::string msg = config_error(with_images("processing:\n  num_threads: many\n"));
  INFO(msg);
  CHECK(contains(msg, "/cfg/dir/config.yaml:4: processing.num_threads: expected an integer, got 'many'"));
  msg = config_error(with_images("processing:\n  num_threads: 0\n"));
  CHECK(contains(msg, "/cfg/dir/config.yaml:4: processing.num_threads: expected an integer in [1, 1024], got 0"));
}

TEST_CASE("config: processing.decode_threads takes auto or an integer", "[config]") {
  CHECK(lv::parse_config(with_images("processing:\n  decode_threads: auto\n"), kFile).processing.decode_threads == 0);
  CHECK(lv::parse_config(with_images("processing:\n  decode_threads: 3\n"), kFile).processing.decode_threads == 3);
  const std::string msg = config_error(with_images("processing:\n  decode_threads: 0\n"));
  INFO(msg);
  CHECK(contains(msg, "/cfg/dir/config.yaml:4: processing.decode_threads: expected an integer in [1, 256], got 0"));
}

TEST_CASE("config: model.aliases map a name to one name or a list", "[config]") {
  const lv::Config c = lv::parse_config(
      with_images("model:\n  aliases:\n    pedestrian: person\n    vehicle:\n      - car\n      - bus\n"), kFile);
  REQUIRE(c.model.aliases.size() == 2);
  CHECK(c.model.aliases.at("pedestrian") == std::vector<std::string>{"person"});
  CHECK(c.model.aliases.at("vehicle") == std::vector<std::string>{"car", "bus"});

  SECTION("a nested mapping is refused with its key path") {
    const std::string msg = config_error(with_images("model:\n  aliases:\n    vehicle: {car: 1}\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:5: model.aliases.vehicle: "));
    CHECK(contains(msg, "expected a model class name or a list of them"));
  }
  SECTION("aliases must be a mapping") {
    const std::string msg = config_error(with_images("model:\n  aliases: [a, b]\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: model.aliases: expected a mapping"));
  }
}

TEST_CASE("config: an unknown top-level key names file, line and key", "[config]") {
  const std::string msg = config_error("input:\n  images: data\nprocesing:\n  batch_size: 4\n");
  INFO(msg);
  CHECK(contains(msg, "/cfg/dir/config.yaml:3: procesing: unknown key"));
  CHECK(contains(msg, "processing"));  // the known keys are listed, so the typo is easy to see
}

TEST_CASE("config: an unknown nested key names the full key path", "[config]") {
  const std::string msg = config_error("input:\n  images: data\nprocessing:\n  fp16: false\n  batchsize: 8\n");
  INFO(msg);
  CHECK(contains(msg, "/cfg/dir/config.yaml:5: processing.batchsize: unknown key"));
  CHECK(contains(msg, "batch_size"));
}

TEST_CASE("config: a section that is not a mapping is refused", "[config]") {
  const std::string msg = config_error(with_images("processing: 5\n"));
  INFO(msg);
  CHECK(contains(msg, "/cfg/dir/config.yaml:3: processing: expected a mapping"));
}

TEST_CASE("config: wrong types name file, line, key path and what was expected", "[config]") {
  SECTION("batch_size: abc") {
    const std::string msg = config_error(with_images("processing:\n  batch_size: abc\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: processing.batch_size: expected an integer, got 'abc'"));
  }
  SECTION("batch_size: 3.5") {
    const std::string msg = config_error(with_images("processing:\n  batch_size: 3.5\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: processing.batch_size: expected an integer, got '3.5'"));
  }
  SECTION("fp16: maybe") {
    const std::string msg = config_error(with_images("processing:\n  batch_size: 4\n  fp16: maybe\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:5: processing.fp16: expected true or false, got 'maybe'"));
  }
  SECTION("debug_images: some") {
    const std::string msg = config_error(with_images("output:\n  debug_images: some\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: output.debug_images: expected one of all | issues | none, got 'some'"));
  }
  SECTION("a threshold that is not a number") {
    const std::string msg = config_error(with_images("verification:\n  iou_threshold: half\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: verification.iou_threshold: expected a number, got 'half'"));
  }
  SECTION("a list where a scalar belongs") {
    const std::string msg = config_error(with_images("processing:\n  batch_size: [1, 2]\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: processing.batch_size: expected an integer"));
  }
  SECTION("model.mean with two numbers") {
    const std::string msg = config_error(with_images("model:\n  mean: [0.5, 0.5]\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: model.mean: expected a list of 3 numbers"));
  }
  SECTION("worker.args is not a list") {
    const std::string msg = config_error(with_images("worker:\n  args: --fast\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: worker.args: expected a list of strings"));
  }
}

TEST_CASE("config: out-of-range values name the allowed range", "[config]") {
  SECTION("correct_threshold: 1.5") {
    const std::string msg = config_error(with_images("verification:\n  correct_threshold: 1.5\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: verification.correct_threshold: expected a number in [0, 1], got 1.5"));
  }
  SECTION("correct_threshold: -0.1") {
    const std::string msg = config_error(with_images("verification:\n  correct_threshold: -0.1\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: verification.correct_threshold: expected a number in [0, 1]"));
  }
  SECTION("batch_size: 0") {
    const std::string msg = config_error(with_images("processing:\n  batch_size: 0\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: processing.batch_size: expected an integer in [1, 65536], got 0"));
  }
  SECTION("max_retries: -1") {
    const std::string msg = config_error(with_images("orchestrator:\n  max_retries: -1\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: orchestrator.max_retries: expected an integer in [0, 100], got -1"));
  }
  SECTION("model.std with a zero") {
    const std::string msg = config_error(with_images("model:\n  std: [1, 0, 1]\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: model.std: expected positive numbers"));
  }
}

TEST_CASE("config: the boundaries of a range are allowed", "[config]") {
  const lv::Config c = lv::parse_config(
      with_images("verification:\n  correct_threshold: 0\n  mislabel_threshold: 1\nprocessing:\n  batch_size: 1\n"), kFile);
  CHECK(c.verification.correct_threshold == 0.0);
  CHECK(c.verification.mislabel_threshold == 1.0);
  CHECK(c.processing.batch_size == 1);
}

TEST_CASE("config: input.images is required", "[config]") {
  SECTION("no input section") {
    const std::string msg = config_error("output:\n  dir: out\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:1: input.images: required"));
  }
  SECTION("an input section without images") {
    const std::string msg = config_error("input:\n  root: r\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml"));
    CHECK(contains(msg, "input.images: required"));
  }
  SECTION("an empty file") {
    const std::string msg = config_error("");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml"));
    CHECK(contains(msg, "input.images: required"));
  }
}

TEST_CASE("config: invalid YAML syntax names the file and line", "[config]") {
  SECTION("a second colon in a plain value") {
    const std::string msg = config_error("input:\n  images: data\noutput:\n  dir: out: put\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: invalid YAML"));
  }
  SECTION("a tab used for indentation") {
    const std::string msg = config_error("input:\n  images: data\n\toutput: 1\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:3: invalid YAML"));
  }
  SECTION("an unclosed flow list") {
    const std::string msg = config_error("input:\n  images: data\n  classes: [a, b\noutput:\n  dir: x\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:"));
    CHECK(contains(msg, "invalid YAML"));
  }
}

// yaml-cpp accepts a key given twice and keeps the first, so a second `processing:` block (a
// common copy-paste slip) would be dropped without a word. DESIGN §4: never ignored silently.
TEST_CASE("config: a key given twice is an error naming the second one", "[config]") {
  SECTION("a top-level section twice") {
    const std::string msg = config_error(
        "input:\n  images: data\nprocessing:\n  batch_size: 4\nprocessing:\n  batch_size: 8\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:5: processing: "));
  }
  SECTION("a nested key twice") {
    const std::string msg = config_error("input:\n  images: data\n  images: other\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:3: input.images: "));
  }
}

TEST_CASE("config: load_config reads a file and resolves paths beside it", "[config]") {
  TempDir dir;
  const fs::path file = dir / "configs" / "run.yaml";
  write_text(file, "input:\n  images: ../data\n  classes: classes.txt\noutput:\n  dir: out\n");
  const lv::Config c = lv::load_config(file);
  CHECK(c.file == file);
  CHECK(c.input.images == dir / "data");
  CHECK(c.input.classes_file == dir / "configs" / "classes.txt");
  CHECK(c.output.dir == dir / "configs" / "out");
}

TEST_CASE("config: load_config errors name the file it was given", "[config]") {
  TempDir dir;
  SECTION("missing file") {
    const fs::path file = dir / "nope.yaml";
    try {
      lv::load_config(file);
      FAIL("load_config accepted a missing file");
    } catch (const lv::Error& e) {
      CHECK(e.code() == lv::ExitCode::usage);
      const std::string msg = e.what();
      INFO(msg);
      CHECK(contains(msg, file.string()));
      CHECK(contains(msg, "not found"));
    }
  }
  SECTION("a folder is not a config file") {
    try {
      lv::load_config(dir.path());
      FAIL("load_config accepted a folder");
    } catch (const lv::Error& e) {
      CHECK(e.code() == lv::ExitCode::usage);
      CHECK(contains(e.what(), dir.path().string()));
    }
  }
  SECTION("a bad key in a real file") {
    const fs::path file = dir / "bad.yaml";
    write_text(file, "input:\n  images: data\n  imagez: x\n");
    try {
      lv::load_config(file);
      FAIL("load_config accepted an unknown key");
    } catch (const lv::Error& e) {
      CHECK(e.code() == lv::ExitCode::usage);
      const std::string msg = e.what();
      INFO(msg);
      CHECK(contains(msg, file.string() + ":3: input.imagez: unknown key"));
    }
  }
}

TEST_CASE("config: enum names print as in the YAML", "[config]") {
  CHECK(lv::to_string(lv::DebugImages::all) == "all");
  CHECK(lv::to_string(lv::DebugImages::issues) == "issues");
  CHECK(lv::to_string(lv::DebugImages::none) == "none");
  CHECK(lv::to_string(lv::LinkMode::copy) == "copy");
  CHECK(lv::to_string(lv::LinkMode::hardlink) == "hardlink");
  CHECK(lv::to_string(lv::ModelType::classifier) == "classifier");
  CHECK(lv::to_string(lv::ModelType::yolov8) == "yolov8");
  CHECK(lv::to_string(lv::ModelType::yolov5) == "yolov5");
}

TEST_CASE("config: a document that is not a mapping is refused", "[config]") {
  for (const std::string text : {"hello\n", "- a\n- b\n"}) {
    const std::string msg = config_error(text);
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:1: (top level): expected a mapping"));
  }
}

// A key that is a list or mapping (`? [a, b]`) makes yaml-cpp's as<std::string>() throw
// YAML::BadConversion, which is no lv::Error: run_orchestrator() does not catch it and the
// program aborts instead of printing a config error.
TEST_CASE("config: a non-scalar key is a config error, not a crash", "[config]") {
  SECTION("at the top level") {
    const std::string msg = config_error("input:\n  images: data\n? [a, b]\n: x\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:3: "));
  }
  SECTION("in model.aliases") {
    const std::string msg = config_error("input:\n  images: data\nmodel:\n  aliases:\n    ? [a]\n    : b\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:5: model.aliases"));
  }
}

// Issue 7, case 12: `classes: [a, b, a]` was accepted, so label id 2 meant "a" as well as 0
// and every verdict about either was ambiguous.
TEST_CASE("config: a class name given twice is an error naming the key, line and name", "[config]") {
  SECTION("an inline flow list") {
    const std::string msg = config_error("input:\n  images: data\n  classes: [a, b, a]\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:3: input.classes[2]: 'a' is already input.classes[0]"));
  }
  SECTION("an inline block list") {
    const std::string msg = config_error("input:\n  images: data\n  classes:\n    - cat\n    - dog\n    - cat\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:6: input.classes[2]: 'cat' is already input.classes[0]"));
  }
  SECTION("the model's class names") {
    const std::string msg = config_error(with_images("model:\n  class_names: [x, y, y]\n"));
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:4: model.class_names[2]: 'y' is already model.class_names[1]"));
  }
}

TEST_CASE("config: a classes file is read with blanks trimmed, blank lines and a byte order mark skipped",
          "[config]") {
  TempDir dir;
  write_text(dir / "classes.txt", "\xEF\xBB\xBF" "cat\r\n\n  big bird \n\tdog\n");
  CHECK(lv::read_classes_file(dir / "classes.txt") == std::vector<std::string>{"cat", "big bird", "dog"});
  write_text(dir / "run.yaml", "input:\n  images: data\n  classes: classes.txt\n");
  CHECK(lv::dataset_class_names(lv::load_config(dir / "run.yaml")) ==
        std::vector<std::string>{"cat", "big bird", "dog"});
  CHECK(lv::dataset_class_names(lv::parse_config("input:\n  images: data\n  classes: [a, b]\n", kFile)) ==
        std::vector<std::string>{"a", "b"});
}

TEST_CASE("config: a classes file naming a class twice is an error naming the file, both lines and the name",
          "[config]") {
  TempDir dir;
  write_text(dir / "classes.txt", "cat\ndog\n\n cat\n");
  try {
    lv::read_classes_file(dir / "classes.txt");
    FAIL("a repeated class name was accepted");
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::usage);
    INFO(e.what());
    CHECK(contains(e.what(), (dir / "classes.txt").string() + ":4: input.classes: 'cat' is already on line 1"));
  }
}

TEST_CASE("config: an empty, missing or absent classes file is an error naming it", "[config]") {
  TempDir dir;
  write_text(dir / "empty.txt", "\n  \n");
  for (const fs::path& file : {dir / "empty.txt", dir / "missing.txt"}) {
    try {
      lv::read_classes_file(file);
      FAIL("accepted " << file);
    } catch (const lv::Error& e) {
      CHECK(e.code() == lv::ExitCode::input_unreadable);
      INFO(e.what());
      CHECK(contains(e.what(), file.string()));
    }
  }
  const lv::Config none = lv::parse_config("input:\n  images: data\n", kFile);
  try {
    lv::dataset_class_names(none);
    FAIL("no classes at all was accepted");
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::usage);
    CHECK(contains(e.what(), "input.classes"));
  }
}

// Case 12: YAML::Load reads the first document only, so everything after a `---` was ignored.
TEST_CASE("config: a second YAML document is an error naming its line", "[config]") {
  SECTION("a second document with keys") {
    const std::string msg = config_error("input:\n  images: data\n---\nprocessing:\n  batch_size: 4\n");
    INFO(msg);
    CHECK(contains(msg, "/cfg/dir/config.yaml:3: "));  // the line of the '---'
    CHECK(contains(msg, "second YAML document"));
  }
  SECTION("an empty second document") {
    CHECK(contains(config_error("input:\n  images: data\n---\n"), "/cfg/dir/config.yaml:3: a second YAML document"));
  }
  SECTION("a document end marker alone is not a second document") {
    CHECK(lv::parse_config("input:\n  images: data\n...\n", kFile).input.images == "/cfg/dir/data");
  }
  SECTION("a document marker at the start is still one document") {
    CHECK(lv::parse_config("---\ninput:\n  images: data\n", kFile).input.images == "/cfg/dir/data");
  }
}

TEST_CASE("config: NaN or an infinite number is an error naming the key, for every numeric key", "[config]") {
  const char* keys[][2] = {{"model", "input_size"},
                           {"model", "crop_margin"},
                           {"model", "nms_iou"},
                           {"model", "conf_threshold"},
                           {"verification", "correct_threshold"},
                           {"verification", "mislabel_threshold"},
                           {"verification", "iou_threshold"},
                           {"verification", "missing_threshold"},
                           {"verification", "location_min_iou"},
                           {"verification", "background_threshold"},
                           {"autolabel", "conf_threshold"},
                           {"processing", "batch_size"},
                           {"processing", "num_threads"},
                           {"processing", "max_image_pixels"},
                           {"processing", "decode_threads"},
                           {"orchestrator", "stall_timeout_s"},
                           {"orchestrator", "stop_grace_s"},
                           {"orchestrator", "max_retries"},
                           {"orchestrator", "status_interval_s"}};
  for (const auto& key : keys) {
    for (const char* value : {"nan", ".nan", "NaN", "inf", ".inf", "-.inf", "-inf", "1e999"}) {
      const std::string msg = config_error(with_images(fmt::format("{}:\n  {}: {}\n", key[0], key[1], value)));
      INFO(msg);
      CHECK(contains(msg, fmt::format("/cfg/dir/config.yaml:4: {}.{}: expected ", key[0], key[1])));
    }
  }
  for (const char* list : {"mean", "std"}) {
    const std::string msg = config_error(with_images(fmt::format("model:\n  {}: [0.5, .nan, 0.5]\n", list)));
    INFO(msg);
    CHECK(contains(msg, fmt::format("model.{}[1]: expected a number", list)));
  }
}

namespace {

/// Runs parse_config(text) in a child process and says how it ended: "error" (lv::Error),
/// "accepted", or "hung" when it did not return within `limit`. A hang cannot be caught in
/// the test process itself; the child is killed.
std::string parse_in_child(const std::string& text, std::chrono::seconds limit) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 3;
    try {
      lv::parse_config(text, kFile);
      code = 0;
    } catch (const lv::Error&) {
      code = 1;
    } catch (...) {
      code = 2;
    }
    _exit(code);
  }
  int status = 0;
  const bool ended = lv::test::wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, limit);
  if (!ended) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return "hung";
  }
  if (!WIFEXITED(status)) return "crashed";
  switch (WEXITSTATUS(status)) {
    case 0: return "accepted";
    case 1: return "error";
    default: return "other exception";
  }
}

}  // namespace

// Found by fuzz/config_fuzz.cpp: yaml-cpp 0.7's LoadAll() never returns on text such as ","
// (every call yields another empty document at the same place, and memory grows).
TEST_CASE("config: text where no YAML document can start is an error, not a hang", "[config]") {
  for (const char* text : {",", "input:\n  images: data\n---\n,", "]"}) {
    INFO(text);
    CHECK(parse_in_child(text, std::chrono::seconds(10)) == "error");
  }
  const std::string msg = config_error(",");
  INFO(msg);
  CHECK(contains(msg, "/cfg/dir/config.yaml:1: invalid YAML"));
}

TEST_CASE("config: documents take their own keys, and doc_worker unless a worker is named", "[config][docs]") {
  const lv::Config c = lv::parse_config(
      "task: embed\ninput:\n  documents: corpus.jsonl\nmodel:\n  type: text\n  tokenizer: hashed\n"
      "  hash_buckets: 1024\n  hash_bigrams: false\n  max_length: 64\n  pooling: cls\n"
      "processing:\n  max_document_bytes: 4096\nreport:\n  top_k: 5\n",
      kFile);
  CHECK(c.task == lv::Task::embed);
  CHECK(c.input.documents == fs::path("/cfg/dir/corpus.jsonl"));
  CHECK(lv::input_path(c) == c.input.documents);
  CHECK(c.model.type == lv::ModelType::text);
  CHECK(c.model.tokenizer == lv::Tokenizer::hashed);
  CHECK(c.model.hash_buckets == 1024);
  CHECK_FALSE(c.model.hash_bigrams);
  CHECK(c.model.max_length == 64);
  CHECK(c.model.pooling == lv::Pooling::cls);
  CHECK(c.processing.max_document_bytes == 4096);
  CHECK(c.report.top_k == 5);
  CHECK(c.worker.executable == "doc_worker");
  const lv::Config named = lv::parse_config(
      "input:\n  documents: d.tsv\nmodel:\n  type: text\n  vocab: v.txt\nworker:\n  executable: my_worker\n", kFile);
  CHECK(named.worker.executable == "my_worker");
  CHECK(named.model.vocab == fs::path("/cfg/dir/v.txt"));
}

TEST_CASE("config: mixing images and documents keys is refused naming the key and line", "[config][docs]") {
  CHECK(contains(config_error("input:\n  images: data\n  documents: c.jsonl\nmodel:\n  type: text\n"),
                 "config.yaml:3: input.documents: give input.images or input.documents, not both"));
  CHECK(contains(config_error("input:\n  documents: c.jsonl\n  classes: [a]\nmodel:\n  type: classifier\n"),
                 "config.yaml:5: model.type: input.documents needs model.type: text, got 'classifier'"));
  CHECK(contains(config_error("input:\n  images: data\nmodel:\n  type: text\n"),
                 "model.type: model.type text reads input.documents, which is not set"));
  CHECK(contains(config_error("task: classify\ninput:\n  images: data\n"),
                 "config.yaml:1: task: task classify needs input.documents (images: verify or autolabel)"));
  CHECK(contains(config_error("input:\n  documents: c.jsonl\nmodel:\n  type: text\n"),
                 "model.vocab: required with model.tokenizer wordpiece"));
  CHECK(contains(config_error("task: summarize\ninput:\n  images: data\n"),
                 "task: expected one of verify | classify | embed | autolabel, got 'summarize'"));
  CHECK(contains(config_error("input:\n  documents: c.jsonl\nmodel:\n  type: text\n  vocab: v.txt\n  max_length: 1\n"),
                 "model.max_length: expected an integer in [2,"));
}

TEST_CASE("config: verification.policy is fixed or adaptive, adaptive for a classifier verifying images only",
          "[config][adaptive]") {
  CHECK(lv::parse_config("input:\n  images: data\n", kFile).verification.policy == lv::Policy::fixed);
  CHECK(lv::parse_config("input:\n  images: data\nverification:\n  policy: adaptive\n", kFile).verification.policy ==
        lv::Policy::adaptive);
  CHECK(contains(config_error("input:\n  images: data\nverification:\n  policy: clever\n"),
                 "config.yaml:4: verification.policy: expected one of fixed | adaptive, got 'clever'"));
  CHECK(contains(config_error("input:\n  images: data\nmodel:\n  type: yolov8\nverification:\n  policy: adaptive\n"),
                 "config.yaml:6: verification.policy: adaptive judges the class scores of a crop classifier"));
  CHECK(contains(config_error("input:\n  documents: c.jsonl\nmodel:\n  type: text\n  vocab: v.txt\n"
                              "verification:\n  policy: adaptive\n"),
                 "verification.policy: adaptive judges the class scores of a crop classifier"));
}

TEST_CASE("config: task autolabel reads images with a detector", "[config][autolabel]") {
  const lv::Config c = lv::parse_config(
      "task: autolabel\ninput:\n  images: data\nmodel:\n  type: yolov8\nautolabel:\n  conf_threshold: 0.4\n"
      "verification:\n  location_min_iou: 0.2\n  background_threshold: 0\nreport:\n  include_predictions: true\n",
      kFile);
  CHECK(c.task == lv::Task::autolabel);
  CHECK(c.autolabel.conf_threshold == 0.4);
  CHECK(c.verification.location_min_iou == 0.2);
  CHECK(c.verification.background_threshold == 0.0);
  CHECK(c.report.include_predictions);
  CHECK(c.worker.executable == "image_worker");
  CHECK(contains(config_error("task: autolabel\ninput:\n  images: data\nmodel:\n  type: classifier\n"),
                 "config.yaml:5: model.type: task autolabel needs a detector (yolov8 or yolov5)"));
  CHECK(contains(config_error("task: autolabel\ninput:\n  documents: c.jsonl\nmodel:\n  type: text\n  vocab: v.txt\n"),
                 "config.yaml:1: task: task autolabel reads input.images"));
  CHECK(contains(config_error("input:\n  images: data\nautolabel:\n  conf_threshold: 1.5\n"),
                 "config.yaml:4: autolabel.conf_threshold: expected a number in [0, 1], got 1.5"));
  CHECK(contains(config_error("task: autolabel\ninput:\n  images: data\nmodel:\n  type: yolov8\n  conf_threshold: 0.3\n"
                              "autolabel:\n  conf_threshold: 0.2\n"),
                 "config.yaml:8: autolabel.conf_threshold: 0.2 is below model.conf_threshold 0.3"));
}

TEST_CASE("config: input.images as a list of folders names items from their common folder", "[config]") {
  const lv::Config c = lv::parse_config("input:\n  images: [sites/cam1, sites/cam2/, /abs/sites/x]\n", kFile);
  REQUIRE(c.input.image_folders.size() == 3);
  CHECK(c.input.image_folders[0] == fs::path("/cfg/dir/sites/cam1"));
  CHECK(c.input.image_folders[2] == fs::path("/abs/sites/x"));
  CHECK(c.input.images == fs::path("/"));
  const lv::Config two = lv::parse_config("input:\n  images:\n    - sites/cam1\n    - sites/cam2\n", kFile);
  CHECK(two.input.images == fs::path("/cfg/dir/sites"));
  const lv::Config one = lv::parse_config("input:\n  images: [sites/cam1]\n", kFile);
  CHECK(one.input.images == fs::path("/cfg/dir/sites/cam1"));
  // A folder beside another with a longer name is not inside it.
  const lv::Config prefix = lv::parse_config("input:\n  images: [a/cam, a/camera]\n", kFile);
  CHECK(prefix.input.images == fs::path("/cfg/dir/a"));
  CHECK(contains(config_error("input:\n  images:\n    - sites\n    - sites/cam2\n"),
                 "config.yaml:4: input.images[1]: /cfg/dir/sites/cam2 is inside input.images[0] (/cfg/dir/sites)"));
  CHECK(contains(config_error("input:\n  images: [a, ./a]\n"),
                 "input.images[1]: /cfg/dir/a is the same folder as input.images[0]"));
  CHECK(contains(config_error("input:\n  images: []\n"), "input.images: expected a folder, a list file, or a list of folders"));
}

TEST_CASE("config: the Slurm launcher's section becomes sbatch's words, mistakes named by key and line",
          "[config][slurm]") {
  const lv::Config c = lv::parse_config(
      "input:\n  images: data\norchestrator:\n  launcher: slurm\nslurm:\n  tasks: 16\n  partition: gpu\n"
      "  account: vision\n  qos: normal\n  time_limit: \"04:00:00\"\n  gres: \"gpu:a100:1\"\n  cpus_per_task: 8\n"
      "  memory: 32G\n  max_concurrent: 4\n  sbatch_args: [\"--constraint=a100\", \"--exclude=node 7\"]\n",
      kFile);
  CHECK(c.orchestrator.launcher == lv::LauncherKind::slurm);
  CHECK(c.slurm.tasks == 16);
  CHECK(c.slurm.partition == "gpu");
  CHECK(c.slurm.account == "vision");
  CHECK(c.slurm.qos == "normal");
  CHECK(c.slurm.time_limit == "04:00:00");
  CHECK(c.slurm.gres == "gpu:a100:1");
  CHECK(c.slurm.cpus_per_task == 8);
  CHECK(c.slurm.memory == "32G");
  CHECK(c.slurm.max_concurrent == 4);
  CHECK(c.slurm.sbatch_args == std::vector<std::string>{"--constraint=a100", "--exclude=node 7"});
  CHECK(lv::parse_config("input:\n  images: data\nslurm:\n  gres: \"\"\n", kFile).slurm.gres.empty());  // CPU tasks
  CHECK(contains(config_error("input:\n  images: data\norchestrator:\n  launcher: kubernetes\n"),
                 "config.yaml:4: orchestrator.launcher: expected one of local | slurm, got 'kubernetes'"));
  CHECK(contains(config_error("input:\n  images: data\nslurm:\n  partiton: gpu\n"), "config.yaml:4"));
  CHECK(contains(config_error("input:\n  images: data\nslurm:\n  partiton: gpu\n"), "slurm.partiton"));
  CHECK(contains(config_error("input:\n  images: data\nslurm:\n  max_concurrent: -1\n"), "config.yaml:4: slurm.max_concurrent"));
  CHECK(contains(config_error("input:\n  images: data\nslurm:\n  sbatch_args: --exclusive\n"), "config.yaml:4: slurm.sbatch_args"));
}
