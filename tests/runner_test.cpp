// The runner's decisions (launch, progress, stall, timeout, retries, interrupt) driven by a
// fake launcher and a fake clock: deterministic and instant.
#include <csignal>
#include <map>

#include <fmt/core.h>

#include "catch.h"
#include "error.h"
#include "orchestrator_fakes.h"
#include "plan.h"
#include "runner.h"

using namespace lv;
using namespace lv::test;

namespace {

RunState make_state(int shards, int64_t items_per_shard) {
  RunState st;
  st.item_count = shards * items_per_shard;
  for (int i = 0; i < shards; ++i) {
    ShardState s;
    s.index = i;
    s.begin = i * items_per_shard;
    s.end = (i + 1) * items_per_shard;
    s.device = "GPU " + std::to_string(i);
    s.is_gpu = true;
    s.device_index = i;
    s.cuda_visible_devices = std::to_string(i);
    st.shards.push_back(s);
  }
  return st;
}

struct Fixture {
  RunState state = make_state(3, 10);
  FakeLauncher launcher;
  FakeClock clock;
  RecordingStatus status;
  int saves = 0;
  std::map<int, std::string> missing_outputs;  // shard -> what check_success reports
  std::vector<std::pair<int, bool>> launches;  // (shard, resume)

  ShardHooks hooks() {
    ShardHooks h;
    h.launch_spec = [this](const ShardState& s, bool resume) {
      launches.emplace_back(s.index, resume);
      LaunchSpec spec;
      spec.argv = {"worker", std::to_string(s.index)};
      spec.append_log = resume;
      spec.log = "gpu" + std::to_string(s.index) + ".log";
      return spec;
    };
    h.check_success = [this](const ShardState& s) {
      const auto it = missing_outputs.find(s.index);
      return it == missing_outputs.end() ? std::string() : it->second;
    };
    h.save_state = [this] { ++saves; };
    return h;
  }
  Runner make(RunnerOptions options = {}, std::vector<int> shards = {0, 1, 2}) {
    return Runner(state, std::move(shards), launcher, clock, options, hooks(), status);
  }
};

/// The workers of `shards` exit 0; then every shard of the state must have succeeded.
void finish_all(Fixture& f, Runner& r, std::initializer_list<int> shards) {
  for (int i : shards) f.launcher.job_for_shard(i).exit = ExitStatus{false, 0, 0};
  r.tick();
  CHECK(r.finished());
  for (const auto& s : f.state.shards) CHECK(s.status == ShardStatus::succeeded);
}

}  // namespace

