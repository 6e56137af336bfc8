#pragma once
/// Exit codes shared by the orchestrator and every worker (DESIGN §6).
#include <string_view>

namespace lv {

enum class ExitCode : int {
  ok = 0,              ///< done; per-item errors are in the report
  failed = 1,          ///< some shards or items failed
  usage = 2,           ///< usage or config error
  model_load = 3,      ///< model cannot be loaded
  input_unreadable = 4,///< input cannot be read at all
  interrupted = 130,   ///< SIGINT / SIGTERM
};

/// Short human name of an exit code ("usage error", "interrupted", ...).
std::string_view describe(ExitCode code);

inline int to_int(ExitCode code) { return static_cast<int>(code); }

}  // namespace lv
