#include "document_corpus.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <utility>

#include <fmt/core.h>

#include "byte_text.h"
#include "error.h"
#include "path_guard.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr size_t kListChunk = 8 << 20;        // listing reads a whole file: few, large reads
constexpr size_t kRecordChunk = 64 << 10;     // the header: most are far smaller
/// Reading one record: a page at a time. Records are mostly a few KiB; a 64 KiB read (and the
/// buffer zeroed for it) per record cost more than parsing it (measured: doc_worker spent 10 %
/// of its time in page faults and copies at 20k documents).
constexpr size_t kReadChunk = 4 << 10;
constexpr size_t kMaxHeaderBytes = 1 << 20;

[[noreturn]] void unreadable(const fs::path& path, const std::string& why) {
  throw Error(ExitCode::input_unreadable, fmt::format("{}: {}", printable(path.string()), why));
}

/// A regular file read by offset (pread): no shared position, so records can be read in any
/// order and by several readers.
class File {
 public:
  File() = default;
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(File&& other) noexcept
      : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}
  File& operator=(File&& other) noexcept {
    std::swap(path_, other.path_);
    std::swap(fd_, other.fd_);
    std::swap(size_, other.size_);
    return *this;
  }

  /// Opens `path`; "" on success, else why not. O_NONBLOCK keeps a FIFO from hanging the open.
  std::string open(const fs::path& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) return fmt::format("cannot open: {}", std::strerror(errno));
    struct stat st;
    if (::fstat(fd_, &st) != 0) return fmt::format("cannot open: {}", std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    size_ = st.st_size;
    return "";
  }

  /// Size when opened.
  int64_t size() const { return size_; }

  /// Reads up to `n` bytes at `offset`, fewer only at the end of the file. Throws lv::Error
  /// (exit 4) naming the file when the read fails.
  size_t read_at(int64_t offset, char* buffer, size_t n) const {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_, buffer + got, n - got, static_cast<off_t>(offset + static_cast<int64_t>(got)));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) unreadable(path_, fmt::format("read failed: {}", std::strerror(errno)));
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  }

 private:
  fs::path path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

/// Where a record lies in its file.
struct RecordSpan {
  int64_t offset = 0;        ///< its first byte
  int64_t line = 0;          ///< the line of its first byte (1-based)
  int64_t size = 0;          ///< bytes before the '\n' that ends it (or before the end of the file)
  bool blank = true;         ///< only spaces, tabs and '\r'
  bool open_quote = false;   ///< CSV: the file ended inside a quoted field
  bool too_long = false;     ///< over the limit given to next(); reading stopped there
};

/// RFC 4180 as a state machine over the bytes of a record. A '"' opens a quoted field only at
/// the start of a field; inside, '""' is a quote and a lone '"' closes it. Bytes after a
/// closing quote, and quotes inside an unquoted field, are kept as they are (as Python's csv
/// module does), so that a sloppy file loses no text.
enum class CsvState { field_start, unquoted, quoted, quote_seen };

/// True when `c` may begin a quoted field in `state` (or, after a closing quote, escape one).
bool opens_quote(CsvState state, char c) {
  return c == '"' && (state == CsvState::field_start || state == CsvState::quote_seen);
}

