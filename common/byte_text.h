#pragma once
/// Linux file names and label files are bytes, JSON strings are UTF-8. These functions carry
/// bytes through JSON and messages without loss or exceptions.
///
/// The escaped form (documented in the README, "Reports and file names"): a string that is
/// valid UTF-8 is written unchanged; otherwise every byte that is not part of a valid UTF-8
/// sequence becomes the four characters `\xHH` (upper-case hex) and every backslash becomes
/// `\\`, and the record says so with `"path_escaped": true`. unescape_bytes() reverses it.
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace lv {

/// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

/// The escaped form of `bytes` when they are not valid UTF-8; `bytes` unchanged when they are.
std::string escape_bytes(std::string_view bytes);

/// Reverses escape_bytes() for a string that was escaped (`\xHH` -> byte, `\\` -> `\`).
std::string unescape_bytes(std::string_view escaped);

/// Sets `record[key]` to `bytes`, escaped when needed, and `record[key + "_escaped"] = true`
/// then (so `path` gets `path_escaped`). Never throws for bad bytes.
void set_bytes_field(nlohmann::json& record, const std::string& key, std::string_view bytes);

/// The original bytes of a field written by set_bytes_field().
std::string get_bytes_field(const nlohmann::json& record, const std::string& key);

/// The longest prefix of UTF-8 `text` of at most `max_bytes` that ends on a character boundary.
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);

/// `text` made safe for a message or a JSON string: invalid bytes become `\xHH` (lossy for the
/// rare text that already holds `\x`; use escape_bytes() where the bytes must round-trip).
std::string printable(std::string_view text);

}  // namespace lv
