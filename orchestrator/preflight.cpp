#include "preflight.h"

#include <zip.h>

#include <algorithm>
#include <memory>
#include <set>
#include <system_error>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "class_map.h"
#include "error.h"
#include "export_metadata.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_entry(zip_t* archive, zip_uint64_t index, const fs::path& model, const std::string& name) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(archive, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    throw Error(ExitCode::model_load, fmt::format("{}: model.path: cannot read '{}' in the archive", model.string(), name));
  // A class-name file is a few KB; a huge one is not ours to read into memory.
  if (st.size > (16u << 20)) return {};
  std::unique_ptr<zip_file_t, decltype(&zip_fclose)> file(zip_fopen_index(archive, index, 0), &zip_fclose);
  if (!file) throw Error(ExitCode::model_load, fmt::format("{}: model.path: cannot open '{}' in the archive", model.string(), name));
  std::string text(st.size, '\0');
  const zip_int64_t got = zip_fread(file.get(), text.data(), st.size);
  if (got < 0 || static_cast<zip_uint64_t>(got) != st.size)
    throw Error(ExitCode::model_load, fmt::format("{}: model.path: '{}' in the archive is truncated", model.string(), name));
  return text;
}

}  // namespace

std::string model_archive_config_text(const fs::path& model) {
  std::error_code ec;
  const auto status = fs::status(model, ec);
  if (ec || !fs::exists(status))
    throw Error(ExitCode::model_load, fmt::format("{}: model.path: file not found", model.string()));
  if (!fs::is_regular_file(status))
    throw Error(ExitCode::model_load, fmt::format("{}: model.path: not a regular file", model.string()));
  int err = 0;
  std::unique_ptr<zip_t, ZipCloser> archive(zip_open(model.c_str(), ZIP_RDONLY, &err));
  if (!archive) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    const std::string why = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    if (err == ZIP_ER_OPEN || err == ZIP_ER_READ)
      throw Error(ExitCode::model_load, fmt::format("{}: model.path: cannot read: {}", model.string(), why));
    throw Error(ExitCode::model_load,
                fmt::format("{}: model.path: not a TorchScript file (torch.jit.save writes a zip archive; this is "
                            "not one: {})",
                            model.string(), why));
  }
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  bool has_data = false;
  std::optional<zip_uint64_t> config_entry;
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* name = zip_get_name(archive.get(), static_cast<zip_uint64_t>(i), 0);
    if (!name) continue;
    const std::string n = name;
    if (ends_with(n, "/data.pkl") || n == "data.pkl") has_data = true;
    if (ends_with(n, "/extra/config.txt")) config_entry = static_cast<zip_uint64_t>(i);
  }
  if (!has_data)
    throw Error(ExitCode::model_load,
                fmt::format("{}: model.path: a zip archive but not a TorchScript model (no data.pkl)", model.string()));
  if (!config_entry) return {};
  return read_entry(archive.get(), *config_entry, model, "extra/config.txt");
}

std::vector<std::string> model_archive_class_names(const fs::path& model) {
  return class_names_from_model_config(model_archive_config_text(model));
}