bool is_blank_byte(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/// Walks the records of a corpus file from an offset, chunk by chunk, and says where each
/// ends. JSONL and TSV records end at the next '\n'; CSV records at the next '\n' outside
/// quotes, the quote state being carried across chunks.
class RecordCursor {
 public:
  RecordCursor(const File& file, int64_t offset, int64_t line, bool csv, size_t chunk)
      : file_(file), offset_(offset), line_(line), csv_(csv), buffer_(chunk) {}

  /// The next record, or false at the end of the file. With `bytes`, the record's bytes (not
  /// its '\n') are appended there while they fit `limit`; a longer record is marked too_long
  /// and reading stops there, leaving the cursor spent.
  bool next(RecordSpan& span, std::string* bytes = nullptr, size_t limit = SIZE_MAX) {
    if (pos_ == end_ && !fill()) return false;
    span = RecordSpan{};
    span.offset = offset_;
    span.line = line_;
    state_ = CsvState::field_start;
    while (true) {
      if (pos_ == end_ && !fill()) {
        span.open_quote = csv_ && state_ == CsvState::quoted;
        return true;
      }
      const char* p = buffer_.data() + pos_;
      const size_t n = end_ - pos_;
      bool ended = false;
      size_t length;
      if (csv_) {
        length = scan_csv(p, n, ended);
      } else {
        const void* newline = std::memchr(p, '\n', n);
        ended = newline != nullptr;
        length = ended ? static_cast<size_t>(static_cast<const char*>(newline) - p) : n;
      }
      // Stops at the first byte that is not blank: almost always the first one.
      if (span.blank) span.blank = std::all_of(p, p + length, is_blank_byte);
      if (bytes) {
        if (static_cast<size_t>(span.size) + length > limit) {
          span.too_long = true;
          return true;
        }
        bytes->append(p, length);
      }
      span.size += static_cast<int64_t>(length);
      pos_ += length;
      offset_ += static_cast<int64_t>(length);
      if (ended) {
        ++pos_;
        ++offset_;
        ++line_;
        return true;
      }
    }
  }

  /// Where the next record starts, and its line.
  int64_t offset() const { return offset_; }
  int64_t line() const { return line_; }

 private:
  bool fill() {
    end_ = file_.read_at(offset_, buffer_.data(), buffer_.size());
    pos_ = 0;
    return end_ > 0;
  }

  /// Bytes of `p` up to the '\n' that ends the record (`ended`), or all `n` of them; counts
  /// the newlines inside quotes as lines.
  size_t scan_csv(const char* p, size_t n, bool& ended) {
    size_t i = 0;
    while (i < n) {
      if (state_ == CsvState::quoted) {
        // The body of a quoted field holds most of a text: skip it at memchr speed.
        const char* quote = static_cast<const char*>(std::memchr(p + i, '"', n - i));
        const size_t stop = quote ? static_cast<size_t>(quote - p) : n;
        line_ += std::count(p + i, p + stop, '\n');
        if (!quote) return n;
        state_ = CsvState::quote_seen;
        i = stop + 1;
        continue;
      }
      const char c = p[i];
      if (opens_quote(state_, c)) {
        state_ = CsvState::quoted;
      } else if (c == '\n') {
        ended = true;
        return i;
      } else {
        state_ = c == ',' ? CsvState::field_start : CsvState::unquoted;
      }
      ++i;
    }
    return n;
  }

  const File& file_;
  int64_t offset_;  // of buffer_[pos_]
  int64_t line_;
  bool csv_;
  std::vector<char> buffer_;
  size_t pos_ = 0, end_ = 0;
  CsvState state_ = CsvState::field_start;
};

/// The fields of one CSV record (without its '\n'), by the machine RecordCursor scans with.
std::vector<std::string> split_csv(std::string_view record) {
  std::vector<std::string> fields;
  std::string field;
  CsvState state = CsvState::field_start;
  for (const char c : record) {
    if (state == CsvState::quoted) {
      if (c == '"')
        state = CsvState::quote_seen;
      else
        field += c;
    } else if (opens_quote(state, c)) {
      if (state == CsvState::quote_seen) field += '"';  // "" inside quotes
      state = CsvState::quoted;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
      state = CsvState::field_start;
    } else {
      field += c;
      state = CsvState::unquoted;
    }
  }
  fields.push_back(std::move(field));
  return fields;
}

/// The fields of one TSV line: no quoting, a tab ends each field.
std::vector<std::string> split_tsv(std::string_view line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    fields.emplace_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) return fields;
    start = tab + 1;
  }
}

