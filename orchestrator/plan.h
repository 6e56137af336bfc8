#pragma once
/// Planning a run (fresh, or a retry of an earlier plan) into a RunState.
#include <filesystem>
#include <string>
#include <vector>

#include "config.h"
#include "devices.h"
#include "item_list.h"
#include "run_state.h"

namespace lv {

/// The run's items: list_items() of input.images, or for input.documents the documents of the
/// corpus (list_documents(): "<line>:<byte offset>" of each record of a .jsonl/.tsv/.csv,
/// streamed, or the .txt files of a folder), with the entries refused and why.
ItemList list_input(const Config& config);

/// What the items are, for messages: "images" or "documents".
const char* item_noun(const Config& config);

/// A fresh plan: one contiguous shard per device (fewer when there are fewer items).
RunState make_plan(const Config& config, const std::string& config_text, const ItemList& items,
                   const std::vector<DeviceSlot>& devices, const std::filesystem::path& output_dir,
                   const std::filesystem::path& worker);

/// Writes `<work>/items.txt` and `<work>/splits/split_NN.txt` for a plan, removing the splits
/// and merge manifests of an earlier plan.
void write_plan_files(const std::filesystem::path& work_dir, const RunState& state, const ItemList& items);

/// For --retry-failed: "" when the config and item list are those of the plan, else what
/// changed, in words a user can act on.
std::string plan_mismatch(const RunState& state, const std::string& config_text, const ItemList& items);

/// Shards to run again: with `shards_arg` empty, those not succeeded; else the listed indices
/// (lv::Error exit 2 for a bad list or an index out of range).
std::vector<int> select_shards(const RunState& state, const std::string& shards_arg);

/// Moves `selected` shards onto `devices`, in order, cycling when there are fewer devices.
void assign_devices(RunState& state, const std::vector<int>& selected, const std::vector<DeviceSlot>& devices);

/// Moves the `selected` shards whose device is quarantined (RunState::quarantined) onto the
/// plan's other devices, in turn; returns the shards moved (none when no device is left).
std::vector<int> move_off_quarantined(RunState& state, const std::vector<int>& selected);

/// The content hash of an item list (the plan's fingerprint of the input).
std::string items_hash(const ItemList& items);

}  // namespace lv