PreflightFindings check_model_and_classes(const Config& config) {
  PreflightFindings findings;
  if (config.model.type == ModelType::text && config.model.tokenizer == Tokenizer::wordpiece) {
    // Its contents ([PAD] [UNK] [CLS] [SEP], one token a line) are the workers' to check; a
    // missing file is caught here, before they all start and fail the same way.
    std::error_code ec;
    const fs::file_status st = fs::status(config.model.vocab, ec);
    if (!fs::is_regular_file(st))
      throw usage_error(fmt::format("{}: model.vocab: {} '{}'", config.file.string(),
                                    fs::exists(st) ? "not a regular file" : "file not found",
                                    config.model.vocab.string()));
  }
  std::vector<std::string> model_names = config.model.class_names;
  if (!config.model.path.empty()) {
    const std::string config_txt = model_archive_config_text(config.model.path);
    // An input size the export does not take fails every worker at load: say so before any starts.
    if (config.model.type != ModelType::text) resolve_input_size(config, parse_export_metadata(config_txt, config.model.path));
    if (model_names.empty()) model_names = class_names_from_model_config(config_txt);
  }
  // An embedding model has no classes to check.
  if (config.task == Task::embed) return findings;
  if (config.input.classes.empty() && config.input.classes_file.empty()) return findings;
  const std::vector<std::string> dataset = dataset_class_names(config);
  if (model_names.empty()) return findings;  // the worker uses the dataset's own names
  const ClassMap map = build_class_map(dataset, model_names, config.model.aliases);
  std::set<int> judged(map.model_to_dataset.begin(), map.model_to_dataset.end());
  for (size_t d = 0; d < dataset.size(); ++d)
    if (!judged.count(static_cast<int>(d))) findings.unjudgeable_classes.push_back(dataset[d]);
  if (findings.unjudgeable_classes.size() == dataset.size()) {
    const auto shown = [](const std::vector<std::string>& names) {
      if (names.size() <= 12) return fmt::format("{}", fmt::join(names, ", "));
      return fmt::format("{}, ... ({} in all)", fmt::join(names.begin(), names.begin() + 12, ", "), names.size());
    };
    throw usage_error(fmt::format(
        "{}: no dataset class can be judged by the model: model classes are [{}], dataset classes are [{}]. Map them "
        "with model.aliases ({{dataset name: model name}}) or set model.class_names",
        config.file.string(), shown(model_names), shown(dataset)));
  }
  return findings;
}

std::vector<fs::path> scanned_roots(const Config& config) {
  if (!config.input.image_folders.empty()) return config.input.image_folders;
  std::error_code ec;
  if (fs::is_directory(input_path(config), ec)) return {input_path(config)};
  return {};
}

bool lies_inside(const fs::path& path, const fs::path& root) {
  // Resolve the longest existing prefix of `path` through symlinks, then append the rest.
  const auto resolve = [](const fs::path& p) {
    fs::path existing = fs::absolute(p).lexically_normal();
    fs::path rest;
    std::error_code ec;
    while (!existing.empty() && !fs::exists(existing, ec) && existing != existing.root_path()) {
      rest = existing.filename() / rest;
      existing = existing.parent_path();
    }
    const fs::path canon = fs::canonical(existing, ec);
    return ((ec ? existing : canon) / rest).lexically_normal();
  };
  const fs::path p = resolve(path), r = resolve(root);
  auto pi = p.begin(), ri = r.begin();
  for (; ri != r.end() && pi != p.end(); ++ri, ++pi) {
    if (ri->empty()) continue;  // a trailing separator
    if (*ri != *pi) return false;
  }
  return ri == r.end() || (std::next(ri) == r.end() && ri->empty());
}

uint64_t estimate_output_bytes(const Config& config, const ItemList& items, size_t sample) {
  if (items.items.empty()) return 0;
  std::error_code ec;
  if (!config.input.documents.empty() && fs::is_regular_file(config.input.documents, ec)) {
    // Every document comes out twice: in its verdict's .jsonl and in documents_corrected.jsonl.
    const uintmax_t size = fs::file_size(config.input.documents, ec);
    return ec ? 0 : 2 * static_cast<uint64_t>(size);
  }
  if (config.output.link_mode == LinkMode::hardlink) return 0;
  const size_t n = items.items.size();
  const size_t take = std::min(n, std::max<size_t>(1, sample));
  uint64_t bytes = 0;
  for (size_t k = 0; k < take; ++k) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(items.root / items.items[k * n / take], ec);
    if (!ec) bytes += size;
  }
  return static_cast<uint64_t>(static_cast<double>(bytes) * static_cast<double>(n) / static_cast<double>(take));
}

}  // namespace lv
