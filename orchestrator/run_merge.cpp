#include "run_merge.h"

#include <fstream>

#include <fmt/core.h>

#include "atomic_file.h"
#include "error.h"
#include "item_list.h"
#include "report.h"
#include "shard_plan.h"

namespace lv {

namespace fs = std::filesystem;
using nlohmann::json;

RunMergeResult merge_run(const RunState& state, const fs::path& work_dir, bool keep_gpu_outputs) {
  RunMergeResult result;
  const std::vector<std::string> items = read_lines(work_dir / kItemsFile);
  if (static_cast<int64_t>(items.size()) != state.item_count)
    throw Error(ExitCode::failed, fmt::format("{}: holds {} items but the plan has {}",
                                              (work_dir / kItemsFile).string(), items.size(), state.item_count));

  // Files first: a collision must stop us before the report claims anything.
  std::vector<TreeSource> trees;
  for (const auto& s : state.shards) {
    const fs::path dir = shard_output_dir(state.output_dir, s.index);
    std::error_code ec;
    if (s.status == ShardStatus::succeeded && fs::is_directory(dir, ec)) trees.push_back({s.index, dir});
  }
  fs::create_directories(state.output_dir);
  result.files = merge_trees(trees, state.output_dir, keep_gpu_outputs ? TreeMergeMode::link : TreeMergeMode::move,
                             work_dir / "merge");

  // Reports: streamed from each succeeded shard's journal (one record a line), so a
  // million-image merge holds offsets, not records.
  std::vector<std::unique_ptr<RecordLines>> sources;
  std::vector<ReportPart> parts;
  std::vector<ShardSummary> summaries;
  bool trees_present = false, all_succeeded = true;
  for (const auto& s : state.shards) {
    const fs::path dir = shard_output_dir(state.output_dir, s.index);
    ReportPart part{s.index, s.begin, s.end, nullptr, true};
    if (s.status == ShardStatus::succeeded) {
      sources.push_back(journal_lines(dir / kJournalFileName));
      part.records = sources.back().get();
    } else {
      all_succeeded = false;
    }
    std::error_code ec;
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
    summary.seconds = s.seconds;
    summary.log = (work_dir / log_file(s.index)).string();
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
  // A fixed temporary name: an orchestrator killed while writing leaves one, which the next
  // merge replaces, never a stray file in output/ (one merge at a time: the run lock).
  write_file_atomic(
      merged_file,
      [&](std::ostream& out) { result.report = stream_report(out, items, parts, merged_header(summaries, "orchestrator")); },
      TemporaryName::fixed);
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
