#pragma once
/// Merging the per-shard output trees `output_gpuN/` into `output/` (DESIGN §7): every file
/// goes to the same relative path, no file is ever overwritten by another shard's, and an
/// interrupted merge finishes when run again.
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace lv {

/// One shard's output tree.
struct TreeSource {
  int shard = 0;
  std::filesystem::path dir;  ///< e.g. "output_gpu2"
};

enum class TreeMergeMode {
  move,  ///< rename(2) into the destination: a folder no other source has and the destination
         ///< lacks moves whole, other files one by one; the sources are left without files
  link,  ///< hard-link each file, copying where links are impossible (other filesystem); the
         ///< source trees are left intact (--keep-gpu-outputs)
};
std::string_view to_string(TreeMergeMode mode);

struct TreeMergeStats {
  int64_t files = 0;            ///< files placed in the destination by this call
  int64_t already_present = 0;  ///< files found already merged (same inode or same bytes) and left
  int64_t copied = 0;           ///< of `files`: byte copies (link or rename across filesystems)
  int64_t replaced = 0;         ///< of `files`: replaced an older copy merged from the same shard
  int64_t dirs = 0;             ///< folders new in the destination (created, or moved there whole)
  int64_t temporaries_skipped = 0;  ///< leftover temporary files (is_temporary_name) not merged
};

/// Name of a shard tree's root entries that are not merged as files: the shard report, the
/// concat/ folder and hidden entries (the journal). The caller merges those itself.
bool merged_separately(std::string_view root_entry_name);

/// `<manifest_dir>/merged_shard_02.txt`: the relative paths merged from shard 2, one a line.
std::filesystem::path merge_manifest_file(const std::filesystem::path& manifest_dir, int shard);

/// Merges the `sources` trees into `dest` (created if missing). Files and folders at any depth
/// keep their relative path; at each source's root, entries for which merged_separately() holds
/// are skipped, and so are leftover temporary files at any depth (is_temporary_name(): a
/// writer killed between write and rename), counted in temporaries_skipped. Before anything moves, all sources are scanned: the same relative path produced
/// by two shards, a symbolic link or a special file in a source is an lv::Error naming the paths.
/// A destination file already there counts as already present when it is the source file
/// itself (same inode) or has the same bytes and was not merged from another shard; it is
/// replaced when the manifest shows it came from the same shard earlier; otherwise the merge
/// stops with an lv::Error naming the shard and both paths (files merged so far stay merged,
/// and running again after the cause is removed finishes the job).
/// Merged paths are appended to merge_manifest_file(manifest_dir, shard) as the merge proceeds
/// (after each file is placed, flushed per folder); the manifests belong to one plan, so a new
/// plan starts with an empty manifest_dir.
TreeMergeStats merge_trees(const std::vector<TreeSource>& sources, const std::filesystem::path& dest,
                           TreeMergeMode mode, const std::filesystem::path& manifest_dir);

}  // namespace lv
