// The text demo's dataset maker on a hand-written Packages + Translation-en pair, and its
// split and swaps on a generated set of packages.
#include "doc_dataset.h"

#include <map>
#include <set>

#include "catch.h"
#include "error.h"
#include "test_util.h"

using lv::demo::DebianPackage;
using lv::demo::Doc;
using lv::demo::DocDatasetOptions;
using lv::demo::kDocTopics;
using lv::demo::make_doc_dataset;
using lv::demo::topic_of_section;

namespace {

// Two binaries of source gnuchess (one has a Source field with a version), a python module
// and a library (dropped sections), a version control tool, a transitional package, a non-free sound player, two packages
// with one description (same md5: one is a duplicate), a math package whose description is
// in no translation file (its Packages synopsis stays), and a package listed twice.
const char* kPackages =
    "Package: gnuchess\n"
    "Version: 6.2.9-1\n"
    "Section: games\n"
    "Description: chess engine\n"
    "Description-md5: aaaa\n"
    "\n"
    "Package: gnuchess-book\n"
    "Source: gnuchess (6.2.9-1)\n"
    "Section: games\n"
    "Description: opening book for gnuchess\n"
    "Description-md5: bbbb\n"
    "\n"
    "Package: python3-foo\n"
    "Section: python\n"
    "Description: Python module for foo\n"
    "Description-md5: cccc\n"
    "\n"
    "Package: gitlike\n"
    "Section: vcs\n"
    "Description: version control system\n"
    "Description-md5: 7777\n"
    "\n"
    "Package: libbar1\n"
    "Section: libs\n"
    "Description: bar library\n"
    "Description-md5: dddd\n"
    "\n"
    "Package: oldtool\n"
    "Section: utils\n"
    "Description: transitional package for newtool\n"
    "Description-md5: eeee\n"
    "\n"
    "Package: tunes\n"
    "Section: non-free/sound\n"
    "Description: music player\n"
    "Description-md5: ffff\n"
    "\n"
    "Package: mailer-a\n"
    "Source: mailer\n"
    "Section: mail\n"
    "Description: mail client\n"
    "Description-md5: 1111\n"
    "\n"
    "Package: mailer-b\n"
    "Source: mailer\n"
    "Section: mail\n"
    "Description: mail client\n"
    "Description-md5: 1111\n"
    "\n"
    "Package: calc\n"
    "Section: math\n"
    "Description: arbitrary precision calculator\n"
    "Description-md5: 9999\n"
    "\n"
    "Package: gnuchess\n"
    "Section: utils\n"
    "Description: a second stanza of gnuchess, ignored\n"
    "Description-md5: 2222\n";

const char* kTranslations =
    "Package: gnuchess\n"
    "Description-md5: aaaa\n"
    "Description-en: chess engine\n"
    " GNU Chess plays chess.\n"
    " .\n"
    " It is strong.\n"
    "\n"
    "Package: gnuchess-book\n"
    "Description-md5: bbbb\n"
    "Description-en: opening book for gnuchess\n"
    " Openings.\n"
    "\n"
    "Package: python3-foo\n"
    "Description-md5: cccc\n"
    "Description-en: Python module for foo\n"
    " Foo for Python 3.\n"
    "\n"
    "Package: libbar1\n"
    "Description-md5: dddd\n"
    "Description-en: bar library\n"
    " Bar.\n"
    "\n"
    "Package: oldtool\n"
    "Description-md5: eeee\n"
    "Description-en: transitional package for newtool\n"
    " Can be removed.\n"
    "\n"
    "Package: tunes\n"
    "Description-md5: ffff\n"
    "Description-en: music player\n"
    " Plays music.\n"
    "\n"
    "Package: mailer-a\n"
    "Description-md5: 1111\n"
    "Description-en: mail client\n"
    " Reads mail.\n";

std::vector<DebianPackage> read_fixture(const lv::test::TempDir& dir) {
  lv::test::write_text(dir / "lists" / "x_Packages", kPackages);
  lv::test::write_text(dir / "lists" / "x_i18n_Translation-en", kTranslations);
  return lv::demo::read_debian_packages({dir / "lists" / "x_Packages"}, {dir / "lists" / "x_i18n_Translation-en"});
}

const DebianPackage* find(const std::vector<DebianPackage>& packages, const std::string& name) {
  for (const auto& p : packages)
    if (p.name == name) return &p;
  return nullptr;
}

/// `sources` sources of 1 to 4 binaries each, topics in turn, every text different.
std::vector<DebianPackage> generated_packages(int sources) {
  const std::vector<std::string> sections = {"devel", "utils", "net",  "science",  "admin", "games",
                                             "x11",   "text",  "sound", "graphics", "web",   "math"};
  std::vector<DebianPackage> out;
  for (int s = 0; s < sources; ++s) {
    for (int b = 0; b < 1 + s % 4; ++b) {
      DebianPackage p;
      p.name = "src" + std::to_string(s) + "-bin" + std::to_string(b);
      p.source = "src" + std::to_string(s);
      p.section = sections[static_cast<size_t>((s + b) % 12)];
      p.synopsis = "tool " + p.name;
      p.text = p.synopsis + "\n\nDoes things.";
      out.push_back(p);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("Debian sections fold into the twelve topics, form-only sections are dropped", "[doc_dataset]") {
  auto topic = [](const char* section) {
    const auto t = topic_of_section(section);
    return t ? std::string(kDocTopics[static_cast<size_t>(*t)]) : std::string("dropped");
  };
  CHECK(topic("devel") == "devel");
  CHECK(topic("vcs") == "devel");
  CHECK(topic("editors") == "devel");
  CHECK(topic("mail") == "net");
  CHECK(topic("kde") == "x11");
  CHECK(topic("tex") == "text");
  CHECK(topic("httpd") == "web");
  CHECK(topic("electronics") == "science");
  CHECK(topic("contrib/games") == "games");
  CHECK(topic("non-free/sound") == "sound");
  CHECK(topic("non-free-firmware/math") == "math");
  for (const char* s : {"libs", "libdevel", "oldlibs", "doc", "fonts", "localization", "debug", "kernel", "metapackages",
                        "introspection", "translations", "misc", "python", "perl", "rust", "golang", "javascript", "gnu-r",
                        "no-such-section", ""})
    CHECK(topic(s) == "dropped");
  REQUIRE(kDocTopics.size() == 12);
  for (size_t i = 0; i < kDocTopics.size(); ++i) CHECK(lv::demo::doc_topic_index(kDocTopics[i]) == static_cast<int>(i));
}

TEST_CASE("packages join their long description on Description-md5 and know their source", "[doc_dataset]") {
  lv::test::TempDir dir;
  const auto packages = read_fixture(dir);
  CHECK(packages.size() == 10);  // gnuchess's second stanza is ignored

  const auto* chess = find(packages, "gnuchess");
  REQUIRE(chess);
  CHECK(chess->source == "gnuchess");
  CHECK(chess->section == "games");
  CHECK(chess->text == "chess engine\n\nGNU Chess plays chess.\n\nIt is strong.");
  const auto* book = find(packages, "gnuchess-book");
  REQUIRE(book);
  CHECK(book->source == "gnuchess");  // "(6.2.9-1)" stripped
  CHECK(book->text == "opening book for gnuchess\n\nOpenings.");
  CHECK(find(packages, "mailer-b")->text == "mail client\n\nReads mail.");  // same md5 as mailer-a
  CHECK(find(packages, "calc")->text == "arbitrary precision calculator");  // no translation: the synopsis
  CHECK(find(packages, "tunes")->section == "non-free/sound");
}

TEST_CASE("the dataset keeps topical, distinct descriptions and never the package name", "[doc_dataset]") {
  lv::test::TempDir dir;
  DocDatasetOptions o;
  o.test_fraction = 0;
  o.noise = 0;
  const auto d = make_doc_dataset(read_fixture(dir), o);
  CHECK(d.packages == 10);
  CHECK(d.dropped_section == 2);       // python3-foo, libbar1
  CHECK(d.dropped_transitional == 1);  // oldtool
  CHECK(d.dropped_duplicate == 1);     // mailer-b: the same text as mailer-a, which comes first by name
  CHECK(d.test.empty());
  std::map<std::string, std::string> topics;
  for (const Doc& doc : d.train) {
    topics[doc.id] = std::string(kDocTopics[static_cast<size_t>(doc.label)]);
    CHECK_FALSE(doc.swapped());
  }
  CHECK(topics == std::map<std::string, std::string>{{"calc", "math"},
                                                     {"gnuchess", "games"},
                                                     {"gnuchess-book", "games"},
                                                     {"gitlike", "devel"},
                                                     {"mailer-a", "net"},
                                                     {"tunes", "sound"}});
}

TEST_CASE("train and test split by source, about a fifth of the docs in test, the same for the same seed", "[doc_dataset]") {
  const auto packages = generated_packages(300);  // 750 binaries
  DocDatasetOptions o;
  const auto a = make_doc_dataset(packages, o);
  std::set<std::string> train_sources, test_sources;
  for (const auto& d : a.train) train_sources.insert(d.source);
  for (const auto& d : a.test) test_sources.insert(d.source);
  for (const auto& s : test_sources) CHECK(train_sources.count(s) == 0);
  const double share = static_cast<double>(a.test.size()) / static_cast<double>(a.train.size() + a.test.size());
  CHECK(share >= 0.2);
  CHECK(share < 0.21);  // the last source taken holds at most 4 docs

  const auto again = make_doc_dataset(packages, o);
  REQUIRE(again.test.size() == a.test.size());
  for (size_t i = 0; i < a.test.size(); ++i) {
    CHECK(again.test[i].id == a.test[i].id);
    CHECK(again.test[i].label == a.test[i].label);
  }
  o.seed = 8;
  const auto other = make_doc_dataset(packages, o);
  std::set<std::string> other_sources;
  for (const auto& d : other.test) other_sources.insert(d.source);
  CHECK(other_sources != test_sources);
}

TEST_CASE("a tenth of the test labels are swapped to another topic and truth.jsonl records each", "[doc_dataset]") {
  lv::test::TempDir dir;
  const auto d = make_doc_dataset(generated_packages(300), DocDatasetOptions{});
  int64_t swapped = 0;
  for (const auto& doc : d.test) swapped += doc.swapped() ? 1 : 0;
  CHECK(swapped == std::llround(0.1 * static_cast<double>(d.test.size())));
  for (const auto& doc : d.train) CHECK_FALSE(doc.swapped());

  lv::demo::write_doc_dataset(d, dir / "docs");
  CHECK(lv::test::read_text(dir / "docs" / "classes.txt") ==
        "devel\nutils\nnet\nscience\nadmin\ngames\nx11\ntext\nsound\ngraphics\nweb\nmath\n");
  const auto truth = lv::demo::read_doc_truth(dir / "docs" / "truth.jsonl");
  const auto test = lv::demo::read_doc_jsonl(dir / "docs" / "test.jsonl");
  REQUIRE(truth.size() == d.test.size());
  REQUIRE(test.size() == d.test.size());
  int64_t recorded = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    CHECK(truth[i].id == d.test[i].id);
    CHECK(test[i].id == d.test[i].id);
    CHECK(truth[i].true_label == kDocTopics[static_cast<size_t>(d.test[i].true_label)]);
    CHECK(truth[i].given_label == kDocTopics[static_cast<size_t>(test[i].label)]);  // what test.jsonl says
    CHECK(test[i].source == d.test[i].source);
    recorded += truth[i].swapped ? 1 : 0;
  }
  CHECK(recorded == swapped);
  CHECK(lv::demo::read_doc_jsonl(dir / "docs" / "train.jsonl").size() == d.train.size());
}

TEST_CASE("a topic cap keeps at most N docs of each topic, taking a source's docs of that topic together", "[doc_dataset]") {
  // Generated sources have one binary per topic, so every topic fills its cap exactly; a
  // source of three docs in one topic is taken whole or not at all.
  std::vector<DebianPackage> packages = generated_packages(300);
  for (int b = 0; b < 3; ++b) packages.push_back({"big-" + std::to_string(b), "big", "math", "s", "big text " + std::to_string(b)});
  DocDatasetOptions o;
  o.max_per_topic = 20;
  const auto d = make_doc_dataset(packages, o);
  std::map<int, int> per_topic;
  int big = 0;
  for (const auto* part : {&d.train, &d.test}) {
    for (const auto& doc : *part) {
      ++per_topic[doc.true_label];
      big += doc.source == "big" ? 1 : 0;
    }
  }
  CHECK(per_topic.size() == 12);
  for (const auto& [topic, n] : per_topic) CHECK(n == 20);
  CHECK((big == 0 || big == 3));
  CHECK(d.dropped_cap == 753 - static_cast<int64_t>(d.train.size() + d.test.size()));
}

TEST_CASE("a malformed truth line is refused with its file and line", "[doc_dataset]") {
  lv::test::TempDir dir;
  lv::test::write_text(dir / "truth.jsonl",
                       "{\"id\": \"a\", \"true_label\": \"net\", \"given_label\": \"web\", \"swapped\": true}\n"
                       "{\"id\": \"b\", \"true_label\": \"net\", \"given_label\": \"web\", \"swapped\": false}\n");
  try {
    lv::demo::read_doc_truth(dir / "truth.jsonl");
    FAIL("accepted");
  } catch (const lv::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("truth.jsonl:2: \"swapped\" is false but the true and given labels are net and web"));
  }
  lv::test::write_text(dir / "t2.jsonl", "{\"id\": \"a\", \"true_label\": \"cooking\", \"given_label\": \"web\", \"swapped\": true}\n");
  CHECK_THROWS_WITH(lv::demo::read_doc_truth(dir / "t2.jsonl"), Catch::Contains("'cooking', not one of the twelve topics"));
}
