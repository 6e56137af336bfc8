// Fuzzes parse_config() (common/config.h): any bytes as a config file. A bad config must be
// an lv::Error (exit 2) naming the file; anything else escaping (a yaml-cpp or std exception),
// a crash or a sanitizer report is a bug. A config that is accepted keeps its promises.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "config.h"
#include "error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::filesystem::path file = "/fuzz/config.yaml";
  lv::Config c;
  try {
    c = lv::parse_config(text, file);
  } catch (const lv::Error& e) {
    if (e.code() != lv::ExitCode::usage) lv::fuzz::broken("a config error that is not a usage error");
    if (std::string(e.what()).rfind(file.string(), 0) != 0) lv::fuzz::broken("a config error not naming the file");
    return 0;
  }
  if (c.input.images.empty()) lv::fuzz::broken("accepted without input.images");
  for (double v : {c.verification.correct_threshold, c.verification.mislabel_threshold, c.verification.iou_threshold,
                   c.verification.missing_threshold, c.model.nms_iou, c.model.conf_threshold})
    if (!(v >= 0.0 && v <= 1.0)) lv::fuzz::broken("a threshold outside [0, 1]");
  for (double v : {c.orchestrator.stall_timeout_s, c.orchestrator.stop_grace_s, c.orchestrator.status_interval_s,
                   c.model.crop_margin})
    if (!std::isfinite(v) || v < 0) lv::fuzz::broken("a time or margin that is not a finite number >= 0");
  if (c.processing.batch_size < 1) lv::fuzz::broken("batch_size below 1");
  for (const auto* names : {&c.input.classes, &c.model.class_names})
    if (std::set<std::string>(names->begin(), names->end()).size() != names->size())
      lv::fuzz::broken("a class name accepted twice");
  return 0;
}
