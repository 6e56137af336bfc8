#pragma once
/// A vocabulary-free tokenizer for the document worker's text models: words and word bigrams
/// hashed into a fixed number of buckets. The spec is exact, because a trainer outside this
/// project must produce the same ids:
///
/// - Words. ASCII `A`-`Z` are lower-cased; no other byte changes. A word is a maximal run of
///   bytes that are ASCII letters or digits or >= 0x80, so UTF-8 text (valid or not) stays
///   inside words. Every other byte (space, control, ASCII punctuation) separates words and is
///   dropped.
/// - Hash. FNV-1a 64-bit over the bytes: h = 14695981039346656037; for each byte b:
///   h = (h XOR b) * 1099511628211 mod 2^64. A bigram is hashed as the bytes `w1 w2` (the two
///   words joined by one space).
/// - Ids. id = 1 + hash % (buckets - 1), so ids lie in [1, buckets - 1]; id 0 is padding.
/// - Order. word_0, then for each i >= 1: word_i, then bigram(word_{i-1}, word_i) when bigrams
///   are on. The sequence is cut after max_tokens ids.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace lv {

/// FNV-1a 64-bit hash of `bytes` (offset basis 14695981039346656037, prime 1099511628211).
uint64_t fnv1a64(std::string_view bytes);

/// Words and bigrams hashed to ids in [1, buckets - 1], as specified at the top of this file.
struct HashedTokenizer {
  int64_t buckets = 262144;  ///< ids are 1 .. buckets - 1; 0 is padding; at least 2
  bool bigrams = true;       ///< emit bigram(i-1, i) after each word i >= 1

  /// The ids of `text`, at most `max_tokens` of them (empty when the text has no word).
  /// Throws lv::Error (ExitCode::usage) when buckets < 2.
  std::vector<int64_t> encode(std::string_view text, size_t max_tokens) const;
};

}  // namespace lv
