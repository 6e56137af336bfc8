#pragma once
/// Class names of the dataset and of the model, and how model classes map onto dataset
/// classes through `model.aliases`. Torch-free.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lv {

/// Class names from the JSON an Ultralytics export stores as the extra file `config.txt`:
/// `{"names": {"0": "person", ...}}` or `{"names": ["person", ...]}`. Empty when the text has
/// no usable `names`.
std::vector<std::string> class_names_from_model_config(std::string_view json_text);

/// Model class index -> dataset class index.
struct ClassMap {
  std::vector<std::string> dataset;     ///< dataset class names (label ids index this)
  std::vector<std::string> model;       ///< model class names (model outputs index this)
  std::vector<int> model_to_dataset;    ///< dataset index of each model class, or -1: unmapped

  /// Scores per dataset class: the scores of model classes mapping to the same dataset class
  /// summed; unmapped model classes dropped. `model_scores` has model.size() entries.
  std::vector<float> to_dataset(const float* model_scores) const;
};

/// Builds the map. A model class maps to the dataset class whose alias list names it, else to
/// the dataset class of the same name, else to none. Throws lv::Error (exit 2) naming
/// `model.aliases` when an alias names an unknown dataset or model class, or when one model
/// class is aliased by two dataset classes.
ClassMap build_class_map(const std::vector<std::string>& dataset, const std::vector<std::string>& model,
                         const std::map<std::string, std::vector<std::string>>& aliases);

}  // namespace lv
