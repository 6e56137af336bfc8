// Fuzzes list_items() on a list file (common/item_list.h): any bytes as the file. Whatever the
// lines say, every item is a clean path inside the root, listed once, and every refused line
// is named by its number.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "error.h"
#include "fuzz_util.h"
#include "item_list.h"

namespace {

const lv::fuzz::ScratchDir& scratch() {
  static const lv::fuzz::ScratchDir dir;
  return dir;
}

/// The oracle, by another route than item_list.cpp's segment walk: a clean relative entry is
/// its own lexical normal form and does not climb out of the root.
bool clean_relative(std::string_view s) {
  if (s.empty() || s.front() == '/' || s.back() == '/' || s.find('\n') != std::string_view::npos) return false;
  const std::string text(s);
  if (std::filesystem::path(text).lexically_normal().generic_string() != text) return false;
  return text != "." && text != ".." && text.rfind("../", 0) != 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path file = scratch().path() / "items.txt";
  lv::fuzz::write_bytes(file, std::string_view(reinterpret_cast<const char*>(data), size));
  lv::ItemList list;
  try {
    list = lv::list_items(file);
  } catch (const lv::Error&) {
    return 0;
  }
  std::set<std::string> seen;
  for (const std::string& item : list.items) {
    if (!clean_relative(item)) lv::fuzz::broken("item is not a clean relative path: " + item);
    if (!seen.insert(item).second) lv::fuzz::broken("item listed twice: " + item);
  }
  int64_t previous = 0;
  for (const lv::RejectedItem& r : list.rejected) {
    if (r.line < 1 || r.reason.empty()) lv::fuzz::broken("rejected entry without line or reason");
    if (r.line < previous) lv::fuzz::broken("rejected entries out of line order");
    previous = r.line;
  }
  return 0;
}
