#include "document_corpus.h"

#include <algorithm>
#include <string>
#include <vector>

#include "byte_text.h"
#include "catch.h"
#include "error.h"
#include "test_util.h"

namespace fs = std::filesystem;
using lv::test::TempDir;
using lv::test::write_text;
using Strings = std::vector<std::string>;
using nlohmann::ordered_json;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The lv::Error that `f` throws, as "<exit code> <message>", or "(no error)".
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const lv::Error& e) {
    return std::to_string(lv::to_int(e.code())) + " " + e.what();
  }
  return "(no error)";
}

/// Every listed document of `documents`, read in list order.
std::vector<lv::DocumentRecord> read_all(const fs::path& documents, size_t max_text_bytes = 1 << 20,
                                         size_t max_record_bytes = 64 << 20) {
  const lv::CorpusListing listing = lv::list_documents(documents);
  lv::CorpusReader reader(documents, max_text_bytes, max_record_bytes);
  std::vector<lv::DocumentRecord> records;
  for (const std::string& item : listing.items) records.push_back(reader.read(item));
  return records;
}

/// The error of the one document in a JSONL file holding `line`.
std::string jsonl_error(const TempDir& dir, const std::string& line) {
  write_text(dir / "one.jsonl", line + "\n");
  const auto records = read_all(dir / "one.jsonl");
  REQUIRE(records.size() == 1);
  return records[0].error;
}

Strings rejected_lines(const lv::CorpusListing& listing) {
  Strings out;
  for (const auto& r : listing.rejected) out.push_back(std::to_string(r.line) + " " + r.entry + " " + r.reason);
  return out;
}

}  // namespace

TEST_CASE("corpus: the format is told by folder or extension in any case", "[corpus]") {
  TempDir dir;
  for (const char* name : {"a.jsonl", "b.NDJSON", "c.JsonL", "d.tsv", "e.TSV", "f.csv", "g.Csv", "h.txt", "i"})
    write_text(dir / name, "");
  fs::create_directories(dir / "docs.csv");
  CHECK(lv::corpus_format(dir / "a.jsonl") == lv::CorpusFormat::jsonl);
  CHECK(lv::corpus_format(dir / "b.NDJSON") == lv::CorpusFormat::jsonl);
  CHECK(lv::corpus_format(dir / "c.JsonL") == lv::CorpusFormat::jsonl);
  CHECK(lv::corpus_format(dir / "d.tsv") == lv::CorpusFormat::tsv);
  CHECK(lv::corpus_format(dir / "e.TSV") == lv::CorpusFormat::tsv);
  CHECK(lv::corpus_format(dir / "f.csv") == lv::CorpusFormat::csv);
  CHECK(lv::corpus_format(dir / "g.Csv") == lv::CorpusFormat::csv);
  CHECK(lv::corpus_format(dir / "docs.csv") == lv::CorpusFormat::text_folder);
  CHECK(lv::to_string(lv::CorpusFormat::jsonl) == "jsonl");
  CHECK(lv::to_string(lv::CorpusFormat::text_folder) == "text_folder");

  for (const char* name : {"h.txt", "i"}) {
    const std::string message = error_of([&] { lv::corpus_format(dir / name); });
    INFO(message);
    CHECK(message.rfind("2 ", 0) == 0);
    CHECK(contains(message, (dir / name).string()));
    CHECK(contains(message, ".jsonl"));
    CHECK(contains(message, ".csv"));
    CHECK(contains(message, "folder"));
  }
  const std::string missing = error_of([&] { lv::list_documents(dir / "missing.jsonl"); });
  CHECK(missing.rfind("4 ", 0) == 0);
  CHECK(contains(missing, "missing.jsonl"));
}