TEST_CASE("all shards start, report progress and succeed", "[runner]") {
  Fixture f;
  Runner r = f.make();
  r.start();
  REQUIRE(f.launcher.started.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(f.state.shards[i].status == ShardStatus::running);
  CHECK(f.state.shards[0].attempts == 1);
  CHECK(f.launches == std::vector<std::pair<int, bool>>{{0, false}, {1, false}, {2, false}});

  f.launcher.job_for_shard(1).pending_output = "loading model\n[progress] 4/10 fail";
  r.tick();
  CHECK(r.runs()[1].progress.done == 0);  // half a line is not parsed yet
  f.launcher.job_for_shard(1).pending_output = "ed=1\n";
  r.tick();
  CHECK(r.runs()[1].progress == Progress{4, 10, 1});
  CHECK(r.runs()[1].tail == std::deque<std::string>{"loading model"});

  for (int i = 0; i < 3; ++i) f.launcher.job_for_shard(i).exit = ExitStatus{false, 0, 0};
  r.tick();
  CHECK(r.finished());
  for (int i = 0; i < 3; ++i) {
    CHECK(f.state.shards[i].status == ShardStatus::succeeded);
    CHECK(f.state.shards[i].exit_code == 0);
    CHECK(f.state.shards[i].done == 10);
  }
  CHECK(f.saves >= 6);  // at least one save per start and per end
}

TEST_CASE("a stalled worker gets SIGTERM after stall_timeout_s, then SIGKILL after the grace period", "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.stall_timeout_s = 600;
  o.stop_grace_s = 10;
  Runner r = f.make(o, {0});
  r.start();
  auto& job = f.launcher.job_for_shard(0);
  job.exits_on_term = false;  // a hung worker that ignores SIGTERM

  job.pending_output = "[progress] 3/10 failed=0\n";
  r.tick();
  f.clock.advance(599);
  job.pending_output = "[progress] 3/10 failed=0\n";  // same count: not progress
  r.tick();
  CHECK(job.signals.empty());
  f.clock.advance(2);
  r.tick();
  REQUIRE(job.signals == std::vector<int>{SIGTERM});
  const auto stops = f.status.of<ShardStopping>();
  REQUIRE(stops.size() == 1);
  CHECK(stops[0].reason == StopReason::stalled);
  CHECK(stops[0].limit_s == 600);
  CHECK_FALSE(stops[0].starting);
  f.clock.advance(9);
  r.tick();
  CHECK(job.signals == std::vector<int>{SIGTERM});
  f.clock.advance(1.5);
  r.tick();
  CHECK(job.signals == std::vector<int>{SIGTERM, SIGKILL});
  r.tick();  // the fake ends on SIGKILL
  CHECK(r.finished());
  CHECK(f.state.shards[0].status == ShardStatus::failed);
  CHECK(f.state.shards[0].failure == "stalled");
  CHECK(f.state.shards[0].signal == SIGKILL);
  CHECK(f.state.shards[0].done == 3);
}

TEST_CASE("progress resets the stall timer", "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.stall_timeout_s = 100;
  Runner r = f.make(o, {0});
  r.start();
  auto& job = f.launcher.job_for_shard(0);
  for (int i = 1; i <= 5; ++i) {
    f.clock.advance(90);
    job.pending_output = "[progress] " + std::to_string(i) + "/10 failed=0\n";
    r.tick();
  }
  CHECK(job.signals.empty());
  f.clock.advance(101);
  r.tick();
  CHECK(job.signals == std::vector<int>{SIGTERM});
}

TEST_CASE("a --timeout stops a shard that runs too long even while it progresses", "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.timeout_s = 50;
  o.stall_timeout_s = 0;  // watchdog off
  Runner r = f.make(o, {0});
  r.start();
  auto& job = f.launcher.job_for_shard(0);
  f.clock.advance(49);
  job.pending_output = "[progress] 9/10 failed=0\n";
  r.tick();
  CHECK(job.signals.empty());
  f.clock.advance(1);
  r.tick();
  CHECK(job.signals == std::vector<int>{SIGTERM});
  r.tick();
  CHECK(f.state.shards[0].status == ShardStatus::failed);
  CHECK(f.state.shards[0].failure == "timed out");
  CHECK(f.state.shards[0].exit_code == 130);
}

TEST_CASE("max_retries relaunches a failed shard, resuming and appending to its log", "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.max_retries = 2;
  Runner r = f.make(o, {1});
  r.start();
  f.launcher.job_for_shard(1).pending_output = "[progress] 4/10 failed=0\nSegmentation fault\n";
  f.launcher.job_for_shard(1).exit = ExitStatus{true, 0, SIGSEGV};
  r.tick();
  REQUIRE(f.launcher.started.size() == 2);
  CHECK(f.launches.back() == std::pair<int, bool>{1, true});
  CHECK(f.launcher.jobs.at(f.launcher.started.back()).spec.append_log);
  CHECK(f.state.shards[1].attempts == 2);
  CHECK(f.state.shards[1].status == ShardStatus::running);
  CHECK(r.runs()[0].tail.empty());  // a new attempt starts a new tail
  const auto retries = f.status.of<ShardRetrying>();
  REQUIRE(retries.size() == 1);
  CHECK(retries[0].retry == 1);
  CHECK(retries[0].max_retries == 2);
  CHECK(retries[0].kind == FailureKind::killed_by_signal);

  f.launcher.job_for_shard(1).exit = ExitStatus{false, 0, 0};
  r.tick();
  CHECK(f.state.shards[1].status == ShardStatus::succeeded);
  CHECK(f.state.shards[1].attempts == 2);
}

TEST_CASE("max_retries does not re-run a model/config mismatch, which fails the same way each time", "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.max_retries = 2;
  Runner r = f.make(o, {0, 1});
  r.start();
  for (int shard : {0, 1}) {
    f.launcher.job_for_shard(shard).pending_output =
        shard == 0 ? "[phase] warm-up\nimage_worker: error: m.pt: model/config mismatch: the model failed on its "
                     "warm-up input [32, 3, 64, 64]\n"
                   : "image_worker: error: CUDA_VISIBLE_DEVICES=1 gives this worker a GPU, but it has no usable "
                     "CUDA: ...\n";
    f.launcher.job_for_shard(shard).exit = ExitStatus{false, 3, 0};
  }
  r.tick();
  CHECK(f.launcher.started.size() == 2);  // no relaunch
  CHECK(f.status.of<ShardRetrying>().empty());
  CHECK(f.state.shards[0].status == ShardStatus::failed);
  CHECK(f.state.shards[0].attempts == 1);
  CHECK(f.state.shards[0].failure == "model/config mismatch");
  CHECK(f.state.shards[1].attempts == 1);
  CHECK(f.state.shards[1].failure == "no usable CUDA");
  const auto failed = f.status.of<ShardFailed>();
  REQUIRE(failed.size() == 2);
  CHECK(failed[0].kind == FailureKind::model_mismatch);
  CHECK(failed[1].kind == FailureKind::no_cuda);
}

TEST_CASE("without retries left a failure is final and classified from the log tail", "[runner]") {
  Fixture f;
  RunnerOptions at_one;
  at_one.batch_size = 1;  // no smaller batch to retry an out-of-memory failure with
  Runner r = f.make(at_one, {2});
  r.start();
  auto& job = f.launcher.job_for_shard(2);
  job.pending_output = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n";
  job.exit = ExitStatus{false, 1, 0};
  r.tick();
  CHECK(f.launcher.started.size() == 1);
  CHECK(f.state.shards[2].status == ShardStatus::failed);
  CHECK(f.state.shards[2].failure == "CUDA out of memory");
  CHECK(r.runs()[0].failure == FailureKind::cuda_oom);
  const auto failed = f.status.of<ShardFailed>();
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].index == 2);
  CHECK(failed[0].kind == FailureKind::cuda_oom);
}

