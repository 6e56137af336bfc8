#include "wordpiece.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>

#include <limits>
#include <utility>

#include <fmt/format.h>

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"

namespace fs = std::filesystem;

namespace lv {
namespace {

constexpr size_t kMaxWordCodePoints = 100;  // Hugging Face's max_input_chars_per_word
constexpr UChar32 kReplacement = 0xFFFD;

// One code point from UTF-8 at `i`, advancing `i`. A byte that does not start a well-formed
// sequence (overlong, surrogate, above U+10FFFF, truncated) reads as U+FFFD and is skipped alone.
UChar32 next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  size_t length = 0;
  UChar32 cp = 0, smallest = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2, cp = b0 & 0x1F, smallest = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3, cp = b0 & 0x0F, smallest = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4, cp = b0 & 0x07, smallest = 0x10000;
  } else {
    ++i;
    return kReplacement;
  }
  if (s.size() - i < length) {
    ++i;
    return kReplacement;
  }
  for (size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < smallest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return kReplacement;
  }
  i += length;
  return cp;
}

bool is_bert_whitespace(UChar32 c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || u_charType(c) == U_SPACE_SEPARATOR;
}

// Hugging Face's _is_control: every "other" category (Cc, Cf, Cs, Co, Cn), tab/newline/CR aside.
bool is_bert_control(UChar32 c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return (U_GET_GC_MASK(c) & U_GC_C_MASK) != 0;
}

// Python's str.split() also splits on these two; cleaning leaves them in place.
bool is_line_or_paragraph_separator(UChar32 c) { return c == 0x2028 || c == 0x2029; }

bool is_cjk_ideograph(UChar32 c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// All non-letter, non-digit ASCII counts, as in BERT ("$", "^", "`" are not Unicode P*).
bool is_bert_punctuation(UChar32 c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  return (U_GET_GC_MASK(c) & U_GC_P_MASK) != 0;
}

const icu::Normalizer2& normalizer(bool decompose) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n =
      decompose ? icu::Normalizer2::getNFDInstance(status) : icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status) || n == nullptr)
    throw Error(ExitCode::failed, fmt::format("ICU: no {} normaliser: {}", decompose ? "NFD" : "NFC", u_errorName(status)));
  return *n;
}

icu::UnicodeString normalized(const icu::UnicodeString& text, bool decompose) {
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString out = normalizer(decompose).normalize(text, status);
  if (U_FAILURE(status))
    throw Error(ExitCode::failed, fmt::format("ICU: {} normalisation failed: {}", decompose ? "NFD" : "NFC", u_errorName(status)));
  return out;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::from_vocab_file(const fs::path& file) {
  const std::string name = printable(file.string());
  std::error_code ec;
  const fs::file_status st = fs::status(file, ec);
  // A FIFO would block the read forever; a folder would read as an empty vocabulary.
  if (fs::exists(st) && !fs::is_regular_file(st))
    throw Error(ExitCode::input_unreadable, fmt::format("{}: WordPiece vocabulary: not a regular file", name));
  std::string text;
  try {
    text = read_file(file);
  } catch (const Error& e) {
    throw Error(ExitCode::input_unreadable, fmt::format("{} (WordPiece vocabulary)", e.what()));
  }
  std::vector<std::string> tokens;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string token = text.substr(start, end - start);
    if (!token.empty() && token.back() == '\r') token.pop_back();
    tokens.push_back(std::move(token));
    start = end + 1;
  }
  return WordPieceTokenizer(std::move(tokens), name);
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab)
    : WordPieceTokenizer(std::move(vocab), "vocabulary") {}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, const std::string& source)
    : vocab_(std::move(vocab)) {
  if (vocab_.empty())
    throw usage_error(fmt::format("{}: WordPiece vocabulary: holds no tokens (one token a line expected)", source));
  id_of_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) {
    const auto [it, inserted] = id_of_.emplace(vocab_[i], static_cast<int64_t>(i));
    if (!inserted)
      throw usage_error(fmt::format("{}:{}: WordPiece vocabulary: '{}' is already on line {}; each token once",
                                    source, i + 1, printable(vocab_[i]), it->second + 1));
  }
  const auto special = [&](const char* token) {
    const auto it = id_of_.find(token);
    if (it == id_of_.end())
      throw usage_error(fmt::format("{}: WordPiece vocabulary: no line holds {}; [PAD], [UNK], [CLS] and [SEP] are required",
                                    source, token));
    return it->second;
  };
  pad_id_ = special("[PAD]");
  unk_id_ = special("[UNK]");
  cls_id_ = special("[CLS]");
  sep_id_ = special("[SEP]");
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<int64_t> ids;
  append_ids(text, std::numeric_limits<size_t>::max(), ids);
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int64_t id : ids) tokens.push_back(vocab_[static_cast<size_t>(id)]);
  return tokens;
}

