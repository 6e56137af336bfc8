#include "exit_code.h"

namespace lv {

std::string_view describe(ExitCode code) {
  switch (code) {
    case ExitCode::ok: return "ok";
    case ExitCode::failed: return "some shards or items failed";
    case ExitCode::usage: return "usage or config error";
    case ExitCode::model_load: return "model cannot be loaded";
    case ExitCode::input_unreadable: return "input cannot be read";
    case ExitCode::interrupted: return "interrupted";
  }
  return "unknown";
}

}  // namespace lv
