#include "npy.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include <fmt/core.h>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"

namespace lv {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kAlign = 64;

/// A shape as Python writes a tuple: "()", "(5,)", "(3, 4)".
std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", shape[i]);
  if (shape.size() == 1) s += ',';
  return s + ")";
}

[[noreturn]] void fail(const fs::path& file, const std::string& why) {
  throw Error(ExitCode::failed, fmt::format("{}: {}", printable(file.string()), why));
}

/// Reads the Python literal of a .npy header: a dict of 'descr', 'fortran_order' and 'shape'.
class HeaderParser {
 public:
  HeaderParser(const fs::path& file, std::string_view text) : file_(file), text_(text) {}

  NpyInfo parse() {
    NpyInfo info;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        skip_space();
        if (peek() != '\'' && peek() != '"')
          bad("'descr' is not a simple type string (structured arrays are not supported)");
        info.descr = quoted();
        has_descr = true;
      } else if (key == "fortran_order") {
        info.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        info.shape = tuple();
        has_shape = true;
      } else {
        bad(fmt::format("unexpected key '{}'", printable(key)));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') bad("expected ',' or '}' after a value");
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) bad("text after the dictionary");
    if (!has_descr || !has_order || !has_shape) bad("the dictionary lacks 'descr', 'fortran_order' or 'shape'");
    return info;
  }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    fail(file_, fmt::format("malformed .npy header at byte {} of the dictionary: {}", pos_, why));
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string quoted() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    const size_t end = text_.find(q, pos_ + 1);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_space();
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) bad("expected a dimension");
      int64_t d = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (d > (INT64_MAX - 9) / 10) bad("dimension too large");
        d = d * 10 + (text_[pos_++] - '0');
      }
      if (peek() == 'L') ++pos_;  // Python 2 wrote long integers as 3L
      dims.push_back(d);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') bad("expected ',' or ')' in the shape");
    }
    ++pos_;
    return dims;
  }

  const fs::path& file_;
  std::string_view text_;
  size_t pos_ = 0;
};

/// Bytes per element of a simple dtype string ("<f4" -> 4, "<U10" -> 40).
size_t item_size(const fs::path& file, const std::string& descr) {
  size_t i = 0;
  if (i < descr.size() && std::strchr("<>|=", descr[i])) ++i;
  if (i >= descr.size()) fail(file, fmt::format("unsupported dtype '{}'", printable(descr)));
  const char kind = descr[i++];
  if (kind == 'O') fail(file, "object arrays (dtype 'O') hold pickled Python objects and cannot be concatenated");
  size_t n = 0;
  const size_t digits = i;
  while (i < descr.size() && std::isdigit(static_cast<unsigned char>(descr[i])) && n < (1u << 30))
    n = n * 10 + static_cast<size_t>(descr[i++] - '0');
  // A datetime unit ("<M8[ns]") does not change the size.
  if (i == digits || n == 0 || (i < descr.size() && descr[i] != '['))
    fail(file, fmt::format("unsupported dtype '{}'", printable(descr)));
  return kind == 'U' ? n * 4 : n;
}

/// Bytes of data that `info` announces.
uint64_t data_bytes(const fs::path& file, const NpyInfo& info) {
  uint64_t bytes = item_size(file, info.descr);
  for (int64_t d : info.shape)
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes))
      fail(file, fmt::format("shape {} is too large", shape_text(info.shape)));
  return bytes;
}

std::string describe(const fs::path& file, const NpyInfo& info) {
  return fmt::format("{} (dtype '{}', shape {})", printable(file.string()), printable(info.descr),
                     shape_text(info.shape));
}

}  // namespace

std::string npy_header(std::string_view descr, const std::vector<int64_t>& shape) {
  for (int64_t d : shape)
    if (d < 0) throw Error(ExitCode::failed, fmt::format("npy header: negative dimension in shape {}", shape_text(shape)));
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_text(shape));
  const size_t prefix = kMagicSize + 2 + 2;
  // Spaces, then '\n', up to the next multiple of 64: NumPy aligns the data so that a
  // memory-mapped array starts on an aligned address.
  const size_t unpadded = prefix + dict.size() + 1;
  dict.append((kAlign - unpadded % kAlign) % kAlign, ' ');
  dict += '\n';
  if (dict.size() > 0xFFFF) throw Error(ExitCode::failed, "npy header: the dictionary does not fit a version 1.0 header");
  std::string header(kMagic, kMagicSize);
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xFF);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

