#pragma once
// Runs a program from an argv vector (never a shell string) with its output in a file.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace lv::test {

/// A started child process; stdout and stderr go to `log`.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::filesystem::path& log,
        const std::vector<std::string>& env = {}) {
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void signal(int sig) const { kill(pid_, sig); }
  /// Waits for the exit; the exit code, or 128 + signal.
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

/// Runs to completion; returns the exit code.
inline int run_program(const std::vector<std::string>& argv, const std::filesystem::path& log,
                       const std::vector<std::string>& env = {}) {
  Child c(argv, log, env);
  return c.wait();
}

}  // namespace lv::test
