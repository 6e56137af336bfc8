#include "message.h"

#include <fmt/core.h>

#include <cstdio>

namespace lv {
namespace {
std::string& name_storage() {
  static std::string name = "lv";
  return name;
}

void print(std::string_view severity, std::string_view message) {
  // stderr is unbuffered; one fmt::print call keeps the line whole when workers share a log.
  fmt::print(stderr, "{}: {}: {}\n", name_storage(), severity, message);
}
}  // namespace

void set_program_name(std::string name) { name_storage() = std::move(name); }
const std::string& program_name() { return name_storage(); }

void print_error(std::string_view message) { print("error", message); }
void print_warning(std::string_view message) { print("warning", message); }
void print_note(std::string_view message) { print("note", message); }

}  // namespace lv
