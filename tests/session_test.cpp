// The Session's decisions (fresh / retry / restart / merge-only, refusals and the commands they
// print, pre-flight, ownership of outputs, exit codes) with a fake system: no process is
// started, no clock is waited on. Real files in a temp dir, as a worker would leave them.
#include <set>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "catch.h"
#include "item_list.h"
#include "journal.h"
#include "orchestrator_fakes.h"
#include "output_claim.h"
#include "image_counts.h"
#include "report.h"
#include "run_state.h"
#include "session.h"
#include "shard_plan.h"
#include "test_util.h"

using namespace lv;
using namespace lv::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// What a fake worker does for one attempt of one shard.
enum class Act { succeed, exit3, crash_midway, succeed_but_remove_tree, hang };

/// The OS of the session, faked: 4 GPUs, a launcher whose jobs act as the test says, a clock
/// that advances one second a tick.
class FakeSystem : public SessionSystem {
 public:
  explicit FakeSystem(fs::path cwd) : cwd_(std::move(cwd)) {}

  GpuDiscovery discover_gpus() override {
    GpuDiscovery d;
    for (int i = 0; i < gpus; ++i) d.gpus.push_back(GpuInfo{i, "Fake GPU", 81920, "9.0", "GPU-fake-" + std::to_string(i)});
    if (gpus == 0) d.problem = "nvidia-smi not found";
    return d;
  }
  std::optional<std::string> env(const std::string&) const override { return std::nullopt; }
  fs::path program_path() const override { return "/opt/lv/bin/orchestrator"; }
  std::string find_program(const std::string&) const override { return ""; }
  fs::path current_dir() const override { return cwd_; }
  std::optional<uint64_t> free_bytes(const fs::path&) const override { return free; }
  unsigned cpu_count() const override { return 8; }
  Launcher& launcher() override { return launcher_; }
  CaptureResult capture(const std::vector<std::string>& argv) override {
    captured.push_back(argv);
    CaptureResult r;
    r.error = "no Slurm here";  // not started: the tests below stop before any submission
    return r;
  }
  const Clock& clock() const override { return clock_; }

  void drive(Runner& runner, Status& status, GpuMonitor* monitor) override {
    monitored = monitor != nullptr;
    runner.start();
    for (int step = 0; step < 10000 && !runner.finished(); ++step) {
      if (monitor && !gpu_samples.empty()) {
        const auto got = monitor->feed(gpu_samples);
        if (!got.empty()) status.on(GpuSampled{got});
      }
      for (JobId id : launcher_.started)
        if (acted_.insert(id).second) act(launcher_.jobs.at(id));
      if (interrupt_at_step && step == *interrupt_at_step) {
        status.on(InterruptRequested{2, false});
        runner.interrupt();
      }
      runner.tick();
      status.tick();
      clock_.advance(1);
    }
  }

  bool process_running(long pid, const std::string& needle) const override {
    return live_pids.count(pid) > 0 && needle.find("_gpu") != std::string::npos;
  }

  ExitStatus run_to_end(const LaunchSpec& spec) override {
    finalize_runs.push_back(spec);
    return finalize_exit;
  }

  int gpus = 4;
  std::set<long> live_pids;  ///< processes process_running() finds
  std::string gpu_samples;  ///< fed to the GPU monitor every tick, as nvidia-smi would print them
  bool monitored = false;   ///< drive() got a monitor
  std::optional<uint64_t> free;
  bool ask_finalize = false;              ///< shard reports say "finalize": true
  std::vector<LaunchSpec> finalize_runs;  ///< run_to_end calls (the finalize pass)
  ExitStatus finalize_exit;               ///< what each returns
  std::optional<int> interrupt_at_step;
  std::map<int, std::vector<Act>> script;  ///< per shard, one act per attempt (default: succeed)
  std::vector<std::vector<std::string>> launches;
  std::vector<std::vector<std::string>> captured;  ///< capture() calls (sbatch, scontrol, scancel)
  FakeLauncher launcher_;

