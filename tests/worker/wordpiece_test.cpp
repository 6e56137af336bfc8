// WordPiece as Hugging Face's BERT-uncased tokenizer does it (worker/wordpiece.h). The ids are
// line numbers (from 0) of the small vocabulary below, checked by hand.
#include <string>
#include <vector>

#include "catch.h"
#include "error.h"
#include "test_util.h"
#include "wordpiece.h"

using namespace lv;
using Ids = std::vector<int64_t>;
using Tokens = std::vector<std::string>;

namespace {

const std::vector<std::string> kVocab = {
    "[PAD]",  // 0
    "[UNK]",  // 1
    "[CLS]",  // 2
    "[SEP]",  // 3
    "hello",  // 4
    "world",  // 5
    ",",      // 6
    "!",      // 7
    "naive",  // 8
    "cafe",   // 9
    "中",     // 10
    "文",     // 11
    "abc",    // 12
    "un",     // 13
    "##aff",  // 14
    "##able", // 15
    "u",      // 16
    "##a",    // 17
    "a",      // 18
    "οδος",   // 19 (final sigma)
    "$",      // 20
    "5",      // 21
    "—",      // 22 (U+2014 em dash, category Pd)
    "[",      // 23
    "]",      // 24
    "unk",    // 25
};

std::string vocab_text(const std::vector<std::string>& tokens, const char* eol = "\n") {
  std::string text;
  for (const auto& t : tokens) text += t + eol;
  return text;
}

// The message of the lv::Error `f` throws, and checks its exit code.
template <typename F>
std::string error_of(F f, ExitCode expected) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.code() == expected);
    return e.what();
  }
  FAIL("expected lv::Error");
  return {};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a vocab file gives ids by line and the four special tokens", "[text][wordpiece]") {
  test::TempDir dir;
  test::write_text(dir / "vocab.txt", vocab_text(kVocab));
  const auto t = WordPieceTokenizer::from_vocab_file(dir / "vocab.txt");
  CHECK(t.vocab_size() == kVocab.size());
  CHECK(t.pad_id() == 0);
  CHECK(t.unk_id() == 1);
  CHECK(t.cls_id() == 2);
  CHECK(t.sep_id() == 3);
  CHECK(t.encode("hello world", 16) == Ids{2, 4, 5, 3});
}

TEST_CASE("a vocab file with CRLF line ends reads as with LF, blank lines keep their ids", "[text][wordpiece]") {
  test::TempDir dir;
  std::vector<std::string> tokens = {"[SEP]", "", "[CLS]", "[UNK]", "[PAD]", "hello"};
  test::write_text(dir / "vocab.txt", vocab_text(tokens, "\r\n"));
  const auto t = WordPieceTokenizer::from_vocab_file(dir / "vocab.txt");
  CHECK(t.vocab_size() == 6);
  CHECK(t.sep_id() == 0);
  CHECK(t.cls_id() == 2);
  CHECK(t.unk_id() == 3);
  CHECK(t.pad_id() == 4);
  CHECK(t.encode("Hello", 8) == Ids{2, 5, 0});
}

TEST_CASE("the last vocab line needs no line end", "[text][wordpiece]") {
  test::TempDir dir;
  test::write_text(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello");
  const auto t = WordPieceTokenizer::from_vocab_file(dir / "vocab.txt");
  CHECK(t.vocab_size() == 5);
  CHECK(t.tokenize("hello") == Tokens{"hello"});
}

TEST_CASE("punctuation is split off and words are lower-cased", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.tokenize("Hello, World!") == Tokens{"hello", ",", "world", "!"});
  CHECK(t.encode("Hello, World!", 32) == Ids{2, 4, 6, 5, 7, 3});
  CHECK(t.encode("HELLO,WORLD!", 32) == Ids{2, 4, 6, 5, 7, 3});
}

TEST_CASE("ASCII symbols count as punctuation, as do Unicode P* characters", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.tokenize("$5") == Tokens{"$", "5"});
  CHECK(t.tokenize("hello\u2014world") == Tokens{"hello", "—", "world"});
  // Special-token text is ordinary text.
  CHECK(t.tokenize("[UNK]") == Tokens{"[", "unk", "]"});
}