NpyInfo read_npy_header(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, fmt::format("cannot open: {}", std::strerror(errno)));
  unsigned char start[kMagicSize + 2];
  if (!in.read(reinterpret_cast<char*>(start), sizeof start) || std::memcmp(start, kMagic, kMagicSize) != 0)
    fail(file, "not a .npy file (no \\x93NUMPY magic)");
  const int major = start[kMagicSize];
  if (major != 1 && major != 2)
    fail(file, fmt::format(".npy format version {}.{} is not supported (1.0 and 2.0 are)", major, start[kMagicSize + 1]));
  // Version 1.0 has a 2-byte header length, 2.0 a 4-byte one; both little-endian.
  unsigned char len_bytes[4] = {0, 0, 0, 0};
  const size_t len_size = major == 1 ? 2 : 4;
  if (!in.read(reinterpret_cast<char*>(len_bytes), static_cast<std::streamsize>(len_size)))
    fail(file, "truncated .npy header");
  const size_t header_len = static_cast<size_t>(len_bytes[0]) | static_cast<size_t>(len_bytes[1]) << 8 |
                            static_cast<size_t>(len_bytes[2]) << 16 | static_cast<size_t>(len_bytes[3]) << 24;
  if (header_len > (64u << 20)) fail(file, fmt::format("implausible .npy header length {}", header_len));
  std::string text(header_len, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_len))) fail(file, "truncated .npy header");
  NpyInfo info = HeaderParser(file, text).parse();
  info.data_offset = sizeof start + len_size + header_len;
  return info;
}

void concat_npy(const std::vector<fs::path>& inputs, const fs::path& output) {
  if (inputs.empty()) fail(output, "no .npy files to concatenate");
  std::vector<NpyInfo> infos;
  std::vector<uint64_t> sizes;
  std::vector<int64_t> shape;
  for (const fs::path& file : inputs) {
    NpyInfo info = read_npy_header(file);
    if (info.shape.empty()) fail(file, "a 0-d array has no rows to concatenate");
    if (info.fortran_order && info.shape.size() > 1) fail(file, "Fortran-order arrays are not supported");
    if (infos.empty()) {
      shape = info.shape;
    } else {
      const NpyInfo& first = infos.front();
      if (info.descr != first.descr ||
          !std::equal(info.shape.begin() + 1, info.shape.end(), first.shape.begin() + 1, first.shape.end()))
        throw Error(ExitCode::failed, fmt::format("cannot concatenate the rows of {} and {}: dtype and every "
                                                  "dimension but the first must match",
                                                  describe(inputs.front(), first), describe(file, info)));
      shape[0] += info.shape[0];
    }
    const uint64_t bytes = data_bytes(file, info);
    std::error_code ec;
    const uint64_t size = fs::file_size(file, ec);
    if (ec) fail(file, fmt::format("cannot read: {}", ec.message()));
    if (size - info.data_offset != bytes)
      fail(file, fmt::format("{} ({} bytes of data where the header announces {})",
                             size - info.data_offset < bytes ? "truncated" : "longer than its header says",
                             size - info.data_offset, bytes));
    sizes.push_back(bytes);
    infos.push_back(std::move(info));
  }
  write_file_atomic(output, [&](std::ostream& out) {
    const std::string header = npy_header(infos.front().descr, shape);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    std::vector<char> chunk(4 << 20);
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::ifstream in(inputs[i], std::ios::binary);
      if (!in.seekg(static_cast<std::streamoff>(infos[i].data_offset))) fail(inputs[i], "cannot read the data");
      for (uint64_t left = sizes[i]; left > 0;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
        if (!in.read(chunk.data(), static_cast<std::streamsize>(n))) fail(inputs[i], "the data end early (truncated?)");
        out.write(chunk.data(), static_cast<std::streamsize>(n));
        left -= n;
      }
    }
  });
}

}  // namespace lv