 private:
  static std::string arg_after(const std::vector<std::string>& argv, const std::string& flag) {
    for (size_t i = 0; i + 1 < argv.size(); ++i)
      if (argv[i] == flag) return argv[i + 1];
    FAIL("no " << flag << " in the worker's argv");
    return "";
  }

  /// Plays a worker: reads its items, writes outputs, journal and report as the protocol says.
  void act(FakeLauncher::Job& job) {
    const auto& argv = job.spec.argv;
    launches.push_back(argv);
    const int shard = std::stoi(arg_after(argv, "--shard"));
    const fs::path out = arg_after(argv, "--output-dir");
    const std::vector<std::string> items = read_lines(arg_after(argv, "--items"));
    auto& acts = script[shard];
    const Act a = acts.empty() ? Act::succeed : acts.front();
    if (!acts.empty()) acts.erase(acts.begin());
    if (a == Act::exit3) {
      job.pending_output = "[phase] loading model\nerror: model.pt: model.path: cannot load the TorchScript model\n";
      job.exit = ExitStatus{false, 3, 0};
      return;
    }
    if (a == Act::hang) return;
    fs::create_directories(out);
    JournalWriter journal(out / kJournalFileName, false);
    const size_t upto = a == Act::crash_midway ? items.size() / 2 : items.size();
    for (size_t i = 0; i < upto; ++i) {
      write_text(out / "correct" / (items[i] + ".txt"), "0 0.5 0.5 0.1 0.1\n");
      journal.append(json{{"path", items[i]}, {"verdict", "correct"}, {"shard", shard},
                          {"boxes", json::array({json{{"index", 0}, {"label", 0}, {"verdict", "correct"}}})}});
    }
    job.pending_output = fmt::format("[progress] {}/{} failed=0\n", upto, items.size());
    if (a == Act::crash_midway) {
      job.exit = ExitStatus{true, 0, 9};
      return;
    }
    write_shard_report(out / kReportFileName, out / kJournalFileName, shard, "fake", items, 1.0, image_report_layout(),
                       ask_finalize ? json{{"finalize", true}} : json::object());
    if (a == Act::succeed_but_remove_tree) fs::remove_all(out);
    job.exit = ExitStatus{false, 0, 0};
  }

  fs::path cwd_;
  FakeClock clock_;
  std::set<JobId> acted_;
};

/// A dataset of `count` images in data/, a config beside it, and a session runner.
struct World {
  TempDir dir;
  FakeSystem system{dir.path()};
  RecordingStatus status;

  explicit World(int count = 12, const std::string& extra = "") {
    for (int i = 0; i < count; ++i) write_text(dir / "data" / fmt::format("cam{}/img_{:03d}.jpg", i % 2, i), "jpeg");
    config(extra);
  }
  void config(const std::string& extra = "") {
    write_text(dir / "config.yaml", "input:\n  images: data\n  classes: [a, b]\n"
                                    "output:\n  dir: out\n"
                                    "worker:\n  executable: /bin/true\n" +
                                        extra);
  }
  Options options(const std::string& work = "work") const {
    Options o;
    o.config = "config.yaml";
    o.work_dir = work;
    return o;
  }
  int run(const Options& o) {
    Session session(o, system, status);
    return session.run();
  }
  /// Runs and expects a refusal; returns it.
  Refusal refused(const Options& o) {
    try {
      run(o);
    } catch (const Refusal& r) {
      return r;
    }
    FAIL("expected a refusal");
    throw std::logic_error("unreachable");
  }
  std::string commands(const Options& o, std::string (CommandBuilder::*which)() const) {
    Session session(o, system, status);
    return (session.commands().*which)();
  }
  json report() const { return json::parse(read_text(dir / "out" / kReportFileName)); }
  fs::path work() const { return dir / "work"; }
};

}  // namespace

