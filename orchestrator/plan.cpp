#include "plan.h"

#include <algorithm>
#include <set>

#include <boost/algorithm/string.hpp>
#include <fmt/core.h>

#include "atomic_file.h"
#include "document_corpus.h"
#include "error.h"
#include "shard_plan.h"

namespace lv {

namespace fs = std::filesystem;

std::string items_hash(const ItemList& items) {
  const std::string lines = lines_hash(items.items);
  return items.content_fingerprint.empty() ? lines : content_hash(lines + " " + items.content_fingerprint);
}

namespace {

/// input.images given as a list of folders: each folder scanned, in the order given, its
/// items named from the folders' common root (config.input.images), one list in all.
ItemList list_image_folders(const Config& config) {
  ItemList all;
  all.root = config.input.images;
  for (size_t i = 0; i < config.input.image_folders.size(); ++i) {
    const fs::path& folder = config.input.image_folders[i];
    std::error_code ec;
    if (!fs::exists(folder, ec))
      throw Error(ExitCode::input_unreadable, fmt::format("{}: input.images[{}]: no such folder", folder.string(), i));
    if (!fs::is_directory(folder, ec))
      throw Error(ExitCode::input_unreadable,
                  fmt::format("{}: input.images[{}]: not a folder (a list of input.images names folders only)",
                              folder.string(), i));
    // The config compared the names; a symlink can still make two entries one folder.
    for (size_t k = 0; k < i; ++k) {
      const fs::path a = fs::canonical(folder, ec), b = fs::canonical(config.input.image_folders[k], ec);
      if (ec) break;
      const auto [end, rest] = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
      const auto [end2, rest2] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
      if (end == b.end() || end2 == a.end())
        throw Error(ExitCode::usage,
                    fmt::format("{}: input.images[{}] and input.images[{}] ({}) are the same folder or one holds the "
                                "other once links are followed ({} and {}): its images would be listed twice",
                                config.file.string(), i, k, config.input.image_folders[k].string(), a.string(),
                                b.string()));
    }
    ItemList one = scan_folder(folder, has_image_extension);
    const fs::path prefix = folder.lexically_relative(all.root);
    const auto named = [&](const std::string& item) {
      return prefix.empty() || prefix == "." ? item : (prefix / item).generic_string();
    };
    for (std::string& item : one.items) all.items.push_back(named(item));
    for (RejectedItem& r : one.rejected) {
      r.entry = named(r.entry);
      all.rejected.push_back(std::move(r));
    }
  }
  return all;
}

}  // namespace

ItemList list_input(const Config& config) {
  if (!config.input.image_folders.empty()) return list_image_folders(config);
  if (config.input.documents.empty()) return list_items(config.input.images, config.input.root);
  CorpusListing corpus = list_documents(config.input.documents);
  ItemList list;
  list.root = corpus.root;
  list.items = std::move(corpus.items);
  list.rejected = std::move(corpus.rejected);
  list.from_list_file = corpus.format != CorpusFormat::text_folder;
  if (list.from_list_file) list.content_fingerprint = file_content_hash(config.input.documents);
  return list;
}

const char* item_noun(const Config& config) { return config.input.documents.empty() ? "images" : "documents"; }

static void set_device(ShardState& s, const DeviceSlot& d) {
  s.device = d.label();
  s.is_gpu = d.is_gpu;
  s.device_index = d.index;
  s.cuda_visible_devices = d.cuda_visible_devices;
}

RunState make_plan(const Config& config, const std::string& config_text, const ItemList& items,
                   const std::vector<DeviceSlot>& devices, const fs::path& output_dir, const fs::path& worker) {
  RunState state;
  state.tool_version = LV_VERSION;
  state.config_path = config.file;
  state.config_hash = content_hash(config_text);
  state.input = input_path(config);
  state.items_hash = items_hash(items);
  state.item_count = static_cast<int64_t>(items.items.size());
  state.output_dir = output_dir;
  state.worker = worker;
  state.created_at = now_iso8601();
  const int count = static_cast<int>(std::min<size_t>(devices.size(), items.items.size()));
  for (const Shard& shard : plan_shards(state.item_count, count)) {
    ShardState s;
    s.index = shard.index;
    s.begin = shard.begin;
    s.end = shard.end;
    set_device(s, devices[static_cast<size_t>(shard.index)]);
    state.shards.push_back(s);
  }
  return state;
}

void write_plan_files(const fs::path& work_dir, const RunState& state, const ItemList& items) {
  // A new plan: splits and merge manifests of an earlier plan must not be mistaken for ours.
  fs::remove_all(work_dir / "splits");
  fs::remove_all(work_dir / "merge");
  fs::create_directories(work_dir / "splits");
  write_lines_atomic(work_dir / kItemsFile, items.items, 0, items.items.size());
  for (const auto& s : state.shards)
    write_lines_atomic(work_dir / split_file(s.index), items.items, static_cast<size_t>(s.begin),
                       static_cast<size_t>(s.end));
}

std::string plan_mismatch(const RunState& state, const std::string& config_text, const ItemList& items) {
  std::vector<std::string> problems;
  if (content_hash(config_text) != state.config_hash)
    problems.push_back(fmt::format("the config '{}' changed since the plan", state.config_path.string()));
  if (static_cast<int64_t>(items.items.size()) != state.item_count)
    problems.push_back(fmt::format("the input '{}' now lists {} items, the plan had {}", state.input.string(),
                                   items.items.size(), state.item_count));
  else if (items_hash(items) != state.items_hash)
    problems.push_back(fmt::format("the input '{}' lists different items than when the plan was made",
                                   state.input.string()));
  return boost::algorithm::join(problems, "; ");
}

std::vector<int> select_shards(const RunState& state, const std::string& shards_arg) {
  std::vector<int> selected;
  if (boost::algorithm::trim_copy(shards_arg).empty()) {
    for (const auto& s : state.shards)
      if (s.status != ShardStatus::succeeded) selected.push_back(s.index);
    return selected;
  }
  std::vector<std::string> parts;
  boost::algorithm::split(parts, shards_arg, boost::is_any_of(","));
  std::set<int> seen;
  for (std::string p : parts) {
    boost::algorithm::trim(p);
    int index = -1;
    try {
      size_t used = 0;
      index = std::stoi(p, &used);
      if (used != p.size()) index = -1;
    } catch (const std::exception&) {
      index = -1;
    }
    if (index < 0)
      throw usage_error(fmt::format("--shards '{}': '{}' is not a shard index (expected a list like 2 or 1,3)", shards_arg, p));
    if (index >= static_cast<int>(state.shards.size()))
      throw usage_error(fmt::format("--shards '{}': shard {} does not exist (the plan has shards 0 to {})", shards_arg,
                                    index, state.shards.size() - 1));
    if (seen.insert(index).second) selected.push_back(index);
  }
  return selected;
}

void assign_devices(RunState& state, const std::vector<int>& selected, const std::vector<DeviceSlot>& devices) {
  if (devices.empty()) return;
  size_t next = 0;
  for (int index : selected) set_device(state.shards.at(static_cast<size_t>(index)), devices[next++ % devices.size()]);
}

std::vector<int> move_off_quarantined(RunState& state, const std::vector<int>& selected) {
  const auto quarantined = [&](const std::string& device) {
    return std::find(state.quarantined.begin(), state.quarantined.end(), device) != state.quarantined.end();
  };
  std::vector<DeviceSlot> healthy;
  for (const auto& s : state.shards) {
    if (quarantined(s.device)) continue;
    const DeviceSlot slot{s.is_gpu, s.device_index, s.cuda_visible_devices, s.device};
    if (std::none_of(healthy.begin(), healthy.end(), [&](const DeviceSlot& d) { return d.label() == slot.label(); }))
      healthy.push_back(slot);
  }
  std::vector<int> moved;
  if (healthy.empty()) return moved;
  size_t next = 0;
  for (int index : selected) {
    ShardState& s = state.shards.at(static_cast<size_t>(index));
    if (!quarantined(s.device)) continue;
    set_device(s, healthy[next++ % healthy.size()]);
    moved.push_back(index);
  }
  return moved;
}

}  // namespace lv
