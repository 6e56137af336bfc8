// Which config changes a retry accepts: the keys that cannot change results.
#include <functional>
#include <set>

#include <yaml-cpp/yaml.h>

#include "catch.h"
#include "config.h"
#include "config_diff.h"

using namespace lv;

namespace {
Config parse(const std::string& text) { return parse_config("input:\n  images: data\n" + text, "/p/config.yaml"); }

/// Every leaf key path of a YAML document ("model.path", ...).
void leaf_keys(const YAML::Node& node, const std::string& prefix, std::set<std::string>& out) {
  for (const auto& kv : node) {
    const std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    if (kv.second.IsMap() && prefix.empty()) leaf_keys(kv.second, key, out);
    else out.insert(key);
  }
}
}  // namespace

TEST_CASE("config diff: speed and resource keys are harmless, verdict keys are not", "[config_diff]") {
  const Config before = parse("processing:\n  batch_size: 32\n");
  const ConfigChanges speed =
      diff_configs(before, parse("processing:\n  batch_size: 8\n  num_threads: 2\n  fp16: true\n"
                                 "orchestrator:\n  stall_timeout_s: 30\nworker:\n  args: [--verbose]\n"));
  CHECK(speed.result.empty());
  CHECK(speed.harmless == std::vector<std::string>{"orchestrator.stall_timeout_s", "processing.batch_size",
                                                    "processing.fp16", "processing.num_threads", "worker.args"});
  const ConfigChanges verdicts = diff_configs(before, parse("model:\n  path: other.pt\nverification:\n  "
                                                            "correct_threshold: 0.3\n"));
  CHECK(verdicts.harmless.empty());
  CHECK(verdicts.result == std::vector<std::string>{"model.path", "verification.correct_threshold"});
  CHECK(diff_configs(before, parse("processing:\n  batch_size: 32\n")).result.empty());
  CHECK(diff_configs(before, parse("model:\n  aliases: {a: b}\n")).result == std::vector<std::string>{"model.aliases"});
}

TEST_CASE("config diff: every key of configs/default.yaml is compared", "[config_diff]") {
  // A key added to the config but forgotten here would let a retry mix results silently.
  std::set<std::string> documented;
  leaf_keys(YAML::LoadFile(LV_SOURCE_DIR "/configs/default.yaml"), "", documented);
  std::set<std::string> compared;
  for (const auto& [key, value] : flatten_config(Config{})) compared.insert(key);
  CHECK(documented == compared);
}

TEST_CASE("config diff: model.input_size auto and a number are different plans", "[config_diff]") {
  // auto is the model's own size (an export's imgsz, e.g. 640): a retry must not take 64 for it.
  const ConfigChanges c = diff_configs(parse("model:\n  input_size: auto\n"), parse("model:\n  input_size: 64\n"));
  CHECK(c.result == std::vector<std::string>{"model.input_size"});
  CHECK(diff_configs(parse(""), parse("model:\n  input_size: auto\n")).result.empty());
}
