#include "byte_text.h"

#include <nlohmann/json.hpp>

#include <fmt/core.h>

namespace lv {

namespace {

/// Length of the valid UTF-8 sequence starting at s[i], or 0 when the byte there does not
/// start one (RFC 3629 table 3-7).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no UTF-16 surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

std::string escape_invalid(std::string_view bytes, bool escape_backslash) {
  std::string out;
  out.reserve(bytes.size() + 8);
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = utf8_sequence_length(bytes, i);
    if (n == 0) {
      out += fmt::format("\\x{:02X}", static_cast<unsigned char>(bytes[i]));
      ++i;
      continue;
    }
    if (escape_backslash && bytes[i] == '\\') out += '\\';
    out.append(bytes.substr(i, n));
    i += n;
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string escape_bytes(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return std::string(bytes);
  return escape_invalid(bytes, true);
}

std::string unescape_bytes(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '\\' && i + 1 < escaped.size()) {
      if (escaped[i + 1] == '\\') {
        out += '\\';
        ++i;
        continue;
      }
      if (escaped[i + 1] == 'x' && i + 3 < escaped.size()) {
        const int hi = hex_value(escaped[i + 2]), lo = hex_value(escaped[i + 3]);
        if (hi >= 0 && lo >= 0) {
          out += static_cast<char>(hi * 16 + lo);
          i += 3;
          continue;
        }
      }
    }
    out += escaped[i];
  }
  return out;
}

void set_bytes_field(nlohmann::json& record, const std::string& key, std::string_view bytes) {
  if (is_valid_utf8(bytes)) {
    record[key] = std::string(bytes);
    // A flag left from an earlier value would make get_bytes_field unescape this one.
    record.erase(key + "_escaped");
    return;
  }
  record[key] = escape_invalid(bytes, true);
  record[key + "_escaped"] = true;
}

std::string get_bytes_field(const nlohmann::json& record, const std::string& key) {
  const std::string value = record.at(key).get<std::string>();
  const auto flag = record.find(key + "_escaped");
  if (flag != record.end() && flag->is_boolean() && flag->get<bool>()) return unescape_bytes(value);
  return value;
}

std::string printable(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  return escape_invalid(text, false);
}

std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  // Cut before a byte that a character continues through (10xxxxxx).
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

}  // namespace lv