TEST_CASE("session: a fresh run plans one shard per GPU, runs them, merges, and exits 0", "[session]") {
  World w;
  REQUIRE(w.run(w.options()) == 0);
  CHECK(w.system.launches.size() == 4);
  const auto plans = w.status.of<PlanReady>();
  REQUIRE(plans.size() == 1);
  CHECK(plans[0].items_to_run == 12);
  CHECK(plans[0].selected.size() == 4);
  CHECK(w.status.of<ShardDone>().size() == 4);
  CHECK(w.status.of<MergeDone>().size() == 1);
  CHECK(w.status.of<Summary>().at(0).counts.at("total_images") == 12);
  CHECK(w.report().at("status") == "complete");
  const auto owner = read_output_owner(w.dir / "out");
  REQUIRE(owner);
  CHECK(owner->run_id == load_run_state(w.work())->run_id);
  CHECK(w.status.of<FollowUp>().empty());
}

TEST_CASE("session: a failed shard gives a failure block, exit 1 and pasteable retry and restart commands",
          "[session]") {
  World w;
  w.system.script[2] = {Act::crash_midway};
  REQUIRE(w.run(w.options()) == 1);
  const auto blocks = w.status.of<FailureBlock>();
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].index == 2);
  CHECK(blocks[0].kind == FailureKind::killed_by_signal);
  const auto follow = w.status.of<FollowUp>();
  REQUIRE(follow.size() == 3);
  CHECK(follow[0].kind == FollowUp::Kind::retry);
  const std::string cfg = (w.dir / "config.yaml").string(), work = w.work().string();
  // Absolute paths: the command works when pasted in any folder.
  CHECK(follow[0].command == "/opt/lv/bin/orchestrator --config " + cfg + " --work-dir " + work + " --retry-failed");
  // The crashed shard may have met a bad GPU: moving it to one whose shard went well.
  CHECK(follow[1].kind == FollowUp::Kind::move_shard);
  CHECK(follow[1].command ==
        "/opt/lv/bin/orchestrator --config " + cfg + " --work-dir " + work + " --shards 2 --gpus 0");
  CHECK(follow[2].kind == FollowUp::Kind::restart);
  CHECK(follow[2].command == "/opt/lv/bin/orchestrator --config " + cfg + " --work-dir " + work + " --restart");
  CHECK(w.report().at("status") == "partial");

  // The printed retry resumes shard 2 only, and the result is complete.
  Options retry = w.options();
  retry.retry_failed = true;
  REQUIRE(w.run(retry) == 0);
  CHECK(w.system.launches.size() == 5);
  CHECK(w.system.launches.back().back() == "--resume");
  CHECK(w.report().at("status") == "complete");
  CHECK(w.report().at("summary").at("total_images") == 12);
}

TEST_CASE("session: a fresh run over an unfinished one refuses and names the retry command", "[session]") {
  World w;
  w.system.script[1] = {Act::crash_midway};
  REQUIRE(w.run(w.options()) == 1);
  const Refusal r = w.refused(w.options());
  CHECK(r.kind() == RefusalKind::unfinished_run);
  CHECK(r.way_out() == w.commands(w.options(), &CommandBuilder::retry));
  CHECK(std::string(r.what()).find(w.commands(w.options(), &CommandBuilder::restart)) != std::string::npos);
}

TEST_CASE("session: a retry accepts a lower batch size, names the changed key, and completes", "[session]") {
  World w;
  w.system.script[3] = {Act::crash_midway};  // think: CUDA out of memory
  REQUIRE(w.run(w.options()) == 1);
  w.config("processing:\n  batch_size: 8\n");
  Options retry = w.options();
  retry.retry_failed = true;
  REQUIRE(w.run(retry) == 0);
  bool named = false;
  for (const auto& n : w.status.of<Notice>())
    if (n.kind == Notice::Kind::config_keys_changed) named = n.names == std::vector<std::string>{"processing.batch_size"};
  CHECK(named);
  CHECK(w.report().at("status") == "complete");
}

TEST_CASE("session: a retry refuses a change to a key that changes results, naming it, with the restart command",
          "[session]") {
  World w;
  w.system.script[0] = {Act::crash_midway};
  REQUIRE(w.run(w.options()) == 1);
  w.config("verification:\n  correct_threshold: 0.3\n");
  Options retry = w.options();
  retry.retry_failed = true;
  const Refusal r = w.refused(retry);
  CHECK(r.kind() == RefusalKind::config_changed);
  CHECK(std::string(r.what()).find("verification.correct_threshold") != std::string::npos);
  CHECK(r.way_out() == w.commands(retry, &CommandBuilder::restart));
}

