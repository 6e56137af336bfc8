#include "slurm.h"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <map>

#include <fmt/core.h>

#include "error.h"

namespace lv {

namespace {

/// A whole non-negative decimal number, else nullopt.
std::optional<long> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  long n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

/// "3", "2-5", "2-5%2", "0,3,7-9", "1-7:2" (every second): the ids (a %throttle dropped).
/// Throws lv::Error (a list scontrol cut short with "...": the launcher runs it with
/// SLURM_BITSTR_LEN=0, which never cuts).
std::vector<int> expand_task_ids(std::string_view text, std::string_view line) {
  if (const size_t cut = text.find('%'); cut != std::string_view::npos) text = text.substr(0, cut);
  std::vector<int> ids;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    std::optional<long> step = 1;
    if (const size_t colon = part.find(':'); colon != std::string_view::npos) {
      step = parse_count(part.substr(colon + 1));
      part = part.substr(0, colon);
    }
    const size_t dash = part.find('-');
    const auto first = parse_count(part.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : parse_count(part.substr(dash + 1));
    if (!first || !last || !step || *step < 1 || *last < *first || *last - *first > 1000000)
      throw Error(ExitCode::failed, fmt::format("scontrol: cannot read ArrayTaskId '{}' in: {}", part, line));
    for (long i = *first; i <= *last; i += *step) ids.push_back(static_cast<int>(i));
  }
  return ids;
}

}  // namespace

std::string array_index_list(std::vector<int> indices) {
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  std::string out;
  for (size_t i = 0; i < indices.size();) {
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(indices[i]) : fmt::format("{}-{}", indices[i], indices[j]);
    i = j + 1;
  }
  return out;
}

namespace {

/// `path` for an sbatch filename pattern: a literal '%' is "%%" (a backslash would turn every
/// pattern off, %a included: the launcher refuses such a work dir).
std::string pattern_literal(const std::string& path) {
  std::string out;
  for (char c : path) out += c == '%' ? std::string("%%") : std::string(1, c);
  return out;
}

/// What every job of ours asks for (the slurm: section), then the extra arguments and the script.
void add_resources(std::vector<std::string>& argv, const SlurmOptions& o, const std::string& script) {
  if (!o.partition.empty()) argv.push_back("--partition=" + o.partition);
  if (!o.account.empty()) argv.push_back("--account=" + o.account);
  if (!o.qos.empty()) argv.push_back("--qos=" + o.qos);
  if (!o.time_limit.empty()) argv.push_back("--time=" + o.time_limit);
  if (!o.gres.empty()) argv.push_back("--gres=" + o.gres);
  if (o.cpus_per_task > 0) argv.push_back("--cpus-per-task=" + std::to_string(o.cpus_per_task));
  if (!o.memory.empty()) argv.push_back("--mem=" + o.memory);
  argv.insert(argv.end(), o.sbatch_args.begin(), o.sbatch_args.end());
  argv.push_back(script);
}

}  // namespace

std::vector<std::string> sbatch_argv(const SlurmOptions& o, const std::string& job_name, const std::string& work_dir,
                                     const std::vector<int>& indices, const std::string& script,
                                     std::optional<long> after) {
  std::string array = "--array=" + array_index_list(indices);
  if (o.max_concurrent > 0) array += "%" + std::to_string(o.max_concurrent);
  // --no-requeue: a task that Slurm would requeue after a node failure or a preemption
  // ends instead; the orchestrator's retry resumes it, and only one worker writes its tree.
  std::vector<std::string> argv{"sbatch", "--parsable", array, "--job-name=" + job_name,
                                "--output=" + pattern_literal(work_dir) + "/gpu%a.log", "--open-mode=append",
                                "--chdir=" + work_dir, "--no-requeue"};
  if (after) argv.insert(argv.end(), {fmt::format("--dependency=afterok:{}", *after), "--kill-on-invalid-dep=yes"});
  add_resources(argv, o, script);
  return argv;
}

std::vector<std::string> sbatch_probe_argv(const SlurmOptions& o, const std::string& job_name,
                                           const std::string& work_dir, const std::string& output,
                                           const std::string& script) {
  std::vector<std::string> argv{"sbatch", "--parsable", "--job-name=" + job_name, "--output=" + pattern_literal(output),
                                "--chdir=" + work_dir};
  add_resources(argv, o, script);
  return argv;
}

std::optional<long> parse_sbatch_job_id(std::string_view out) {
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) out.remove_suffix(1);
  // The last line: sbatch may print warnings before it.
  if (const size_t nl = out.rfind('\n'); nl != std::string_view::npos) out = out.substr(nl + 1);
  return parse_count(out.substr(0, out.find(';')));
}

