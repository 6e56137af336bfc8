#pragma once
/// The one exception type of this project: a message meant for the user plus the exit code
/// the program should end with. Thrown by loaders and planners, caught once in each main().
#include <stdexcept>
#include <string>

#include "exit_code.h"

namespace lv {

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

/// A usage or configuration error (exit 2).
inline Error usage_error(const std::string& message) { return Error(ExitCode::usage, message); }

}  // namespace lv