TEST_CASE("session: a retry refuses when the item list changed", "[session]") {
  World w;
  w.system.script[0] = {Act::crash_midway};
  REQUIRE(w.run(w.options()) == 1);
  write_text(w.dir / "data" / "cam0" / "img_999.jpg", "new");
  Options retry = w.options();
  retry.retry_failed = true;
  CHECK(w.refused(retry).kind() == RefusalKind::input_changed);
}

TEST_CASE("session: --retry-failed without an earlier run refuses and prints the fresh command", "[session]") {
  World w;
  Options retry = w.options();
  retry.retry_failed = true;
  const Refusal r = w.refused(retry);
  CHECK(r.kind() == RefusalKind::no_earlier_run);
  CHECK(r.way_out() == w.commands(retry, &CommandBuilder::fresh));
  CHECK(r.way_out().find("--retry-failed") == std::string::npos);
}

TEST_CASE("session: --restart removes this run's plan, per-GPU trees and partial output, says so, and starts fresh",
          "[session]") {
  World w;
  w.system.script[1] = {Act::crash_midway};
  Options keep = w.options();
  keep.keep_gpu_outputs = true;
  REQUIRE(w.run(keep) == 1);
  REQUIRE(fs::exists(w.dir / "out_gpu1"));
  const std::string old_run = load_run_state(w.work())->run_id;
  Options restart = keep;
  restart.restart = true;
  REQUIRE(w.run(restart) == 0);
  const auto notices = w.status.of<Notice>();
  std::vector<fs::path> removed;
  for (const auto& n : notices)
    if (n.kind == Notice::Kind::restart_removes) removed = n.paths;
  const std::set<fs::path> said(removed.begin(), removed.end());
  CHECK(said.count(w.dir / "out_gpu1"));
  CHECK(said.count(w.dir / "out" / kReportFileName));
  CHECK(said.count(w.work() / kRunStateFile));
  CHECK(load_run_state(w.work())->run_id != old_run);
  CHECK(w.report().at("status") == "complete");
  CHECK(w.report().at("summary").at("total_images") == 12);
}

TEST_CASE("session: a second run into the same output from another work dir refuses while the first holds it",
          "[session]") {
  World w;
  const OutputLock first(w.dir / "out", w.dir / "work_a");
  const Refusal r = w.refused(w.options("work_b"));
  CHECK(r.kind() == RefusalKind::output_in_use);
  CHECK(std::string(r.what()).find("work_a") != std::string::npos);
  CHECK(w.system.launches.empty());
}

TEST_CASE("session: a run never replaces another run's results, and keeps them byte for byte", "[session]") {
  World w;
  REQUIRE(w.run(w.options("work_a")) == 0);
  const std::string before = read_text(w.dir / "out" / kReportFileName);
  for (Options o : {w.options("work_b"), [&] {
                      Options r = w.options("work_b");
                      r.restart = true;
                      return r;
                    }()}) {
    const Refusal r = w.refused(o);
    CHECK((r.kind() == RefusalKind::output_of_other_run || r.kind() == RefusalKind::output_not_empty));
    CHECK(r.way_out().find("--output " + (w.dir / "out_2").string()) != std::string::npos);
  }
  CHECK(read_text(w.dir / "out" / kReportFileName) == before);
  CHECK(w.system.launches.size() == 4);
}

TEST_CASE("session: a shard whose output tree vanished is a failure that says so", "[session]") {
  World w;
  w.system.script[0] = {Act::succeed_but_remove_tree};
  REQUIRE(w.run(w.options()) == 1);
  const auto blocks = w.status.of<FailureBlock>();
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].detail.find("is gone") != std::string::npos);
}