std::vector<SlurmTask> parse_scontrol_jobs(std::string_view text) {
  std::vector<SlurmTask> tasks;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.rfind("JobId=", 0) != 0) continue;  // blank lines, "No jobs in the system"
    // Key=Value words. Values of the keys read here hold no spaces; later free-text fields
    // (Command=, WorkDir=, StdOut=) may, and are not read.
    std::map<std::string_view, std::string_view> fields;
    std::string_view rest = line;
    while (!rest.empty()) {
      const size_t space = rest.find(' ');
      const std::string_view word = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
      const size_t eq = word.find('=');
      if (eq != std::string_view::npos) fields.emplace(word.substr(0, eq), word.substr(eq + 1));
    }
    auto field = [&](std::string_view key) {
      const auto it = fields.find(key);
      return it == fields.end() ? std::string_view() : it->second;
    };
    SlurmTask t;
    const auto job = parse_count(field("JobId"));
    if (!job || field("JobState").empty())
      throw Error(ExitCode::failed, fmt::format("scontrol: a job line without JobId or JobState: {}", line));
    t.job_id = *job;
    t.array_job_id = parse_count(field("ArrayJobId")).value_or(0);
    if (!field("ArrayTaskId").empty()) t.task_ids = expand_task_ids(field("ArrayTaskId"), line);
    t.state = std::string(field("JobState"));
    t.reason = std::string(field("Reason"));
    const std::string_view code = field("ExitCode");
    const size_t colon = code.find(':');
    t.exit_code = static_cast<int>(parse_count(code.substr(0, colon)).value_or(0));
    if (colon != std::string_view::npos) t.signal = static_cast<int>(parse_count(code.substr(colon + 1)).value_or(0));
    if (field("NodeList") != "(null)") t.node = std::string(field("NodeList"));
    tasks.push_back(std::move(t));
  }
  return tasks;
}

bool slurm_state_finished(std::string_view state) {
  for (std::string_view s : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                             "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT"})
    if (state == s) return true;
  return false;
}

ExitStatus slurm_exit_status(const SlurmTask& t) {
  ExitStatus e;
  auto by_signal = [&](int fallback) {
    if (t.exit_code != 0) {
      e.code = t.exit_code;
    } else {
      e.signaled = true;
      e.signal = t.signal != 0 ? t.signal : fallback;
    }
  };
  if (t.state == "COMPLETED") {
    e.code = 0;
  } else if (t.state == "FAILED") {
    if (t.signal != 0 && t.exit_code == 0) {
      e.signaled = true;
      e.signal = t.signal;
    } else {
      e.code = t.exit_code != 0 ? t.exit_code : 1;  // FAILED with 0:0 (a launch failure)
    }
  } else if (t.state == "CANCELLED" || t.state == "PREEMPTED") {
    by_signal(SIGTERM);
  } else {
    by_signal(SIGKILL);  // TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, BOOT_FAIL, DEADLINE
  }
  return e;
}

std::string slurm_failure_cause(const SlurmTask& t) {
  if (t.state == "TIMEOUT") return "Slurm: time limit reached (TIMEOUT): raise slurm.time_limit, then --retry-failed";
  if (t.state == "OUT_OF_MEMORY")
    return "Slurm: killed by the job's memory limit (OUT_OF_MEMORY, the cgroup): raise slurm.memory";
  if (t.state == "NODE_FAIL") return fmt::format("Slurm: the node {} failed (NODE_FAIL)", t.node.empty() ? "?" : t.node);
  if (t.state == "PREEMPTED") return "Slurm: preempted by a higher-priority job (PREEMPTED)";
  if (t.state == "BOOT_FAIL") return "Slurm: the node failed to boot (BOOT_FAIL)";
  if (t.state == "DEADLINE") return "Slurm: the job's deadline passed (DEADLINE)";
  if (t.state == "CANCELLED") return "Slurm: cancelled (CANCELLED), by scancel or an administrator";
  return "";
}

std::string slurm_state_text(const SlurmTask& t) {
  if (t.state == "PENDING") return fmt::format("queued ({})", t.reason.empty() ? "waiting" : t.reason);
  if (t.state == "RUNNING") return t.node.empty() ? "running" : "running on " + t.node;
  std::string s = t.state;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return c == '_' ? ' ' : std::tolower(c); });
  return s;
}

}  // namespace lv