TEST_CASE("out of GPU memory: re-run at half the batch size, resuming, down to 1, apart from max_retries",
          "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.batch_size = 6;
  Runner r = f.make(o, {1});
  r.start();
  const auto oom = [&] {
    auto& job = f.launcher.jobs.at(f.launcher.started.back());
    job.pending_output = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n";
    job.exit = ExitStatus{false, 1, 0};
    r.tick();
  };
  oom();  // at 6
  CHECK(f.state.shards[1].batch_size == 3);
  oom();  // at 3
  CHECK(f.state.shards[1].batch_size == 1);
  const auto retries = f.status.of<ShardRetrying>();
  REQUIRE(retries.size() == 2);
  CHECK(retries[0].batch_size == std::make_pair(6, 3));
  CHECK(retries[1].batch_size == std::make_pair(3, 1));
  CHECK(f.launches == std::vector<std::pair<int, bool>>{{1, false}, {1, true}, {1, true}});
  oom();  // at 1: nothing smaller
  CHECK(f.launcher.started.size() == 3);
  CHECK(f.state.shards[1].status == ShardStatus::failed);
  CHECK(f.state.shards[1].batch_size == 1);  // the next --retry-failed starts there
  REQUIRE(f.status.of<ShardFailed>().size() == 1);

  // Another failure is not halved.
  Fixture g;
  Runner other = g.make(o, {0});
  other.start();
  auto& job = g.launcher.job_for_shard(0);
  job.pending_output = "Segmentation fault\n";
  job.exit = ExitStatus{true, 0, 11};
  other.tick();
  CHECK_FALSE(g.state.shards[0].batch_size);
  CHECK(g.launcher.started.size() == 1);
}

TEST_CASE("the failure tail keeps the last 20 non-progress lines", "[runner]") {
  Fixture f;
  Runner r = f.make({}, {0});
  r.start();
  std::string out;
  for (int i = 0; i < 50; ++i) out += "line " + std::to_string(i) + "\n[progress] " + std::to_string(i) + "/100 failed=0\n";
  f.launcher.job_for_shard(0).pending_output = out;
  r.tick();
  const auto& tail = r.runs()[0].tail;
  REQUIRE(tail.size() == 20);
  CHECK(tail.front() == "line 30");
  CHECK(tail.back() == "line 49");
  CHECK(r.runs()[0].progress.done == 49);
}

TEST_CASE("exit 0 without the shard's outputs is a failure", "[runner]") {
  Fixture f;
  f.missing_outputs[0] = "the worker exited 0 but wrote no verification_report.json";
  Runner r = f.make({}, {0});
  r.start();
  f.launcher.job_for_shard(0).exit = ExitStatus{false, 0, 0};
  r.tick();
  CHECK(f.state.shards[0].status == ShardStatus::failed);
  CHECK(f.state.shards[0].failure == "other");
  CHECK(r.runs()[0].failure_detail.find("wrote no") != std::string::npos);
}

TEST_CASE("first interrupt stops every worker gracefully, the second kills", "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.stop_grace_s = 30;
  Runner r = f.make(o);
  r.start();
  f.launcher.job_for_shard(0).exits_on_term = false;
  r.interrupt();
  for (int i = 0; i < 3; ++i) CHECK(f.launcher.job_for_shard(i).signals == std::vector<int>{SIGTERM});
  r.tick();
  CHECK(f.state.shards[1].status == ShardStatus::interrupted);
  CHECK(f.state.shards[2].status == ShardStatus::interrupted);
  CHECK(f.state.shards[0].status == ShardStatus::running);
  CHECK_FALSE(r.finished());
  r.interrupt();
  CHECK(f.launcher.job_for_shard(0).signals == std::vector<int>{SIGTERM, SIGKILL});
  r.tick();
  CHECK(r.finished());
  CHECK(f.state.shards[0].status == ShardStatus::interrupted);
  CHECK(f.state.shards[0].failure == "interrupted");
}

TEST_CASE("an interrupted run does not retry failures", "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.max_retries = 3;
  Runner r = f.make(o, {0});
  r.start();
  f.launcher.job_for_shard(0).exits_on_term = false;
  r.interrupt();
  f.launcher.job_for_shard(0).exit = ExitStatus{false, 1, 0};
  r.tick();
  CHECK(f.launcher.started.size() == 1);
  CHECK(r.finished());
}

TEST_CASE("a worker that cannot be started fails its shard without stopping the others", "[runner]") {
  Fixture f;
  f.launcher.fail_next_start = true;
  Runner r = f.make();
  r.start();
  CHECK(f.state.shards[0].status == ShardStatus::failed);
  CHECK(f.state.shards[1].status == ShardStatus::running);
  const auto not_started = f.status.of<ShardCouldNotStart>();
  REQUIRE(not_started.size() == 1);
  CHECK(not_started[0].index == 0);
  CHECK(not_started[0].why.find("No such file") != std::string::npos);
  CHECK(f.launcher.started.size() == 2);
}

TEST_CASE("a shard that ran before resumes on its first launch in this run", "[runner]") {
  Fixture f;
  f.state.shards[1].attempts = 1;
  f.state.shards[1].status = ShardStatus::failed;
  f.state.shards[1].done = 6;
  Runner r = f.make({}, {1});
  r.start();
  CHECK(f.launches == std::vector<std::pair<int, bool>>{{1, true}});
  CHECK(r.runs()[0].progress.done == 6);
  CHECK(f.state.shards[1].attempts == 2);
}

