#include "runner.h"

#include <csignal>

#include <fmt/core.h>

#include "error.h"

namespace lv {

namespace {
double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

Runner::Runner(RunState& state, std::vector<int> shard_indices, Launcher& launcher, const Clock& clock,
               RunnerOptions options, ShardHooks hooks, Status& status)
    : state_(state),
      launcher_(launcher),
      clock_(clock),
      options_(options),
      hooks_(std::move(hooks)),
      status_(status) {
  for (int index : shard_indices) {
    ShardRun run;
    run.index = index;
    const ShardState& s = shard(index);
    // Anything but a clean first start resumes from the journal.
    run.resume = s.attempts > 0;
    run.progress.done = s.done;
    run.progress.total = s.end - s.begin;
    runs_.push_back(std::move(run));
  }
}

const ShardState& Runner::shard(int index) const {
  for (const auto& s : state_.shards)
    if (s.index == index) return s;
  throw Error(ExitCode::failed, fmt::format("internal: no shard {}", index));
}

ShardState& Runner::state_of(const ShardRun& run) { return const_cast<ShardState&>(shard(run.index)); }

void Runner::start() {
  for (auto& run : runs_) launch(run);
}

void Runner::launch(ShardRun& run) {
  ShardState& s = state_of(run);
  const LaunchSpec spec = hooks_.launch_spec(s, run.resume);
  run.tail.clear();
  run.partial_line.clear();
  run.stop_reason = StopReason::none;
  run.term_sent.reset();
  run.kill_sent = false;
  run.failure = FailureKind::none;
  run.failure_detail.clear();
  run.last_exit.reset();
  run.have_progress = false;
  run.phase.clear();
  run.started = run.last_advance = clock_.now();
  run.done_at_start = run.progress.done;
  run.rate = 0;
  s.attempts += 1;
  s.status = ShardStatus::running;
  s.started_at = now_iso8601();
  s.ended_at.clear();
  s.exit_code.reset();
  s.signal.reset();
  s.failure.clear();
  try {
    run.job = launcher_.start(spec);
  } catch (const Error& e) {
    run.job.reset();
    s.status = ShardStatus::failed;
    s.failure = std::string(to_string(FailureKind::other));
    s.ended_at = now_iso8601();
    run.failure = FailureKind::other;
    run.failure_detail = e.what();
    hooks_.save_state();
    status_.on(ShardCouldNotStart{s.index, s.device, e.what()});
    return;
  }
  status_.on(ShardStarted{s.index, s.device, s.attempts, s.end - s.begin, run.resume, spec.log});
  run.resume = true;  // every later attempt continues from the journal
  hooks_.save_state();
}

void Runner::handle_output(ShardRun& run, const std::string& text) {
  if (text.empty()) return;
  run.partial_line += text;
  size_t start = 0;
  for (;;) {
    const size_t nl = run.partial_line.find('\n', start);
    if (nl == std::string::npos) break;
    std::string line = run.partial_line.substr(start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (const auto p = parse_progress_line(line)) {
      if (p->done > run.progress.done || !run.have_progress) run.last_advance = clock_.now();
      if (!(run.progress == *p) || !run.have_progress) run.emitted_progress = false;
      run.progress = *p;
      run.have_progress = true;
      continue;  // progress lines would crowd the failure tail out
    }
    if (line.empty()) continue;
    // Before the first progress line any output is a sign of life (loading a large model
    // prints nothing for a while, but it prints its phase first).
    if (!run.have_progress) run.last_advance = clock_.now();
    if (const auto phase = parse_phase_line(line)) {
      if (!run.have_progress && *phase != run.phase) {
        run.phase = *phase;
        status_.on(ShardPhase{run.index, run.phase});
      }
      continue;
    }
    run.tail.push_back(std::move(line));
    while (run.tail.size() > options_.tail_lines) run.tail.pop_front();
  }
  run.partial_line.erase(0, start);
  // A line longer than this is junk; keep memory bounded.
  if (run.partial_line.size() > 64 * 1024) run.partial_line.erase(0, run.partial_line.size() - 4096);
}

void Runner::request_stop(ShardRun& run, StopReason reason) {
  if (!run.job || run.term_sent) return;
  run.stop_reason = reason;
  run.term_sent = clock_.now();
  launcher_.signal(*run.job, SIGTERM);
}

void Runner::handle_exit(ShardRun& run, const ExitStatus& status) {
  ShardState& s = state_of(run);
  run.job.reset();
  run.last_exit = status;
  s.ended_at = now_iso8601();
  s.seconds += seconds_between(run.started, clock_.now());
  s.done = run.progress.done;
  if (status.signaled) {
    s.signal = status.signal;
    s.exit_code.reset();
  } else {
    s.exit_code = status.code;
    s.signal.reset();
  }

  std::string missing;
  if (status.ok()) missing = hooks_.check_success(s);
  if (status.ok() && missing.empty()) {
    s.status = ShardStatus::succeeded;
    s.failure.clear();
    s.done = s.end - s.begin;
    run.progress.done = s.done;
    hooks_.save_state();
    status_.on(ShardDone{s.index, s.device, s.end - s.begin, seconds_between(run.started, clock_.now()), s.seconds,
                         s.attempts});
    return;
  }

  run.failure = classify_failure(status, run.stop_reason, {run.tail.begin(), run.tail.end()});
  run.failure_detail = missing;
  s.failure = std::string(to_string(run.failure));
  if (run.stop_reason == StopReason::interrupted) {
    s.status = ShardStatus::interrupted;
    hooks_.save_state();
    status_.on(ShardStopped{s.index, s.device, status});
    return;
  }
  s.status = ShardStatus::failed;
  const int batch = s.batch_size.value_or(options_.batch_size);
  if (run.failure == FailureKind::cuda_oom && interrupts_ == 0 && batch > 1) {
    s.batch_size = batch / 2;
    hooks_.save_state();
    ShardRetrying retry{s.index, s.device, status, run.failure, 0, options_.max_retries};
    retry.batch_size = std::make_pair(batch, *s.batch_size);
    status_.on(retry);
    launch(run);
    return;
  }
  hooks_.save_state();
  const int retries_used = s.attempts - 1;
  if (retries_used < options_.max_retries && interrupts_ == 0 && retry_may_help(run.failure)) {
    status_.on(ShardRetrying{s.index, s.device, status, run.failure, retries_used + 1, options_.max_retries});
    launch(run);
    return;
  }
  status_.on(ShardFailed{s.index, s.device, status, run.failure, run.failure_detail, s.attempts});
}

void Runner::check_limits(ShardRun& run, Clock::time_point now) {
  const double elapsed = seconds_between(run.started, now);
  if (options_.timeout_s > 0 && elapsed >= options_.timeout_s) {
    status_.on(ShardStopping{run.index, StopReason::timed_out, options_.timeout_s, !run.have_progress});
    request_stop(run, StopReason::timed_out);
    return;
  }
  const double limit = run.have_progress ? options_.stall_timeout_s
                       : options_.stall_timeout_s > 0 ? std::max(options_.stall_timeout_s, options_.startup_timeout_s)
                                                      : 0;
  if (limit > 0 && seconds_between(run.last_advance, now) >= limit) {
    status_.on(ShardStopping{run.index, StopReason::stalled, limit, !run.have_progress});
    request_stop(run, StopReason::stalled);
  }
}

void Runner::tick() {
  const auto now = clock_.now();
  for (auto& run : runs_) {
    if (!run.job) continue;
    handle_output(run, launcher_.read_output(*run.job));
    if (const auto status = launcher_.poll(*run.job)) {
      // Read what it wrote between the last read and its exit.
      handle_output(run, launcher_.read_output(*run.job));
      if (!run.partial_line.empty()) handle_output(run, "\n");
      handle_exit(run, *status);
      continue;
    }
    const double elapsed = seconds_between(run.started, now);
    if (elapsed > 0) run.rate = static_cast<double>(run.progress.done - run.done_at_start) / elapsed;
    if (run.term_sent) {
      if (!run.kill_sent && seconds_between(*run.term_sent, now) >= options_.stop_grace_s) {
        launcher_.signal(*run.job, SIGKILL);
        run.kill_sent = true;
        status_.on(ShardKilled{run.index, options_.stop_grace_s});
      }
      continue;
    }
    if (run.have_progress && !run.emitted_progress) {
      status_.on(ShardProgress{run.index, run.progress, run.rate});
      run.emitted_progress = true;
    }
    check_limits(run, now);
  }
}

void Runner::interrupt() {
  ++interrupts_;
  for (auto& run : runs_) {
    if (!run.job) continue;
    if (interrupts_ == 1) {
      request_stop(run, StopReason::interrupted);
    } else {
      run.stop_reason = StopReason::interrupted;
      launcher_.signal(*run.job, SIGKILL);
      run.kill_sent = true;
    }
  }
}

bool Runner::finished() const {
  for (const auto& run : runs_)
    if (run.job) return false;
  return true;
}

}  // namespace lv