void drop_carriage_return(std::string& record) {
  if (!record.empty() && record.back() == '\r') record.pop_back();
}

/// `s` as a JSON string value: unchanged when it is UTF-8, else with \xHH for the bad bytes.
std::string json_safe(const std::string& s) { return is_valid_utf8(s) ? s : printable(s); }

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += fmt::format("{}'{}'", out.empty() ? "" : ", ", printable(name));
  return out;
}

/// Where the records of a corpus file start and, for TSV/CSV, what its columns are.
struct Layout {
  int64_t data_offset = 0;  ///< first byte after the byte order mark and the header
  int64_t data_line = 1;
  std::vector<std::string> columns;
  int text = -1, id = -1, label = -1;  ///< column indexes, -1 when absent
};

Layout read_layout(const File& file, const fs::path& path, CorpusFormat format) {
  Layout layout;
  char start[3];
  if (file.read_at(0, start, 3) == 3 && std::string_view(start, 3) == kBom) layout.data_offset = 3;
  if (format == CorpusFormat::jsonl) return layout;

  RecordCursor cursor(file, layout.data_offset, 1, format == CorpusFormat::csv, kRecordChunk);
  RecordSpan span;
  std::string header;
  if (!cursor.next(span, &header, kMaxHeaderBytes))
    unreadable(path, "empty file; the first line must name the columns, one of them 'text'");
  if (span.too_long) unreadable(path, fmt::format("header line longer than {} bytes", kMaxHeaderBytes));
  if (span.open_quote) unreadable(path, "the header line opens a quoted field that is never closed");
  drop_carriage_return(header);
  if (!is_valid_utf8(header)) unreadable(path, "the header line is not valid UTF-8");
  layout.columns = format == CorpusFormat::csv ? split_csv(header) : split_tsv(header);
  for (size_t i = 0; i < layout.columns.size(); ++i) {
    const std::string& name = layout.columns[i];
    if (std::find(layout.columns.begin(), layout.columns.begin() + static_cast<std::ptrdiff_t>(i), name) !=
        layout.columns.begin() + static_cast<std::ptrdiff_t>(i))
      unreadable(path, fmt::format("the header names the column '{}' twice (columns: {})", printable(name),
                                   quoted_list(layout.columns)));
    if (name == "text") layout.text = static_cast<int>(i);
    if (name == "id") layout.id = static_cast<int>(i);
    if (name == "label") layout.label = static_cast<int>(i);
  }
  if (layout.text < 0)
    unreadable(path, fmt::format("the header line has no 'text' column (columns: {})", quoted_list(layout.columns)));
  layout.data_offset = cursor.offset();
  layout.data_line = cursor.line();
  return layout;
}

File open_corpus_file(const fs::path& path) {
  File file;
  if (std::string why = file.open(path); !why.empty()) unreadable(path, why);
  return file;
}

bool has_txt_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".txt";
}

std::string item_name(int64_t line, int64_t offset) {
  char text[48];
  char* p = std::to_chars(text, text + 20, line).ptr;
  *p++ = ':';
  p = std::to_chars(p, text + sizeof text, offset).ptr;
  return std::string(text, p);
}

/// Parses "<line>:<offset>" (decimal, nothing else); false when `item` is not that.
bool parse_item(std::string_view item, int64_t& line, int64_t& offset) {
  const size_t colon = item.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == item.size()) return false;
  const auto whole_number = [](std::string_view digits, int64_t& value) {
    if (!std::isdigit(static_cast<unsigned char>(digits.front()))) return false;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return ec == std::errc() && end == digits.data() + digits.size();
  };
  return whole_number(item.substr(0, colon), line) && whole_number(item.substr(colon + 1), offset) && line >= 1;
}

/// Sets `error` and returns "" (no further problem to tell), for the readers below.
std::string refused(DocumentRecord& record, std::string reason) {
  record.error = std::move(reason);
  return {};
}

