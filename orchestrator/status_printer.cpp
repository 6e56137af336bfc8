#include "status_printer.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include <fmt/core.h>

namespace lv {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--";
  const long s = std::lround(seconds);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string format_status_line(const std::string& device, const ShardRun& run, const ShardState& shard, bool color) {
  const int64_t total = shard.end - shard.begin;
  const int64_t done = std::min(run.progress.done, total);
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  constexpr int kBar = 20;
  const int filled = static_cast<int>(frac * kBar);
  std::string bar = std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kBar - filled), '.');

  std::string state;
  const char* colour = "";
  switch (shard.status) {
    case ShardStatus::running:
      if (run.term_sent) state = "stopping";
      else if (!run.have_progress) state = "starting";
      else
        state = fmt::format("{:.1f} it/s  ETA {}", run.rate,
                            run.rate > 0 ? format_duration(static_cast<double>(total - done) / run.rate) : "--");
      break;
    case ShardStatus::succeeded:
      state = fmt::format("done in {}", format_duration(shard.seconds));
      colour = "\033[32m";
      break;
    case ShardStatus::failed:
      state = fmt::format("FAILED ({})", shard.failure);
      colour = "\033[31m";
      break;
    case ShardStatus::interrupted:
      state = "interrupted";
      colour = "\033[33m";
      break;
    case ShardStatus::pending: state = "pending"; break;
  }
  const std::string failed = run.progress.failed > 0 ? fmt::format("  item errors={}", run.progress.failed) : "";
  const std::string line = fmt::format("{:<7} [{}] {:5.1f}%  {}/{}  {}{}", device, bar, frac * 100.0, done, total,
                                       state, failed);
  if (color && *colour) return fmt::format("{}{}\033[0m", colour, line);
  return line;
}

bool stdout_is_terminal() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDOUT_FILENO) && !(term && std::strcmp(term, "dumb") == 0);
}

bool use_color(bool terminal) {
  const char* no_color = std::getenv("NO_COLOR");
  return terminal && !(no_color && *no_color);
}

StatusPrinter::StatusPrinter(std::FILE* out, bool live, bool color, double interval_s, const Clock& clock)
    : out_(out), live_(live), color_(color), interval_s_(interval_s), clock_(clock) {}

void StatusPrinter::clear_block() {
  if (!live_ || drawn_lines_ == 0) return;
  // Cursor up over the block, then clear to the end of the screen.
  fmt::print(out_, "\033[{}A\r\033[J", drawn_lines_);
  drawn_lines_ = 0;
}

void StatusPrinter::event(const std::string& line) {
  clear_block();
  fmt::print(out_, "{}\n", line);
  std::fflush(out_);
}

void StatusPrinter::draw(const Runner& runner) {
  for (const auto& run : runner.runs()) {
    const ShardState& s = runner.shard(run.index);
    fmt::print(out_, "{}\n", format_status_line(s.device, run, s, color_));
  }
  drawn_lines_ = static_cast<int>(runner.runs().size());
  std::fflush(out_);
}

void StatusPrinter::update(const Runner& runner) {
  if (live_) {
    clear_block();
    draw(runner);
    return;
  }
  const auto now = clock_.now();
  if (printed_once_ && std::chrono::duration<double>(now - last_print_).count() < interval_s_) return;
  printed_once_ = true;
  last_print_ = now;
  draw(runner);
  drawn_lines_ = 0;
}

void StatusPrinter::finish(const Runner& runner) {
  if (live_) {
    clear_block();
    draw(runner);
    drawn_lines_ = 0;
  } else {
    draw(runner);
    drawn_lines_ = 0;
  }
}

}  // namespace lv
