#pragma once
/// The live view: one status line per shard, redrawn in place on a terminal; plain periodic
/// lines otherwise (logs, CI). Event lines scroll above the status block. Respects NO_COLOR.
#include <cstdio>
#include <string>
#include <vector>

#include "launcher.h"
#include "runner.h"

namespace lv {

/// "1h02m", "3m05s", "42s", "--" for unknown.
std::string format_duration(double seconds);

/// One shard's status text: "GPU 2   [#####.....]  52.0%  5200/10000  31.2 it/s  ETA 2m34s".
std::string format_status_line(const std::string& device, const ShardRun& run, const ShardState& shard,
                               bool color);

class StatusPrinter {
 public:
  /// `live`: redraw in place (stdout is a terminal); else print every `interval_s`.
  StatusPrinter(std::FILE* out, bool live, bool color, double interval_s, const Clock& clock);

  /// Prints an event line (above the live block on a terminal).
  void event(const std::string& line);
  /// Redraws the live block, or prints the periodic lines when due.
  void update(const Runner& runner);
  /// Final redraw; the block stays on screen.
  void finish(const Runner& runner);

 private:
  void clear_block();
  void draw(const Runner& runner);

  std::FILE* out_;
  bool live_;
  bool color_;
  double interval_s_;
  const Clock& clock_;
  int drawn_lines_ = 0;
  Clock::time_point last_print_{};
  bool printed_once_ = false;
};

/// True when stdout is a terminal and TERM is not "dumb".
bool stdout_is_terminal();
/// False when NO_COLOR is set (https://no-color.org) or output is not a terminal.
bool use_color(bool terminal);

}  // namespace lv
