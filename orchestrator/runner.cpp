#include "runner.h"

#include <algorithm>
#include <csignal>

#include <fmt/core.h>

#include "error.h"
#include "exit_code.h"
#include "shard_plan.h"

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
    run.waiting = true;
    // One lane per device, in the order the shards name them.
    auto lane = std::find_if(lanes_.begin(), lanes_.end(), [&](const Lane& l) {
      return l.device == s.device && l.cuda_visible_devices == s.cuda_visible_devices;
    });
    if (lane == lanes_.end())
      lane = lanes_.insert(lanes_.end(),
                           Lane{s.device, s.is_gpu, s.device_index, s.cuda_visible_devices, shard_log(s).string(), {}, 0, false, {}, 0, 0});
    run.lane = static_cast<int>(lane - lanes_.begin());
    runs_.push_back(std::move(run));
  }
}

size_t Runner::position(const ShardRun& run) const {
  for (size_t i = 0; i < runs_.size(); ++i)
    if (&runs_[i] == &run) return i;
  throw Error(ExitCode::failed, fmt::format("internal: shard {} is not in the run", run.index));
}

const ShardState& Runner::shard(int index) const {
  for (const auto& s : state_.shards)
    if (s.index == index) return s;
  throw Error(ExitCode::failed, fmt::format("internal: no shard {}", index));
}

ShardState& Runner::state_of(const ShardRun& run) { return const_cast<ShardState&>(shard(run.index)); }

void Runner::add_lane(const Lane& lane) {
  for (const Lane& l : lanes_)
    if (l.device == lane.device && l.cuda_visible_devices == lane.cuda_visible_devices) return;
  Lane idle = lane;
  idle.active.reset();
  lanes_.push_back(idle);
}

void Runner::start() { dispatch(clock_.now()); }

void Runner::dispatch(Clock::time_point now) {
  if (interrupts_ > 0) return;
  for (size_t l = 0; l < lanes_.size(); ++l) {
    Lane& lane = lanes_[l];
    if (lane.active || lane.quarantined) continue;
    // Its own waiting shards first, then those moved off a quarantined GPU; with balancing,
    // anyone's.
    ShardRun* next = nullptr;
    for (auto& run : runs_)
      if (run.waiting && run.lane == static_cast<int>(l)) {
        next = &run;
        break;
      }
    if (!next)
      for (auto& run : runs_)
        if (run.waiting && run.lane < 0) {
          next = &run;
          break;
        }
    if (!next && options_.balance)
      for (auto& run : runs_)
        if (run.waiting) {
          next = &run;
          break;
        }
    if (!next) continue;
    if (next->lane != static_cast<int>(l)) {
      next->lane = static_cast<int>(l);
      ShardState& s = state_of(*next);
      s.device = lane.device;
      s.is_gpu = lane.is_gpu;
      s.device_index = lane.device_index;
      s.cuda_visible_devices = lane.cuda_visible_devices;
    }
    launch(*next);
  }
  consider_split(now);
}

