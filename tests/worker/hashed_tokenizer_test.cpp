// The hashed tokenizer's exact spec (worker/hashed_tokenizer.h): a trainer elsewhere must
// produce the same ids, so the expected values are derived here independently.
#include <cstdint>
#include <string>
#include <vector>

#include "catch.h"
#include "error.h"
#include "hashed_tokenizer.h"

using namespace lv;

namespace {

// The textbook FNV-1a 64 definition, written out independently of the code under test.
uint64_t reference_fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char b : s) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return h;
}

int64_t reference_id(const std::string& s, int64_t buckets) {
  return static_cast<int64_t>(1 + reference_fnv1a64(s) % static_cast<uint64_t>(buckets - 1));
}

std::vector<int64_t> ids_of(const std::vector<std::string>& pieces, int64_t buckets) {
  std::vector<int64_t> ids;
  for (const auto& p : pieces) ids.push_back(reference_id(p, buckets));
  return ids;
}

}  // namespace

TEST_CASE("fnv1a64 matches the published FNV-1a 64 test vectors", "[text][hashed]") {
  CHECK(fnv1a64("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a64("foobar") == 0x85944171f73967e8ULL);
}

TEST_CASE("fnv1a64 of a two-byte string follows the xor-then-multiply steps", "[text][hashed]") {
  // "ab": h = ((basis ^ 'a') * prime ^ 'b') * prime, modulo 2^64.
  const uint64_t prime = 1099511628211ULL;
  const uint64_t after_a = (14695981039346656037ULL ^ 0x61) * prime;
  CHECK(after_a == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a64("ab") == ((after_a ^ 0x62) * prime));
  CHECK(fnv1a64("ab") == reference_fnv1a64("ab"));
  CHECK(fnv1a64(std::string("\x00\xff", 2)) == reference_fnv1a64(std::string("\x00\xff", 2)));
}

TEST_CASE("a token id is one plus the hash modulo buckets minus one", "[text][hashed]") {
  // 1025 buckets: id = 1 + (hash & 0x3ff); fnv1a64("a") ends in 0x08c = 140.
  HashedTokenizer t;
  t.buckets = 1025;
  CHECK(t.encode("a", 10) == std::vector<int64_t>{141});
  // 2 buckets: every id is 1.
  t.buckets = 2;
  CHECK(t.encode("a b c", 10) == std::vector<int64_t>{1, 1, 1, 1, 1});
}

TEST_CASE("words are split on spaces, controls and ASCII punctuation, which are dropped", "[text][hashed]") {
  HashedTokenizer t;
  t.bigrams = false;
  CHECK(t.encode("one,two.three!four\tfive\nsix\x01seven-eight_nine", 100) ==
        ids_of({"one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}, t.buckets));
  CHECK(t.encode("  ...  ", 100).empty());
  CHECK(t.encode("", 100).empty());
  CHECK(t.encode("abc123 4x4", 100) == ids_of({"abc123", "4x4"}, t.buckets));
}

TEST_CASE("only ASCII A-Z are lower-cased", "[text][hashed]") {
  HashedTokenizer t;
  t.bigrams = false;
  CHECK(t.encode("HeLLo", 10) == t.encode("hello", 10));
  // "É" (C3 89) is left as it is: it does not become "é" (C3 A9).
  CHECK(t.encode("\xC3\x89t\xC3\xA9", 10) == ids_of({"\xC3\x89t\xC3\xA9"}, t.buckets));
  CHECK(t.encode("\xC3\x89", 10) != t.encode("\xC3\xA9", 10));
}

TEST_CASE("UTF-8 bytes, valid or not, stay inside words", "[text][hashed]") {
  HashedTokenizer t;
  t.bigrams = false;
  CHECK(t.encode("caf\xC3\xA9 na\xC3\xAFve", 10) == ids_of({"caf\xC3\xA9", "na\xC3\xAFve"}, t.buckets));
  CHECK(t.encode("\xE4\xB8\xAD\xE6\x96\x87" "abc", 10) == ids_of({"\xE4\xB8\xAD\xE6\x96\x87" "abc"}, t.buckets));
  CHECK(t.encode("x\xFFy z", 10) == ids_of({"x\xFFy", "z"}, t.buckets));
}

TEST_CASE("each word after the first is followed by its bigram with the word before", "[text][hashed]") {
  HashedTokenizer t;
  CHECK(t.encode("The cat, SAT", 100) ==
        ids_of({"the", "cat", "the cat", "sat", "cat sat"}, t.buckets));
  CHECK(t.encode("alone", 100) == ids_of({"alone"}, t.buckets));
}

TEST_CASE("bigrams join the normalised words with exactly one space", "[text][hashed]") {
  HashedTokenizer t;
  CHECK(t.encode("Hello,   \t World!", 100) == ids_of({"hello", "world", "hello world"}, t.buckets));
}

TEST_CASE("the ids are cut after max_tokens, mid-pair included", "[text][hashed]") {
  HashedTokenizer t;
  const std::vector<int64_t> all = ids_of({"a", "b", "a b", "c", "b c"}, t.buckets);
  CHECK(t.encode("a b c", 5) == all);
  CHECK(t.encode("a b c", 100) == all);
  CHECK(t.encode("a b c", 4) == std::vector<int64_t>(all.begin(), all.begin() + 4));
  CHECK(t.encode("a b c", 2) == std::vector<int64_t>(all.begin(), all.begin() + 2));
  CHECK(t.encode("a b c", 0).empty());
}

TEST_CASE("every id lies in 1 .. buckets - 1", "[text][hashed]") {
  HashedTokenizer t;
  t.buckets = 7;
  for (const int64_t id : t.encode("lorem ipsum dolor sit amet consectetur adipiscing elit sed do", 1000)) {
    CHECK(id >= 1);
    CHECK(id <= 6);
  }
}

TEST_CASE("fewer than two buckets is a usage error", "[text][hashed]") {
  HashedTokenizer t;
  for (const int64_t buckets : {int64_t{1}, int64_t{0}, int64_t{-5}}) {
    t.buckets = buckets;
    try {
      t.encode("a", 10);
      FAIL("expected lv::Error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::usage);
      CHECK(std::string(e.what()).find("buckets") != std::string::npos);
    }
  }
}
