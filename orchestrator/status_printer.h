#pragma once
/// The live view and every line the orchestrator prints about a run: one status line per shard,
/// redrawn in place on a terminal; plain periodic lines otherwise (logs, CI). Event lines
/// scroll above the status block. Respects NO_COLOR. The only place events become words.
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "launcher.h"
#include "status.h"

namespace lv {

/// "1h02m", "3m05s", "42s", "--" for unknown.
std::string format_duration(double seconds);

/// What the live view knows of one shard, built from events.
struct ShardView {
  enum class State { pending, starting, running, stopping, done, failed, interrupted };
  std::string device;
  State state = State::pending;
  std::string phase;           ///< while starting: the worker's "[phase]" ("loading model")
  Progress progress;
  int64_t total = 0;
  double rate = 0;
  double seconds = 0;          ///< done: this attempt's time
  FailureKind failure = FailureKind::none;
  std::optional<GpuSample> gpu;  ///< its GPU's latest utilisation sample, while it runs
};

/// One shard's status text: "GPU 2   [#####.....]  52.0%  5200/10000  31.2 it/s  ETA 2m34s".
std::string format_status_line(const ShardView& view, bool color);

/// The run summary's throughput lines: items/s per device and overall, the efficiency against
/// the median device's rate, and hints from the utilisation samples.
std::string format_throughput(const Throughput& t);

/// The text of one event, without a trailing newline ("" for events shown only in the live
/// block, such as progress). Multi-line for a failure block.
std::string format_event(const Event& event);

class StatusPrinter : public Status {
 public:
  /// `live`: redraw in place (stdout is a terminal); else print every `interval_s`.
  StatusPrinter(std::FILE* out, bool live, bool color, double interval_s, const Clock& clock);

  void on(const Event& event) override;
  void tick() override;
  void finish_live() override;

 private:
  void print_line(const std::string& text);
  void clear_block();
  void draw();

  std::FILE* out_;
  bool live_;
  bool color_;
  double interval_s_;
  const Clock& clock_;
  std::map<int, ShardView> shards_;
  std::map<std::string, GpuSample> gpu_samples_;  ///< by device label ("GPU 2")
  bool running_ = false;  ///< between PlanReady and finish_live: the block is shown
  int drawn_lines_ = 0;
  Clock::time_point last_print_{};
  bool printed_once_ = false;
};

/// True when stdout is a terminal and TERM is not "dumb".
bool stdout_is_terminal();
/// False when NO_COLOR is set (https://no-color.org) or output is not a terminal.
bool use_color(bool terminal);

}  // namespace lv
