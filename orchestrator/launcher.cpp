#include "launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <fstream>
#include <iterator>
#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <fmt/core.h>

#include "error.h"

namespace lv {

namespace bp = boost::process;
namespace fs = std::filesystem;

bool ExitStatus::interrupted() const {
  return signaled ? signal == SIGINT || signal == SIGTERM : code == to_int(ExitCode::interrupted);
}

std::string ExitStatus::describe() const {
  if (!signaled) return fmt::format("exit code {}", code);
  const char* name = sigabbrev_np(signal);
  return name ? fmt::format("signal {} (SIG{})", signal, name) : fmt::format("signal {}", signal);
}

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const boost::filesystem::path found = bp::search_path(name);
  return found.empty() ? std::string() : found.string();
}

namespace {

/// Largest chunk of new log text handed out per read; a flooding worker is skipped ahead.
constexpr off_t kMaxRead = 256 * 1024;

ExitStatus decode_wait_status(int status) {
  ExitStatus s;
  if (WIFSIGNALED(status)) {
    s.signaled = true;
    s.signal = WTERMSIG(status);
  } else {
    s.code = WEXITSTATUS(status);
  }
  return s;
}

class ProcessLauncher : public Launcher {
 public:
  JobId start(const LaunchSpec& spec) override {
    if (spec.argv.empty()) throw Error(ExitCode::usage, "internal: empty worker command");
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND | (spec.append_log ? 0 : O_TRUNC);
    const int log_fd = ::open(spec.log.c_str(), flags, 0644);
    if (log_fd < 0)
      throw Error(ExitCode::failed, fmt::format("{}: cannot open log: {}", spec.log.string(), std::strerror(errno)));
    struct stat st{};
    ::fstat(log_fd, &st);
    const off_t read_from = st.st_size;  // on retry, follow only this attempt's output
    if (!spec.log_header.empty()) {
      [[maybe_unused]] const ssize_t w = ::write(log_fd, spec.log_header.data(), spec.log_header.size());
    }

    bp::environment env = boost::this_process::environment();
    for (const auto& [key, value] : spec.env) env[key] = value;

    Job job;
    job.log = spec.log;
    job.offset = read_from;
    std::error_code ec;
    try {
      job.child = bp::child(
          bp::exe = spec.argv.front(), bp::args = std::vector<std::string>(spec.argv.begin() + 1, spec.argv.end()),
          bp::env = env, bp::std_in < bp::null,
          bp::extend::on_exec_setup = [log_fd](auto&) {
            // In the child, between fork and exec: only async-signal-safe calls.
            ::setpgid(0, 0);
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            ::dup2(log_fd, STDOUT_FILENO);
            ::dup2(log_fd, STDERR_FILENO);
          },
          ec);
    } catch (const std::exception& e) {
      ::close(log_fd);
      throw Error(ExitCode::failed, fmt::format("cannot start '{}': {}", spec.argv.front(), e.what()));
    }
    ::close(log_fd);
    if (ec) throw Error(ExitCode::failed, fmt::format("cannot start '{}': {}", spec.argv.front(), ec.message()));
    job.pid = job.child.id();
    // Also from the parent, so a signal sent right after start already reaches the group.
    ::setpgid(job.pid, job.pid);
    const JobId id = next_id_++;
    jobs_.emplace(id, std::move(job));
    return id;
  }

  std::optional<ExitStatus> poll(JobId id) override {
    Job& job = jobs_.at(id);
    if (job.status) return job.status;
    int status = 0;
    const pid_t r = ::waitpid(job.pid, &status, WNOHANG);
    if (r == 0) return std::nullopt;
    if (r < 0) {
      // Already reaped elsewhere: nothing better to report than an unknown failure.
      job.status = ExitStatus{false, 255, 0};
    } else {
      job.status = decode_wait_status(status);
    }
    job.child.detach();  // reaped by us; Boost must not wait or terminate it again
    // Grandchildren left in the group must not outlive the worker.
    ::kill(-job.pid, SIGKILL);
    return job.status;
  }

  std::string read_output(JobId id) override {
    Job& job = jobs_.at(id);
    return read_appended(job.log, job.offset);
  }

  void signal(JobId id, int sig) override {
    Job& job = jobs_.at(id);
    if (job.status) return;  // reaped: the pgid may be reused
    ::kill(-job.pid, sig);
  }

  long process_id(JobId id) const override { return static_cast<long>(jobs_.at(id).pid); }

 private:
  struct Job {
    bp::child child;
    pid_t pid = -1;
    fs::path log;
    off_t offset = 0;
    std::optional<ExitStatus> status;
  };
  std::map<JobId, Job> jobs_;
  JobId next_id_ = 1;
};

}  // namespace

std::unique_ptr<Launcher> make_process_launcher() { return std::make_unique<ProcessLauncher>(); }

std::string read_appended(const fs::path& log, off_t& offset) {
  const int fd = ::open(log.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  struct stat st{};
  ::fstat(fd, &st);
  std::string out;
  if (st.st_size < offset) offset = 0;  // truncated by someone: start over
  off_t from = offset;
  if (st.st_size - from > kMaxRead) from = st.st_size - kMaxRead;
  const size_t len = static_cast<size_t>(st.st_size - from);
  out.resize(len);
  size_t got = 0;
  while (got < len) {
    const ssize_t n = ::pread(fd, out.data() + got, len - got, from + static_cast<off_t>(got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  if (from != offset) {
    // Skipped ahead: drop the partial first line so nothing half is parsed.
    const size_t nl = out.find('\n');
    out.erase(0, nl == std::string::npos ? out.size() : nl + 1);
    out.insert(0, "\n");
  }
  offset = from + static_cast<off_t>(got);
  return out;
}

bool process_running_with(long pid, const std::string& needle) {
  if (pid <= 0) return false;
  std::ifstream in(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  if (!in) return false;
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  // A zombie (exited, not reaped by its dead parent's successor yet) has an empty command line.
  return !cmdline.empty() && cmdline.find(needle) != std::string::npos;
}

CaptureResult capture_output(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CaptureResult result;
  const std::string exe = argv.empty() ? std::string() : find_program(argv.front());
  if (exe.empty()) {
    result.error = argv.empty() ? "no command" : fmt::format("'{}' not found in PATH", argv.front());
    return result;
  }
  boost::asio::io_context io;
  std::future<std::string> out, err;
  std::error_code ec;
  bp::child child(bp::exe = exe, bp::args = std::vector<std::string>(argv.begin() + 1, argv.end()),
                  bp::std_in < bp::null, bp::std_out > out, bp::std_err > err, io, ec);
  if (ec) {
    result.error = ec.message();
    return result;
  }
  result.started = true;
  io.run_for(timeout);
  if (!io.stopped()) {
    child.terminate();
    result.error = fmt::format("timed out after {} s", timeout.count() / 1000.0);
    result.exit_code = -1;
    return result;
  }
  child.wait();
  result.exit_code = child.exit_code();
  result.out = out.get();
  result.error = err.get();
  return result;
}

}  // namespace lv