std::vector<int64_t> WordPieceTokenizer::encode(std::string_view text, size_t max_length) const {
  if (max_length < 2)
    throw usage_error(fmt::format("WordPiece: max_length must be at least 2 ([CLS] and [SEP]), got {}", max_length));
  std::vector<int64_t> ids{cls_id_};
  append_ids(text, max_length - 1, ids);
  ids.push_back(sep_id_);
  return ids;
}

void WordPieceTokenizer::append_ids(std::string_view text, size_t limit, std::vector<int64_t>& ids) const {
  // Word by word, so a long document stops being read once `limit` ids are there. Neither NFC
  // nor lower-casing moves anything across a space, so per-word NFC equals whole-text NFC.
  icu::UnicodeString word;
  std::string piece_utf8;
  const auto emit_piece = [&](icu::UnicodeString& piece) {
    if (piece.isEmpty()) return;
    piece_utf8.clear();
    piece.toUTF8String(piece_utf8);
    append_word_pieces(piece_utf8, ids);
    piece.remove();
  };
  const auto flush_word = [&] {
    if (word.isEmpty()) return;
    icu::UnicodeString w = normalized(word, false);
    word.remove();
    w.toLower(icu::Locale::getRoot());  // full mapping with final sigma, as Python's str.lower()
    w = normalized(w, true);
    icu::UnicodeString piece;
    for (int32_t k = 0; k < w.length();) {
      const UChar32 c = w.char32At(k);
      k += U16_LENGTH(c);
      if (u_charType(c) == U_NON_SPACING_MARK) continue;  // the accents NFD split off
      if (is_bert_punctuation(c)) {
        emit_piece(piece);
        piece.append(c);
        emit_piece(piece);
      } else {
        piece.append(c);
      }
    }
    emit_piece(piece);
  };

  size_t i = 0;
  while (i < text.size() && ids.size() < limit) {
    const UChar32 c = next_code_point(text, i);
    if (c == 0 || c == kReplacement || is_bert_control(c)) continue;
    if (is_bert_whitespace(c) || is_line_or_paragraph_separator(c)) {
      flush_word();
    } else if (is_cjk_ideograph(c)) {
      flush_word();
      word.append(c);
      flush_word();
    } else {
      word.append(c);
    }
  }
  if (ids.size() < limit) flush_word();
  if (ids.size() > limit) ids.resize(limit);
}

void WordPieceTokenizer::append_word_pieces(const std::string& token, std::vector<int64_t>& ids) const {
  std::vector<size_t> starts;  // byte offset of each code point, then the end
  for (size_t b = 0; b < token.size(); ++b)
    if ((static_cast<unsigned char>(token[b]) & 0xC0) != 0x80) starts.push_back(b);
  const size_t count = starts.size();
  if (count > kMaxWordCodePoints) {
    ids.push_back(unk_id_);
    return;
  }
  starts.push_back(token.size());

  const size_t first = ids.size();
  std::string candidate;
  for (size_t begin = 0; begin < count;) {
    size_t end = count;
    int64_t found = -1;
    for (; end > begin; --end) {
      candidate.assign(begin > 0 ? "##" : "");
      candidate.append(token, starts[begin], starts[end] - starts[begin]);
      if (const auto it = id_of_.find(candidate); it != id_of_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      ids.resize(first);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(found);
    begin = end;
  }
}

}  // namespace lv
