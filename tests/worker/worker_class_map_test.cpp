// Dataset and model class names, aliases and the summing of aliased scores.
#include "worker_catch.h"
#include "class_map.h"
#include "config.h"
#include "error.h"
#include "test_util.h"

using namespace lv;

TEST_CASE("aliases map several model classes onto one dataset class", "[worker][classes]") {
  const ClassMap m = build_class_map({"person", "car", "bike"}, {"person", "pedestrian", "car", "dog"},
                                     {{"person", {"person", "pedestrian"}}});
  CHECK(m.model_to_dataset == std::vector<int>{0, 0, 1, -1});
  const float scores[] = {0.2f, 0.3f, 0.4f, 0.1f};
  const auto d = m.to_dataset(scores);
  REQUIRE(d.size() == 3);
  CHECK(d[0] == Approx(0.5f));
  CHECK(d[1] == Approx(0.4f));
  CHECK(d[2] == 0.0f);  // the dog's 0.1 goes nowhere
}

TEST_CASE("an alias renames a model class to a dataset class", "[worker][classes]") {
  const ClassMap m = build_class_map({"pedestrian", "car"}, {"car", "person"}, {{"pedestrian", {"person"}}});
  CHECK(m.model_to_dataset == std::vector<int>{1, 0});
}

TEST_CASE("bad aliases are config errors naming the key", "[worker][classes]") {
  auto code_of = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return std::make_pair(e.code(), std::string(e.what()));
    }
    return std::make_pair(ExitCode::ok, std::string());
  };
  auto [c1, m1] = code_of([] { build_class_map({"a"}, {"x"}, {{"b", {"x"}}}); });
  CHECK(c1 == ExitCode::usage);
  CHECK(m1 == "model.aliases.b: 'b' is not a dataset class");
  auto [c2, m2] = code_of([] { build_class_map({"a"}, {"x"}, {{"a", {"y"}}}); });
  CHECK(c2 == ExitCode::usage);
  CHECK(m2 == "model.aliases.a: 'y' is not a model class");
  auto [c3, m3] = code_of([] { build_class_map({"a", "b"}, {"x"}, {{"a", {"x"}}, {"b", {"x"}}}); });
  CHECK(c3 == ExitCode::usage);
  CHECK(m3 == "model.aliases.b: model class 'x' is already aliased by 'a'");
}

TEST_CASE("model class names from an Ultralytics config.txt", "[worker][classes]") {
  // Keys sorted as text would put "10" before "2": the order must come from the numbers.
  std::string json = R"({"stride": 32, "names": {)";
  for (int i = 0; i < 11; ++i) json += (i ? "," : "") + std::string("\"") + std::to_string(i) + "\": \"c" + std::to_string(i) + "\"";
  json += "}}";
  const auto names = class_names_from_model_config(json);
  REQUIRE(names.size() == 11);
  CHECK(names[2] == "c2");
  CHECK(names[10] == "c10");
  CHECK(class_names_from_model_config(R"({"names": ["a", "b"]})") == std::vector<std::string>{"a", "b"});
  CHECK(class_names_from_model_config(R"({"names": {"0": "a", "2": "c"}})").empty());
  CHECK(class_names_from_model_config("not json").empty());
  CHECK(class_names_from_model_config(R"({"stride": 32})").empty());
}

TEST_CASE("classes files: trimmed names, blank lines skipped, errors exit 4", "[worker][classes]") {
  test::TempDir dir;
  test::write_text(dir / "classes.txt", "cat\r\n\n  dog  \nbig bird\n");
  CHECK(read_classes_file(dir / "classes.txt") == std::vector<std::string>{"cat", "dog", "big bird"});
  test::write_text(dir / "empty.txt", "\n\n");
  try {
    read_classes_file(dir / "empty.txt");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::input_unreadable);
    CHECK(std::string(e.what()).find("empty.txt") != std::string::npos);
  }
  CHECK_THROWS_AS(read_classes_file(dir / "none.txt"), Error);
}