void Runner::consider_split(Clock::time_point now) {
  if (!options_.balance || interrupts_ > 0) return;
  std::vector<size_t> idle;
  for (size_t l = 0; l < lanes_.size(); ++l)
    if (lane_idle(lanes_[l])) idle.push_back(l);
  if (idle.empty()) return;
  for (const auto& run : runs_)
    if (run.waiting) return;
  // Each running shard's time left, from its rate since its first progress line (start-up
  // excluded); only while it advances (a stalled worker is the watchdog's business).
  std::vector<std::pair<double, size_t>> left_s;  // (seconds left, run)
  double busy_s = 0;
  // GPUs about to finish their shard: a shard that deserves them waits for them rather than
  // being split now and again in a moment (each split costs a stop and a start).
  const double soon_s = std::max(options_.finishing_soon_s, startup_s_ + stop_s_);
  int soon = 0;
  int healthy = 0;
  for (const auto& lane : lanes_) healthy += lane.quarantined ? 0 : 1;
  for (size_t i = 0; i < runs_.size(); ++i) {
    const ShardRun& run = runs_[i];
    if (!run.job || run.term_sent || !run.first_progress_at) continue;
    if (run.split_refused) continue;
    const int64_t left = run.progress.total - run.progress.done;
    // The rate of the last few seconds: a shard that reaches a slow folder slows down now,
    // whatever its average says.
    const auto [since, done_then] = run.recent.front();
    const double window = seconds_between(since, now);
    const int64_t advanced = run.progress.done - done_then;
    if (window < 0.5 || advanced <= 0) continue;
    const double rate = static_cast<double>(advanced) / window;
    if (seconds_between(run.last_advance, now) > std::max(2.0, 3.0 / rate)) continue;
    const double remaining = static_cast<double>(left) / rate;
    busy_s += remaining;
    if (remaining < soon_s) ++soon;  // its GPU will be free before a split's parts could start
    else if (left >= 2) left_s.emplace_back(remaining, i);
  }
  if (left_s.empty()) return;
  // Every healthy lane busy until about the same time: a shard with `t` seconds left is worth
  // about t / (all the time left / healthy lanes) parts; the longest are served first.
  std::sort(left_s.rbegin(), left_s.rend());
  const double even = busy_s / std::max(1, healthy);
  size_t next_idle = 0;
  for (const auto& [remaining, i] : left_s) {
    const size_t free = idle.size() - next_idle;
    if (free == 0) break;
    const auto parts =
        static_cast<size_t>(std::clamp<double>(std::round(remaining / even), 1.0, static_cast<double>(free + soon) + 1));
    if (parts < 2) continue;
    if (parts - 1 > free) break;  // wait for the GPUs about to finish
    // Stopping it and starting workers costs about stop + start-up before the parts run.
    if (remaining * (1 - 1.0 / parts) < 2 * (startup_s_ + stop_s_) + options_.min_split_gain_s) continue;
    ShardRun& run = runs_[i];
    for (size_t k = 0; k + 1 < parts; ++k) lanes_[idle[next_idle++]].reserved_for = i;
    run.splitting = true;
    request_stop(run, StopReason::rebalance);
    status_.on(ShardSplitting{run.index, shard(run.index).device, remaining, static_cast<int>(parts - 1)});
  }
}