TEST_CASE("session: a missing model fails with exit 3 before any worker starts, writing nothing", "[session]") {
  World w;
  w.config("model:\n  path: models/missing.pt\n");
  try {
    w.run(w.options());
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::model_load);
    CHECK(std::string(e.what()).find((w.dir / "models/missing.pt").string()) != std::string::npos);
  }
  CHECK(w.system.launches.empty());
  CHECK_FALSE(fs::exists(w.work() / kRunStateFile));
  CHECK_FALSE(fs::exists(w.dir / "out"));
}

TEST_CASE("session: when every worker exits 3 the run exits 3 and leaves the output empty", "[session]") {
  World w;
  for (int i = 0; i < 4; ++i) w.system.script[i] = {Act::exit3};
  CHECK(w.run(w.options()) == 3);
  bool said = false;
  for (const auto& n : w.status.of<Notice>()) said |= n.kind == Notice::Kind::no_shard_succeeded;
  CHECK(said);
  CHECK_FALSE(holds_results(w.dir / "out"));
}

TEST_CASE("session: an output dir inside the scanned input folder is refused, with an outside one offered",
          "[session]") {
  World w;
  Options o = w.options();
  o.output = "data/results";
  const Refusal r = w.refused(o);
  CHECK(r.kind() == RefusalKind::output_inside_input);
  CHECK(r.way_out().find("--output " + (w.dir / "data_results").string()) != std::string::npos);
  Options work_inside = w.options("data/cam0/work");
  CHECK(w.refused(work_inside).kind() == RefusalKind::output_inside_input);
  CHECK_FALSE(fs::exists(w.dir / "data/cam0/work"));  // nothing created inside the input
}

TEST_CASE("session: an output dir that holds the scanned input folder is refused, with one beside it offered",
          "[session]") {
  World w;
  Options o = w.options();
  o.output = ".";  // holds data/
  const Refusal r = w.refused(o);
  CHECK(r.kind() == RefusalKind::output_inside_input);
  CHECK(std::string(r.what()).find("holds the input folder") != std::string::npos);
  // Not --restart, which a run in this state used to offer, and which was refused in turn.
  const fs::path beside = w.dir.path().parent_path() / (w.dir.path().filename().string() + "_verified");
  CHECK(r.way_out().find("--output " + beside.string()) != std::string::npos);
}

TEST_CASE("session: dataset classes no model class can judge are named before the run", "[session]") {
  World w;
  w.config("model:\n  class_names: [a, zebra]\n");
  REQUIRE(w.run(w.options()) == 0);
  bool named = false;
  for (const auto& n : w.status.of<Notice>())
    if (n.kind == Notice::Kind::unjudgeable_classes) named = n.names == std::vector<std::string>{"b"};
  CHECK(named);
}

TEST_CASE("session: no dataset class judgeable by the model is a config error before any worker starts",
          "[session]") {
  World w;
  w.config("model:\n  class_names: [person, car]\n");
  try {
    w.run(w.options());
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    CHECK(std::string(e.what()).find("person, car") != std::string::npos);
  }
  CHECK(w.system.launches.empty());
}

TEST_CASE("session: --cpu-workers on a GPU run is a usage error, not ignored", "[session]") {
  World w;
  Options o = w.options();
  o.cpu_workers = 3;
  try {
    w.run(o);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    CHECK(std::string(e.what()).find("--gpus cpu") != std::string::npos);
  }
}

