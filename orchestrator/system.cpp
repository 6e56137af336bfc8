#include "system.h"

#include "devices.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/dll/runtime_symbol_info.hpp>
#include <fmt/core.h>

#include "error.h"
#include "gpu_monitor.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

class RealSystem : public SessionSystem {
 public:
  RealSystem() : launcher_(make_process_launcher()) {}

  GpuDiscovery discover_gpus() override {
    return lv::discover_gpus([](const std::vector<std::string>& argv) { return capture_output(argv); });
  }
  std::optional<std::string> env(const std::string& name) const override {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  }
  fs::path program_path() const override { return boost::dll::program_location().string(); }
  std::string find_program(const std::string& name) const override { return lv::find_program(name); }
  fs::path current_dir() const override { return fs::current_path(); }
  std::optional<uint64_t> free_bytes(const fs::path& dir) const override {
    fs::path p = fs::absolute(dir);
    std::error_code ec;
    while (!p.empty() && !fs::exists(p, ec) && p != p.root_path()) p = p.parent_path();
    struct statvfs st {};
    if (::statvfs(p.c_str(), &st) != 0) return std::nullopt;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }
  unsigned cpu_count() const override { return usable_cpus(); }
  Launcher& launcher() override { return *launcher_; }
  CaptureResult capture(const std::vector<std::string>& argv) override { return capture_output(argv); }
  const Clock& clock() const override { return clock_; }

  void drive(Runner& runner, Status& status, GpuMonitor* monitor) override {
    // The signal handler only records; this loop decides (STYLE: one event loop).
    boost::asio::io_context io;
    // One nvidia-smi samples every GPU while the workers run; it is optional, never fatal.
    std::optional<JobId> sampler;
    if (monitor) {
      try {
        sampler = launcher_->start(monitor->sampler());
      } catch (const Error& e) {
        monitor->set_problem(e.what());
      }
    }
    const auto sample = [&] {
      if (!sampler) return;
      const std::vector<GpuSample> got = monitor->feed(launcher_->read_output(*sampler));
      if (!got.empty()) status.on(GpuSampled{got});
      if (const auto exit = launcher_->poll(*sampler)) {
        monitor->feed(launcher_->read_output(*sampler));
        monitor->set_problem(fmt::format("{} stopped sampling ({})", monitor->sampler().argv.front(), exit->describe()));
        sampler.reset();
      }
    };
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    boost::asio::steady_timer timer(io);
    std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                               int sig) {
      if (ec) return;
      status.on(InterruptRequested{sig, runner.interrupted()});
      runner.interrupt();
      signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    // A worker that exits wakes us at once (SIGCHLD): its GPU gets its next work without
    // waiting for the next tick. The launcher reaps by pid, so catching it takes nothing away.
    boost::asio::signal_set children(io, SIGCHLD);
    bool done = false;
    const auto finish = [&] {
      done = true;
      signals.cancel();
      children.cancel();
      timer.cancel();
    };
    std::function<void(const boost::system::error_code&, int)> on_child = [&](const boost::system::error_code& ec,
                                                                              int) {
      if (ec || done) return;
      runner.tick();
      if (runner.finished()) return finish();
      children.async_wait(on_child);
    };
    children.async_wait(on_child);
    std::function<void(const boost::system::error_code&)> on_tick = [&](const boost::system::error_code& ec) {
      if (ec || done) return;
      runner.tick();
      if (runner.finished()) return finish();
      sample();
      status.tick();
      timer.expires_after(std::chrono::milliseconds(200));
      timer.async_wait(on_tick);
    };
    runner.start();
    status.tick();
    timer.expires_after(std::chrono::milliseconds(100));
    timer.async_wait(on_tick);
    io.run();
    if (sampler) {
      launcher_->signal(*sampler, SIGKILL);
      for (int i = 0; i < 200 && !launcher_->poll(*sampler); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  bool process_running(long pid, const std::string& needle) const override { return process_running_with(pid, needle); }

  ExitStatus run_to_end(const LaunchSpec& spec) override {
    const JobId job = launcher_->start(spec);
    boost::asio::io_context io;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    boost::asio::steady_timer timer(io);
    std::optional<ExitStatus> exit;
    std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                               int sig) {
      if (ec) return;
      launcher_->signal(job, sig);  // the worker finishes its step and exits (interrupted)
      signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    std::function<void(const boost::system::error_code&)> on_tick = [&](const boost::system::error_code& ec) {
      if (ec) return;
      if ((exit = launcher_->poll(job))) {
        signals.cancel();
        return;
      }
      timer.expires_after(std::chrono::milliseconds(100));
      timer.async_wait(on_tick);
    };
    timer.expires_after(std::chrono::milliseconds(0));
    timer.async_wait(on_tick);
    io.run();
    return *exit;
  }

 private:
  std::unique_ptr<Launcher> launcher_;
  SteadyClock clock_;
};

}  // namespace

std::unique_ptr<SessionSystem> make_real_system() { return std::make_unique<RealSystem>(); }

}  // namespace lv
