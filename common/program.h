#pragma once
/// The boundary every program's main() shares: command-line parsing and turning exceptions
/// into exit codes, each message printed once with the program's prefix (STYLE: one error
/// convention per layer, caught at one place per program).
#include <functional>
#include <optional>

namespace CLI {
class App;
}

namespace lv {

/// Parses argv with a CLI11 app. nullopt: go on. Otherwise the exit code to return now: 0
/// after --help or --version, 2 (usage) after printing the parse error.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

/// Runs `body`; lv::Error becomes its own exit code and any other exception exit 1, each
/// printed with print_error.
int run_guarded(const std::function<int()>& body);

/// The environment variable that asks a program to print its own peak memory at exit.
inline constexpr const char* kReportPeakMemoryEnv = "LV_REPORT_PEAK_RSS";

/// When LV_REPORT_PEAK_RSS is set, prints "peak memory N MB" (this process's VmHWM: unlike
/// getrusage's ru_maxrss it does not carry a parent's peak across exec). For benchmarks.
void note_peak_memory_if_asked();

}  // namespace lv
