#pragma once
// Fakes of the orchestrator's OS boundaries, shared by the Runner and Session unit tests
// (STYLE: ninja's FakeCommandRunner and a fake clock): deterministic and instant.
#include <csignal>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "catch.h"
#include "error.h"
#include "launcher.h"
#include "status.h"

namespace lv::test {

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
  long process_id(JobId id) const override { return 10000 + id; }
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

/// Records every event, for tests that assert on what happened rather than on words.
class RecordingStatus : public Status {
 public:
  void on(const Event& event) override { events.push_back(event); }
  /// Every event of type T, in order.
  template <class T>
  std::vector<T> of() const {
    std::vector<T> out;
    for (const auto& e : events)
      if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
    return out;
  }
  std::vector<Event> events;
};

}  // namespace lv::test
