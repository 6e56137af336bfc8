#include "progress.h"

#include <charconv>

#include <fmt/core.h>

namespace lv {
namespace {
constexpr std::string_view kTag = "[progress] ";

bool parse_int(std::string_view& s, int64_t& out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || ptr == s.data()) return false;
  s.remove_prefix(static_cast<size_t>(ptr - s.data()));
  return true;
}

bool eat(std::string_view& s, std::string_view token) {
  if (s.substr(0, token.size()) != token) return false;
  s.remove_prefix(token.size());
  return true;
}
}  // namespace

std::string format_progress(const Progress& p) {
  return fmt::format("[progress] {}/{} failed={}", p.done, p.total, p.failed);
}

std::optional<Progress> parse_progress_line(std::string_view line) {
  const size_t at = line.find(kTag);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view s = line.substr(at + kTag.size());
  Progress p;
  if (!parse_int(s, p.done) || !eat(s, "/") || !parse_int(s, p.total)) return std::nullopt;
  if (eat(s, " failed=")) {
    if (!parse_int(s, p.failed)) return std::nullopt;
  }
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  if (!s.empty()) return std::nullopt;
  if (p.done < 0 || p.total < 0 || p.failed < 0 || p.done > p.total) return std::nullopt;
  return p;
}

std::string format_phase(std::string_view words) { return fmt::format("[phase] {}", words); }

std::optional<std::string> parse_phase_line(std::string_view line) {
  constexpr std::string_view tag = "[phase] ";
  const size_t at = line.find(tag);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view s = line.substr(at + tag.size());
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  // A status line has room for a short phase only; a worker's long line is cut, not rejected.
  constexpr size_t kMax = 60;
  return std::string(s.substr(0, kMax));
}

}  // namespace lv