void Runner::finish_split(ShardRun& run, bool clean) {
  const int index = run.index;
  const std::string device = shard(index).device;
  // `for_good`: what it has left cannot be split (stopping it again would only cost another
  // start-up); else a later idle GPU may try again.
  const auto resume_alone = [&](const std::string& why, bool for_good = true) {
    status_.on(ShardSplit{index, device, shard(index).begin, shard(index).end, {}, why});
    ++run.free_relaunches;
    run.split_refused = for_good;
    launch(run);
  };
  int64_t until = 0;
  try {
    until = hooks_.journaled_until(shard(index));
  } catch (const Error& e) {
    resume_alone(fmt::format("cannot split it: {}", e.what()));
    return;
  }
  const ShardState& victim = shard(index);
  until = std::clamp<int64_t>(until, victim.begin, victim.end);
  const int64_t in_flight = victim.batch_size.value_or(options_.batch_size) + options_.in_flight_extra;
  if (!clean) until = std::min(victim.end, until + in_flight);
  // The lanes reserved for it (released when it exited), and any that went idle since.
  std::vector<int> idle;
  for (size_t l = 0; l < lanes_.size(); ++l)
    if (lane_idle(lanes_[l]) && static_cast<int>(l) != run.lane) idle.push_back(static_cast<int>(l));
  const std::vector<Shard> parts = split_remainder(victim.begin, victim.end, until, static_cast<int>(idle.size()) + 1);
  if (parts.size() < 2) {
    if (idle.empty()) return resume_alone("no GPU is idle any more", /*for_good=*/false);
    resume_alone(clean || until == victim.end ? "too few items left to split"
                                              : fmt::format("what is left is within the {} items a killed worker may "
                                                            "have begun (its batch size and decoding threads)",
                                                            in_flight));
    return;
  }
  // The new items files first, then the state: state and files agree at every step a crash
  // may stop us at (a retry rewrites an items file that disagrees with the state).
  std::vector<ShardState> changed{victim};
  changed.front().end = parts.front().end;
  for (size_t k = 1; k < parts.size(); ++k) {
    const Lane& lane = lanes_[static_cast<size_t>(idle[k - 1])];
    ShardState s;
    s.index = static_cast<int>(state_.shards.size() + k - 1);
    s.begin = parts[k].begin;
    s.end = parts[k].end;
    s.device = lane.device;
    s.is_gpu = lane.is_gpu;
    s.device_index = lane.device_index;
    s.cuda_visible_devices = lane.cuda_visible_devices;
    s.split_from = index;
    s.batch_size = victim.batch_size;
    if (lane.log != log_file(s.index).string()) s.log = lane.log;
    changed.push_back(s);
  }
  try {
    hooks_.write_splits(changed);
  } catch (const Error& e) {
    resume_alone(fmt::format("cannot split it: {}", e.what()));
    return;
  }
  state_of(run).end = changed.front().end;
  run.progress.total = changed.front().end - changed.front().begin;
  ShardSplit event{index, device, changed.front().begin, changed.front().end, {}, ""};
  std::vector<size_t> added;
  for (size_t k = 1; k < changed.size(); ++k) {
    const ShardState& s = changed[k];
    state_.shards.push_back(s);
    ShardRun r;
    r.index = s.index;
    r.lane = idle[k - 1];
    r.progress.total = s.end - s.begin;
    r.waiting = true;
    runs_.push_back(std::move(r));
    added.push_back(runs_.size() - 1);
    event.added.push_back({s.index, s.device, s.begin, s.end, s.cuda_visible_devices, "", shard_log(s)});
  }
  hooks_.save_state();
  status_.on(event);
  ++run.free_relaunches;
  launch(run);
  for (size_t i : added) launch(runs_[i]);
}

