#include "journal.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <unordered_map>

#include <fmt/core.h>

#include "byte_text.h"
#include "error.h"
#include "message.h"

namespace lv {

std::optional<std::string> record_item(const nlohmann::json& record) {
  // A parse failure gives "discarded", which is not an object.
  if (!record.is_object()) return std::nullopt;
  // "item" names any kind of item (a document's "<line>:<offset>"); image records use "path".
  const char* field = record.contains("item") ? "item" : "path";
  const auto p = record.find(field);
  if (p == record.end() || !p->is_string() || p->get_ref<const std::string&>().empty()) return std::nullopt;
  // A name that is not UTF-8 is stored escaped (set_bytes_field): the item is its bytes.
  return get_bytes_field(record, field);
}

JournalContents read_journal(const std::filesystem::path& path) {
  JournalContents out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) return out;
    throw Error(ExitCode::failed, fmt::format("{}: cannot read journal: {}", path.string(), std::strerror(err)));
  }

  std::unordered_map<std::string, size_t> position;  // path -> index in out.records
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::optional<std::string> item = record_item(record);
    if (!item) {
      ++out.skipped_lines;
      continue;
    }
    std::string key = std::move(*item);
    const auto [it, inserted] = position.emplace(key, out.records.size());
    if (inserted) {
      out.records.push_back(std::move(record));
      out.paths.insert(std::move(key));
    } else {
      // A re-done item: the later record wins, in the place where the item first appeared.
      out.records[it->second] = std::move(record);
    }
  }
  if (in.bad())
    throw Error(ExitCode::failed, fmt::format("{}: read failed: {}", path.string(), std::strerror(errno)));
  return out;
}

JournalWriter::JournalWriter(const std::filesystem::path& path, bool truncate) : path_(path) {
  file_ = std::fopen(path.c_str(), truncate ? "wb" : "a+b");
  if (!file_)
    throw Error(ExitCode::failed, fmt::format("{}: cannot open journal: {}", path.string(), std::strerror(errno)));
  if (truncate) return;
  // A crash mid-write leaves a torn last line without '\n'; end it so that the next record
  // starts a line of its own instead of being glued to (and lost with) the torn one.
  if (std::fseek(file_, 0, SEEK_END) == 0 && std::ftell(file_) > 0 && std::fseek(file_, -1, SEEK_END) == 0) {
    const int last = std::fgetc(file_);
    // C requires a positioning call between a read and a write on the same stream.
    std::fseek(file_, 0, SEEK_END);
    if (last != EOF && last != '\n') {
      if (std::fputc('\n', file_) == EOF || std::fflush(file_) != 0) {
        const int err = errno;
        std::fclose(file_);
        file_ = nullptr;
        throw Error(ExitCode::failed, fmt::format("{}: cannot write journal: {}", path.string(), std::strerror(err)));
      }
    }
  }
}

JournalWriter::~JournalWriter() {
  if (file_) std::fclose(file_);
}

void JournalWriter::append(const nlohmann::json& record, bool flush_now) {
  std::string line;
  try {
    line = record.dump();
  } catch (const nlohmann::json::type_error& e) {
    // Bytes that are not UTF-8 in a string nobody escaped: losing the whole shard for that
    // would be worse than a replaced byte, so the record is kept, with U+FFFD, and said so.
    line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const auto p = record.find("path");
    print_warning(fmt::format("{}: the record of '{}' held bytes that are not UTF-8, replaced by U+FFFD ({})",
                              printable(path_.string()),
                              p != record.end() && p->is_string() ? printable(p->get_ref<const std::string&>()) : "?",
                              e.what()));
  }
  line += '\n';
  // Clear the error/EOF indicators the open-time read may have left behind.
  std::clearerr(file_);
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || (flush_now && std::fflush(file_) != 0))
    throw Error(ExitCode::failed, fmt::format("{}: cannot append to journal: {}", path_.string(), std::strerror(errno)));
}

void JournalWriter::flush() {
  if (std::fflush(file_) != 0)
    throw Error(ExitCode::failed, fmt::format("{}: cannot append to journal: {}", path_.string(), std::strerror(errno)));
}

}  // namespace lv
