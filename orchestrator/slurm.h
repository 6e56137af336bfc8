#pragma once
/// What the Slurm launcher says to Slurm and reads back from it (issue 11): the sbatch argv of a
/// shard array and the parsing of `scontrol -o show job`. Pure functions, tested on fixtures of
/// Slurm 22.05's output; the launcher that runs the commands is separate.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "launcher.h"

namespace lv {

/// The `slurm:` config section: what each array task asks for.
using SlurmOptions = Config::Slurm;

/// An array's task indices as Slurm's --array list: ascending runs "0-3,7,9-10".
std::string array_index_list(std::vector<int> indices);

/// The argv of `sbatch` submitting `script` as one job array over `indices` (shard indices are
/// the task ids, so task i writes <work_dir>/gpu<i>.log through --output=gpu%a.log, appended
/// as the local launcher appends retries). --parsable makes it print "<job id>[;cluster]".
/// `after`: a job that must complete first (--dependency=afterok, and the array is cancelled
/// when it fails: --kill-on-invalid-dep=yes).
std::vector<std::string> sbatch_argv(const SlurmOptions& options, const std::string& job_name,
                                     const std::string& work_dir, const std::vector<int>& indices,
                                     const std::string& script, std::optional<long> after = std::nullopt);

/// The argv of `sbatch` submitting `script` as one job with the same resources (the
/// shared-filesystem probe), its output to `output`.
std::vector<std::string> sbatch_probe_argv(const SlurmOptions& options, const std::string& job_name,
                                           const std::string& work_dir, const std::string& output,
                                           const std::string& script);

/// The job id sbatch --parsable printed ("1234" or "1234;cluster"); nullopt when there is none.
std::optional<long> parse_sbatch_job_id(std::string_view out);

/// One line of `scontrol -o show job`: an array task, or a range of pending array tasks.
struct SlurmTask {
  long job_id = 0;             ///< JobId (the task's own)
  long array_job_id = 0;       ///< ArrayJobId (0 for a job that is not an array)
  std::vector<int> task_ids;   ///< ArrayTaskId expanded: one id, or a pending range's ids
  std::string state;           ///< JobState: PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ...
  std::string reason;          ///< Reason: None, JobArrayTaskLimit, Resources, NonZeroExitCode, ...
  int exit_code = 0;           ///< ExitCode=exit:signal
  int signal = 0;
  std::string node;            ///< NodeList ("(null)" while pending becomes "")
};

/// Parses `scontrol -o show job` output (one job a line, `Key=Value` words). Lines that are not
/// jobs are skipped; a job line without JobId or JobState is an lv::Error naming the line.
std::vector<SlurmTask> parse_scontrol_jobs(std::string_view text);

/// Whether a task in `state` has ended (a state Slurm will not leave).
bool slurm_state_finished(std::string_view state);

/// How a finished task ended, as the runner understands exits: COMPLETED is exit 0; FAILED is
/// its exit code, or its signal; CANCELLED and PREEMPTED are SIGTERM unless a code says
/// otherwise (a worker that traps it exits 130); TIMEOUT, OUT_OF_MEMORY and NODE_FAIL are the
/// signal Slurm reports, SIGKILL when it reports none.
ExitStatus slurm_exit_status(const SlurmTask& task);

/// The Slurm cause of a failed task for the failure block ("time limit reached (TIMEOUT)",
/// "killed by the cgroup's memory limit (OUT_OF_MEMORY)", ...); "" for states that carry none
/// beyond the exit code (COMPLETED, FAILED).
std::string slurm_failure_cause(const SlurmTask& task);

/// What the status line shows for an unfinished task: "queued (Resources)", "running", ...
std::string slurm_state_text(const SlurmTask& task);

}  // namespace lv