TEST_CASE("a starting worker gets the start-up allowance, counted from its last sign of life", "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.stall_timeout_s = 5;      // what a user sets for a fast model
  o.startup_timeout_s = 100;  // loading the model may take longer on a busy machine
  Runner r = f.make(o, {0});
  r.start();
  auto& job = f.launcher.job_for_shard(0);
  job.exits_on_term = false;
  f.clock.advance(60);  // silent model load: already 12x the stall timeout
  r.tick();
  CHECK(job.signals.empty());
  job.pending_output = "[phase] loading model\n";
  r.tick();
  const auto phases = f.status.of<ShardPhase>();
  REQUIRE(phases.size() == 1);
  CHECK(phases[0].phase == "loading model");
  f.clock.advance(99);  // counted from the phase line, not from the start
  r.tick();
  CHECK(job.signals.empty());
  f.clock.advance(2);
  r.tick();
  REQUIRE(job.signals == std::vector<int>{SIGTERM});
  const auto stops = f.status.of<ShardStopping>();
  REQUIRE(stops.size() == 1);
  CHECK(stops[0].starting);
  CHECK(stops[0].limit_s == 100);
}

TEST_CASE("after its first progress line a worker is held to the stall timeout", "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.stall_timeout_s = 5;
  o.startup_timeout_s = 100;
  Runner r = f.make(o, {0});
  r.start();
  auto& job = f.launcher.job_for_shard(0);
  job.pending_output = "[phase] warm-up\n[progress] 0/10 failed=0\n";
  r.tick();
  f.clock.advance(4);
  job.pending_output = "some log line that is not progress\n";
  r.tick();
  CHECK(job.signals.empty());
  f.clock.advance(1.5);
  r.tick();
  CHECK(job.signals == std::vector<int>{SIGTERM});
  const auto progress = f.status.of<ShardProgress>();
  REQUIRE_FALSE(progress.empty());
  CHECK(progress.back().progress == Progress{0, 10, 0});
}

TEST_CASE("a shard done after a retry reports this attempt's time and the total", "[runner]") {
  Fixture f;
  RunnerOptions o;
  o.max_retries = 1;
  Runner r = f.make(o, {0});
  r.start();
  f.clock.advance(20);
  f.launcher.job_for_shard(0).exit = ExitStatus{true, 0, SIGKILL};
  r.tick();
  f.clock.advance(3);
  f.launcher.job_for_shard(0).exit = ExitStatus{false, 0, 0};
  r.tick();
  const auto done = f.status.of<ShardDone>();
  REQUIRE(done.size() == 1);
  CHECK(done[0].attempts == 2);
  CHECK(done[0].seconds == Approx(3));
  CHECK(done[0].total_seconds == Approx(23));
}

// --- Balancing (issue 10) ------------------------------------------------------------------

namespace {

/// `shards` shards of 100 items on GPUs 0.., balancing on; the split hooks are recorded.
struct BalanceFixture : Fixture {
  std::vector<std::vector<ShardState>> splits;  // each write_splits call
  int64_t journaled = 0;                        // journaled_until returns begin + this
  bool journal_unreadable = false;
  explicit BalanceFixture(int shards = 3) { state = make_state(shards, 100); }
  Runner make_balanced(RunnerOptions o = {}) {
    o.balance = true;
    ShardHooks h = hooks();
    h.journaled_until = [this](const ShardState& s) {
      if (journal_unreadable) throw Error(ExitCode::failed, "output_gpu2/.journal.jsonl: cannot read");
      return s.begin + journaled;
    };
    h.write_splits = [this](const std::vector<ShardState>& shards) { splits.push_back(shards); };
    std::vector<int> all;
    for (const auto& s : state.shards) all.push_back(s.index);
    return Runner(state, all, launcher, clock, o, h, status);
  }
  /// Shards 0 and 1 finish at once; shard 2 has done `done` of 100 after `seconds`.
  void skew(Runner& r, int64_t done, double seconds) {
    launcher.job_for_shard(2).pending_output = "[progress] 0/100 failed=0\n";
    r.tick();
    clock.advance(seconds);
    launcher.job_for_shard(2).pending_output = fmt::format("[progress] {}/100 failed=0\n", done);
    for (int i = 0; i < 2; ++i) launcher.job_for_shard(i).exit = ExitStatus{false, 0, 0};
    r.tick();
  }
};

}  // namespace

