#pragma once
/// One image's outcome and its JSON record in the journal and the report (common/report.h).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "class_map.h"
#include "geometry.h"
#include "labels.h"
#include "verdict.h"

namespace lv {

/// Everything the worker learned about one item.
struct ImageResult {
  std::string path;                 ///< the item, relative to the input root
  int shard = 0;
  Verdict verdict = Verdict::error;
  int width = 0, height = 0;        ///< pixels; 0 when the image could not be decoded
  std::optional<std::string> label_file;  ///< the label file read, relative to the input root
  LabelFile labels;
  std::vector<BoxResult> results;   ///< one per labels.boxes entry
  std::vector<Detection> predictions;  ///< detectors: all predictions after NMS (debug images)
  std::vector<Detection> missing;
  std::optional<std::string> error; ///< why the image could not be processed
};

/// The image record: path, verdict, shard, width, height, label_file, boxes [{index, line,
/// label, label_name, verdict, reason, predicted, predicted_name, confidence, label_prob,
/// suggested, suggested_name, box, probabilities?}], missing [{class, class_name, confidence,
/// box}], label_errors [{line, reason}], error. Boxes are normalised [cx, cy, w, h].
/// `path` and `label_file` are written with set_bytes_field() (`path_escaped: true` when the
/// name is not UTF-8); every other string is made printable(), so the record always dumps.
nlohmann::json to_record(const ImageResult& r, const ClassMap& classes, bool include_probabilities);

/// An image that could not be processed at all.
ImageResult error_result(const std::string& path, int shard, std::string why);

}  // namespace lv