void Runner::launch(ShardRun& run) {
  ShardState& s = state_of(run);
  run.waiting = false;
  run.first_progress_at.reset();
  Lane& lane = lanes_.at(static_cast<size_t>(run.lane));
  lane.active = position(run);
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
  const bool attached = !spec.attach_to.empty();  // the attempt that runs already, followed again
  if (!attached) {
    s.attempts += 1;
    s.started_at = now_iso8601();
  }
  s.status = ShardStatus::running;
  s.ended_at.clear();
  s.exit_code.reset();
  s.signal.reset();
  s.failure.clear();
  try {
    run.job = launcher_.start(spec);
    s.pid = launcher_.process_id(*run.job);
  } catch (const Error& e) {
    run.job.reset();
    lane.active.reset();
    s.status = ShardStatus::failed;
    s.failure = std::string(to_string(FailureKind::other));
    s.ended_at = now_iso8601();
    run.failure = FailureKind::other;
    run.failure_detail = e.what();
    hooks_.save_state();
    status_.on(ShardCouldNotStart{s.index, s.device, e.what()});
    return;
  }
  status_.on(ShardStarted{s.index, s.device, s.attempts, s.end - s.begin, run.resume, spec.log, spec.attach_to});
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
      const auto now = clock_.now();
      if (!run.first_progress_at) {
        run.first_progress_at = now;
        run.done_at_first_progress = p->done;
        startup_s_ = std::max(startup_s_, seconds_between(run.started, now));
        run.recent.clear();
      }
      // Progress points of the last kRateWindow seconds (the oldest kept as the window's start).
      if (run.recent.empty() || p->done != run.recent.back().second) run.recent.emplace_back(now, p->done);
      while (run.recent.size() > 2 && seconds_between(run.recent[1].first, now) >= kRateWindowS) run.recent.pop_front();
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
  s.pid = 0;
  lanes_.at(static_cast<size_t>(run.lane)).active.reset();
  const bool was_splitting = run.splitting;
  run.splitting = false;
  // Its reserved lanes are idle again: a split below takes them, else they take other work.
  if (was_splitting) release_lanes(run);
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
    account(run);
    hooks_.save_state();
    status_.on(ShardDone{s.index, s.device, s.end - s.begin, seconds_between(run.started, clock_.now()), s.seconds,
                         s.attempts});
    return;
  }

  account(run);
  if (was_splitting && run.stop_reason == StopReason::rebalance && interrupts_ == 0) {
    // We stopped it: whatever it exited with (130 as the protocol says; 143 from a wrapper
    // script; a crash on the way out), it is a stop, never a failure and never the GPU's fault.
    // Its journal says what it did; only a clean 130 vouches for nothing begun after it.
    const bool clean = !status.signaled && status.code == to_int(ExitCode::interrupted);
    if (run.term_sent) stop_s_ = std::max(stop_s_, seconds_between(*run.term_sent, clock_.now()));
    s.status = ShardStatus::interrupted;
    finish_split(run, clean);
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
  Lane& lane = lanes_.at(static_cast<size_t>(run.lane));
  if (lane.is_gpu && blames_device(run.failure) && interrupts_ == 0 && !run.shard_is_cause) {
    const bool elsewhere = std::any_of(run.blamed_lanes.begin(), run.blamed_lanes.end(),
                                       [&](int l) { return l != run.lane; });
    if (elsewhere) {
      // The same shard failed so on two GPUs: the shard is the cause (a crash its data
      // triggers, a hang), not the GPUs. Take its failures off them.
      run.shard_is_cause = true;
      run.blamed_lanes.push_back(run.lane);
      ShardBlamed event{s.index, {}, {}};
      for (int l : run.blamed_lanes) {
        Lane& blamed = lanes_.at(static_cast<size_t>(l));
        if (std::find(event.devices.begin(), event.devices.end(), blamed.device) == event.devices.end())
          event.devices.push_back(blamed.device);
        if (l != run.lane) blamed.failures = std::max(0, blamed.failures - 1);
        if (blamed.quarantined && blamed.failures < 2) {
          blamed.quarantined = false;
          state_.quarantined.erase(std::remove(state_.quarantined.begin(), state_.quarantined.end(), blamed.device),
                                   state_.quarantined.end());
          event.restored.push_back(blamed.device);
        }
      }
      run.blamed_lanes.clear();
      hooks_.save_state();
      status_.on(event);
    } else {
      run.failed_on = run.lane;
      run.blamed_lanes.push_back(run.lane);
      if (++lane.failures >= 2 && !lane.quarantined) {
        hooks_.save_state();
        quarantine(run.lane, run.failure);  // this shard too waits for a healthy GPU
        if (run.waiting) return;
        status_.on(ShardFailed{s.index, s.device, status, run.failure, run.failure_detail, s.attempts});
        return;
      }
    }
  }
  const int batch = s.batch_size.value_or(options_.batch_size);
  if (run.failure == FailureKind::cuda_oom && interrupts_ == 0 && batch > 1) {
    s.batch_size = batch / 2;
    hooks_.save_state();
    ShardRetrying retry{s.index, s.device, status, run.failure, 0, options_.max_retries, {}};
    retry.batch_size = std::make_pair(batch, *s.batch_size);
    status_.on(retry);
    ++run.free_relaunches;
    launch(run);
    return;
  }
  hooks_.save_state();
  const int retries_used = s.attempts - 1 - run.free_relaunches;
  if (retries_used < options_.max_retries && interrupts_ == 0 && retry_may_help(run.failure)) {
    status_.on(ShardRetrying{s.index, s.device, status, run.failure, retries_used + 1, options_.max_retries, {}});
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
  // By index: a split appends shards while we go.
  for (size_t i = 0; i < runs_.size(); ++i) {
    ShardRun& run = runs_[i];
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
    if (std::string id = launcher_.scheduler_id(*run.job); id != state_of(run).slurm_job) {
      state_of(run).slurm_job = std::move(id);
      hooks_.save_state();
    }
    if (std::string waiting = launcher_.queued(*run.job); !waiting.empty()) {
      // Waiting in a scheduler's queue: not started, so neither the start-up clock, the
      // stall watchdog nor --timeout runs yet.
      run.started = run.last_advance = now;
      if (waiting != run.phase) {
        run.phase = std::move(waiting);
        status_.on(ShardPhase{run.index, run.phase});
      }
      continue;
    }
    if (run.phase.rfind("queued (", 0) == 0) {
      run.phase = "starting";  // left the queue; the worker's own phases follow
      status_.on(ShardPhase{run.index, run.phase});
    }
    if (run.have_progress && !run.emitted_progress) {
      status_.on(ShardProgress{run.index, run.progress, run.rate});
      run.emitted_progress = true;
    }
    check_limits(run, now);
  }
  dispatch(now);
}

void Runner::interrupt() {
  ++interrupts_;
  for (auto& lane : lanes_) lane.reserved_for.reset();
  for (auto& run : runs_) run.splitting = false;
  for (auto& run : runs_) {
    if (!run.job) continue;
    if (interrupts_ == 1) {
      if (run.term_sent) run.stop_reason = StopReason::interrupted;  // already stopping (a split)
      request_stop(run, StopReason::interrupted);
    } else {
      run.stop_reason = StopReason::interrupted;
      launcher_.signal(*run.job, SIGKILL);
      run.kill_sent = true;
    }
  }
}

void Runner::quarantine(int index, FailureKind kind) {
  Lane& lane = lanes_.at(static_cast<size_t>(index));
  lane.quarantined = true;
  if (std::find(state_.quarantined.begin(), state_.quarantined.end(), lane.device) == state_.quarantined.end())
    state_.quarantined.push_back(lane.device);
  GpuQuarantined event{lane.device, lane.failures, kind, {}};
  const bool healthy_left = any_healthy_lane();
  event.healthy_left = healthy_left;
  for (auto& run : runs_) {
    const bool waits_here = run.waiting && run.lane == index;
    const bool failed_here = healthy_left && !run.job && !run.waiting && run.failed_on == index &&
                             !run.shard_is_cause && state_of(run).status == ShardStatus::failed &&
                             retry_may_help(run.failure);
    if (!waits_here && !failed_here) continue;
    if (failed_here) {
      ++run.free_relaunches;  // the device's fault, not the shard's: not one of max_retries
      run.resume = true;
    }
    run.waiting = true;
    run.lane = -1;
    event.moved.push_back(run.index);
  }
  hooks_.save_state();
  status_.on(event);
}

void Runner::release_lanes(const ShardRun& run) {
  const size_t self = position(run);
  for (auto& lane : lanes_)
    if (lane.reserved_for == self) lane.reserved_for.reset();
}

void Runner::account(const ShardRun& run) {
  Lane& lane = lanes_.at(static_cast<size_t>(run.lane));
  lane.items += std::max<int64_t>(0, run.progress.done - run.done_at_start);
  lane.busy_s += seconds_between(run.started, clock_.now());
}

bool Runner::gpu_busy(int device_index) const {
  return std::any_of(lanes_.begin(), lanes_.end(),
                     [&](const Lane& l) { return l.is_gpu && l.device_index == device_index && l.active; });
}

bool Runner::any_healthy_lane() const {
  return std::any_of(lanes_.begin(), lanes_.end(), [](const Lane& l) { return !l.quarantined; });
}

bool Runner::finished() const {
  for (const auto& run : runs_)
    if (run.job) return false;
  if (interrupts_ > 0 || !any_healthy_lane()) return true;
  // A waiting shard starts as soon as a lane is free (dispatch, at the end of every tick).
  for (const auto& run : runs_)
    if (run.waiting) return false;
  return true;
}

}  // namespace lv