TEST_CASE("corpus: a JSONL file lists each line as <line>:<byte offset>, and blank lines as rejected", "[corpus]") {
  TempDir dir;
  const std::string lines[] = {
      R"({"id": "a", "text": "first"})" "\n",       // line 1
      "\n",                                         // line 2: blank
      R"({"text": "second", "label": "pos"})" "\n", // line 3
      " \t\r\n",                                    // line 4: blank
      R"({"id": 7, "text": "third"})",              // line 5, no final newline
  };
  std::string content;
  Strings expected_items;
  std::vector<size_t> offsets;
  for (const std::string& line : lines) {
    offsets.push_back(content.size());
    content += line;
  }
  write_text(dir / "docs.jsonl", content);

  const lv::CorpusListing listing = lv::list_documents(dir / "docs.jsonl");
  CHECK(listing.format == lv::CorpusFormat::jsonl);
  CHECK(listing.root == dir / "docs.jsonl");
  CHECK(listing.columns.empty());
  CHECK(listing.items == Strings{"1:0", "3:" + std::to_string(offsets[2]), "5:" + std::to_string(offsets[4])});
  CHECK(rejected_lines(listing) == Strings{"2 2:" + std::to_string(offsets[1]) + " blank line",
                                           "4 4:" + std::to_string(offsets[3]) + " blank line"});
  for (const std::string& item : listing.items) CHECK(content[std::stoul(item.substr(item.find(':') + 1))] == '{');
}

TEST_CASE("corpus: a JSONL record gives id, text, label and every field in its order", "[corpus]") {
  TempDir dir;
  write_text(dir / "docs.jsonl",
             R"({"text": "hello", "id": "doc-1", "zeta": 1, "alpha": [1, 2], "label": "greeting"})" "\n"
             R"({"id": 42, "text": "caf\u00e9 \u65e5\u672c"})" "\n"
             R"({"text": "no id", "label": null, "id": null})" "\n");
  const auto records = read_all(dir / "docs.jsonl");
  REQUIRE(records.size() == 3);
  for (const auto& r : records) CHECK(r.error.empty());

  CHECK(records[0].item == "1:0");
  CHECK(records[0].line == 1);
  CHECK(records[0].id == "doc-1");
  CHECK(records[0].text == "hello");
  CHECK(records[0].label == std::optional<std::string>("greeting"));
  CHECK(records[0].fields.dump() == R"({"text":"hello","id":"doc-1","zeta":1,"alpha":[1,2],"label":"greeting"})");
  CHECK_FALSE(records[0].truncated);
  CHECK(records[0].text_bytes == 5);

  CHECK(records[1].id == "42");
  CHECK(records[1].text == "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC");
  CHECK_FALSE(records[1].label.has_value());

  CHECK(records[2].id == "3");  // no id: the line number
  CHECK_FALSE(records[2].label.has_value());
}

TEST_CASE("corpus: each unusable JSONL record says why in words", "[corpus]") {
  TempDir dir;
  const std::string invalid = jsonl_error(dir, R"({"text": "unclosed)");
  CHECK(invalid.rfind("invalid JSON: ", 0) == 0);
  CHECK_FALSE(contains(invalid, "json.exception"));
  CHECK(jsonl_error(dir, R"(["text", "a list"])") == "not a JSON object");
  CHECK(jsonl_error(dir, R"("just a string")") == "not a JSON object");
  CHECK(jsonl_error(dir, R"({"id": "x", "body": "no text here"})") == "no \"text\" field");
  CHECK(jsonl_error(dir, R"({"text": 12})") == "\"text\" is not a string");
  CHECK(jsonl_error(dir, R"({"text": null})") == "\"text\" is not a string");
  CHECK(jsonl_error(dir, R"({"text": ""})") == "empty text");
  CHECK(jsonl_error(dir, R"({"text": "ok", "id": 1.5})") == "\"id\" is not a string or integer");
  CHECK(jsonl_error(dir, R"({"text": "ok", "id": ["a"]})") == "\"id\" is not a string or integer");
  CHECK(jsonl_error(dir, R"({"text": "ok", "label": 3})") == "\"label\" is not a string");
  // The text's own problem is told before that of another field.
  CHECK(jsonl_error(dir, R"({"text": "", "id": 1.5})") == "empty text");
  // JSON must be UTF-8: the parser says where it is not.
  const std::string latin1 = jsonl_error(dir, "{\"text\": \"caf\xE9\"}");
  INFO(latin1);
  CHECK(latin1.rfind("invalid JSON: ", 0) == 0);
  CHECK(contains(latin1, "UTF-8"));
  CHECK(lv::is_valid_utf8(latin1));
}

TEST_CASE("corpus: a record longer than max_record_bytes is refused and the next one still reads", "[corpus]") {
  TempDir dir;
  const std::string long_text(500, 'x');
  write_text(dir / "docs.jsonl", R"({"text": ")" + long_text + "\"}\n" + R"({"text": "short"})" "\n");
  const auto records = read_all(dir / "docs.jsonl", 1 << 20, 100);
  REQUIRE(records.size() == 2);
  CHECK(records[0].error == "line longer than 100 bytes");
  CHECK(records[0].text.empty());
  CHECK(records[1].error.empty());
  CHECK(records[1].text == "short");
}