TEST_CASE("accents are stripped, composed or decomposed", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.tokenize("Héllo") == Tokens{"hello"});
  CHECK(t.tokenize("He\u0301llo") == Tokens{"hello"});
  CHECK(t.tokenize("naïve café") == Tokens{"naive", "cafe"});
  CHECK(t.encode("NAÏVE CAFÉ", 8) == Ids{2, 8, 9, 3});
}

TEST_CASE("lower-casing is Python's full mapping, final sigma included", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.tokenize("ΟΔΟΣ") == Tokens{"οδος"});
  // Dotted capital I lower-cases to "i" plus a combining dot, which accent stripping drops.
  CHECK(t.tokenize("\u0130") == Tokens{"[UNK]"});  // "i" is not in the vocabulary...
  const WordPieceTokenizer with_i({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "i"});
  CHECK(with_i.tokenize("\u0130") == Tokens{"i"});  // ...and with it, the dot is gone
}

TEST_CASE("each CJK ideograph is a word of its own", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.tokenize("中文abc") == Tokens{"中", "文", "abc"});
  CHECK(t.encode("中文abc", 16) == Ids{2, 10, 11, 12, 3});
  CHECK(t.tokenize("abc中") == Tokens{"abc", "中"});
}

TEST_CASE("WordPiece takes the longest match first and prefixes later pieces with ##", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.tokenize("unaffable") == Tokens{"un", "##aff", "##able"});
  CHECK(t.encode("unaffable", 16) == Ids{2, 13, 14, 15, 3});
  CHECK(t.tokenize("aaa") == Tokens{"a", "##a", "##a"});
}

TEST_CASE("a word with a part no piece covers is one [UNK]", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.tokenize("unaffablez") == Tokens{"[UNK]"});
  CHECK(t.tokenize("hello xyz world") == Tokens{"hello", "[UNK]", "world"});
  CHECK(t.encode("unaffablez", 16) == Ids{2, 1, 3});
}

TEST_CASE("a word longer than 100 code points is [UNK]", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  const auto hundred = t.tokenize(std::string(100, 'a'));
  REQUIRE(hundred.size() == 100);
  CHECK(hundred.front() == "a");
  CHECK(hundred.back() == "##a");
  CHECK(t.tokenize(std::string(101, 'a')) == Tokens{"[UNK]"});
  // Code points, not bytes: 60 two-byte characters are 60, not 120.
  std::string accented;
  for (int i = 0; i < 60; ++i) accented += "á";
  CHECK(t.tokenize(accented).size() == 60);
}

TEST_CASE("encode keeps [CLS] first and [SEP] last when it truncates", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.encode("hello world hello world", 4) == Ids{2, 4, 5, 3});
  CHECK(t.encode("unaffable", 4) == Ids{2, 13, 14, 3});  // cut inside a word's pieces
  CHECK(t.encode("hello world", 2) == Ids{2, 3});
  CHECK(t.encode("", 8) == Ids{2, 3});
  CHECK(t.encode("hello", 3) == Ids{2, 4, 3});
}

TEST_CASE("encode refuses a max_length below 2", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  const std::string msg = error_of([&] { t.encode("hello", 1); }, ExitCode::usage);
  CHECK(contains(msg, "max_length"));
  error_of([&] { t.encode("hello", 0); }, ExitCode::usage);
}

TEST_CASE("control characters are dropped without splitting, whitespace splits", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.tokenize(std::string("hel\x01lo wor\x7f") + "ld") == Tokens{"hello", "world"});
  CHECK(t.tokenize("hel\vlo") == Tokens{"hello"});                    // \v is Cc, not whitespace
  CHECK(t.tokenize("hel\u200Blo") == Tokens{"hello"});                // zero-width space is Cf
  CHECK(t.tokenize(std::string("hel\0lo", 6)) == Tokens{"hello"});   // U+0000
  CHECK(t.tokenize("hel\uFFFDlo") == Tokens{"hello"});                // U+FFFD
  CHECK(t.tokenize("\tHello\r\nworld\n") == Tokens{"hello", "world"});
  CHECK(t.tokenize("hello\u00A0world\u3000hello") == Tokens{"hello", "world", "hello"});  // Zs
  CHECK(t.tokenize("hello\u2028world") == Tokens{"hello", "world"});  // Python's split() sees it
}

