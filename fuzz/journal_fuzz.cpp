// Fuzzes read_journal() (common/journal.h): any bytes as a journal file, as a crash or a full
// disk may leave it. Bad lines are skipped and counted; nothing else may escape.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "error.h"
#include "fuzz_util.h"
#include "journal.h"

namespace {

const lv::fuzz::ScratchDir& scratch() {
  static const lv::fuzz::ScratchDir dir;
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path file = scratch().path() / ".journal.jsonl";
  lv::fuzz::write_bytes(file, std::string_view(reinterpret_cast<const char*>(data), size));
  lv::JournalContents journal;
  try {
    journal = lv::read_journal(file);
  } catch (const lv::Error&) {
    return 0;
  }
  if (journal.records.size() != journal.paths.size()) lv::fuzz::broken("records and paths disagree");
  if (journal.skipped_lines < 0) lv::fuzz::broken("negative skipped_lines");
  for (const auto& record : journal.records)
    if (!record.is_object()) lv::fuzz::broken("a record that is not a JSON object");
  return 0;
}
