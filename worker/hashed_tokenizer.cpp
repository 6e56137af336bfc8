#include "hashed_tokenizer.h"

#include <string>

#include <fmt/format.h>

#include "error.h"

namespace lv {
namespace {

constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

uint64_t fnv1a64_update(uint64_t h, std::string_view bytes) {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

bool is_word_byte(unsigned char b) {
  return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b >= 0x80;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

uint64_t fnv1a64(std::string_view bytes) { return fnv1a64_update(kFnvOffsetBasis, bytes); }

std::vector<int64_t> HashedTokenizer::encode(std::string_view text, size_t max_tokens) const {
  if (buckets < 2)
    throw usage_error(fmt::format("hashed tokenizer: buckets must be at least 2, got {}", buckets));
  const uint64_t modulus = static_cast<uint64_t>(buckets - 1);
  const auto to_id = [modulus](uint64_t h) { return static_cast<int64_t>(1 + h % modulus); };

  std::vector<int64_t> ids;
  std::string word;
  uint64_t previous_hash = 0;
  bool have_previous = false;
  size_t i = 0;
  while (i < text.size() && ids.size() < max_tokens) {
    if (!is_word_byte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    word.clear();
    for (; i < text.size() && is_word_byte(static_cast<unsigned char>(text[i])); ++i) word += ascii_lower(text[i]);
    const uint64_t word_hash = fnv1a64(word);
    ids.push_back(to_id(word_hash));
    if (bigrams && have_previous && ids.size() < max_tokens) {
      // FNV-1a is a left fold over the bytes: the hash of "w1 w2" continues from that of "w1".
      ids.push_back(to_id(fnv1a64_update(fnv1a64_update(previous_hash, " "), word)));
    }
    previous_hash = word_hash;
    have_previous = true;
  }
  return ids;
}

}  // namespace lv
