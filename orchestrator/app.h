#pragma once
/// The orchestrator program: options, and the steps main() runs.
#include <optional>

#include "options.h"

namespace lv {

/// Parses argv. Returns the options, or an exit code when the program should end now
/// (--help, --version: 0; a usage error: 2, message printed).
struct ParsedArgs {
  std::optional<Options> options;
  int exit_code = 0;
};
ParsedArgs parse_args(int argc, char** argv);

/// Runs everything the options ask for and returns the process exit code (DESIGN §6).
int run_orchestrator(const Options& options);

}  // namespace lv
