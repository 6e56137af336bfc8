#pragma once
/// The command lines the orchestrator prints for the user to paste (retry, merge, restart,
/// one shard on another device): complete (config, work dir, output, worker and limits this
/// run used, as absolute paths) and quoted for a POSIX shell, so they work from any folder.
#include <filesystem>
#include <string>
#include <vector>

#include "options.h"

namespace lv {

/// `arg` quoted for a POSIX shell when it needs it ('...' with embedded ' as '\'').
std::string shell_quote(const std::string& arg);

/// argv joined with spaces, each quoted as needed. For display only: never executed.
std::string shell_command(const std::vector<std::string>& argv);

class CommandBuilder {
 public:
  /// `program`: how to call the orchestrator ("orchestrator" when PATH finds this binary,
  /// else its absolute path). `cwd` makes the options' relative paths absolute.
  CommandBuilder(std::string program, Options options, std::filesystem::path cwd);

  /// --retry-failed with what the run used (devices stay as the plan assigned them).
  std::string retry() const;
  /// --attach: follow the Slurm tasks of a run whose orchestrator is gone.
  std::string attach() const;
  /// --merge-only.
  std::string merge_only() const;
  /// --restart, with the device flags of this invocation (a fresh plan needs them).
  std::string restart() const;
  /// A fresh run (no mode flag), e.g. when there is no earlier run to retry.
  std::string fresh() const;
  /// --shards N --gpus DEVICE: one shard moved to another device.
  std::string move_shard(int shard, const std::string& device) const;
  /// A fresh run writing to another output dir.
  std::string with_output(const std::filesystem::path& output) const;

 private:
  std::vector<std::string> common(bool devices, bool limits) const;

  std::string program_;
  Options options_;
  std::filesystem::path cwd_;
};

}  // namespace lv