TEST_CASE("corpus: a long text is cut at a UTF-8 boundary at or below max_text_bytes", "[corpus]") {
  TempDir dir;
  // "ab€cd": € is E2 82 AC, bytes 2 to 4, so a limit of 3 or 4 falls inside it.
  write_text(dir / "docs.jsonl", R"({"text": "ab€cd"})" "\n");
  for (size_t limit : {3, 4}) {
    const auto records = read_all(dir / "docs.jsonl", limit);
    REQUIRE(records.size() == 1);
    CHECK(records[0].error.empty());
    CHECK(records[0].text == "ab");
    CHECK(records[0].truncated);
    CHECK(records[0].text_bytes == 7);
  }
  CHECK(read_all(dir / "docs.jsonl", 5)[0].text == "ab€");
  const auto whole = read_all(dir / "docs.jsonl", 7);
  CHECK(whole[0].text == "ab€cd");
  CHECK_FALSE(whole[0].truncated);
  CHECK(whole[0].text_bytes == 7);
}

TEST_CASE("corpus: a UTF-8 byte order mark is skipped before the first record or header", "[corpus]") {
  TempDir dir;
  write_text(dir / "docs.jsonl", "\xEF\xBB\xBF{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
  CHECK(lv::list_documents(dir / "docs.jsonl").items == Strings{"1:3", "2:17"});
  CHECK(read_all(dir / "docs.jsonl")[0].text == "a");

  write_text(dir / "docs.tsv", "\xEF\xBB\xBFid\ttext\nx\thello\n");
  const lv::CorpusListing listing = lv::list_documents(dir / "docs.tsv");
  CHECK(listing.columns == Strings{"id", "text"});
  CHECK(listing.items == Strings{"2:11"});
  CHECK(read_all(dir / "docs.tsv")[0].id == "x");
}

TEST_CASE("corpus: a TSV file with CRLF lines gives one record a line, columns in header order", "[corpus]") {
  TempDir dir;
  write_text(dir / "docs.tsv",
             "source\ttext\tlabel\tid\r\n"
             "web\tgood movie, really\tpos\td1\r\n"
             "\r\n"
             "book\tbad \"book\"\t\t\r\n"
             "x\ttoo\tfew\r\n"
             "a\tb\tc\td\te\r\n"
             "news\tlast");
  const lv::CorpusListing listing = lv::list_documents(dir / "docs.tsv");
  CHECK(listing.format == lv::CorpusFormat::tsv);
  CHECK(listing.columns == Strings{"source", "text", "label", "id"});
  REQUIRE(listing.items.size() == 5);
  CHECK(listing.items[0].rfind("2:", 0) == 0);
  CHECK(rejected_lines(listing).size() == 1);
  CHECK(listing.rejected[0].line == 3);

  const auto records = read_all(dir / "docs.tsv");
  CHECK(records[0].error.empty());
  CHECK(records[0].id == "d1");
  CHECK(records[0].text == "good movie, really");
  CHECK(records[0].label == std::optional<std::string>("pos"));
  CHECK(records[0].fields.dump() == R"({"source":"web","text":"good movie, really","label":"pos","id":"d1"})");
  CHECK(records[1].error.empty());
  CHECK(records[1].text == "bad \"book\"");  // no quoting in TSV
  CHECK(records[1].id == "4");               // empty id cell: the line number
  CHECK_FALSE(records[1].label.has_value()); // empty label cell: no label
  CHECK(records[2].error == "3 fields, the header has 4");
  CHECK(records[3].error == "5 fields, the header has 4");
  CHECK(records[4].error == "2 fields, the header has 4");
}

TEST_CASE("corpus: a TSV file without id or label columns still reads", "[corpus]") {
  TempDir dir;
  write_text(dir / "docs.tsv", "text\nsolo\n");
  const auto records = read_all(dir / "docs.tsv");
  REQUIRE(records.size() == 1);
  CHECK(records[0].id == "2");
  CHECK(records[0].text == "solo");
  CHECK_FALSE(records[0].label.has_value());
  CHECK(records[0].fields == ordered_json{{"text", "solo"}});
}

TEST_CASE("corpus: CSV quoted fields hold commas, doubled quotes and newlines, so a record may span lines",
          "[corpus]") {
  TempDir dir;
  const std::string header = "id,text,label\r\n";                                 // line 1
  const std::string r1 = "1,\"Hello, world\",pos\r\n";                            // line 2
  const std::string r2 = "2,\"She said \"\"hi\"\"\nand left,\r\nlater\",neg\r\n"; // lines 3-5
  const std::string blank = "  \r\n";                                             // line 6
  const std::string r3 = "\"3\",plain text,\"\"\r\n";                             // line 7
  const std::string r4 = "4,\"a\"\"b\",\"x\"";                                    // line 8, no newline
  write_text(dir / "docs.csv", header + r1 + r2 + blank + r3 + r4);

  const lv::CorpusListing listing = lv::list_documents(dir / "docs.csv");
  CHECK(listing.format == lv::CorpusFormat::csv);
  CHECK(listing.columns == Strings{"id", "text", "label"});
  size_t at = header.size();
  const std::string i1 = "2:" + std::to_string(at);
  const std::string i2 = "3:" + std::to_string(at += r1.size());
  const std::string b = "6:" + std::to_string(at += r2.size());
  const std::string i3 = "7:" + std::to_string(at += blank.size());
  const std::string i4 = "8:" + std::to_string(at += r3.size());
  CHECK(listing.items == Strings{i1, i2, i3, i4});
  CHECK(rejected_lines(listing) == Strings{"6 " + b + " blank line"});

  const auto records = read_all(dir / "docs.csv");
  REQUIRE(records.size() == 4);
  for (const auto& r : records) CHECK(r.error.empty());
  CHECK(records[0].text == "Hello, world");
  CHECK(records[1].text == "She said \"hi\"\nand left,\r\nlater");
  CHECK(records[1].label == std::optional<std::string>("neg"));
  CHECK(records[1].line == 3);
  CHECK(records[2].id == "3");
  CHECK(records[2].text == "plain text");
  CHECK_FALSE(records[2].label.has_value());
  CHECK(records[3].text == "a\"b");
  CHECK(records[3].fields == ordered_json{{"id", "4"}, {"text", "a\"b"}, {"label", "x"}});
}

TEST_CASE("corpus: a CSV header may be quoted, and pandas' unnamed index column is kept", "[corpus]") {
  TempDir dir;
  write_text(dir / "docs.csv", ",\"text\",\"my, label\"\n0,hi,x\n");
  const lv::CorpusListing listing = lv::list_documents(dir / "docs.csv");
  CHECK(listing.columns == Strings{"", "text", "my, label"});
  const auto records = read_all(dir / "docs.csv");
  CHECK(records[0].fields.dump() == R"({"":"0","text":"hi","my, label":"x"})");
}

TEST_CASE("corpus: a CSV quote left open runs to the end of the file and is refused", "[corpus]") {
  TempDir dir;
  write_text(dir / "docs.csv", "text\nfine\n\"never closed\nstill, inside\n");
  const lv::CorpusListing listing = lv::list_documents(dir / "docs.csv");
  CHECK(listing.items == Strings{"2:5", "3:10"});
  const auto records = read_all(dir / "docs.csv");
  CHECK(records[0].error.empty());
  CHECK(records[1].error == "a quoted field is not closed before the end of the file");
}

TEST_CASE("corpus: a CSV record longer than max_record_bytes is refused by size", "[corpus]") {
  TempDir dir;
  write_text(dir / "docs.csv", "text\n\"" + std::string(300, 'y') + "\n" + std::string(300, 'z') + "\"\nok\n");
  const auto records = read_all(dir / "docs.csv", 1 << 20, 200);
  REQUIRE(records.size() == 2);
  CHECK(records[0].error == "record longer than 200 bytes");
  CHECK(records[1].text == "ok");
}

TEST_CASE("corpus: a header without a text column is an input error naming the file and its columns",
          "[corpus]") {
  TempDir dir;
  write_text(dir / "docs.csv", "id,body,label\n1,hello,x\n");
  const std::string message = error_of([&] { lv::list_documents(dir / "docs.csv"); });
  INFO(message);
  CHECK(message.rfind("4 ", 0) == 0);
  CHECK(contains(message, (dir / "docs.csv").string()));
  CHECK(contains(message, "'id', 'body', 'label'"));
  CHECK(error_of([&] { lv::CorpusReader reader(dir / "docs.csv"); }) == message);

  write_text(dir / "twice.tsv", "text\tid\ttext\n");
  CHECK(contains(error_of([&] { lv::list_documents(dir / "twice.tsv"); }), "'text' twice"));
  write_text(dir / "empty.tsv", "");
  CHECK(contains(error_of([&] { lv::list_documents(dir / "empty.tsv"); }), "empty.tsv"));
}

TEST_CASE("corpus: text that is not UTF-8 is refused, other columns' bytes are shown escaped", "[corpus]") {
  TempDir dir;
  write_text(dir / "docs.tsv", "text\tnote\ncaf\xE9\tok\nfine\tna\xEFve\n");
  const auto records = read_all(dir / "docs.tsv");
  REQUIRE(records.size() == 2);
  CHECK(records[0].error == "text is not valid UTF-8");
  CHECK(records[1].error == "column 'note' is not valid UTF-8");
  CHECK(records[1].fields["note"] == "na\\xEFve");
  CHECK_NOTHROW(records[0].fields.dump());
}

TEST_CASE("corpus: records read in any order are the same as read in file order", "[corpus]") {
  TempDir dir;
  std::string content = "id,text\n";
  for (int i = 0; i < 50; ++i) content += std::to_string(i) + ",\"line " + std::to_string(i) + "\nsecond, half\"\n";
  write_text(dir / "docs.csv", content);
  const lv::CorpusListing listing = lv::list_documents(dir / "docs.csv");
  REQUIRE(listing.items.size() == 50);
  Strings items = listing.items;
  std::reverse(items.begin(), items.end());
  lv::CorpusReader reader(dir / "docs.csv");
  for (const std::string& item : items) {
    const lv::DocumentRecord r = reader.read(item);
    const int i = std::stoi(r.id);
    CHECK(r.item == listing.items[i]);
    CHECK(r.line == 2 + 2 * i);
    CHECK(r.text == "line " + std::to_string(i) + "\nsecond, half");
  }
}

TEST_CASE("corpus: records that straddle the listing's chunks are listed and read whole", "[corpus]") {
  // The listing reads 8 MiB at a time and a record 64 KiB at a time: records and quoted
  // newlines must survive being cut at any of those places.
  TempDir dir;
  std::string jsonl, csv = "text\n";
  Strings jsonl_items, csv_items;
  int64_t csv_line = 2;
  for (int i = 0; jsonl.size() < (9 << 20); ++i) {
    const std::string text = std::string(static_cast<size_t>(1000 + i * 7919 % 150000), 'a' + i % 26);
    jsonl_items.push_back(std::to_string(i + 1) + ":" + std::to_string(jsonl.size()));
    jsonl += R"({"text": ")" + text + "\"}\n";
    csv_items.push_back(std::to_string(csv_line) + ":" + std::to_string(csv.size()));
    csv += "\"" + text + "\n" + text + "\"\n";
    csv_line += 2;
  }
  write_text(dir / "big.jsonl", jsonl);
  write_text(dir / "big.csv", csv);
  CHECK(lv::list_documents(dir / "big.jsonl").items == jsonl_items);
  CHECK(lv::list_documents(dir / "big.csv").items == csv_items);
  lv::CorpusReader reader(dir / "big.csv");
  for (size_t i = 0; i < csv_items.size(); i += 7) {
    const lv::DocumentRecord r = reader.read(csv_items[i]);
    CHECK(r.error.empty());
    CHECK(r.text.size() == 2 * (1000 + i * 7919 % 150000) + 1);
  }
}