/// The parser's message without its exception prefix and the "line 1" every record has.
std::string json_error_message(const std::string& what) {
  std::string message = what;
  if (const size_t bracket = message.find("] "); message.rfind("[json.exception", 0) == 0 && bracket != std::string::npos)
    message.erase(0, bracket + 2);
  const std::string_view at_line = "parse error at line 1, ";
  if (message.rfind(at_line, 0) == 0) message.erase(0, at_line.size());
  return printable(message);
}

// The readers of one record below set `error` for a record they cannot take apart, and
// return the problem of a field other than the text, which is told only when the text is fine.

std::string read_json_record(const std::string& line, DocumentRecord& record) {
  try {
    record.fields = nlohmann::ordered_json::parse(line);
  } catch (const nlohmann::ordered_json::exception& e) {
    return refused(record, "invalid JSON: " + json_error_message(e.what()));
  }
  if (!record.fields.is_object()) {
    record.fields = nullptr;
    return refused(record, "not a JSON object");
  }
  const auto& fields = record.fields;
  std::string later;
  if (const auto id = fields.find("id"); id != fields.end() && !id->is_null()) {
    if (id->is_string()) {
      record.id = id->get<std::string>();
      record.id_given = true;
    } else if (id->is_number_integer()) {
      record.id = id->dump();
      record.id_given = true;
    } else {
      later = "\"id\" is not a string or integer";
    }
  }
  if (const auto label = fields.find("label"); label != fields.end() && !label->is_null()) {
    if (label->is_string())
      record.label = label->get<std::string>();
    else if (later.empty())
      later = "\"label\" is not a string";
  }
  const auto text = fields.find("text");
  if (text == fields.end())
    record.error = "no \"text\" field";
  else if (!text->is_string())
    record.error = "\"text\" is not a string";
  else
    record.text = text->get<std::string>();
  return later;
}

std::string read_table_record(const std::string& bytes, CorpusFormat format, const Layout& layout,
                              DocumentRecord& record) {
  std::vector<std::string> cells = format == CorpusFormat::csv ? split_csv(bytes) : split_tsv(bytes);
  if (cells.size() != layout.columns.size())
    return refused(record, fmt::format("{} field{}, the header has {}", cells.size(), cells.size() == 1 ? "" : "s",
                                       layout.columns.size()));
  record.fields = nlohmann::ordered_json::object();
  std::string later;
  for (size_t i = 0; i < cells.size(); ++i) {
    const bool utf8 = is_valid_utf8(cells[i]);
    if (!utf8 && later.empty() && static_cast<int>(i) != layout.text)
      later = fmt::format("column '{}' is not valid UTF-8", layout.columns[i]);
    record.fields[layout.columns[i]] = utf8 ? cells[i] : printable(cells[i]);
  }
  if (layout.id >= 0 && !cells[layout.id].empty()) {
    record.id = cells[layout.id];
    record.id_given = true;
  }
  if (layout.label >= 0 && !cells[layout.label].empty()) record.label = cells[layout.label];
  record.text = std::move(cells[layout.text]);
  return later;
}

}  // namespace

std::string_view to_string(CorpusFormat format) {
  switch (format) {
    case CorpusFormat::jsonl: return "jsonl";
    case CorpusFormat::tsv: return "tsv";
    case CorpusFormat::csv: return "csv";
    case CorpusFormat::text_folder: return "text_folder";
  }
  return "unknown";
}

