#include "commands.h"

#include <fmt/core.h>

namespace lv {

namespace fs = std::filesystem;

std::string shell_quote(const std::string& arg) {
  // Characters a POSIX shell treats as plain in a word; anything else gets quoted.
  const bool plain = !arg.empty() && arg.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                          "0123456789_-+=./:,@%") == std::string::npos;
  if (plain) return arg;
  std::string q = "'";
  for (char c : arg) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string shell_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += shell_quote(a);
  }
  return out;
}

CommandBuilder::CommandBuilder(std::string program, Options options, fs::path cwd)
    : program_(std::move(program)), options_(std::move(options)), cwd_(std::move(cwd)) {}

std::vector<std::string> CommandBuilder::common(bool devices, bool limits) const {
  const auto abs = [&](const fs::path& p) { return (p.is_absolute() ? p : cwd_ / p).lexically_normal().string(); };
  std::vector<std::string> argv{program_, "--config", abs(options_.config), "--work-dir",
                                abs(options_.work_dir.value_or(cwd_))};
  if (options_.output) argv.insert(argv.end(), {"--output", abs(*options_.output)});
  if (options_.worker) argv.insert(argv.end(), {"--worker", abs(*options_.worker)});
  if (options_.keep_gpu_outputs) argv.push_back("--keep-gpu-outputs");
  if (devices) {
    if (!options_.gpus.empty()) argv.insert(argv.end(), {"--gpus", options_.gpus});
    if (options_.num_gpus) argv.insert(argv.end(), {"--num-gpus", std::to_string(*options_.num_gpus)});
    if (options_.cpu_workers) argv.insert(argv.end(), {"--cpu-workers", std::to_string(*options_.cpu_workers)});
  }
  if (limits) {
    if (options_.stall_timeout_s) argv.insert(argv.end(), {"--stall-timeout", fmt::format("{}", *options_.stall_timeout_s)});
    if (options_.timeout_s) argv.insert(argv.end(), {"--timeout", fmt::format("{}", *options_.timeout_s)});
    // How the workers run: a pasted command keeps it.
    if (options_.static_shards) argv.push_back("--static");
    if (options_.auto_batch) argv.push_back("--auto-batch");
    if (!options_.launcher.empty()) argv.insert(argv.end(), {"--launcher", options_.launcher});
  }
  return argv;
}

std::string CommandBuilder::retry() const {
  auto argv = common(false, true);
  argv.push_back("--retry-failed");
  return shell_command(argv);
}

std::string CommandBuilder::attach() const {
  auto argv = common(false, true);
  argv.push_back("--attach");
  return shell_command(argv);
}

std::string CommandBuilder::merge_only() const {
  auto argv = common(false, false);
  argv.push_back("--merge-only");
  return shell_command(argv);
}

std::string CommandBuilder::restart() const {
  auto argv = common(true, true);
  argv.push_back("--restart");
  return shell_command(argv);
}

std::string CommandBuilder::fresh() const { return shell_command(common(true, true)); }

std::string CommandBuilder::move_shard(int shard, const std::string& device) const {
  auto argv = common(false, true);
  argv.insert(argv.end(), {"--shards", std::to_string(shard), "--gpus", device});
  return shell_command(argv);
}

std::string CommandBuilder::with_output(const fs::path& output) const {
  Options o = options_;
  o.output = output;
  return CommandBuilder(program_, o, cwd_).fresh();
}

}  // namespace lv
