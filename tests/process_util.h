#pragma once
// Running the real binaries from tests: argv vectors (no shell), environment overrides, output
// captured to a file, waiting with a deadline, signals.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

extern char** environ;

namespace lv::test {

/// What happens to the output file when a Child starts: emptied first, or added to.
enum class OutputMode { truncate, append };

/// A child process started with posix_spawn; stdout and stderr go to `output` (a file).
/// The one way tests run a program: use it rather than another fork/exec helper.
class Child {
 public:
  /// `env`: variables to set (a value of "\x01unset" removes one). `cwd`: the child's folder
  /// (an empty path: ours). `mode`: whether `output` is truncated or appended to.
  Child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
        const std::filesystem::path& cwd, const std::filesystem::path& output,
        OutputMode mode = OutputMode::truncate)
      : output_(output) {
    std::map<std::string, std::string> vars;
    for (char** e = environ; *e; ++e) {
      const std::string kv(*e);
      const size_t eq = kv.find('=');
      if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : env) {
      if (v == "\x01unset") vars.erase(k);
      else vars[k] = v;
    }
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : vars) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& a : argv_copy) args.push_back(a.data());
    args.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const int flags = O_WRONLY | O_CREAT | (mode == OutputMode::append ? O_APPEND : O_TRUNC);
    posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), flags, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    // The child changes folder (glibc >= 2.29); ours stays, so tests may run threads.
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
  /// Our environment and folder; stdout and stderr to `output`.
  Child(const std::vector<std::string>& argv, const std::filesystem::path& output,
        OutputMode mode = OutputMode::truncate)
      : Child(argv, {}, {}, output, mode) {}
  ~Child() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }

  /// Exit code (128 + signal when killed), or nullopt if still running after `timeout`
  /// (or never started). Polls every 10 ms until the deadline.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    if (status_ || !started()) return status_;
    wait_until([&] { return poll(); }, timeout);
    return status_;
  }
  /// True once the child has ended (reaping it); never blocks.
  bool poll() {
    if (status_) return true;
    if (!started()) return false;  // waitpid(-1) would reap some other child
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      if (WIFSIGNALED(st)) term_signal_ = WTERMSIG(st);
      status_ = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
      return true;
    }
    return false;
  }
  void signal(int sig) {
    if (started() && !status_) ::kill(pid_, sig);
  }
  std::string output() const { return read_text(output_); }

  /// Whether it has ended and was killed by a signal (wait()'s 128 + n cannot tell that from an
  /// exit code of 128 + n).
  bool signalled() const { return status_ && term_signal_ != 0; }
  /// The signal that killed it; 0 while running or when it exited.
  int term_signal() const { return term_signal_; }

 private:
  pid_t pid_ = -1;
  std::filesystem::path output_;
  std::optional<int> status_;
  int term_signal_ = 0;
};

struct RunResult {
  int code = -1;
  std::string output;
};

/// Runs a program to the end (or kills it after `timeout`) and returns its code and output.
inline RunResult run_program(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                             const std::filesystem::path& cwd,
                             std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto out = cwd / (".run_output_" + std::to_string(::getpid()) + ".txt");
  Child child(argv, env, cwd, out);
  RunResult r;
  if (!child.started()) return r;
  const auto code = child.wait(timeout);
  r.code = code.value_or(-1);
  r.output = child.output();
  std::filesystem::remove(out);
  return r;
}

/// Runs a program with our environment and folder to the end, stdout and stderr to `output`
/// (truncated first), and returns its exit code: 128 + signal when killed, 127 when it could
/// not be started, -1 when it was still running after 10 minutes (it is then killed).
inline int run_program(const std::vector<std::string>& argv, const std::filesystem::path& output) {
  Child child(argv, output);
  if (!child.started()) return 127;
  return child.wait(std::chrono::minutes(10)).value_or(-1);
}

/// True while a process with this pid exists (and is not a zombie).
inline bool process_alive(pid_t pid) {
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

}  // namespace lv::test