CorpusFormat corpus_format(const fs::path& documents) {
  std::error_code ec;
  const fs::file_status st = fs::status(documents, ec);
  if (!fs::exists(st)) {
    if (ec && ec != std::errc::no_such_file_or_directory)
      unreadable(documents, fmt::format("cannot read: {}", ec.message()));
    unreadable(documents, "input not found (input.documents)");
  }
  if (fs::is_directory(st)) return CorpusFormat::text_folder;
  std::string ext = documents.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".jsonl" || ext == ".ndjson") return CorpusFormat::jsonl;
  if (ext == ".tsv") return CorpusFormat::tsv;
  if (ext == ".csv") return CorpusFormat::csv;
  throw usage_error(fmt::format("{}: input.documents must be a folder of .txt files or a .jsonl, .ndjson, .tsv or "
                                ".csv file",
                                printable(documents.string())));
}

CorpusListing list_documents(const fs::path& documents) {
  CorpusListing listing;
  listing.format = corpus_format(documents);
  listing.root = documents;
  if (listing.format == CorpusFormat::text_folder) {
    ItemList scan = scan_folder(documents, has_txt_extension);
    listing.items = std::move(scan.items);
    listing.rejected = std::move(scan.rejected);
    return listing;
  }
  const File file = open_corpus_file(documents);
  Layout layout = read_layout(file, documents, listing.format);
  listing.columns = std::move(layout.columns);
  // Only record boundaries are found here, never a record parsed: a 10 GB file lists at the
  // speed of the disk, and each record is judged by the worker that reads it.
  RecordCursor cursor(file, layout.data_offset, layout.data_line, listing.format == CorpusFormat::csv, kListChunk);
  bool reserved = false;
  for (RecordSpan span; cursor.next(span);) {
    // Millions of items: size the vector once from the first chunk's records instead of
    // copying it as it doubles.
    if (!reserved && span.offset - layout.data_offset >= static_cast<int64_t>(kListChunk)) {
      const double seen = static_cast<double>(span.offset - layout.data_offset);
      const double all = static_cast<double>(file.size() - layout.data_offset);
      listing.items.reserve(static_cast<size_t>(static_cast<double>(listing.items.size()) / seen * all * 1.05));
      reserved = true;
    }
    if (span.blank)
      listing.rejected.push_back({span.line, item_name(span.line, span.offset), "blank line"});
    else
      listing.items.push_back(item_name(span.line, span.offset));
  }
  return listing;
}

struct CorpusReader::Impl {
  fs::path documents;
  CorpusFormat format = CorpusFormat::jsonl;
  size_t max_text_bytes = 0;
  size_t max_record_bytes = 0;
  File file;                // not for a folder
  Layout layout;            // not for a folder
  fs::path canonical_root;  // only for a folder

  std::string read_record(DocumentRecord& record) const;
  std::string read_text_file(DocumentRecord& record) const;
};

CorpusReader::CorpusReader(const fs::path& documents, size_t max_text_bytes, size_t max_record_bytes)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.documents = documents;
  m.format = corpus_format(documents);
  m.max_text_bytes = max_text_bytes;
  m.max_record_bytes = max_record_bytes;
  if (m.format == CorpusFormat::text_folder) {
    m.canonical_root = canonical_root(documents);
  } else {
    m.file = open_corpus_file(documents);
    m.layout = read_layout(m.file, documents, m.format);
  }
}

CorpusReader::~CorpusReader() = default;
CorpusReader::CorpusReader(CorpusReader&&) noexcept = default;
CorpusReader& CorpusReader::operator=(CorpusReader&&) noexcept = default;