TEST_CASE("session: the Slurm launcher plans one array task per shard and refuses what Slurm decides", "[session]") {
  World w(12, "slurm:\n  tasks: 3\n");
  Options o = w.options();
  o.launcher = "slurm";
  o.dry_run = true;
  REQUIRE(w.run(o) == 0);
  const auto plans = w.status.of<PlanReady>();
  REQUIRE(plans.size() == 1);
  REQUIRE(plans[0].selected.size() == 3);  // slurm.tasks, not the 4 GPUs of this machine
  for (int i = 0; i < 3; ++i) {
    CHECK(plans[0].selected[static_cast<size_t>(i)].device == fmt::format("Slurm task {}", i));
    CHECK(plans[0].selected[static_cast<size_t>(i)].cuda_visible_devices.empty());  // Slurm sets it
  }
  o.num_gpus = 5;  // --num-gpus is the task count
  REQUIRE(w.run(o) == 0);
  CHECK(w.status.of<PlanReady>().back().selected.size() == 5);

  const auto usage_error_naming = [&](Options bad, const std::string& words) {
    try {
      w.run(bad);
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::usage);
      CHECK_THAT(e.what(), Catch::Contains(words));
    }
  };
  Options gpus = w.options();
  gpus.launcher = "slurm";
  gpus.gpus = "0,1";
  usage_error_naming(gpus, "slurm.gres");
  Options batch = w.options();
  batch.launcher = "slurm";
  batch.auto_batch = true;
  usage_error_naming(batch, "processing.batch_size");
  w.config("orchestrator:\n  launcher: slurm\n");  // the config's launcher, and no task count
  usage_error_naming(w.options(), "slurm.tasks");
  CHECK(w.system.launches.empty());
  CHECK(w.system.captured.empty());
}

TEST_CASE("session: Ctrl-C saves the state, exits 130 and prints the resume command", "[session]") {
  World w;
  for (int i = 0; i < 4; ++i) w.system.script[i] = {Act::hang};
  w.system.interrupt_at_step = 2;
  CHECK(w.run(w.options()) == 130);
  const auto follow = w.status.of<FollowUp>();
  REQUIRE(follow.size() == 2);
  CHECK(follow[0].kind == FollowUp::Kind::resume_interrupted);
  CHECK(follow[1].kind == FollowUp::Kind::merge_only);
  CHECK(follow[1].command.find("--merge-only") != std::string::npos);
  // Held: a range over `load_run_state(...)->shards` would outlive the optional it points into.
  const auto state = load_run_state(w.work());
  REQUIRE(state);
  for (const auto& s : state->shards) CHECK(s.status == ShardStatus::interrupted);
}

TEST_CASE("session: --merge-only merges what succeeded without running anything", "[session]") {
  World w;
  w.system.script[2] = {Act::crash_midway};
  Options keep = w.options();
  keep.keep_gpu_outputs = true;
  REQUIRE(w.run(keep) == 1);
  fs::remove_all(w.dir / "out" / "correct");
  fs::remove(w.dir / "out" / kReportFileName);
  Options merge = keep;
  merge.merge_only = true;
  CHECK(w.run(merge) == 1);  // partial: shard 2 did not succeed
  CHECK(w.system.launches.size() == 4);
  CHECK(w.report().at("status") == "partial");
  CHECK(fs::exists(w.dir / "out" / "correct"));
}

TEST_CASE("session: --merge-only after the output dir of a complete run was deleted says so and writes nothing",
          "[session]") {
  World w;
  REQUIRE(w.run(w.options()) == 0);  // complete: the per-GPU trees are removed
  fs::remove_all(w.dir / "out");
  Options merge = w.options();
  merge.merge_only = true;
  std::string message;
  try {
    w.run(merge);
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find("nothing to merge: every shard succeeded") != std::string::npos);
  CHECK(message.find("--restart") != std::string::npos);
  CHECK_FALSE(fs::exists(w.dir / "out" / kReportFileName));  // not a report of 12 unprocessed items
}

