#pragma once
/// WordPiece tokenization as Hugging Face's BERT-uncased tokenizer does it (BasicTokenizer,
/// then WordpieceTokenizer), for the document worker's text models.
///
/// Basic tokenization, in this order:
/// - Decode UTF-8. Bytes that are not valid UTF-8 read as U+FFFD, which the next step drops,
///   so an invalid byte vanishes without splitting the word around it.
/// - Clean: drop U+0000, U+FFFD and every character of a Unicode "other" category (Cc, Cf, Co,
///   Cn, as Hugging Face's `_is_control` does), except tab, newline and carriage return; those
///   and every Zs character become a space.
/// - Put spaces around CJK ideographs (U+4E00-9FFF, 3400-4DBF, 20000-2A6DF, 2A700-2B73F,
///   2B740-2B81F, 2B820-2CEAF, F900-FAFF, 2F800-2FA1F), so each is a word of its own.
/// - NFC, then split on whitespace (space, U+2028, U+2029: what Python's str.split() still
///   sees after cleaning).
/// - Per word: lower-case (full Unicode mapping, as Python's str.lower()), NFD, drop Mn marks,
///   then split on punctuation (ASCII 33-47, 58-64, 91-96, 123-126 and every P* category),
///   each punctuation character a token of its own.
///
/// WordPiece, per token: longer than 100 code points -> [UNK]; otherwise greedy longest match
/// first from the left, pieces after the first prefixed "##"; when some part cannot be
/// matched the whole token is [UNK]. Special-token strings in the text ("[SEP]") are ordinary
/// text. Character properties come from ICU's Unicode tables.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lv {

/// A BERT-uncased WordPiece tokenizer over a fixed vocabulary (id = position in the list).
class WordPieceTokenizer {
 public:
  /// Reads a vocab.txt: one token a line, id = 0-based line number, a trailing '\r' dropped.
  /// Throws lv::Error naming the file: ExitCode::input_unreadable when it cannot be read;
  /// ExitCode::usage when it is empty, lists a token twice (both lines named) or lacks one of
  /// [PAD], [UNK], [CLS], [SEP].
  static WordPieceTokenizer from_vocab_file(const std::filesystem::path& file);

  /// A tokenizer over `vocab` (id = index). Throws lv::Error (ExitCode::usage) as
  /// from_vocab_file() does for the content, with "vocabulary" in place of the file name.
  explicit WordPieceTokenizer(std::vector<std::string> vocab);

  /// The WordPiece tokens of `text`, without [CLS] and [SEP].
  std::vector<std::string> tokenize(std::string_view text) const;

  /// [CLS], the ids of the first max_length - 2 tokens of `text`, [SEP]. Throws lv::Error
  /// (ExitCode::usage) when max_length < 2.
  std::vector<int64_t> encode(std::string_view text, size_t max_length) const;

  int64_t pad_id() const { return pad_id_; }  ///< id of [PAD]
  int64_t unk_id() const { return unk_id_; }  ///< id of [UNK]
  int64_t cls_id() const { return cls_id_; }  ///< id of [CLS]
  int64_t sep_id() const { return sep_id_; }  ///< id of [SEP]
  size_t vocab_size() const { return vocab_.size(); }  ///< number of tokens, ids 0 .. size - 1

 private:
  WordPieceTokenizer(std::vector<std::string> vocab, const std::string& source);

  /// Appends the ids of `text`'s tokens to `ids` until it holds `limit` ids.
  void append_ids(std::string_view text, size_t limit, std::vector<int64_t>& ids) const;

  /// Appends the WordPiece ids of one basic token (valid UTF-8) to `ids`.
  void append_word_pieces(const std::string& token, std::vector<int64_t>& ids) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> id_of_;
  int64_t pad_id_ = 0, unk_id_ = 0, cls_id_ = 0, sep_id_ = 0;
};

}  // namespace lv
