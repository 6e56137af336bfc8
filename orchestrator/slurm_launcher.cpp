#include "slurm_launcher.h"

#include "devices.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"
#include "failure.h"
#include "run_state.h"

namespace lv {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// `text` as one word for /bin/sh: in single quotes, each ' written as '\''.
std::string sh_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// A string of the tasks file: JSON strings are UTF-8, argv and paths are bytes; bytes that are
/// not UTF-8 go as {"escaped": "<escape_bytes form>"}.
json bytes_json(const std::string& bytes) {
  if (is_valid_utf8(bytes)) return bytes;
  return json{{"escaped", escape_bytes(bytes)}};
}
std::string json_bytes(const json& j) {
  return j.is_object() ? unescape_bytes(j.at("escaped").get<std::string>()) : j.get<std::string>();
}

/// The environment a task must not take from the orchestrator: Slurm sets the devices.
bool slurm_owns(const std::string& key) { return key == "CUDA_VISIBLE_DEVICES" || key == "CUDA_DEVICE_ORDER"; }

/// Whether scontrol said the job is unknown to it (gone past MinJobAge), as opposed to failing
/// for the moment (a busy or restarting controller: asked again at the next poll).
bool job_unknown(const CaptureResult& r) {
  return r.started && r.exit_code != 0 && (r.error + r.out).find("Invalid job id") != std::string::npos;
}

/// A path for a comment line of a generated script: one line, whatever bytes it holds.
std::string comment_text(const fs::path& path) {
  std::string text = printable(path.string());
  for (char& c : text)
    if (c == '\n' || c == '\r') c = '?';
  return text;
}

/// A command's stderr or stdout, trimmed to one line for a message.
std::string first_line(const CaptureResult& r) {
  std::string text = !r.error.empty() ? r.error : r.out;
  if (const size_t nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  return text.empty() ? fmt::format("exit code {}", r.exit_code) : text;
}

class SlurmLauncher : public Launcher {
 public:
  explicit SlurmLauncher(SlurmLauncherSettings s) : s_(std::move(s)) {}

  JobId start(const LaunchSpec& spec) override {
    if (spec.shard < 0) throw Error(ExitCode::failed, "internal: a Slurm task needs its shard index");
    if (!spec.attach_to.empty()) return attach(spec);
    // A fresh start truncates the log, as the local launcher does; Slurm appends to it.
    const int fd = ::open(spec.log.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND | (spec.append_log ? 0 : O_TRUNC), 0644);
    if (fd < 0) throw Error(ExitCode::failed, fmt::format("{}: cannot open log: {}", spec.log.string(), std::strerror(errno)));
    if (!spec.log_header.empty() && ::write(fd, spec.log_header.data(), spec.log_header.size()) < 0) {
      const int err = errno;
      ::close(fd);
      throw Error(ExitCode::failed, fmt::format("{}: cannot write: {}", spec.log.string(), std::strerror(err)));
    }
    struct stat st{};
    ::fstat(fd, &st);
    ::close(fd);
    Task t;
    t.spec = spec;
    t.offset = st.st_size;
    const JobId id = next_id_++;
    tasks_.emplace(id, std::move(t));
    unsubmitted_.push_back(id);
    return id;
  }

  std::optional<ExitStatus> poll(JobId id) override {
    submit();
    refresh();
    return tasks_.at(id).status;
  }

  std::string read_output(JobId id) override {
    Task& t = tasks_.at(id);
    return read_appended(t.spec.log, t.offset);
  }

  void signal(JobId id, int sig) override {
    Task& t = tasks_.at(id);
    if (t.status) return;
    if (t.array == 0) {
      // Stopped before it was submitted (Ctrl-C right after the start): it never goes out.
      unsubmitted_.erase(std::remove(unsubmitted_.begin(), unsubmitted_.end(), id), unsubmitted_.end());
      finish(t, ExitStatus{true, 0, sig}, fmt::format("{}not submitted: stopped first", kSlurmNote));
      return;
    }
    const std::string target = fmt::format("{}_{}", t.array, t.spec.shard);
    // A queued task has no process to signal: it is cancelled. A running one gets the signal
    // in its batch step too (--full), where the worker runs (the script execs it).
    std::vector<std::string> argv{"scancel", target};
    if (sig != SIGKILL && t.state == "RUNNING") {
      const char* name = sigabbrev_np(sig);
      argv = {"scancel", "--full", fmt::format("--signal={}", name ? name : std::to_string(sig)), target};
    }
    const CaptureResult r = s_.run(argv);
    if (!r.started || r.exit_code != 0)
      append_note(t, fmt::format("orchestrator: {} failed: {}", argv.front(), first_line(r)));
  }

  std::string scheduler_id(JobId id) const override {
    const Task& t = tasks_.at(id);
    return t.array == 0 ? std::string() : fmt::format("{}_{}", t.array, t.spec.shard);
  }

  std::string queued(JobId id) override {
    const Task& t = tasks_.at(id);
    if (t.status) return {};
    if (t.array == 0) return "queued (submitting)";
    if (t.state != "PENDING" && !t.state.empty()) return {};
    // Reason=None: not looked at by the scheduler yet.
    return t.reason.empty() || t.reason == "None" ? "queued" : fmt::format("queued ({})", t.reason);
  }

 private:
  /// Follows a task submitted by an earlier orchestrator: its log is read from its newest part.
  JobId attach(const LaunchSpec& spec) {
    const size_t sep = spec.attach_to.find('_');
    long array = 0;
    try {
      array = std::stol(spec.attach_to.substr(0, sep));
    } catch (const std::exception&) {
      array = 0;
    }
    if (sep == std::string::npos || array <= 0 || spec.attach_to.substr(sep + 1) != std::to_string(spec.shard))
      throw Error(ExitCode::failed, fmt::format("shard {}: '{}' is not its Slurm array task", spec.shard, spec.attach_to));
    Task t;
    t.spec = spec;
    t.array = array;
    t.reason = "attached";
    const JobId id = next_id_++;
    tasks_.emplace(id, std::move(t));
    return id;
  }

  struct Task {
    LaunchSpec spec;
    off_t offset = 0;
    long array = 0;               ///< the array's job id once submitted
    std::string state, reason;    ///< the last scontrol said
    std::optional<ExitStatus> status;
  };

  /// Fails every unfinished task with `note` (exit 2: the setup, not the shard) and cancels
  /// what was submitted of them.
  void fail_all(const std::string& note) {
    std::set<long> arrays;
    for (auto& [id, t] : tasks_) {
      if (t.status) continue;
      if (t.array != 0) arrays.insert(t.array);
      finish(t, ExitStatus{false, to_int(ExitCode::usage), 0}, note);
    }
    for (long array : arrays) s_.run({"scancel", std::to_string(array)});
  }

  /// The shared-filesystem probe (SlurmLauncherSettings::probe_shared_fs): submitted once,
  /// before the first array, which waits for it. Returns the job to wait for, if any.
  std::optional<long> probe(const fs::path& dir, int n) {
    if (!s_.probe_shared_fs || (probe_ && probe_->verified)) return std::nullopt;
    if (probe_) return probe_->job;
    std::random_device random;
    Probe p;
    p.token = fmt::format("{:08x}{:08x}", random(), random());
    p.file = dir / fmt::format("probe_{}.txt", n);
    p.log = dir / fmt::format("probe_{}.log", n);
    const fs::path script = dir / fmt::format("probe_{}.sh", n);
    write_script(script, fmt::format("#!/bin/sh\n# can the compute node write {}? (orchestrator --launcher slurm)\n"
                                     "exec {} --slurm-probe {} {}\n",
                                     comment_text(s_.work_dir), sh_quote(s_.orchestrator.string()),
                                     sh_quote(p.file.string()), p.token));
    const CaptureResult r = s_.run(sbatch_probe_argv(s_.options, s_.job_name + "-probe", s_.work_dir.string(),
                                                     p.log.string(), script.string()));
    const std::optional<long> job = r.started && r.exit_code == 0 ? parse_sbatch_job_id(r.out) : std::nullopt;
    if (!job) {
      fail_all(fmt::format("{}sbatch could not submit the shared-filesystem probe job: {}", kSlurmNote, first_line(r)));
      return std::nullopt;
    }
    p.job = *job;
    probe_ = p;
    return p.job;
  }

  /// Whether the probe has shown that the nodes write where we read; fails every task when it
  /// has shown that they do not.
  void check_probe() {
    if (!probe_ || probe_->verified || probe_->failed) return;
    const CaptureResult r = s_.run({"scontrol", "-o", "show", "job", std::to_string(probe_->job)});
    if (!r.started || (r.exit_code != 0 && !job_unknown(r))) return;  // asked again at the next poll
    std::optional<SlurmTask> job;
    if (r.exit_code == 0)
      for (const SlurmTask& t : parse_scontrol_jobs(r.out))
        if (t.job_id == probe_->job) job = t;
    if (job && !slurm_state_finished(job->state)) return;
    std::error_code ec;
    if (job && job->state == "COMPLETED" && fs::exists(probe_->file, ec) &&
        read_file(probe_->file).rfind(probe_->token, 0) == 0) {
      probe_->verified = true;
      return;
    }
    probe_->failed = true;
    std::string what;
    if (!job) what = fmt::format("Slurm no longer knows the probe job {}", probe_->job);
    else if (job->state == "COMPLETED")
      what = fmt::format("the probe job {} ran on {} and wrote {}, but this machine does not see it there",
                         probe_->job, job->node.empty() ? "its node" : job->node, probe_->file.string());
    else {
      std::string said;
      if (fs::exists(probe_->log, ec)) said = read_file(probe_->log);
      while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
      if (const size_t nl = said.rfind('\n'); nl != std::string::npos) said.erase(0, nl + 1);
      what = fmt::format("the probe job {} could not write to the work dir on {} ({}, ExitCode={}:{}{})", probe_->job,
                         job->node.empty() ? "its node" : job->node, job->state, job->exit_code, job->signal,
                         said.empty() ? ", no output: its log in the work dir could not be written either"
                                      : ": " + said);
    }
    fail_all(fmt::format("{}{}. The work dir {} must be on a filesystem the compute nodes share with "
                         "this machine, at the same path, writable by the job's user (nothing ran)",
                         kSlurmNote, what, s_.work_dir.string()));
  }

  static void write_script(const fs::path& script, const std::string& text) {
    write_file_atomic(script, text);
    fs::permissions(script, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
  }

  /// Submits the shards started since the last submission as one array.
  void submit() {
    if (unsubmitted_.empty()) return;
    const std::vector<JobId> batch = std::move(unsubmitted_);
    unsubmitted_.clear();
    // Numbered on from the arrays of earlier runs of this work dir, whose files stay for reading.
    const fs::path dir = s_.work_dir / "slurm";
    fs::create_directories(dir);
    int n = 1;
    for (std::error_code ec; fs::exists(dir / fmt::format("tasks_{}.json", n), ec);) ++n;
    json entries = json::object();
    std::vector<int> indices;
    for (JobId id : batch) {
      const LaunchSpec& spec = tasks_.at(id).spec;
      json env = json::array();
      for (const auto& [key, value] : spec.env)
        if (!slurm_owns(key)) env.push_back({bytes_json(key), bytes_json(value)});
      json argv = json::array();
      for (const std::string& a : spec.argv) argv.push_back(bytes_json(a));
      entries[std::to_string(spec.shard)] = {{"argv", argv}, {"env", env}};
      indices.push_back(spec.shard);
    }
    const fs::path tasks_file = dir / fmt::format("tasks_{}.json", n);
    const fs::path script = dir / fmt::format("array_{}.sh", n);
    const std::optional<long> after = probe(dir, n);
    if (std::any_of(batch.begin(), batch.end(), [&](JobId id) { return tasks_.at(id).status.has_value(); })) return;
    write_file_atomic(tasks_file, entries.dump(2) + "\n");
    write_script(script, fmt::format("#!/bin/sh\n# shard array {} of {} (orchestrator --launcher slurm)\n"
                                          "exec {} --slurm-task {}\n",
                                          n, comment_text(s_.work_dir), sh_quote(s_.orchestrator.string()),
                                          sh_quote(tasks_file.string())));
    const std::vector<std::string> argv =
        sbatch_argv(s_.options, s_.job_name, s_.work_dir.string(), indices, script.string(), after);
    const CaptureResult r = s_.run(argv);
    const std::optional<long> job = r.started && r.exit_code == 0 ? parse_sbatch_job_id(r.out) : std::nullopt;
    if (!job) {
      // Its shards fail (exit 2, as a config error: a partition, account or limit Slurm
      // refuses), with sbatch's words at the end of their logs for the failure block.
      const std::string note = fmt::format("{}sbatch could not submit shard(s) {}: {}", kSlurmNote,
                                           array_index_list(indices), first_line(r));
      for (JobId id : batch) finish(tasks_.at(id), ExitStatus{false, to_int(ExitCode::usage), 0}, note);
      return;
    }
    for (JobId id : batch) {
      Task& t = tasks_.at(id);
      t.array = *job;
      t.reason = "submitted";
    }
  }

  /// Reads every unfinished array's task states, at most once per poll interval.
  void refresh() {
    const auto now = std::chrono::steady_clock::now();
    if (last_refresh_ && std::chrono::duration<double>(now - *last_refresh_).count() < s_.poll_interval_s) return;
    last_refresh_ = now;
    check_probe();
    std::set<long> arrays;
    for (const auto& [id, t] : tasks_)
      if (t.array != 0 && !t.status) arrays.insert(t.array);
    for (long array : arrays) {
      const CaptureResult r = s_.run({"scontrol", "-o", "show", "job", std::to_string(array)});
      // Not now (a busy controller): the next poll asks again; the stall watchdog still runs.
      if (!r.started || (r.exit_code != 0 && !job_unknown(r))) continue;
      if (r.exit_code != 0) {
        // Gone from the controller (MinJobAge passed, or a controller restart with -c): what
        // its tasks did is lost. Say so rather than wait for ever; cancel whatever may be left
        // of it, so that a retry never runs beside it.
        s_.run({"scancel", std::to_string(array)});
        for (auto& [id, t] : tasks_)
          if (t.array == array && !t.status) finish(t, ExitStatus{false, 255, 0},
                                                    fmt::format("{}Slurm no longer knows job {} ({}): its "
                                                                "task's outcome is unknown",
                                                                kSlurmNote, array, first_line(r)));
        continue;
      }
      for (const SlurmTask& st : parse_scontrol_jobs(r.out)) {
        for (auto& [id, t] : tasks_) {
          if (t.array != array || t.status) continue;
          if (std::find(st.task_ids.begin(), st.task_ids.end(), t.spec.shard) == st.task_ids.end()) continue;
          t.state = st.state;
          t.reason = st.reason;
          if (slurm_state_finished(st.state)) {
            // What Slurm says of a task that did not complete goes to the end of its log.
            std::string note;
            if (st.state != "COMPLETED") {
              note = fmt::format("{}task {}_{} {} (ExitCode={}:{}){}", kSlurmNote, array, t.spec.shard, st.state,
                                 st.exit_code, st.signal, st.node.empty() ? "" : " on " + st.node);
              if (const std::string cause = slurm_failure_cause(st); !cause.empty()) note += "\norchestrator: " + cause;
            }
            finish(t, slurm_exit_status(st), note);
          }
        }
      }
    }
  }

  void finish(Task& t, const ExitStatus& status, const std::string& note) {
    if (!note.empty()) append_note(t, note);
    t.status = status;
  }

  /// A line of ours at the end of a task's log (what Slurm says about it).
  static void append_note(const Task& t, const std::string& line) {
    const int fd = ::open(t.spec.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;  // the log's own problem shows elsewhere; this is commentary
    const std::string text = line + "\n";
    [[maybe_unused]] const ssize_t w = ::write(fd, text.data(), text.size());
    ::close(fd);
  }

  struct Probe {
    long job = 0;
    fs::path file, log;
    std::string token;
    bool verified = false, failed = false;
  };

  SlurmLauncherSettings s_;
  std::optional<Probe> probe_;
  std::map<JobId, Task> tasks_;
  std::vector<JobId> unsubmitted_;
  JobId next_id_ = 1;
  std::optional<std::chrono::steady_clock::time_point> last_refresh_;
};

}  // namespace

std::unique_ptr<Launcher> make_slurm_launcher(SlurmLauncherSettings settings) {
  // scontrol cuts long ArrayTaskId lists with "..." unless told not to (its children, ours).
  ::setenv("SLURM_BITSTR_LEN", "0", 1);
  if (settings.work_dir.string().find('\\') != std::string::npos)
    throw usage_error(fmt::format("work dir '{}': a backslash in its path makes Slurm ignore the %a of "
                                  "--output=gpu%a.log (every task would write one file); use a --work-dir without one",
                                  printable(settings.work_dir.string())));
  if (!settings.run) settings.run = [](const std::vector<std::string>& argv) { return capture_output(argv); };
  return std::make_unique<SlurmLauncher>(std::move(settings));
}

int run_slurm_task(const fs::path& tasks_file) {
  const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
  if (!id) {
    std::fprintf(stderr, "orchestrator --slurm-task: SLURM_ARRAY_TASK_ID is not set (run by sbatch --array only)\n");
    return 2;
  }
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
  try {
    const json entries = json::parse(read_file(tasks_file));
    if (!entries.contains(id)) {
      std::fprintf(stderr, "orchestrator --slurm-task: %s has no task %s\n", tasks_file.c_str(), id);
      return 2;
    }
    const json& entry = entries.at(id);
    for (const json& a : entry.at("argv")) argv.push_back(json_bytes(a));
    for (const json& kv : entry.at("env")) env.emplace_back(json_bytes(kv.at(0)), json_bytes(kv.at(1)));
    if (argv.empty()) throw std::invalid_argument("task " + std::string(id) + " has an empty argv");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "orchestrator --slurm-task: %s: %s\n", tasks_file.c_str(), e.what());
    return 2;
  }
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  const char* devices = std::getenv("CUDA_VISIBLE_DEVICES");
  std::printf("==== orchestrator: shard %s as Slurm task %s_%s on %s (CUDA_VISIBLE_DEVICES=%s) at %s ====\n", id,
              std::getenv("SLURM_ARRAY_JOB_ID") ? std::getenv("SLURM_ARRAY_JOB_ID") : "?", id, host,
              devices ? devices : "(unset)", now_iso8601().c_str());
  std::fflush(stdout);
  for (const auto& [key, value] : env) ::setenv(key.c_str(), value.c_str(), 1);
  // The worker's share of the cores is what Slurm gave this task (its CPU set), not the node's.
  const std::string count = std::to_string(usable_cpus());
  ::setenv("LV_CORES_PER_WORKER", count.c_str(), 0);
  ::setenv("OMP_NUM_THREADS", count.c_str(), 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args.front(), args.data());
  std::fprintf(stderr, "orchestrator --slurm-task: cannot run %s: %s\n", argv.front().c_str(), std::strerror(errno));
  return 127;
}

int run_slurm_probe(const fs::path& file, const std::string& token) {
  try {
    write_file_atomic(file, token + "\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "orchestrator --slurm-probe: %s\n", e.what());
    return 1;
  }
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  std::printf("orchestrator --slurm-probe: %s wrote %s\n", host, file.c_str());
  return 0;
}

}  // namespace lv
