#pragma once
/// Which config keys changed between the plan and now, and whether each change can alter a
/// result. `--retry-failed` accepts changes that cannot (batch size, threads, timeouts, ...)
/// and refuses, naming the key, those that can (model, thresholds, input, classes, output).
#include <map>
#include <string>
#include <vector>

#include "config.h"

namespace lv {

/// Every key of `config` ("model.path", "processing.batch_size", ...) with its value as text.
std::map<std::string, std::string> flatten_config(const Config& config);

/// True for keys whose value can change verdicts, the item list or where outputs go.
bool key_changes_results(const std::string& key);

struct ConfigChanges {
  std::vector<std::string> harmless;   ///< changed keys that do not change results
  std::vector<std::string> result;     ///< changed keys that do
};

/// The keys that differ between `before` and `after`, sorted by name within each group.
ConfigChanges diff_configs(const Config& before, const Config& after);

}  // namespace lv
