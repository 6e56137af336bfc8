#include "export_metadata.h"

#include <algorithm>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "error.h"
#include "failure_marks.h"

namespace lv {

namespace {

using nlohmann::json;

[[noreturn]] void bad_key(const std::filesystem::path& model, const std::string& key, const char* expected,
                          const json& got) {
  throw Error(ExitCode::model_load, fmt::format("{}: config.txt (the export's metadata): {}: expected {}, got {}",
                                                model.string(), key, expected, got.dump()));
}

/// A positive integer that fits an int, or 0 when `v` is not one.
int positive_int(const json& v) {
  if (!v.is_number_integer()) return 0;
  const auto n = v.get<int64_t>();
  return n > 0 && n <= (1 << 20) ? static_cast<int>(n) : 0;
}

}  // namespace

ExportMetadata parse_export_metadata(std::string_view json_text, const std::filesystem::path& model) {
  ExportMetadata meta;
  const json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return meta;
  if (const auto it = j.find("imgsz"); it != j.end()) {
    const json& v = *it;
    if (v.is_array() && (v.size() == 1 || v.size() == 2)) {
      meta.imgsz_h = positive_int(v.front());
      meta.imgsz_w = positive_int(v.back());
    } else {
      meta.imgsz_h = meta.imgsz_w = positive_int(v);
    }
    if (meta.imgsz_h == 0 || meta.imgsz_w == 0)
      bad_key(model, "imgsz", "a positive integer or [height, width]", v);
  }
  const json* args = nullptr;
  if (const auto it = j.find("args"); it != j.end() && it->is_object()) args = &*it;
  // The top-level batch is what the export was made with; args.batch repeats it in newer versions.
  for (const auto& [where, key] : {std::pair{&j, "batch"}, std::pair{args, "batch"}}) {
    if (!where || meta.batch > 0) continue;
    if (const auto it = where->find(key); it != where->end()) {
      meta.batch = positive_int(*it);
      if (meta.batch == 0) bad_key(model, where == args ? "args.batch" : "batch", "a positive integer", *it);
    }
  }
  if (args) {
    for (const auto& [key, out] : {std::pair{"dynamic", &meta.dynamic}, std::pair{"half", &meta.half}}) {
      const auto it = args->find(key);
      if (it == args->end() || it->is_null()) continue;
      if (!it->is_boolean()) bad_key(model, fmt::format("args.{}", key), "true or false", *it);
      *out = it->get<bool>();
    }
  }
  return meta;
}

std::string describe_imgsz(const ExportMetadata& meta) {
  return meta.imgsz_h == meta.imgsz_w ? std::to_string(meta.imgsz_h)
                                      : fmt::format("[{}, {}] (height, width)", meta.imgsz_h, meta.imgsz_w);
}

int resolve_input_size(const Config& config, const ExportMetadata& meta) {
  const bool given = config.model.input_size_line > 0;
  const int size = config.model.input_size;
  if (!meta.has_imgsz() || meta.dynamic) {
    // A dynamic export takes any size: the config's when given, else the one it was made for.
    if (given || !meta.has_imgsz()) return size;
    return std::max(meta.imgsz_h, meta.imgsz_w);
  }
  const std::string model = config.model.path.string();
  if (meta.imgsz_h != meta.imgsz_w)
    throw Error(ExitCode::model_load,
                fmt::format("{}: {}: the model was exported for a non-square input, imgsz {}, and takes no other "
                            "size; images are letterboxed into a square input: export it again with a square imgsz "
                            "(imgsz={}) or with dynamic=True",
                            model, kModelConfigMismatch, describe_imgsz(meta), std::max(meta.imgsz_h, meta.imgsz_w)));
  if (given && size != meta.imgsz_h)
    throw usage_error(fmt::format("{}:{}: model.input_size: {}: the config says {}, but the model {} was exported for "
                                  "imgsz {} (its config.txt) and takes no other size: leave model.input_size out (the "
                                  "model's imgsz is the default) or set it to {}, or export the model with "
                                  "dynamic=True",
                                  config.file.string(), config.model.input_size_line, kModelConfigMismatch, size,
                                  model, meta.imgsz_h, meta.imgsz_h));
  return meta.imgsz_h;
}

}  // namespace lv
