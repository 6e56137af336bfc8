#include "program.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "error.h"
#include "message.h"

namespace lv {

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    print_error(fmt::format("{} (see --help)", e.what()));
    return to_int(ExitCode::usage);
  }
  return std::nullopt;
}

int run_guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    print_error(e.what());
    return to_int(e.code());
  } catch (const std::exception& e) {
    print_error(e.what());
    return to_int(ExitCode::failed);
  }
}

void note_peak_memory_if_asked() {
  if (!std::getenv(kReportPeakMemoryEnv)) return;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) print_note(fmt::format("peak memory {:.1f} MB", std::atof(line.c_str() + 6) / 1024.0));
}

}  // namespace lv