TEST_CASE("balancing: idle GPUs split the unstarted tail of the shard with the most time left", "[runner][balance]") {
  BalanceFixture f;
  Runner r = f.make_balanced();
  r.start();
  f.skew(r, 10, 2.0);  // 5 items/s: 18 s left while two GPUs idle
  REQUIRE(f.status.of<ShardSplitting>().size() == 1);
  CHECK(f.status.of<ShardSplitting>()[0].index == 2);
  CHECK(f.status.of<ShardSplitting>()[0].idle == 2);
  CHECK(f.status.of<ShardSplitting>()[0].remaining_s == Approx(18.0));
  CHECK(f.launcher.job_for_shard(2).signals == std::vector<int>{SIGTERM});

  f.journaled = 12;  // it finished two more items before it exited 130
  r.tick();
  REQUIRE(f.splits.size() == 1);
  const auto& written = f.splits[0];
  REQUIRE(written.size() == 3);
  // 88 items left from 212: 30, 29, 29; the first part stays with shard 2, which resumes.
  CHECK(written[0].index == 2);
  CHECK(written[0].begin == 200);
  CHECK(written[0].end == 242);
  CHECK(written[1].index == 3);
  CHECK(written[1].begin == 242);
  CHECK(written[1].end == 271);
  CHECK(written[2].index == 4);
  CHECK(written[2].begin == 271);
  CHECK(written[2].end == 300);
  REQUIRE(f.state.shards.size() == 5);
  CHECK(f.state.shards[2].end == 242);
  CHECK(f.state.shards[3].device == "GPU 0");
  CHECK(f.state.shards[3].cuda_visible_devices == "0");
  CHECK(f.state.shards[3].split_from == 2);
  CHECK(f.state.shards[3].log == "gpu0.log");  // the GPU's own log, appended
  CHECK(f.state.shards[4].device == "GPU 1");
  CHECK(f.state.shards[4].log == "gpu1.log");
  CHECK(f.launches == std::vector<std::pair<int, bool>>{{0, false}, {1, false}, {2, false}, {2, true}, {3, false},
                                                        {4, false}});
  const auto split = f.status.of<ShardSplit>();
  REQUIRE(split.size() == 1);
  CHECK(split[0].added.size() == 2);
  CHECK(r.runs()[2].progress.total == 42);

  finish_all(f, r, {2, 3, 4});
  // A split relaunch is not a retry: max_retries 0 did not stop it.
  CHECK(f.state.shards[2].attempts == 2);
}

TEST_CASE("balancing: no split when stopping and starting workers costs more than it saves", "[runner][balance]") {
  BalanceFixture f;
  Runner r = f.make_balanced();
  r.start();
  // Shard 2 took 20 s to start (a big model); then 4 s left: splitting would lose time.
  f.clock.advance(20);
  f.skew(r, 50, 4.0);  // 12.5 items/s, 4 s left
  CHECK(f.status.of<ShardSplitting>().empty());
  CHECK(f.launcher.job_for_shard(2).signals.empty());

  // Static shards never split, however long the tail.
  BalanceFixture g;
  RunnerOptions o;
  ShardHooks h = g.hooks();
  Runner plain(g.state, {0, 1, 2}, g.launcher, g.clock, o, h, g.status);
  plain.start();
  g.skew(plain, 1, 10.0);
  CHECK(g.status.of<ShardSplitting>().empty());
}

TEST_CASE("balancing: a shard that finishes while being stopped for a split just succeeds", "[runner][balance]") {
  BalanceFixture f;
  Runner r = f.make_balanced();
  r.start();
  f.launcher.job_for_shard(2).exits_on_term = false;
  f.skew(r, 10, 2.0);
  REQUIRE(f.status.of<ShardSplitting>().size() == 1);
  f.launcher.job_for_shard(2).exit = ExitStatus{false, 0, 0};
  r.tick();
  CHECK(f.splits.empty());
  CHECK(f.state.shards.size() == 3);
  CHECK(f.state.shards[2].status == ShardStatus::succeeded);
  CHECK(r.finished());
}

TEST_CASE("balancing: a worker killed after ignoring SIGTERM keeps a margin of items it may have begun",
          "[runner][balance]") {
  // The margin is the shard's batch size (its own after --auto-batch or an out-of-memory retry,
  // else the run's) plus what the decoding threads hold.
  struct Case {
    std::optional<int> shard_batch;
    int64_t keeps_until, first_part;
  };
  for (const Case c : {Case{std::nullopt, 218, 28}, Case{13, 226, 25}}) {
    BalanceFixture f;
    RunnerOptions o;
    o.stop_grace_s = 5;
    o.batch_size = 5;
    o.in_flight_extra = 3;  // a margin of 8, or 16 with the shard's own batch of 13
    f.state.shards[2].batch_size = c.shard_batch;
    Runner r = f.make_balanced(o);
    r.start();
    f.launcher.job_for_shard(2).exits_on_term = false;
    f.skew(r, 10, 2.0);
    f.clock.advance(5);
    r.tick();  // grace over: SIGKILL, which ends it
    CHECK(f.launcher.job_for_shard(2).signals == std::vector<int>{SIGTERM, SIGKILL});
    f.journaled = 10;
    r.tick();
    REQUIRE(f.splits.size() == 1);
    // Items 210..(keeps_until - 1) may have outputs without a journal line: they stay; the
    // rest is shared by the shard and the two idle GPUs.
    CHECK(f.splits[0][0].end == c.keeps_until + c.first_part);
    CHECK(f.splits[0][1].begin == c.keeps_until + c.first_part);
  }
}

TEST_CASE("balancing: Ctrl-C while a shard is being stopped for a split leaves it interrupted, unsplit",
          "[runner][balance]") {
  BalanceFixture f;
  Runner r = f.make_balanced();
  r.start();
  f.launcher.job_for_shard(2).exits_on_term = false;
  f.skew(r, 10, 2.0);
  REQUIRE(f.status.of<ShardSplitting>().size() == 1);
  r.interrupt();
  f.launcher.job_for_shard(2).exit = ExitStatus{false, 130, 0};
  r.tick();
  CHECK(f.splits.empty());
  CHECK(f.state.shards[2].status == ShardStatus::interrupted);
  CHECK(r.finished());
}