std::string CorpusReader::Impl::read_record(DocumentRecord& record) const {
  int64_t offset = 0;
  if (!parse_item(record.item, record.line, offset))
    throw usage_error(fmt::format("{}: item '{}' is not <line>:<byte offset>", printable(documents.string()),
                                  printable(record.item)));
  if (offset < layout.data_offset || offset >= file.size())
    throw usage_error(fmt::format("{}: item '{}' points {} the records (bytes {} to {} of the file)",
                                  printable(documents.string()), printable(record.item),
                                  offset < layout.data_offset ? "before" : "past", layout.data_offset, file.size()));
  record.id = std::to_string(record.line);
  const bool csv = format == CorpusFormat::csv;
  RecordCursor cursor(file, offset, record.line, csv, kReadChunk);
  RecordSpan span;
  std::string bytes;
  if (!cursor.next(span, &bytes, max_record_bytes))
    unreadable(documents,
               fmt::format("item '{}': the file ends before it (changed since it was listed?)", printable(record.item)));
  if (span.too_long)
    return refused(record, fmt::format("{} longer than {} bytes", csv ? "record" : "line", max_record_bytes));
  if (span.open_quote) return refused(record, "a quoted field is not closed before the end of the file");
  if (span.blank) return refused(record, "blank line");
  drop_carriage_return(bytes);
  if (format == CorpusFormat::jsonl) return read_json_record(bytes, record);
  return read_table_record(bytes, format, layout, record);
}

std::string CorpusReader::Impl::read_text_file(DocumentRecord& record) const {
  const std::string& item = record.item;
  if (relative_inside(documents, item) != item)
    throw usage_error(fmt::format("{}: item '{}' is not a relative path inside the folder", printable(documents.string()),
                                  printable(item)));
  record.id = item;
  record.id_given = true;
  const fs::path rel(item);
  if (const std::string parent = rel.parent_path().filename().string(); !parent.empty()) record.label = parent;
  record.fields = nlohmann::ordered_json{{"id", json_safe(item)}, {"text", ""}, {"label", nullptr}};
  if (record.label) record.fields["label"] = json_safe(*record.label);

  // The folder scan's input rule, and a realpath for files below a folder: a linked folder
  // inside the corpus must not lead a read out of it.
  const fs::path path = documents / rel;
  std::error_code ec;
  const fs::file_type own = fs::symlink_status(path, ec).type();
  if (own == fs::file_type::not_found) return refused(record, "file not found");
  if (ec) return refused(record, fmt::format("cannot read: {}", ec.message()));
  if (std::string why = input_file_problem(canonical_root, path, own); !why.empty()) return refused(record, why);
  if (rel.has_parent_path())
    if (std::string why = outside_canonical_root_reason(canonical_root, path); !why.empty()) return refused(record, why);

  File file;
  if (std::string why = file.open(path); !why.empty()) return refused(record, why);
  if (static_cast<uint64_t>(file.size()) > max_record_bytes)
    return refused(record, fmt::format("file larger than {} bytes", max_record_bytes));
  // One byte more than allowed tells a file that grew since it was opened.
  std::string text(static_cast<size_t>(file.size()) + 1, '\0');
  try {
    text.resize(file.read_at(0, text.data(), text.size()));
  } catch (const Error& e) {
    return refused(record, e.what());  // one unreadable document, not an unreadable corpus
  }
  if (text.size() > max_record_bytes) return refused(record, fmt::format("file larger than {} bytes", max_record_bytes));
  if (text.rfind(kBom, 0) == 0) text.erase(0, kBom.size());
  record.text = std::move(text);
  record.fields["text"] = json_safe(record.text);
  if (record.label && !is_valid_utf8(*record.label)) return "the folder name (the label) is not valid UTF-8";
  return {};
}

DocumentRecord CorpusReader::read(const std::string& item) {
  DocumentRecord record;
  record.item = item;
  Impl& m = *impl_;
  std::string later = m.format == CorpusFormat::text_folder ? m.read_text_file(record) : m.read_record(record);
  if (record.error.empty()) {
    if (!is_valid_utf8(record.text))
      record.error = "text is not valid UTF-8";
    else if (record.text.empty())
      record.error = "empty text";
    else
      record.error = std::move(later);
  }
  record.text_bytes = static_cast<int64_t>(record.text.size());
  if (record.error.empty() && record.text.size() > m.max_text_bytes) {
    record.text.resize(utf8_prefix(record.text, m.max_text_bytes).size());
    record.truncated = true;
  }
  return record;
}

}  // namespace lv
