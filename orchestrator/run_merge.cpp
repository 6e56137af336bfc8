#include "run_merge.h"

#include <fmt/core.h>

#include "atomic_file.h"
#include "error.h"
#include "item_list.h"
#include "report.h"
#include "shard_plan.h"

namespace lv {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<json> read_report(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  try {
    return json::parse(read_file(file));
  } catch (const json::exception& e) {
    throw Error(ExitCode::failed, fmt::format("{}: not a valid report: {}", file.string(), e.what()));
  }
}

}  // namespace

RunMergeResult merge_run(const RunState& state, const fs::path& work_dir, bool keep_gpu_outputs) {
  RunMergeResult result;
  const std::vector<std::string> items = read_lines(work_dir / kItemsFile);
  if (static_cast<int64_t>(items.size()) != state.item_count)
    throw Error(ExitCode::failed, fmt::format("{}: holds {} items but the plan has {}",
                                              (work_dir / kItemsFile).string(), items.size(), state.item_count));

  // Files first: a collision must stop us before the report claims anything.
  std::vector<TreeSource> sources;
  for (const auto& s : state.shards) {
    const fs::path dir = shard_output_dir(state.output_dir, s.index);
    std::error_code ec;
    if (s.status == ShardStatus::succeeded && fs::is_directory(dir, ec)) sources.push_back({s.index, dir});
  }
  fs::create_directories(state.output_dir);
  result.files = merge_trees(sources, state.output_dir, keep_gpu_outputs ? TreeMergeMode::link : TreeMergeMode::move,
                             work_dir / "merge");

  // Reports: each succeeded shard's own; if its tree is already gone (an earlier complete
  // merge removed it), its records come from the merged report written then.
  const fs::path merged_file = state.output_dir / kReportFileName;
  std::optional<json> previous;
  bool previous_loaded = false;
  std::vector<ShardItems> ranges;
  std::vector<std::optional<json>> reports;
  std::vector<ShardSummary> summaries;
  for (const auto& s : state.shards) {
    ranges.push_back({s.index, s.begin, s.end});
    std::optional<json> report;
    if (s.status == ShardStatus::succeeded) {
      report = read_report(shard_output_dir(state.output_dir, s.index) / kReportFileName);
      if (!report) {
        if (!previous_loaded) {
          previous = read_report(merged_file);
          previous_loaded = true;
        }
        if (previous) {
          json images = json::array();
          for (const auto& image : previous->at("images"))
            if (image.value("shard", -1) == s.index) images.push_back(image);
          report = json{{"images", std::move(images)}};
        } else {
          throw Error(ExitCode::failed,
                      fmt::format("shard {} succeeded but neither {} nor {} exists: its results are gone; run it "
                                  "again with --shards {}",
                                  s.index, (shard_output_dir(state.output_dir, s.index) / kReportFileName).string(),
                                  merged_file.string(), s.index));
        }
      }
    }
    reports.push_back(std::move(report));
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
  result.report = merge_reports(items, ranges, std::move(reports), summaries, "orchestrator");
  write_file_atomic(merged_file, result.report.dump(1) + "\n");
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