TEST_CASE("balancing: nothing left to split, or a journal that cannot be read: the shard resumes whole",
          "[runner][balance]") {
  for (const bool unreadable : {false, true}) {
    BalanceFixture f;
    Runner r = f.make_balanced();
    r.start();
    f.skew(r, 10, 2.0);
    f.journaled = 100;  // everything journaled by the time it stopped
    f.journal_unreadable = unreadable;
    r.tick();
    CHECK(f.splits.empty());
    CHECK(f.state.shards.size() == 3);
    const auto split = f.status.of<ShardSplit>();
    REQUIRE(split.size() == 1);
    CHECK(split[0].added.empty());
    CHECK(split[0].why == (unreadable ? "cannot split it: output_gpu2/.journal.jsonl: cannot read"
                                      : "too few items left to split"));
    CHECK(f.launches.back() == std::pair<int, bool>{2, true});
    CHECK(f.state.shards[2].status == ShardStatus::running);
  }
}

TEST_CASE("shards that share a device run one after the other - balancing lets an idle device take one",
          "[runner][balance]") {
  for (const bool balance : {false, true}) {
    Fixture f;
    f.state = make_state(3, 10);
    // Shards 0 and 2 both on GPU 0.
    f.state.shards[2].device = "GPU 0";
    f.state.shards[2].device_index = 0;
    f.state.shards[2].cuda_visible_devices = "0";
    RunnerOptions o;
    o.balance = balance;
    Runner r = f.make(o);
    r.start();
    CHECK(f.launches == std::vector<std::pair<int, bool>>{{0, false}, {1, false}});
    CHECK(r.lanes().size() == 2);
    f.launcher.job_for_shard(1).exit = ExitStatus{false, 0, 0};
    r.tick();
    if (balance) {
      // GPU 1 is free: it takes shard 2.
      CHECK(f.launches.size() == 3);
      CHECK(f.state.shards[2].device == "GPU 1");
      CHECK(f.state.shards[2].cuda_visible_devices == "1");
    } else {
      CHECK(f.launches.size() == 2);
      CHECK_FALSE(r.finished());
      f.launcher.job_for_shard(0).exit = ExitStatus{false, 0, 0};
      r.tick();
      CHECK(f.launches.size() == 3);
      CHECK(f.state.shards[2].device == "GPU 0");
    }
  }
}

// --- Quarantine (issue 10) -----------------------------------------------------------------

namespace {

void fail_latest(Fixture& f, Runner& r, int shard, const std::string& line, ExitStatus exit = ExitStatus{false, 1, 0}) {
  auto& job = f.launcher.job_for_shard(shard);
  job.pending_output = line + "\n";
  job.exit = exit;
  r.tick();
}

const std::string kCudaError = "RuntimeError: CUDA error: an illegal memory access was encountered";

}  // namespace

TEST_CASE("quarantine: a GPU whose attempts fail twice gets no more work - its shard moves to a healthy GPU",
          "[runner][quarantine]") {
  Fixture f;
  RunnerOptions o;
  o.max_retries = 1;
  Runner r = f.make(o);
  r.start();
  fail_latest(f, r, 2, kCudaError);  // retried on its GPU (max_retries 1)
  CHECK(f.launches.back() == std::pair<int, bool>{2, true});
  CHECK(f.state.shards[2].device == "GPU 2");
  CHECK(f.status.of<GpuQuarantined>().empty());
  fail_latest(f, r, 2, kCudaError);
  const auto q = f.status.of<GpuQuarantined>();
  REQUIRE(q.size() == 1);
  CHECK(q[0].device == "GPU 2");
  CHECK(q[0].failures == 2);
  CHECK(q[0].kind == FailureKind::cuda_error);
  CHECK(q[0].moved == std::vector<int>{2});
  CHECK(f.state.quarantined == std::vector<std::string>{"GPU 2"});
  CHECK(r.lanes()[2].quarantined);
  CHECK(f.launches.size() == 4);  // every healthy GPU is busy: shard 2 waits
  CHECK_FALSE(r.finished());

  f.launcher.job_for_shard(0).exit = ExitStatus{false, 0, 0};
  r.tick();
  // GPU 0 is free: shard 2 resumes there, not counted as a retry.
  CHECK(f.launches.back() == std::pair<int, bool>{2, true});
  CHECK(f.state.shards[2].device == "GPU 0");
  CHECK(f.state.shards[2].cuda_visible_devices == "0");
  finish_all(f, r, {2, 1});
  CHECK(f.state.shards[2].attempts == 3);
}

TEST_CASE("quarantine: failures that follow the shard do not count against the GPU", "[runner][quarantine]") {
  Fixture f;
  RunnerOptions o;
  o.max_retries = 1;
  Runner r = f.make(o, {0});
  r.start();
  fail_latest(f, r, 0, "ValueError: bad label line");
  fail_latest(f, r, 0, "ValueError: bad label line");
  CHECK(f.status.of<GpuQuarantined>().empty());
  CHECK(f.state.quarantined.empty());
  CHECK(f.state.shards[0].status == ShardStatus::failed);
  CHECK(r.finished());
}

TEST_CASE("quarantine: with no healthy GPU left the run ends with the shard failed", "[runner][quarantine]") {
  Fixture f;
  RunnerOptions o;
  o.max_retries = 1;
  Runner r = f.make(o, {1});
  r.start();
  fail_latest(f, r, 1, "worker: killed", ExitStatus{true, 0, SIGSEGV});
  fail_latest(f, r, 1, "worker: killed", ExitStatus{true, 0, SIGSEGV});
  REQUIRE(f.status.of<GpuQuarantined>().size() == 1);
  CHECK(r.finished());
  CHECK(f.state.shards[1].status == ShardStatus::failed);
  CHECK(f.launcher.started.size() == 2);
}

