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
  std::string label_hash;           ///< content_hash of its bytes as read (orchestrator --apply-fixes checks it)
  LabelFile labels;
  std::vector<BoxResult> results;   ///< one per labels.boxes entry
  std::vector<Detection> predictions;  ///< detectors: all predictions after NMS (debug images)
  std::vector<Detection> missing;   ///< confident predictions no label box covers; for an unlabeled image, its suggested labels
  std::vector<Detection> autolabeled;  ///< task autolabel: the predictions written as its labels
  std::optional<std::string> error; ///< why the image could not be processed
  bool keep_extension = false;      ///< its output label names keep its extension (StemIndex::shares_label)
};

/// The image record: path, verdict, shard, width, height, label_file, label_hash (content_hash
/// of the label file's bytes as judged, when there is one), boxes [{index, line,
/// label, label_name, verdict, reason, predicted, predicted_name, confidence, label_prob,
/// suggested, suggested_name, box, suggested_box? (bad_location), probabilities?}], missing
/// [{class, class_name, confidence, box}], predictions? (with `include_predictions`, same
/// fields as missing), label_errors [{line, reason}], error, keep_extension? (true only: its
/// output label names keep the image's extension, as decided when it was judged). Boxes are normalised [cx, cy, w, h].
/// `path` and `label_file` are written with set_bytes_field() (`path_escaped: true` when the
/// name is not UTF-8); every other string is made printable(), so the record always dumps.
nlohmann::json to_record(const ImageResult& r, const ClassMap& classes, bool include_probabilities,
                         bool include_predictions = false);

/// The record of task autolabel: path, shard, width, height, label_file, source ("predicted":
/// `labels` were written from predictions; "existing": the image's own label file was kept),
/// labels [{class, class_name, confidence, box}], error (path and label_file as in to_record).
nlohmann::json to_autolabel_record(const ImageResult& r, const ClassMap& classes);

/// The fixes of a mislabeled image's label lines (fix_label_text): a mislabeled box's line
/// gets its suggested class and box, or goes (spurious); a duplicate line goes too, or a
/// dropped or moved box would come back through its copy.
std::vector<LabelFix> label_fixes(const ImageResult& r);

/// An image that could not be processed at all.
ImageResult error_result(const std::string& path, int shard, std::string why);

}  // namespace lv