TEST_CASE("session: a report asking for it gets the worker's finalize pass after a complete merge only", "[session]") {
  World w;
  w.system.ask_finalize = true;
  w.system.script[1] = {Act::crash_midway};
  REQUIRE(w.run(w.options()) == 1);
  CHECK(w.system.finalize_runs.empty());  // partial: the verdicts are not the run's yet

  Options retry = w.options();
  retry.retry_failed = true;
  w.status.events.clear();
  REQUIRE(w.run(retry) == 0);
  REQUIRE(w.system.finalize_runs.size() == 1);
  const LaunchSpec& pass = w.system.finalize_runs[0];
  const auto abs = [](const fs::path& p) { return fs::weakly_canonical(p).string(); };
  CHECK(pass.argv == std::vector<std::string>{"/bin/true", "--finalize", "--config", abs(w.dir / "config.yaml"),
                                              "--output-dir", abs(w.dir / "out")});
  CHECK(pass.log == w.work() / "finalize.log");
  CHECK(w.status.of<Finalized>().size() == 1);
  CHECK(w.status.of<FollowUp>().empty());

  // A failed pass fails the invocation and offers --merge-only, which runs it again.
  w.system.finalize_exit = ExitStatus{false, 4, 0};
  w.status.events.clear();
  Options merge = w.options();
  merge.merge_only = true;
  CHECK(w.run(merge) == 1);
  CHECK(w.system.finalize_runs.size() == 2);
  auto follow = w.status.of<FollowUp>();
  REQUIRE(follow.size() == 1);
  CHECK(follow[0].kind == FollowUp::Kind::finalize);
  CHECK(follow[0].command.find("--merge-only") != std::string::npos);
  // Interrupted (Ctrl-C reaches the pass too): exit 130 and the command to resume.
  w.system.finalize_exit = ExitStatus{false, 130, 0};
  w.status.events.clear();
  CHECK(w.run(merge) == 130);
  follow = w.status.of<FollowUp>();
  REQUIRE(follow.size() == 1);
  CHECK(follow[0].kind == FollowUp::Kind::resume_interrupted);
  CHECK(follow[0].command.find("--merge-only") != std::string::npos);
  w.system.finalize_exit = ExitStatus{};
  CHECK(w.run(merge) == 0);
  CHECK(w.system.finalize_runs.size() == 4);
}

TEST_CASE("session: --merge-only refuses a config changed in a key that changes results, naming it", "[session]") {
  World w;
  w.system.ask_finalize = true;
  REQUIRE(w.run(w.options()) == 0);
  w.config("verification:\n  correct_threshold: 0.3\n");
  Options merge = w.options();
  merge.merge_only = true;
  const Refusal r = w.refused(merge);
  CHECK(r.kind() == RefusalKind::config_changed);
  CHECK(std::string(r.what()).find("verification.correct_threshold") != std::string::npos);
  CHECK(r.way_out().find("--restart") != std::string::npos);
  CHECK(w.system.finalize_runs.size() == 1);  // the first run's only
  w.config("processing:\n  batch_size: 8\n");  // cannot change results
  CHECK(w.run(merge) == 0);
}

TEST_CASE("session: a report that does not ask for it gets no finalize pass", "[session]") {
  World w;
  REQUIRE(w.run(w.options()) == 0);
  CHECK(w.system.finalize_runs.empty());
  CHECK(w.status.of<Finalized>().empty());
}

TEST_CASE("session: low free space is a warning with the estimate, not an error", "[session]") {
  World w;
  w.system.free = 1;
  REQUIRE(w.run(w.options()) == 0);
  bool warned = false;
  for (const auto& n : w.status.of<Notice>())
    if (n.kind == Notice::Kind::low_disk_space) warned = n.bytes_needed == 12 * 4 && n.bytes_free == 1;
  CHECK(warned);
}

TEST_CASE("session: an output path that is a regular file is an error before any worker starts", "[session]") {
  World w;
  write_text(w.dir / "out", "a file where the output folder should be");
  try {
    w.run(w.options());
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    CHECK(std::string(e.what()).find("is a file, not a folder") != std::string::npos);
  }
  CHECK(w.system.launches.empty());
  CHECK(read_text(w.dir / "out") == "a file where the output folder should be");
}

TEST_CASE("session: a retry refuses when the classes file was edited since the plan", "[session]") {
  World w;
  write_text(w.dir / "classes.txt", "a\nb\n");
  write_text(w.dir / "config.yaml", "input:\n  images: data\n  classes: classes.txt\noutput:\n  dir: out\n"
                                    "worker:\n  executable: /bin/true\n");
  w.system.script[0] = {Act::crash_midway};
  REQUIRE(w.run(w.options()) == 1);
  write_text(w.dir / "classes.txt", "b\na\n");  // same names, other ids: other verdicts
  Options retry = w.options();
  retry.retry_failed = true;
  const Refusal r = w.refused(retry);
  CHECK(r.kind() == RefusalKind::config_changed);
  CHECK(std::string(r.what()).find("input.classes") != std::string::npos);
}