TEST_CASE("quarantine: balancing never splits work onto a quarantined GPU, and a retry moves its shards off it",
          "[runner][quarantine]") {
  // Two failures of split-off work on GPU 0 quarantine it (max_retries 0: each failure is final).
  BalanceFixture f(2);
  Runner r = f.make_balanced();
  r.start();
  fail_latest(f, r, 0, kCudaError);  // GPU 0: first failure
  f.launcher.job_for_shard(1).pending_output = "[progress] 0/100 failed=0\n";
  r.tick();
  f.clock.advance(2);
  f.launcher.job_for_shard(1).pending_output = "[progress] 10/100 failed=0\n";
  r.tick();  // GPU 0 idle, shard 1 has 18 s left: split
  r.tick();
  REQUIRE(f.state.shards.size() == 3);
  CHECK(f.state.shards[2].device == "GPU 0");
  fail_latest(f, r, 2, kCudaError);  // GPU 0: second failure
  const auto q = f.status.of<GpuQuarantined>();
  REQUIRE(q.size() == 1);
  CHECK(q[0].moved == std::vector<int>{0, 2});  // both failed there; they wait for GPU 1
  // GPU 1 is busy; GPU 0 takes nothing.
  f.clock.advance(2);
  f.launcher.job_for_shard(1).pending_output = "[progress] 20/100 failed=0\n";
  r.tick();
  CHECK(f.status.of<ShardSplitting>().size() == 1);
  f.launcher.job_for_shard(1).exit = ExitStatus{false, 0, 0};
  r.tick();
  CHECK(f.state.shards[0].device == "GPU 1");
  CHECK(f.launches.back().first == 0);
  CHECK(f.state.shards[0].status == ShardStatus::running);

  // The next --retry-failed (no --gpus) puts shards of the quarantined GPU on the others.
  RunState st = make_state(3, 10);
  st.quarantined = {"GPU 1"};
  const std::vector<int> moved = move_off_quarantined(st, {0, 1, 2});
  CHECK(moved == std::vector<int>{1});
  CHECK(st.shards[1].device == "GPU 0");
  st.quarantined = {"GPU 0", "GPU 1", "GPU 2"};
  CHECK(move_off_quarantined(st, {0, 1, 2}).empty());  // nowhere to go: they stay
}

TEST_CASE("balancing: two slow shards share the idle GPUs by their time left, and are split at once",
          "[runner][balance]") {
  BalanceFixture f(4);
  f.journaled = 10;
  auto& splits = f.splits;
  Runner r = f.make_balanced();
  r.start();
  for (int i : {2, 3}) f.launcher.job_for_shard(i).pending_output = "[progress] 0/100 failed=0\n";
  r.tick();
  f.clock.advance(2);
  for (int i : {2, 3}) f.launcher.job_for_shard(i).pending_output = "[progress] 10/100 failed=0\n";
  for (int i : {0, 1}) f.launcher.job_for_shard(i).exit = ExitStatus{false, 0, 0};
  r.tick();
  // 18 s left each, 36 s over 4 GPUs: 9 s each, so each is worth 2 parts: one idle GPU each.
  const auto splitting = f.status.of<ShardSplitting>();
  REQUIRE(splitting.size() == 2);
  CHECK(splitting[0].idle == 1);
  CHECK(splitting[1].idle == 1);
  // Shard 3 exits 1 on the way out: we stopped it, so it is split all the same.
  f.launcher.job_for_shard(3).exit = ExitStatus{false, 1, 0};
  f.launcher.job_for_shard(3).pending_output = "ValueError: broken\n";
  r.tick();
  REQUIRE(splits.size() == 2);
  CHECK(splits[0].front().index == 2);
  REQUIRE(splits[0].size() == 2);  // shard 2 and the GPU reserved for it
  CHECK(splits[1].front().index == 3);
  REQUIRE(splits[1].size() == 2);
  CHECK(f.state.shards[3].status == ShardStatus::running);
  CHECK(f.status.of<ShardFailed>().empty());
  for (const auto& lane : r.lanes()) CHECK_FALSE(lane.reserved_for);
}

TEST_CASE("balancing: a slow shard waits for GPUs about to finish rather than being split twice", "[runner][balance]") {
  BalanceFixture f(4);
  Runner r = f.make_balanced();
  r.start();
  for (int i : {1, 2, 3}) f.launcher.job_for_shard(i).pending_output = "[progress] 0/100 failed=0\n";
  r.tick();
  f.clock.advance(2);
  // Shard 3: 90 left at 5/s (18 s). Shards 1 and 2: 1 left at 49.5/s, done within a second.
  f.launcher.job_for_shard(3).pending_output = "[progress] 10/100 failed=0\n";
  for (int i : {1, 2}) f.launcher.job_for_shard(i).pending_output = "[progress] 99/100 failed=0\n";
  f.launcher.job_for_shard(0).exit = ExitStatus{false, 0, 0};
  r.tick();
  CHECK(f.status.of<ShardSplitting>().empty());  // one GPU idle, two about to be: wait
  for (int i : {1, 2}) f.launcher.job_for_shard(i).exit = ExitStatus{false, 0, 0};
  r.tick();
  const auto splitting = f.status.of<ShardSplitting>();
  REQUIRE(splitting.size() == 1);
  CHECK(splitting[0].index == 3);
  CHECK(splitting[0].idle == 3);  // 18 s over 4 GPUs: all three idle ones at once
}

