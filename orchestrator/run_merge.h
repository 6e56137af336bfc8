#pragma once
/// The end of a run: merge the succeeded shards' trees into output/ and their reports into
/// output/verification_report.json. Safe to run again (--merge-only) after an interruption.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_state.h"
#include "tree_merge.h"

namespace lv {

struct RunMergeResult {
  nlohmann::json report;         ///< the merged report's header (no images): status, summary, ...
  TreeMergeStats files;
  bool complete = false;         ///< every shard succeeded and every item is in the report
  bool removed_shard_trees = false;
  bool already_merged = false;   ///< nothing left to merge: an earlier merge completed
  int64_t concatenated = 0;      ///< files made from the shards' concat/ folders
};

/// Concatenates the files under each succeeded shard's `concat/` folder (kConcatDirName) in
/// shard order, which is input order, into `dest` at the same relative path, atomically:
/// `.npy` files as one array (rows added up; concat_npy, streamed), any other file byte by
/// byte. Leftover temporaries are skipped. Returns how many files were made. Throws lv::Error
/// naming the file that cannot be read, written or joined.
int64_t concat_shard_files(const RunState& state, const std::filesystem::path& dest);

/// Merges what the state says succeeded. Shard trees are moved when `keep_gpu_outputs` is
/// false and hard-linked (or copied) when true; after a complete merge without keep, the
/// output_gpuN/ trees are removed. Throws lv::Error on a collision or an unreadable report.
RunMergeResult merge_run(const RunState& state, const std::filesystem::path& work_dir, bool keep_gpu_outputs);

}  // namespace lv
