#pragma once
/// Checks made before any worker starts, so a run that cannot succeed fails in a second with
/// the reason, and nothing is written: the model file, the classes, the model's class names
/// against the dataset's (and model.aliases), where output and work dir lie, free disk space.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "item_list.h"

namespace lv {

/// The text of a TorchScript archive's extra file `config.txt` (an Ultralytics export's
/// metadata); "" when it has none. Throws lv::Error (exit 3) as model_archive_class_names.
std::string model_archive_config_text(const std::filesystem::path& model);

/// The class names a TorchScript archive carries in its extra file `config.txt` (what an
/// Ultralytics export writes); empty when it has none. Throws lv::Error (exit 3) naming the
/// file when it is missing, unreadable or not a TorchScript (zip) archive.
std::vector<std::string> model_archive_class_names(const std::filesystem::path& model);

struct PreflightFindings {
  std::vector<std::string> unjudgeable_classes;  ///< dataset classes no model class maps to
  uint64_t bytes_needed = 0;                     ///< estimated size of the output tree
};

/// Model and classes. When `model.path` is set: the file must be a readable TorchScript
/// archive (else exit 3 with the path). Classes must resolve (exit 4 / 2). With model class
/// names known (model.class_names, or the archive's config.txt), dataset classes that no model
/// class or alias maps to are returned; when none maps at all it is an error (exit 2) naming
/// both lists. Aliases naming unknown classes are errors (exit 2). A wordpiece text model's
/// model.vocab must be a regular file (exit 2). An image model's model.input_size must fit its
/// export's imgsz (resolve_input_size: exit 2, or 3 for a non-square export).
PreflightFindings check_model_and_classes(const Config& config);

/// The folders a scan lists: input.images (or input.documents) when it is a folder, each
/// folder of an input.images list; none for a list file or a corpus file (they name their
/// items; nothing else is ever read).
std::vector<std::filesystem::path> scanned_roots(const Config& config);

/// True when `path` (which need not exist yet) lies inside `root`, both resolved through
/// symlinks as far as they exist.
bool lies_inside(const std::filesystem::path& path, const std::filesystem::path& root);

/// Estimated bytes the output tree needs: the sizes of up to `sample` items spread over the
/// list, scaled to the whole list (copies of the images), or 0 with link_mode: hardlink;
/// twice the corpus file for documents (each comes out in a verdict file and the corrected
/// corpus).
uint64_t estimate_output_bytes(const Config& config, const ItemList& items, size_t sample = 1000);

}  // namespace lv
