#include "run_merge.h"

#include <fstream>
#include <map>

#include <fmt/core.h>

#include "atomic_file.h"
#include "error.h"
#include "byte_text.h"
#include "item_list.h"
#include "npy.h"
#include "report.h"
#include "shard_plan.h"

namespace lv {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Header fields of a shard report that describe that shard alone, not the run.
bool is_shard_only_field(const std::string& key) {
  return key == "schema_version" || key == "tool" || key == "status" || key == "shard" || key == "seconds" ||
         key == "items_per_s" || key == "unprocessed_count";
}

}  // namespace

int64_t concat_shard_files(const RunState& state, const fs::path& dest) {
  // Relative paths under any succeeded shard's concat/ folder, each with its shards in order.
  std::map<std::string, std::vector<fs::path>> files;
  for (const ShardState* shard : in_input_order(state)) {
    const ShardState& s = *shard;
    if (s.status != ShardStatus::succeeded) continue;
    const fs::path dir = shard_output_dir(state.output_dir, s.index) / kConcatDirName;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_directory()) continue;
      if (!it->is_regular_file() || it->is_symlink())
        throw Error(ExitCode::failed, fmt::format("{}: not a regular file; cannot be concatenated",
                                                  printable(it->path().string())));
      if (is_temporary_name(it->path().filename().native())) continue;
      files[it->path().lexically_relative(dir).generic_string()].push_back(it->path());
    }
  }
  for (const auto& [rel, inputs] : files) {
    const fs::path target = dest / rel;
    fs::create_directories(target.parent_path());
    if (target.extension() == ".npy") {
      concat_npy(inputs, target);
      continue;
    }
    write_file_atomic(
        target,
        [&](std::ostream& out) {
          for (const fs::path& input : inputs) {
            std::ifstream in(input, std::ios::binary);
            if (!in) throw Error(ExitCode::failed, fmt::format("{}: cannot read", printable(input.string())));
            if (in.peek() != std::ifstream::traits_type::eof()) out << in.rdbuf();
            if (!out) throw Error(ExitCode::failed, fmt::format("{}: write failed", printable(target.string())));
          }
        },
        TemporaryName::fixed);
  }
  return static_cast<int64_t>(files.size());
}

RunMergeResult merge_run(const RunState& state, const fs::path& work_dir, bool keep_gpu_outputs) {
  RunMergeResult result;
  const std::vector<std::string> items = read_lines(work_dir / kItemsFile);
  if (static_cast<int64_t>(items.size()) != state.item_count)
    throw Error(ExitCode::failed, fmt::format("{}: holds {} items but the plan has {}",
                                              (work_dir / kItemsFile).string(), items.size(), state.item_count));

  // Files first: a collision must stop us before the report claims anything.
  // In input order: shards split off by balancing come after the others in the state.
  const std::vector<const ShardState*> ordered = in_input_order(state);
  std::vector<TreeSource> trees;
  for (const ShardState* shard : ordered) {
    const ShardState& s = *shard;
    const fs::path dir = shard_output_dir(state.output_dir, s.index);
    std::error_code ec;
    if (s.status == ShardStatus::succeeded && fs::is_directory(dir, ec)) trees.push_back({s.index, dir});
  }
  fs::create_directories(state.output_dir);
  result.files = merge_trees(trees, state.output_dir, keep_gpu_outputs ? TreeMergeMode::link : TreeMergeMode::move,
                             work_dir / "merge");

  // Reports: records streamed from each succeeded shard's journal (one record a line), so a
  // million-item merge holds offsets, not records; counts added up from the shard reports'
  // headers, whatever the worker counts.
  std::vector<std::unique_ptr<RecordLines>> sources;
  std::vector<ReportPart> parts;
  std::vector<ShardSummary> summaries;
  ReportLayout layout;  // no counter: the parts' counts are added
  json carried = json::object();
  bool trees_present = false, all_succeeded = true;
  for (const ShardState* shard : ordered) {
    const ShardState& s = *shard;
    const fs::path dir = shard_output_dir(state.output_dir, s.index);
    ReportPart part{s.index, s.begin, s.end, nullptr, true, json::object()};
    std::error_code ec;
    if (s.status == ShardStatus::succeeded && fs::exists(dir / kReportFileName, ec)) {
      std::string records_key;
      const json head = read_report_header(dir / kReportFileName, &records_key);
      layout.records_key = records_key;
      for (const auto& [key, value] : head.items()) {
        if (key == "summary" || key == "per_class") part.counts[key] = value;
        else if (!is_shard_only_field(key) && !carried.contains(key)) carried[key] = value;
      }
      sources.push_back(journal_lines(dir / kJournalFileName));
      part.records = sources.back().get();
    } else if (s.status != ShardStatus::succeeded) {
      all_succeeded = false;
    }
    // A succeeded shard whose tree holds no report (removed after an earlier complete merge,
    // or a worker that broke the protocol) adds no records: its items are unprocessed unless
    // that earlier merge is the result (below).
    if (fs::exists(dir / kJournalFileName, ec)) trees_present = true;
    parts.push_back(part);
    ShardSummary summary;
    summary.index = s.index;
    summary.device = s.device;
    summary.items = s.end - s.begin;
    summary.status = std::string(to_string(s.status));
    if (s.exit_code) summary.exit_code = *s.exit_code;
    else if (s.signal) summary.exit_code = 128 + *s.signal;
    summary.attempts = s.attempts;
    summary.batch_size = s.batch_size;
    summary.seconds = s.seconds;
    summary.log = (work_dir / shard_log(s)).string();
    summary.split_from = s.split_from;
    summaries.push_back(summary);
  }
  const fs::path merged_file = state.output_dir / kReportFileName;
  std::error_code ec;
  if (all_succeeded && !trees_present && fs::exists(merged_file, ec)) {
    // An earlier complete merge removed the shard trees: its report is the result.
    result.report = read_report_header(merged_file);
    result.complete = result.report.value("status", "") == "complete";
    result.already_merged = true;
    return result;
  }
  if (all_succeeded && !trees_present && !state.shards.empty())
    // Merging nothing would write a report calling every item unprocessed, as if no shard had
    // run: say what happened instead, and write nothing.
    throw Error(ExitCode::failed,
                fmt::format("nothing to merge: every shard succeeded, but their per-GPU trees were removed by the "
                            "complete merge into {} and its {} is gone (was the output dir deleted?). The results "
                            "are not recoverable from this work dir: run again with --restart",
                            state.output_dir.string(), kReportFileName));
  // A fixed temporary name: an orchestrator killed while writing leaves one, which the next
  // merge replaces, never a stray file in output/ (one merge at a time: the run lock).
  layout.unique_field = carried.value("unique_field", "");
  json header = merged_header(summaries, "orchestrator");
  if (!state.quarantined.empty()) header["quarantined_devices"] = state.quarantined;
  for (const auto& [key, value] : carried.items())
    if (!header.contains(key)) header[key] = value;
  write_file_atomic(
      merged_file, [&](std::ostream& out) { result.report = stream_report(out, items, parts, header, layout); },
      TemporaryName::fixed);
  result.concatenated = concat_shard_files(state, state.output_dir);
  result.complete = result.report.value("status", "") == "complete";

  if (result.complete && !keep_gpu_outputs) {
    for (const auto& s : state.shards) {
      std::error_code ec;
      fs::remove_all(shard_output_dir(state.output_dir, s.index), ec);
    }
    std::error_code ec;
    fs::remove_all(work_dir / "merge", ec);
    result.removed_shard_trees = true;
  }
  return result;
}

}  // namespace lv
