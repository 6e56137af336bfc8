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

/// A child process started with posix_spawn; stdout and stderr go to `output` (a file).
class Child {
 public:
  /// `env`: variables to set (a value of "\x01unset" removes one). `cwd`: the child's folder.
  Child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
        const std::filesystem::path& cwd, const std::filesystem::path& output)
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
    posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    // posix_spawn has no chdir action in glibc 2.36's public API; run through the cwd argument
    // of the programs instead when needed. We change directory around the spawn call.
    const std::filesystem::path old = std::filesystem::current_path();
    std::filesystem::current_path(cwd);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    std::filesystem::current_path(old);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
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

  /// Exit code (128 + signal when killed), or nullopt if still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    if (status_) return status_;
    wait_until([&] { return poll(); }, timeout);
    return status_;
  }
  bool poll() {
    if (status_) return true;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
      return true;
    }
    return false;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  std::string output() const { return read_text(output_); }

 private:
  pid_t pid_ = -1;
  std::filesystem::path output_;
  std::optional<int> status_;
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

/// True while a process with this pid exists (and is not a zombie).
inline bool process_alive(pid_t pid) {
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

}  // namespace lv::test