TEST_CASE("balancing: the time left comes from the recent rate, so a shard reaching a slow folder is split",
          "[runner][balance]") {
  BalanceFixture f(2);
  f.journaled = 60;
  Runner r = f.make_balanced();
  r.start();
  auto& job = f.launcher.job_for_shard(1);
  const auto progress = [&](double at, int done) {
    f.clock.advance(at);
    job.pending_output = fmt::format("[progress] {}/100 failed=0\n", done);
    r.tick();
  };
  progress(3, 0);    // 3 s to start: a split must save twice that and a second
  progress(1, 60);  // 60 quick items in a second
  f.launcher.job_for_shard(0).exit = ExitStatus{false, 0, 0};
  progress(2, 61);  // then 1 item every 2 s: the average says a few seconds left
  progress(2, 62);
  CHECK(f.status.of<ShardSplitting>().empty());
  progress(2, 63);  // the last 5 s: 3 items: 37 left at 0.5/s
  const auto splitting = f.status.of<ShardSplitting>();
  REQUIRE(splitting.size() == 1);
  CHECK(splitting[0].remaining_s > 30);
}

TEST_CASE("balancing: a worker that exits otherwise than 130 when stopped for a split is split all the same",
          "[runner][balance]") {
  for (const ExitStatus exit : {ExitStatus{false, 143, 0}, ExitStatus{true, 0, SIGSEGV}}) {
    BalanceFixture f;
    RunnerOptions o;
    o.batch_size = 3;
    o.in_flight_extra = 1;  // a margin of 4
    o.max_retries = 0;
    Runner r = f.make_balanced(o);
    r.start();
    f.launcher.job_for_shard(2).exits_on_term = false;  // a wrapper script: forwards, then exits 143
    f.skew(r, 10, 2.0);
    REQUIRE(f.status.of<ShardSplitting>().size() == 1);
    f.launcher.job_for_shard(2).exit = exit;
    f.journaled = 10;
    r.tick();
    REQUIRE(f.splits.size() == 1);
    CHECK(f.splits[0][0].end == 214 + 29);  // 86 left after the margin of 4, in 3 parts
    CHECK(f.status.of<ShardFailed>().empty());
    CHECK(f.status.of<GpuQuarantined>().empty());
    for (const auto& lane : r.lanes()) CHECK(lane.failures == 0);
  }
}

TEST_CASE("balancing: a shard that could not be split is not stopped for it again", "[runner][balance]") {
  BalanceFixture f;
  Runner r = f.make_balanced();
  r.start();
  f.skew(r, 10, 2.0);
  f.journaled = 100;  // nothing left to split by the time it stopped
  r.tick();
  REQUIRE(f.status.of<ShardSplit>().size() == 1);
  auto& job = f.launcher.job_for_shard(2);
  job.pending_output = "[progress] 10/100 failed=0\n";
  r.tick();
  f.clock.advance(2);
  job.pending_output = "[progress] 20/100 failed=0\n";
  r.tick();
  CHECK(f.status.of<ShardSplitting>().size() == 1);
  CHECK(job.signals.empty());
}

TEST_CASE("quarantine: a shard that crashes on two GPUs is the cause - its GPUs are cleared, it fails alone",
          "[runner][quarantine]") {
  Fixture f;
  RunnerOptions o;
  o.max_retries = 3;
  Runner r = f.make(o);
  r.start();
  const ExitStatus segv{true, 0, SIGSEGV};
  fail_latest(f, r, 1, "Segmentation fault", segv);  // GPU 1, retried there
  fail_latest(f, r, 1, "Segmentation fault", segv);  // GPU 1 again: quarantined, shard 1 waits
  REQUIRE(f.status.of<GpuQuarantined>().size() == 1);
  CHECK(f.status.of<ShardFailed>().empty());  // not failed: moved
  f.launcher.job_for_shard(0).exit = ExitStatus{false, 0, 0};
  r.tick();
  CHECK(f.state.shards[1].device == "GPU 0");
  fail_latest(f, r, 1, "Segmentation fault", segv);  // on GPU 0 too: the shard is the cause
  const auto blamed = f.status.of<ShardBlamed>();
  REQUIRE(blamed.size() == 1);
  CHECK(blamed[0].index == 1);
  CHECK(blamed[0].devices == std::vector<std::string>{"GPU 1", "GPU 0"});
  CHECK(blamed[0].restored == std::vector<std::string>{"GPU 1"});
  CHECK(f.state.quarantined.empty());
  CHECK_FALSE(r.lanes()[1].quarantined);
  // It goes on as any failing shard: retried on its GPU until max_retries, no GPU blamed.
  fail_latest(f, r, 1, "Segmentation fault", segv);
  fail_latest(f, r, 1, "Segmentation fault", segv);
  f.launcher.job_for_shard(2).exit = ExitStatus{false, 0, 0};
  r.tick();
  CHECK(r.finished());
  CHECK(f.state.shards[1].status == ShardStatus::failed);
  CHECK(f.status.of<GpuQuarantined>().size() == 1);
  CHECK(r.lanes()[0].failures == 0);
  CHECK(f.state.quarantined.empty());
}
