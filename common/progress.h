#pragma once
/// The worker protocol's progress line: "[progress] <done>/<total> failed=<n>" (DESIGN §6).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lv {

struct Progress {
  int64_t done = 0;
  int64_t total = 0;
  int64_t failed = 0;
  bool operator==(const Progress& o) const { return done == o.done && total == o.total && failed == o.failed; }
};

/// Formats one progress line, without the trailing newline.
std::string format_progress(const Progress& p);

/// Parses a progress line; anything else (including a malformed progress line) gives nullopt.
/// Leading text before "[progress]" is allowed, so a log prefix does not hide progress.
std::optional<Progress> parse_progress_line(std::string_view line);

/// Formats the start-up phase line "[phase] <words>", without the trailing newline.
std::string format_phase(std::string_view words);

/// The optional start-up phase line "[phase] <words>" (e.g. "[phase] loading model"), which a
/// worker prints before its first progress line. Returns the words, or nullopt for any other
/// line (an empty phase too). Leading text before "[phase]" is allowed, as for progress.
std::optional<std::string> parse_phase_line(std::string_view line);

}  // namespace lv
