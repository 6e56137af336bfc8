#pragma once
/// User-facing messages with one prefix and a severity:
///   "orchestrator: error: config.yaml: model.path: file not found 'models/x.pt'"
#include <string>
#include <string_view>

namespace lv {

/// Sets the program name used as the prefix of every message (call once in main).
void set_program_name(std::string name);
const std::string& program_name();

void print_error(std::string_view message);
void print_warning(std::string_view message);
void print_note(std::string_view message);

}  // namespace lv
