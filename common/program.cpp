#include "program.h"

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

}  // namespace lv
