// The runner's decisions (launch, progress, stall, timeout, retries, interrupt) driven by a
// fake launcher and a fake clock: deterministic and instant.
#include <csignal>
#include <map>

#include "catch.h"
#include "error.h"
#include "runner.h"

using namespace lv;

namespace {

class FakeClock : public Clock {
 public:
  time_point now() const override { return now_; }
  void advance(double seconds) {
    now_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  }

 private:
  time_point now_{std::chrono::seconds(1000)};
};

class FakeLauncher : public Launcher {
 public:
  struct Job {
    LaunchSpec spec;
    std::string pending_output;
    std::optional<ExitStatus> exit;
    std::vector<int> signals;
    bool exits_on_term = true;  ///< a well-behaved worker ends on SIGTERM with 130
  };
  JobId start(const LaunchSpec& spec) override {
    if (fail_next_start) {
      fail_next_start = false;
      throw Error(ExitCode::failed, "cannot start 'worker': No such file or directory");
    }
    const JobId id = next_++;
    jobs[id].spec = spec;
    started.push_back(id);
    return id;
  }
  std::optional<ExitStatus> poll(JobId id) override { return jobs.at(id).exit; }
  std::string read_output(JobId id) override { return std::exchange(jobs.at(id).pending_output, ""); }
  void signal(JobId id, int sig) override {
    Job& j = jobs.at(id);
    j.signals.push_back(sig);
    if (j.exit) return;
    if (sig == SIGKILL) j.exit = ExitStatus{true, 0, SIGKILL};
    else if (sig == SIGTERM && j.exits_on_term) j.exit = ExitStatus{false, 130, 0};
  }
  Job& job_for_shard(int shard) {
    // The newest job whose argv names this shard.
    for (auto it = started.rbegin(); it != started.rend(); ++it)
      if (jobs.at(*it).spec.argv.back() == std::to_string(shard) ||
          (jobs.at(*it).spec.argv.size() > 1 && jobs.at(*it).spec.argv[1] == std::to_string(shard)))
        return jobs.at(*it);
    FAIL("no job for shard " << shard);
    return jobs.begin()->second;
  }

  std::map<JobId, Job> jobs;
  std::vector<JobId> started;
  bool fail_next_start = false;

 private:
  JobId next_ = 1;
};

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
  std::vector<std::string> events;
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
    h.event = [this](const std::string& line) { events.push_back(line); };
    return h;
  }
  Runner make(RunnerOptions options = {}, std::vector<int> shards = {0, 1, 2}) {
    return Runner(state, std::move(shards), launcher, clock, options, hooks());
  }
  bool any_event(const std::string& needle) const {
    for (const auto& e : events)
      if (e.find(needle) != std::string::npos) return true;
    return false;
  }
};

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
  CHECK(f.any_event("no progress for 600 s"));
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
  CHECK(f.any_event("retry 1 of 2"));

  f.launcher.job_for_shard(1).exit = ExitStatus{false, 0, 0};
  r.tick();
  CHECK(f.state.shards[1].status == ShardStatus::succeeded);
  CHECK(f.state.shards[1].attempts == 2);
}

TEST_CASE("without retries left a failure is final and classified from the log tail", "[runner]") {
  Fixture f;
  Runner r = f.make({}, {2});
  r.start();
  auto& job = f.launcher.job_for_shard(2);
  job.pending_output = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n";
  job.exit = ExitStatus{false, 1, 0};
  r.tick();
  CHECK(f.launcher.started.size() == 1);
  CHECK(f.state.shards[2].status == ShardStatus::failed);
  CHECK(f.state.shards[2].failure == "CUDA out of memory");
  CHECK(r.runs()[0].failure == FailureKind::cuda_oom);
  CHECK(f.any_event("FAILED"));
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
  CHECK(f.any_event("could not start"));
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