TEST_CASE("corpus: an item that names no record is a usage error naming it", "[corpus]") {
  TempDir dir;
  write_text(dir / "docs.tsv", "id\ttext\na\tb\n");
  lv::CorpusReader reader(dir / "docs.tsv");
  CHECK(reader.read("2:8").text == "b");
  for (const std::string item : {"", "abc", "2", "2:", ":8", "-2:8", "2:+8", "2:8x", "0:8", "2:4", "2:12", "2:99999",
                                 "99999999999999999999:8"}) {
    const std::string message = error_of([&] { reader.read(item); });
    INFO("item '" << item << "': " << message);
    CHECK(message.rfind("2 ", 0) == 0);
    CHECK(contains(message, "'" + item + "'"));
  }
}

TEST_CASE("corpus: a folder of .txt files gives one document a file, labelled by its folder", "[corpus]") {
  TempDir dir;
  const fs::path docs = dir / "docs";
  write_text(docs / "pos" / "b.txt", "great");
  write_text(docs / "pos" / "a.TXT", "\xEF\xBB\xBFgood\n");
  write_text(docs / "neg" / "deep" / "c.txt", "bad");
  write_text(docs / "top.txt", "unlabelled");
  write_text(docs / "neg" / "empty.txt", "");
  write_text(docs / "neg" / "latin1.txt", "caf\xE9");
  write_text(docs / "neg" / "notes.md", "not a document");
  write_text(docs / ".git" / "x.txt", "hidden");

  const lv::CorpusListing listing = lv::list_documents(docs);
  CHECK(listing.format == lv::CorpusFormat::text_folder);
  CHECK(listing.root == docs);
  CHECK(listing.items == Strings{"neg/deep/c.txt", "neg/empty.txt", "neg/latin1.txt", "pos/a.TXT", "pos/b.txt",
                                 "top.txt"});
  CHECK(listing.rejected.empty());

  const auto records = read_all(docs);
  REQUIRE(records.size() == 6);
  CHECK(records[0].id == "neg/deep/c.txt");
  CHECK(records[0].label == std::optional<std::string>("deep"));
  CHECK(records[0].line == 0);
  CHECK(records[0].fields == ordered_json{{"id", "neg/deep/c.txt"}, {"text", "bad"}, {"label", "deep"}});
  CHECK(records[1].error == "empty text");
  CHECK(records[2].error == "text is not valid UTF-8");
  CHECK_NOTHROW(records[2].fields.dump());
  CHECK(records[3].text == "good\n");  // the byte order mark is not text
  CHECK(records[3].label == std::optional<std::string>("pos"));
  CHECK(records[4].error.empty());
  CHECK_FALSE(records[5].label.has_value());
  CHECK(records[5].fields["label"].is_null());
}

