#pragma once
/// What an Ultralytics export says about its input in the extra file `config.txt`, and the
/// input size a run uses: model.input_size checked against it. Torch-free.
///
/// Ultralytics 8.0.x writes {"stride": 32, "task": "detect", "batch": 1, "imgsz": [640, 640],
/// "names": {...}}; later versions add "args": {"batch": 1, "half": false, "dynamic": false, ...}
/// and may write imgsz as one integer. A traced (non-dynamic) export takes any batch size but
/// only the image size it was traced at: its anchors are constants of that size.
#include <filesystem>
#include <string>
#include <string_view>

#include "config.h"

namespace lv {

struct ExportMetadata {
  int imgsz_h = 0, imgsz_w = 0;  ///< the input the export was made for; 0: not given
  int batch = 0;                 ///< the batch it was exported at ("batch", else args.batch); 0: not given
  bool dynamic = false;          ///< args.dynamic: exported for any input size
  bool half = false;             ///< args.half: exported with fp16 weights

  bool has_imgsz() const { return imgsz_h > 0; }
};

/// Reads config.txt's text. Text that is not a JSON object, or holds none of these keys, gives
/// the empty metadata (a model from elsewhere). Throws lv::Error (exit 3) naming `model`,
/// config.txt and the key when a key is there but not as Ultralytics writes it (imgsz not a
/// positive integer or [height, width]; batch not a positive integer; dynamic or half not a
/// boolean).
ExportMetadata parse_export_metadata(std::string_view json_text, const std::filesystem::path& model);

/// "[640, 640]" or "640": imgsz as the export wrote it, for messages.
std::string describe_imgsz(const ExportMetadata& meta);

/// The side of the square input the model is given: model.input_size when the config sets it
/// (input_size_line > 0), else the export's imgsz, else model.input_size (its default, 64).
/// Throws lv::Error before any image is read:
///  - exit 2 naming the config file and line, model.input_size, both sizes and the model when
///    the config contradicts a non-dynamic export's imgsz;
///  - exit 3 naming the model when a non-dynamic export's imgsz is not square (images are
///    letterboxed into a square).
/// Both messages carry kModelConfigMismatch (failure_marks.h).
int resolve_input_size(const Config& config, const ExportMetadata& meta);

}  // namespace lv
