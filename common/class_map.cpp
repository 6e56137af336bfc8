#include "class_map.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "error.h"

namespace lv {

namespace {

int index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

}  // namespace

std::vector<std::string> class_names_from_model_config(std::string_view json_text) {
  const auto j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("names")) return {};
  const auto& n = j["names"];
  std::vector<std::string> names;
  if (n.is_array()) {
    for (const auto& v : n) {
      if (!v.is_string()) return {};
      names.push_back(v.get<std::string>());
    }
    return names;
  }
  if (n.is_object()) {
    std::map<long, std::string> by_index;
    for (auto it = n.begin(); it != n.end(); ++it) {
      char* end = nullptr;
      const long i = std::strtol(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end != '\0' || i < 0 || !it.value().is_string()) return {};
      by_index[i] = it.value().get<std::string>();
    }
    // Indices must be exactly 0..n-1.
    long expected = 0;
    for (const auto& [i, name] : by_index) {
      if (i != expected++) return {};
      names.push_back(name);
    }
  }
  return names;
}

std::vector<float> ClassMap::to_dataset(const float* model_scores) const {
  std::vector<float> out(dataset.size(), 0.0f);
  for (size_t m = 0; m < model_to_dataset.size(); ++m)
    if (model_to_dataset[m] >= 0) out[static_cast<size_t>(model_to_dataset[m])] += model_scores[m];
  return out;
}

ClassMap build_class_map(const std::vector<std::string>& dataset, const std::vector<std::string>& model,
                         const std::map<std::string, std::vector<std::string>>& aliases) {
  ClassMap map{dataset, model, std::vector<int>(model.size(), -1)};
  std::vector<std::string> aliased_by(model.size());
  for (const auto& [dataset_name, model_names] : aliases) {
    const int d = index_of(dataset, dataset_name);
    if (d < 0)
      throw usage_error(fmt::format("model.aliases.{}: '{}' is not a dataset class", dataset_name, dataset_name));
    for (const auto& model_name : model_names) {
      const int m = index_of(model, model_name);
      if (m < 0)
        throw usage_error(fmt::format("model.aliases.{}: '{}' is not a model class", dataset_name, model_name));
      if (!aliased_by[m].empty() && aliased_by[m] != dataset_name)
        throw usage_error(fmt::format("model.aliases.{}: model class '{}' is already aliased by '{}'",
                                      dataset_name, model_name, aliased_by[m]));
      aliased_by[m] = dataset_name;
      map.model_to_dataset[m] = d;
    }
  }
  for (size_t m = 0; m < model.size(); ++m)
    if (aliased_by[m].empty()) map.model_to_dataset[m] = index_of(dataset, model[m]);
  return map;
}

}  // namespace lv