TEST_CASE("invalid UTF-8 bytes are dropped like U+FFFD", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.tokenize("hel\xFFlo") == Tokens{"hello"});
  CHECK(t.tokenize("wor\xC3ld") == Tokens{"world"});                      // truncated sequence
  CHECK(t.tokenize("hel\xC0\xAFlo") == Tokens{"hello"});                  // overlong '/'
  CHECK(t.tokenize("he\xED\xA0\x80llo") == Tokens{"hello"});              // UTF-16 surrogate
  CHECK(t.tokenize("hello\xE4\xB8") == Tokens{"hello"});                  // cut at the end
  CHECK(t.tokenize("\xE4\xB8\xAD\xF4\x90\x80\x80") == Tokens{"中"});      // above U+10FFFF
}

TEST_CASE("empty and blank text give no tokens", "[text][wordpiece]") {
  const WordPieceTokenizer t(kVocab);
  CHECK(t.tokenize("").empty());
  CHECK(t.tokenize(" \t\r\n\u3000 ").empty());
  CHECK(t.tokenize("\u0301").empty());  // a lone accent is stripped to nothing
}

TEST_CASE("a vocab file lacking a special token is refused, naming the file and the token", "[text][wordpiece]") {
  test::TempDir dir;
  test::write_text(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\nhello\n");
  const std::string msg =
      error_of([&] { WordPieceTokenizer::from_vocab_file(dir / "vocab.txt"); }, ExitCode::usage);
  CHECK(contains(msg, (dir / "vocab.txt").string()));
  CHECK(contains(msg, "[SEP]"));
}

TEST_CASE("a token listed twice is refused with both line numbers", "[text][wordpiece]") {
  test::TempDir dir;
  test::write_text(dir / "vocab.txt", "[PAD]\n[UNK]\nhello\n[CLS]\n[SEP]\nhello\n");
  const std::string msg =
      error_of([&] { WordPieceTokenizer::from_vocab_file(dir / "vocab.txt"); }, ExitCode::usage);
  CHECK(contains(msg, (dir / "vocab.txt").string() + ":6:"));
  CHECK(contains(msg, "'hello'"));
  CHECK(contains(msg, "line 3"));
}

TEST_CASE("an empty vocab file is refused", "[text][wordpiece]") {
  test::TempDir dir;
  test::write_text(dir / "vocab.txt", "");
  const std::string msg =
      error_of([&] { WordPieceTokenizer::from_vocab_file(dir / "vocab.txt"); }, ExitCode::usage);
  CHECK(contains(msg, (dir / "vocab.txt").string()));
  CHECK(contains(msg, "no tokens"));
}

TEST_CASE("a missing or unreadable vocab file is input_unreadable, naming the file", "[text][wordpiece]") {
  test::TempDir dir;
  std::string msg = error_of([&] { WordPieceTokenizer::from_vocab_file(dir / "absent.txt"); },
                             ExitCode::input_unreadable);
  CHECK(contains(msg, (dir / "absent.txt").string()));
  msg = error_of([&] { WordPieceTokenizer::from_vocab_file(dir.path()); }, ExitCode::input_unreadable);
  CHECK(contains(msg, dir.path().string()));
}

TEST_CASE("a vocabulary given in memory is checked like a file", "[text][wordpiece]") {
  std::string msg = error_of([] { WordPieceTokenizer(std::vector<std::string>{}); }, ExitCode::usage);
  CHECK(contains(msg, "vocabulary"));
  msg = error_of([] { WordPieceTokenizer({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[UNK]"}); }, ExitCode::usage);
  CHECK(contains(msg, "vocabulary:5:"));
  CHECK(contains(msg, "line 2"));
  msg = error_of([] { WordPieceTokenizer({"[UNK]", "[CLS]", "[SEP]"}); }, ExitCode::usage);
  CHECK(contains(msg, "[PAD]"));
}