TEST_CASE("session: GPU workers are sampled, and the run ends with items per second per device", "[session]") {
  World w;
  w.system.gpu_samples = "0, 20, 1000, 81920\n1, 20, 1000, 81920\n2, 20, 1000, 81920\n3, 95, 80000, 81920\n";
  REQUIRE(w.run(w.options()) == 0);
  CHECK(w.system.monitored);
  CHECK_FALSE(w.status.of<GpuSampled>().empty());
  const auto t = w.status.of<Throughput>();
  REQUIRE(t.size() == 1);
  CHECK(t[0].items == 12);
  REQUIRE(t[0].devices.size() == 4);
  CHECK(t[0].devices[0].device == "GPU 0");
  CHECK(t[0].devices[0].items == 3);
  CHECK(t[0].devices[0].busy_samples >= 1);
  CHECK(t[0].devices[0].mean_util == Approx(20.0));
  CHECK(t[0].devices[3].peak_mem_mib == 80000);

  World cpu;
  Options o = cpu.options();
  o.gpus = "cpu";
  REQUIRE(cpu.run(o) == 0);
  CHECK_FALSE(cpu.system.monitored);
  const auto c = cpu.status.of<Throughput>();
  REQUIRE(c.size() == 1);
  CHECK(c[0].devices.at(0).device == "CPU 0");
  CHECK(c[0].devices.at(0).busy_samples == 0);
}

TEST_CASE("session: --shards of a merged run whose other trees are gone is refused, the report kept whole",
          "[session]") {
  World w;
  REQUIRE(w.run(w.options()) == 0);
  const std::string report = read_text(w.dir / "out" / kReportFileName);
  Options again = w.options();
  again.shards = "2";
  const Refusal r = w.refused(again);
  CHECK(r.kind() == RefusalKind::shards_merged);
  CHECK(std::string(r.what()).find("cannot re-run shard(s) 2 alone") != std::string::npos);
  CHECK(r.way_out().find("--restart") != std::string::npos);
  CHECK(read_text(w.dir / "out" / kReportFileName) == report);

  // With the trees kept, re-running one shard is fine and the report stays complete.
  World kept;
  Options keep = kept.options();
  keep.keep_gpu_outputs = true;
  REQUIRE(kept.run(keep) == 0);
  keep.shards = "2";
  REQUIRE(kept.run(keep) == 0);
  CHECK(kept.report().at("status") == "complete");
  CHECK(kept.report().at("images").size() == 12);
}

TEST_CASE("session: a worker of the earlier run that still runs stops a retry, a merge and a restart", "[session]") {
  World w;
  w.system.script[2] = {Act::crash_midway};
  REQUIRE(w.run(w.options()) == 1);
  // The orchestrator died while shard 2's worker ran on, ignoring the SIGTERM that followed.
  RunState state = *load_run_state(w.work());
  CHECK(state.shards[2].pid == 0);  // it ended while we watched: no pid kept
  state.shards[2].pid = 4242;
  state.shards[2].status = ShardStatus::running;
  save_run_state(w.work(), state);
  w.system.live_pids = {4242};
  for (const int mode : {0, 1, 2}) {
    Options o = w.options();
    if (mode == 0) o.retry_failed = true;
    if (mode == 1) o.merge_only = true;
    if (mode == 2) o.restart = true;
    const Refusal r = w.refused(o);
    CHECK(r.kind() == RefusalKind::work_dir_in_use);
    CHECK(std::string(r.what()).find("pid 4242 (shard 2, writing") != std::string::npos);
    CHECK(r.way_out().rfind("kill -KILL -- 4242; ", 0) == 0);
  }
  CHECK(fs::exists(w.work() / "run_state.json"));  // the restart removed nothing
  w.system.live_pids.clear();
  Options retry = w.options();
  retry.retry_failed = true;
  CHECK(w.run(retry) == 0);
}
