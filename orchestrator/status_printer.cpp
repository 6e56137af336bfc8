#include "status_printer.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <set>

#include <fmt/core.h>
#include <fmt/ranges.h>

namespace lv {

namespace {

int64_t count_of(const nlohmann::json& counts, const char* key) {
  const auto it = counts.find(key);
  return it != counts.end() && it->is_number() ? it->get<int64_t>() : 0;
}

/// The summary block in words: the image sentence users know for image reports, else each
/// counter as "name value" (a worker's own counters, whatever their names).
std::string summary_sentence(const nlohmann::json& counts) {
  if (counts.contains("total_images")) {
    const int64_t unlabeled = count_of(counts, "unlabeled");
    return fmt::format("{} images, {} boxes: {} correct, {} mislabeled, {} uncertain; {} missing label(s); {}{} image "
                       "error(s)",
                       count_of(counts, "total_images"), count_of(counts, "total_boxes"), count_of(counts, "correct"),
                       count_of(counts, "mislabeled"), count_of(counts, "uncertain"), count_of(counts, "missing"),
                       unlabeled ? fmt::format("{} image(s) without a label file; ", unlabeled) : std::string(),
                       count_of(counts, "errors"));
  }
  // Counters that are zero say nothing here (a verify run has no "embedded"); the report
  // keeps them all.
  std::vector<std::string> parts;
  for (const auto& [key, value] : counts.items()) {
    if (value.is_number() && value != 0) parts.push_back(fmt::format("{} {}", key, value.dump()));
    else if (value.is_string()) parts.push_back(fmt::format("{} {}", key, value.get<std::string>()));
  }
  return parts.empty() ? std::string("(no counts)") : fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace


namespace {

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

std::string format_bytes(uint64_t bytes) {
  const double gib = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
  if (gib >= 1) return fmt::format("{:.1f} GiB", gib);
  return fmt::format("{:.0f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

std::string how_it_ended(const ExitStatus& exit) { return exit.describe(); }

std::string format_notice(const Notice& n) {
  switch (n.kind) {
    case Notice::Kind::gpu_discovery: return fmt::format("warning: GPU discovery: {}", n.text);
    case Notice::Kind::device_fallback: return fmt::format("warning: {}", n.text);
    case Notice::Kind::rejected_inputs: {
      std::string text;
      for (const auto& line : n.names) text += fmt::format("warning: {}\n", line);
      return text + fmt::format("warning: {} input entr{} skipped; all listed in {}", n.count,
                                n.count == 1 ? "y" : "ies", n.path.string());
    }
    case Notice::Kind::unjudgeable_classes:
      return fmt::format(
          "warning: {} dataset class(es) can never be judged: no model class and no model.aliases entry maps to {}; "
          "their boxes will be 'uncertain' (label_class_not_in_model). Add aliases ({{dataset name: model name}}) "
          "to judge them.",
          n.names.size(), fmt::join(n.names, ", "));
    case Notice::Kind::low_disk_space:
      return fmt::format("warning: {} has {} free; the output tree may need about {} (images are copied: "
                         "output.link_mode: hardlink needs almost none)",
                         n.path.string(), format_bytes(n.bytes_free), format_bytes(n.bytes_needed));
    case Notice::Kind::config_keys_changed:
      if (!n.text.empty())
        return fmt::format("note: config changed since the plan in key(s) {}; no shard has produced results yet, so "
                           "the retry runs with the new config",
                           fmt::join(n.names, ", "));
      return fmt::format("note: config changed since the plan in key(s) that do not change results: {}; "
                         "the retried shards use the new values",
                         fmt::join(n.names, ", "));
    case Notice::Kind::restart_removes: {
      std::string text = "--restart: removing the earlier plan and what it produced:";
      for (const auto& p : n.paths) text += fmt::format("\n  {}", p.string());
      if (n.paths.empty()) text += " (nothing there)";
      return text;
    }
    case Notice::Kind::nothing_to_retry:
      return fmt::format("Nothing to retry: all {} shard(s) succeeded. Merging.", n.count);
    case Notice::Kind::no_shard_succeeded:
      return "No shard succeeded: nothing to merge; the output dir is left as it was.";
    case Notice::Kind::duplicate_values:
      return fmt::format("warning: {} {} value(s) are held by more than one item (\"duplicates\" in the report "
                         "lists the items): {}{}",
                         n.count, n.text, fmt::join(n.names, ", "),
                         n.count > static_cast<int64_t>(n.names.size()) ? ", ..." : "");
    case Notice::Kind::quarantined_devices:
      if (n.count == 0)
        return fmt::format("note: {} quarantined in the earlier run (failed twice), and no other device of the plan "
                           "is left: the shards run there again. Name devices in --gpus to choose",
                           fmt::join(n.names, ", "));
      return fmt::format("note: {} quarantined in the earlier run (failed twice); {} shard(s) moved to the other "
                         "devices. Name it in --gpus to use it again",
                         fmt::join(n.names, ", "), n.count);
    case Notice::Kind::review_not_written:
      return fmt::format("warning: the review page and issues.csv were not written ({}); the results and the report "
                         "stand. Fix it, then run --merge-only to write them",
                         n.text);
  }
  return n.text;
}

std::string format_follow_up(const FollowUp& f) {
  switch (f.kind) {
    case FollowUp::Kind::retry:
      return fmt::format("\nFix the cause, then retry the failed shards (they resume where they stopped):\n  {}",
                         f.command);
    case FollowUp::Kind::resume_interrupted: return fmt::format("Resume with:\n  {}", f.command);
    case FollowUp::Kind::merge_only: return fmt::format("Merge what succeeded so far:\n  {}", f.command);
    case FollowUp::Kind::finalize:
      return fmt::format("\nFix the cause, then finish the run (the merge and the worker's finalize pass again):\n  {}",
                         f.command);
    case FollowUp::Kind::restart:
      return fmt::format("Or discard this run's plan and partial outputs and start over:\n  {}", f.command);
    case FollowUp::Kind::move_shard:
      return fmt::format("If its GPU may be at fault, run the shard on a GPU that worked instead:\n  {}", f.command);
  }
  return f.command;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--";
  const long s = std::lround(seconds);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string format_status_line(const ShardView& v, bool color) {
  const int64_t total = v.total;
  const int64_t done = std::min(v.progress.done, total);
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  constexpr int kBar = 20;
  const int filled = static_cast<int>(frac * kBar);
  std::string bar = std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kBar - filled), '.');

  std::string state;
  const char* colour = "";
  switch (v.state) {
    case ShardView::State::starting: state = v.phase.empty() ? "starting" : fmt::format("starting: {}", v.phase); break;
    case ShardView::State::running:
      state = fmt::format("{:.1f} it/s  ETA {}", v.rate,
                          v.rate > 0 ? format_duration(static_cast<double>(total - done) / v.rate) : "--");
      if (v.gpu)
        state += fmt::format("  GPU {}%  mem {:.1f}/{:.0f} GB", v.gpu->util_percent, v.gpu->mem_used_mib / 1024.0,
                             v.gpu->mem_total_mib / 1024.0);
      break;
    case ShardView::State::stopping: state = "stopping"; break;
    case ShardView::State::done:
      state = fmt::format("done in {}", format_duration(v.seconds));
      colour = "\033[32m";
      break;
    case ShardView::State::failed:
      state = fmt::format("FAILED ({})", to_string(v.failure));
      colour = "\033[31m";
      break;
    case ShardView::State::interrupted:
      state = "interrupted";
      colour = "\033[33m";
      break;
    case ShardView::State::pending: state = "pending"; break;
  }
  const std::string failed = v.progress.failed > 0 ? fmt::format("  item errors={}", v.progress.failed) : "";
  const std::string line = fmt::format("{:<7} [{}] {:5.1f}%  {}/{}  {}{}", v.device, bar, frac * 100.0, done, total,
                                       state, failed);
  if (color && *colour) return fmt::format("{}{}\033[0m", colour, line);
  return line;
}

std::string format_throughput(const Throughput& t) {
  std::vector<const DeviceThroughput*> used;
  for (const auto& d : t.devices)
    if (d.busy_s > 0) used.push_back(&d);
  if (used.empty() || t.wall_s <= 0) return "";
  std::vector<double> rates;
  std::vector<std::string> per;
  for (const DeviceThroughput* d : used) {
    rates.push_back(static_cast<double>(d->items) / d->busy_s);
    std::string util = d->busy_samples > 0 ? fmt::format(", GPU {:.0f}%", d->mean_util) : "";
    per.push_back(fmt::format("{} {:.1f}/s (busy {:.0f}%{})", d->device, rates.back(),
                              100.0 * std::min(1.0, d->busy_s / t.wall_s), util));
  }
  std::vector<double> sorted = rates;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const double overall = static_cast<double>(t.items) / t.wall_s;
  std::string text = fmt::format("Throughput: {} items in {} ({:.1f} items/s); {}", t.items, format_duration(t.wall_s),
                                 overall, fmt::join(per, ", "));
  if (used.size() > 1 && median > 0)
    text += fmt::format("\nEfficiency {:.2f}: {:.1f} items/s against {} x {:.1f} (the median device's rate)",
                        overall / (median * static_cast<double>(used.size())), overall, used.size(), median);
  for (const DeviceThroughput* d : used) {
    if (d->busy_samples >= 3 && d->mean_util < 50)
      text += fmt::format("\nhint: {} averaged {:.0f}% utilisation while its worker ran: the input side is the limit "
                          "(decoding, storage); raise processing.decode_threads or read from faster storage",
                          d->device, d->mean_util);
    if (d->mem_total_mib > 0 && d->peak_mem_mib >= 0.95 * static_cast<double>(d->mem_total_mib))
      text += fmt::format("\nhint: {} memory reached {:.1f} of {:.1f} GB: lower processing.batch_size if it runs out",
                          d->device, d->peak_mem_mib / 1024.0, d->mem_total_mib / 1024.0);
  }
  if (!t.sampling_problem.empty()) text += fmt::format("\n(no GPU utilisation figures: {})", t.sampling_problem);
  return text;
}

std::string format_event(const Event& event) {
  return std::visit(
      overloaded{
          [](const PlanReady& p) {
            std::string text;
            if (p.dry_run) {
              text = fmt::format("Plan: {} items from {} -> {} shard(s); output {}", p.items, p.input.string(), p.shards,
                                 p.output_dir.string());
              for (const auto& s : p.selected) {
                text += fmt::format("\n  shard {:>2}  {:<7} items {}..{} ({})  CUDA_VISIBLE_DEVICES={}", s.index,
                                    s.device, s.begin, s.end, s.end - s.begin,
                                    s.cuda_visible_devices.empty() ? "\"\"" : s.cuda_visible_devices);
                text += fmt::format("\n    {} > {} 2>&1", s.command, s.log.string());
              }
              return text;
            }
            return fmt::format("{} item(s) in {} shard(s); worker {}; logs: {}/gpuN.log", p.items_to_run,
                               p.selected.size(), p.worker.string(), p.work_dir.string());
          },
          [](const Notice& n) { return format_notice(n); },
          [](const ShardStarted& e) {
            if (!e.attached_to.empty())
              return fmt::format("shard {} ({}): following Slurm task {} (attempt {}) — {} items, log {}", e.index,
                                 e.device, e.attached_to, e.attempt, e.items, e.log.string());
            return fmt::format("shard {} ({}): started{} — {} items{}, log {}", e.index, e.device,
                               e.attempt > 1 ? fmt::format(" (attempt {})", e.attempt) : "", e.items,
                               e.resume ? ", resuming from its journal" : "", e.log.string());
          },
          [](const ShardPhase&) { return std::string(); },
          [](const ShardProgress&) { return std::string(); },
          [](const ShardCouldNotStart& e) {
            return fmt::format("shard {} ({}) could not start: {}", e.index, e.device, e.why);
          },
          [](const ShardStopping& e) {
            if (e.reason == StopReason::timed_out)
              return fmt::format("shard {}: exceeded --timeout {:.0f} s; stopping it", e.index, e.limit_s);
            if (e.starting)
              return fmt::format("shard {}: no sign of life for {:.0f} s while starting "
                                 "(orchestrator.startup_timeout_s); stopping it",
                                 e.index, e.limit_s);
            return fmt::format("shard {}: no progress for {:.0f} s (stall_timeout_s); stopping it", e.index,
                               e.limit_s);
          },
          [](const ShardKilled& e) {
            return fmt::format("shard {}: still running {:.0f} s after SIGTERM; sent SIGKILL", e.index, e.grace_s);
          },
          [](const ShardSplitting& e) {
            return fmt::format("balancing: {} GPU(s)/worker(s) idle while shard {} ({}) has ~{:.0f} s left; stopping "
                               "it to split what it has not started",
                               e.idle, e.index, e.device, e.remaining_s);
          },
          [](const ShardSplit& e) {
            if (e.added.empty())
              return fmt::format("balancing: shard {} ({}) resumes unsplit: {}", e.index, e.device, e.why);
            std::vector<std::string> parts;
            for (const auto& a : e.added)
              parts.push_back(fmt::format("shard {} ({}) items {}..{}", a.index, a.device, a.begin, a.end));
            return fmt::format("balancing: shard {} ({}) keeps items {}..{}; split off: {}", e.index, e.device, e.begin,
                               e.end, fmt::join(parts, ", "));
          },
          [](const GpuSampled&) { return std::string(); },
          [](const AutoBatch& a) {
            if (a.batch)
              return fmt::format("auto-batch: {} ({}): batch size {} (log {})", a.model, fmt::join(a.devices, ", "),
                                 *a.batch, a.log.string());
            return fmt::format("warning: auto-batch: the batch-size finder failed for {} ({}): {}; they keep "
                               "the batch size they had (processing.batch_size, or an earlier pick). Log: {}",
                               a.model, fmt::join(a.devices, ", "), a.problem, a.log.string());
          },
          [](const Throughput& t) { return format_throughput(t); },
          [](const GpuQuarantined& e) {
            return fmt::format(
                "{} quarantined: {} failures in this run (the last: {}); it gets no more work{}", e.device, e.failures,
                to_string(e.kind),
                !e.healthy_left ? "; no healthy GPU is left, so its shards stay failed"
                : e.moved.empty() ? std::string()
                                  : fmt::format("; shard(s) {} move to the other GPUs", fmt::join(e.moved, ", ")));
          },
          [](const ShardBlamed& e) {
            return fmt::format("shard {} failed the same way on {}: the shard is the cause, not the GPUs{}", e.index,
                               fmt::join(e.devices, " and "),
                               e.restored.empty() ? std::string()
                                                  : fmt::format("; {} back in service", fmt::join(e.restored, ", ")));
          },
          [](const ShardRetrying& e) {
            if (e.batch_size)
              return fmt::format("shard {} ({}): {} at processing.batch_size {}; retrying at {}, resuming from its "
                                 "journal",
                                 e.index, e.device, to_string(e.kind), e.batch_size->first, e.batch_size->second);
            return fmt::format("shard {} ({}): failed ({}, {}); retrying, resuming from its journal (retry {} of {})",
                               e.index, e.device, how_it_ended(e.exit), to_string(e.kind), e.retry, e.max_retries);
          },
          [](const ShardFailed& e) {
            return fmt::format("shard {} ({}): FAILED ({}, {})", e.index, e.device, how_it_ended(e.exit),
                               to_string(e.kind));
          },
          [](const ShardStopped& e) {
            return fmt::format("shard {} ({}): stopped ({})", e.index, e.device, how_it_ended(e.exit));
          },
          [](const ShardDone& e) {
            if (e.attempts > 1)
              return fmt::format("shard {} ({}): done, {} items; this attempt {:.1f} s, {:.1f} s over {} attempts",
                                 e.index, e.device, e.items, e.seconds, e.total_seconds, e.attempts);
            return fmt::format("shard {} ({}): done, {} items in {:.1f} s", e.index, e.device, e.items, e.seconds);
          },
          [](const InterruptRequested& e) {
            const char* what = e.signal == SIGINT ? "Ctrl-C" : "SIGTERM";
            return e.again ? fmt::format("{} again: killing all workers now", what)
                           : fmt::format("{}: stopping all workers (again to kill at once)", what);
          },
          [](const MergeDone& m) {
            if (m.already_merged) return fmt::format("Already merged into {}", m.output_dir.string());
            return fmt::format(
                "Merged {} file(s){} into {}{}{}{}", m.files,
                m.concatenated ? fmt::format(" and joined {} per-shard file(s) in input order", m.concatenated) : "",
                m.output_dir.string(),
                m.already_present ? fmt::format(" ({} already there)", m.already_present) : "",
                m.temporaries_skipped ? fmt::format(" ({} stray temporary file(s) left out)", m.temporaries_skipped) : "",
                m.removed_shard_trees ? "; per-GPU trees removed (keep them with --keep-gpu-outputs)" : "");
          },
          [](const Finalized& f) {
            if (f.exit.ok()) return fmt::format("Finalized the verdicts (worker --finalize); log: {}", f.log.string());
            if (f.exit.interrupted())
              return fmt::format("\nInterrupted: the worker's finalize pass stopped ({}); the report holds the "
                                 "shards' own verdicts until it runs again. Log: {}",
                                 how_it_ended(f.exit), f.log.string());
            std::string text = fmt::format("\nFAILED: the worker's finalize pass ended with {}; the report holds the "
                                           "shards' own verdicts until it succeeds. Log: {}",
                                           how_it_ended(f.exit), f.log.string());
            for (const auto& line : f.tail) text += "\n  | " + line;
            return text;
          },
          [](const Summary& s) {
            std::string text = "\nSummary: " + summary_sentence(s.counts);
            if (s.unprocessed > 0)
              text += fmt::format("\nNot processed: {} item(s) (report status: partial)", s.unprocessed);
            text += fmt::format("\nReport: {}", s.report.string());
            if (!s.review.empty())
              text += fmt::format("\nReview: {} ({} flagged box(es), ranked in {})", s.review.string(), s.flagged_boxes,
                                  s.issues.string());
            return text;
          },
          [](const FailureBlock& f) {
            const ExitStatus exit = f.exit.value_or(ExitStatus{});
            std::string text = fmt::format("\nFAILED shard {} ({}) {} ({}), {} attempt(s)", f.index, f.device,
                                           f.exit ? how_it_ended(*f.exit) : std::string("did not run"),
                                           to_string(f.kind), f.attempts);
            if (!f.detail.empty()) text += fmt::format("\n  {}", f.detail);
            if (f.device_quarantined)
              text += f.others_healthy
                          ? fmt::format("\n  {} was quarantined in this run: --retry-failed runs its shards on the "
                                        "other devices; name it in --gpus to use it again",
                                        f.device)
                          : fmt::format("\n  {} was quarantined in this run, as was every other device of the plan: "
                                        "check them (nvidia-smi -q), then name them in --gpus",
                                        f.device);
            const std::string hint = failure_hint(f.kind, exit);
            if (!hint.empty()) text += fmt::format("\n  hint: {}", hint);
            if (f.tail.empty()) return text + fmt::format("\n  see {}", f.log.string());
            text += fmt::format("\n  last lines of {}:", f.log.string());
            for (const auto& line : f.tail) text += fmt::format("\n  | {}", line);
            return text;
          },
          [](const FollowUp& f) { return format_follow_up(f); },
      },
      event);
}

bool stdout_is_terminal() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDOUT_FILENO) && !(term && std::strcmp(term, "dumb") == 0);
}

bool use_color(bool terminal) {
  const char* no_color = std::getenv("NO_COLOR");
  return terminal && !(no_color && *no_color);
}

StatusPrinter::StatusPrinter(std::FILE* out, bool live, bool color, double interval_s, const Clock& clock)
    : out_(out), live_(live), color_(color), interval_s_(interval_s), clock_(clock) {}

void StatusPrinter::clear_block() {
  if (!live_ || drawn_lines_ == 0) return;
  // Cursor up over the block, then clear to the end of the screen.
  fmt::print(out_, "\033[{}A\r\033[J", drawn_lines_);
  drawn_lines_ = 0;
}

void StatusPrinter::print_line(const std::string& text) {
  if (text.empty()) return;
  clear_block();
  fmt::print(out_, "{}\n", text);
  std::fflush(out_);
}

void StatusPrinter::on(const Event& event) {
  // Keep the live view's picture of each shard up to date.
  std::visit(overloaded{
                 [&](const PlanReady& p) {
                   if (p.dry_run) return;
                   interval_s_ = p.status_interval_s;
                   for (const auto& s : p.selected) {
                     ShardView& v = shards_[s.index];
                     v.device = s.device;
                     v.total = s.end - s.begin;
                   }
                   running_ = true;
                 },
                 [&](const ShardStarted& e) {
                   ShardView& v = shards_[e.index];
                   v.device = e.device;
                   v.total = e.items;
                   v.state = ShardView::State::starting;
                   v.phase.clear();
                 },
                 [&](const ShardPhase& e) { shards_[e.index].phase = e.phase; },
                 [&](const ShardProgress& e) {
                   ShardView& v = shards_[e.index];
                   v.progress = e.progress;
                   v.rate = e.rate;
                   if (v.state == ShardView::State::starting) v.state = ShardView::State::running;
                 },
                 [&](const ShardStopping& e) { shards_[e.index].state = ShardView::State::stopping; },
                 [&](const ShardSplitting& e) { shards_[e.index].state = ShardView::State::stopping; },
                 [&](const GpuSampled& e) {
                   for (const auto& sample : e.samples) gpu_samples_[fmt::format("GPU {}", sample.index)] = sample;
                   for (auto& [index, view] : shards_) {
                     const auto found = gpu_samples_.find(view.device);
                     if (found != gpu_samples_.end()) view.gpu = found->second;
                   }
                 },
                 [&](const ShardSplit& e) {
                   shards_[e.index].total = e.end - e.begin;
                   for (const auto& a : e.added) {
                     ShardView& v = shards_[a.index];
                     v.device = a.device;
                     v.total = a.end - a.begin;
                   }
                 },
                 [&](const ShardCouldNotStart& e) {
                   shards_[e.index].state = ShardView::State::failed;
                   shards_[e.index].failure = FailureKind::other;
                 },
                 [&](const ShardFailed& e) {
                   shards_[e.index].state = ShardView::State::failed;
                   shards_[e.index].failure = e.kind;
                 },
                 [&](const ShardStopped& e) { shards_[e.index].state = ShardView::State::interrupted; },
                 [&](const ShardDone& e) {
                   ShardView& v = shards_[e.index];
                   v.state = ShardView::State::done;
                   v.progress.done = v.total;
                   v.seconds = e.seconds;
                 },
                 [&](const auto&) {},
             },
             event);
  print_line(format_event(event));
  if (running_ && live_) draw();
}

void StatusPrinter::draw() {
  // When shards outnumber devices (balancing split some, or a retry queued two on one GPU), a
  // line names its shard too: "GPU 1 s4".
  std::set<std::string> devices;
  for (const auto& [index, view] : shards_) devices.insert(view.device);
  const bool name_shards = devices.size() < shards_.size();
  for (const auto& [index, view] : shards_) {
    ShardView shown = view;
    if (name_shards) shown.device = fmt::format("{} s{}", view.device, index);
    fmt::print(out_, "{}\n", format_status_line(shown, color_));
  }
  drawn_lines_ = live_ ? static_cast<int>(shards_.size()) : 0;
  std::fflush(out_);
}

void StatusPrinter::tick() {
  if (!running_) return;
  if (live_) {
    clear_block();
    draw();
    return;
  }
  const auto now = clock_.now();
  if (printed_once_ && std::chrono::duration<double>(now - last_print_).count() < interval_s_) return;
  printed_once_ = true;
  last_print_ = now;
  draw();
}

void StatusPrinter::finish_live() {
  if (!running_) return;
  clear_block();
  draw();
  drawn_lines_ = 0;
  running_ = false;
}

}  // namespace lv
