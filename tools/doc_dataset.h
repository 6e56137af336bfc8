#pragma once
/// The text demo's dataset: Debian package descriptions labelled with a topic folded from
/// their Debian section, split by source package, with 10 % of the test labels swapped.
///
/// Text: the description (synopsis + long description, description_text()), never the
/// package name. Topic: the package's Section (any "contrib/", "non-free/" or
/// "non-free-firmware/" area prefix stripped) folded into twelve topics (kDocTopics):
///
///   devel     devel, vcs, editors, interpreters (tools for programmers)
///   utils     utils, shells, otherosfs
///   net       net, mail, comm, news, hamradio
///   science   science, electronics
///   admin     admin, database
///   games     games
///   x11       x11, gnome, kde, xfce, gnustep (desktop environments)
///   text      text, tex
///   sound     sound
///   graphics  graphics
///   web       web, httpd, zope
///   math      math
///
/// Dropped: sections that say what form a package takes rather than what it is about (libs,
/// libdevel, oldlibs, doc, fonts, localization, translations, debug, kernel, metapackages,
/// tasks, introspection, misc, embedded, education, video, and any section not listed above);
/// the programming-language sections (python, perl, ruby, java, haskell, ocaml, rust, golang,
/// javascript, lisp, php, cli-mono, gnu-r), whose packages are mostly modules described by
/// what they do (an astronomy module for Python is about science, a web framework about the
/// web): folded into devel they were three quarters of it and the classifier's held-out
/// accuracy was 0.71 (0.74 without them); and transitional or dummy packages (the synopsis
/// says so).
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lv::demo {

/// The twelve topics, in class-index order (classes.txt, the model's output order).
inline constexpr std::array<std::string_view, 12> kDocTopics = {
    "devel", "utils", "net", "science", "admin", "games", "x11", "text", "sound", "graphics", "web", "math"};

/// The class index of topic `name`, or -1.
int doc_topic_index(std::string_view name);

/// `section` without its archive area ("non-free/sound" -> "sound").
std::string_view strip_archive_area(std::string_view section);

/// The topic index (into kDocTopics) of a Debian section (area prefix allowed), or nullopt
/// when the section is dropped (see above).
std::optional<int> topic_of_section(std::string_view section);

/// One binary package with its English description.
struct DebianPackage {
  std::string name;
  std::string source;   ///< the Source field without its version, else the package name
  std::string section;  ///< as written (area prefix kept)
  std::string synopsis;
  std::string text;     ///< description_text() of the full description
};

/// Reads binary packages from Packages files and joins each to its English long description
/// in the Translation-en files by Description-md5 (a package whose md5 is in no translation
/// file keeps its Packages Description). A package name seen twice keeps its first stanza.
/// Throws lv::Error (input_unreadable) for a file that cannot be read or parsed.
std::vector<DebianPackage> read_debian_packages(const std::vector<std::filesystem::path>& packages_files,
                                                const std::vector<std::filesystem::path>& translation_files);

/// One document of the dataset.
struct Doc {
  std::string id;      ///< the package name
  std::string text;
  std::string source;  ///< the source package (all binaries of a source are on one side)
  int label = 0;       ///< the label written to the file (swapped for some test docs)
  int true_label = 0;  ///< the topic folded from the section
  bool swapped() const { return label != true_label; }
};

/// Which of `docs` to hold out, whole sources at a time: the distinct sources in a seeded
/// order (`seed`, `stream`: Rng(seed, stream)), each held out while the held-out docs are
/// fewer than fraction * docs. Does not depend on the order of `docs`.
std::vector<bool> hold_out_by_source(const std::vector<Doc>& docs, double fraction, uint64_t seed, uint64_t stream);

/// `labels` with round(noise * size) of them, drawn with Rng(seed, stream), each changed to
/// a class drawn uniformly among the other num_classes - 1 (num_classes >= 2).
std::vector<int> swap_labels(const std::vector<int>& labels, int num_classes, double noise, uint64_t seed, uint64_t stream);

/// How the dataset is made.
struct DocDatasetOptions {
  uint64_t seed = 7;
  double test_fraction = 0.2;  ///< share of docs in test, taken source by source
  double noise = 0.10;         ///< share of test labels swapped to another topic
  int max_per_topic = 0;       ///< keep at most N docs per topic, whole sources (0: all)
};

/// What make_doc_dataset() kept and why others went.
struct DocDataset {
  std::vector<Doc> train, test;  ///< each sorted by id
  int64_t packages = 0;          ///< packages read
  int64_t dropped_section = 0;   ///< in a dropped section
  int64_t dropped_transitional = 0;
  int64_t dropped_duplicate = 0;  ///< same text as a package kept before it (by name)
  int64_t dropped_cap = 0;        ///< over max_per_topic
};

/// Folds, deduplicates (identical texts: the first package by name stays), caps each topic
/// by whole sources in a seeded order, splits by source (seeded: sources shuffled, then
/// given to test until it holds test_fraction of the docs) and swaps round(noise * test
/// size) test labels, each to a topic drawn uniformly among the other eleven. The same
/// packages and options give the same dataset.
DocDataset make_doc_dataset(const std::vector<DebianPackage>& packages, const DocDatasetOptions& options);

/// Writes `out`/train.jsonl and test.jsonl ({"id", "text", "label", "source"} one a line,
/// label by topic name), classes.txt (kDocTopics, one a line) and truth.jsonl ({"id",
/// "true_label", "given_label", "swapped"} per test doc, in test.jsonl's order), each
/// atomically, truth.jsonl last (its presence means the dataset is complete).
void write_doc_dataset(const DocDataset& dataset, const std::filesystem::path& out);

/// One line of truth.jsonl.
struct DocTruth {
  std::string id;
  std::string true_label, given_label;  ///< topic names; given = the label in test.jsonl
  bool swapped = false;                 ///< given_label != true_label
};

/// Reads truth.jsonl. Throws lv::Error (input_unreadable) naming the file and line of a
/// malformed entry, an id given twice, or "swapped" disagreeing with the two labels.
std::vector<DocTruth> read_doc_truth(const std::filesystem::path& file);

/// Reads a train.jsonl or test.jsonl file: text and label (label and true_label both the
/// written label; "source" as written). Throws lv::Error (input_unreadable) naming the file
/// and line of a malformed line or an unknown topic.
std::vector<Doc> read_doc_jsonl(const std::filesystem::path& file);

}  // namespace lv::demo