TEST_CASE("corpus: a folder's symlinks out of it are refused when listed and when read", "[corpus]") {
  TempDir dir;
  const fs::path docs = dir / "docs";
  write_text(docs / "in" / "ok.txt", "fine");
  write_text(dir / "outside" / "secret.txt", "secret");
  fs::create_symlink(dir / "outside" / "secret.txt", docs / "in" / "escape.txt");
  fs::create_symlink(dir / "outside", docs / "linked");

  const lv::CorpusListing listing = lv::list_documents(docs);
  CHECK(listing.items == Strings{"in/ok.txt"});
  REQUIRE(listing.rejected.size() == 2);
  CHECK(listing.rejected[0].entry == "in/escape.txt");
  CHECK(contains(listing.rejected[0].reason, "outside the input root"));
  CHECK(listing.rejected[1].entry == "linked");

  lv::CorpusReader reader(docs);
  CHECK(contains(reader.read("in/escape.txt").error, "outside the input root"));
  const lv::DocumentRecord through_link = reader.read("linked/secret.txt");
  CHECK(contains(through_link.error, "outside the input root"));
  CHECK(through_link.text.empty());
  CHECK(reader.read("in/missing.txt").error == "file not found");
  CHECK(reader.read("in").error == "not a regular file (directory)");
  const Strings outside = {"../outside/secret.txt", (dir / "outside" / "secret.txt").string(), "in/../in/ok.txt"};
  for (const std::string& item : outside)
    CHECK(contains(error_of([&] { reader.read(item); }), "2 "));
}

TEST_CASE("corpus: a .txt file larger than max_record_bytes is refused, a long text is cut", "[corpus]") {
  TempDir dir;
  write_text(dir / "docs" / "big.txt", std::string(300, 'b'));
  lv::CorpusReader small(dir / "docs", 1 << 20, 200);
  CHECK(small.read("big.txt").error == "file larger than 200 bytes");
  lv::CorpusReader cutting(dir / "docs", 100);
  const lv::DocumentRecord r = cutting.read("big.txt");
  CHECK(r.error.empty());
  CHECK(r.text == std::string(100, 'b'));
  CHECK(r.truncated);
  CHECK(r.text_bytes == 300);
}
