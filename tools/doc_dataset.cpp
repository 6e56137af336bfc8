#include "doc_dataset.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "deb822.h"
#include "demo_random.h"
#include "error.h"

namespace lv::demo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Error bad_input(const std::string& message) { return Error(ExitCode::input_unreadable, message); }

// The fold documented in doc_dataset.h; a section not listed is dropped.
const std::map<std::string_view, std::string_view>& section_fold() {
  static const std::map<std::string_view, std::string_view> fold = {
      {"devel", "devel"},     {"vcs", "devel"},       {"editors", "devel"},   {"interpreters", "devel"},
      {"utils", "utils"},     {"shells", "utils"},    {"otherosfs", "utils"}, {"net", "net"},
      {"mail", "net"},        {"comm", "net"},        {"news", "net"},        {"hamradio", "net"},
      {"science", "science"}, {"electronics", "science"}, {"admin", "admin"}, {"database", "admin"},
      {"games", "games"},     {"x11", "x11"},         {"gnome", "x11"},       {"kde", "x11"},
      {"xfce", "x11"},        {"gnustep", "x11"},     {"text", "text"},       {"tex", "text"},
      {"sound", "sound"},     {"graphics", "graphics"}, {"web", "web"},       {"httpd", "web"},
      {"zope", "web"},        {"math", "math"},
  };
  return fold;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_transitional(std::string_view synopsis) {
  const std::string s = lower_ascii(synopsis);
  return s.find("transitional") != std::string::npos || s.find("dummy package") != std::string::npos;
}

/// The Source field's package name: "foo (1.2-3)" -> "foo".
std::string source_name(std::string_view value) {
  const size_t space = value.find(' ');
  return std::string(value.substr(0, space));
}

void read_file_stanzas(const fs::path& file, const std::function<void(const Stanza&)>& on_stanza) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw bad_input(fmt::format("{}: cannot open", file.string()));
  read_deb822(in, file.string(), on_stanza);
}

/// Fisher-Yates with the demo's portable generator.
template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (int i = static_cast<int>(v.size()) - 1; i > 0; --i)
    std::swap(v[static_cast<size_t>(i)], v[static_cast<size_t>(rng.uniform_int(0, i))]);
}

json doc_json(const Doc& d) {
  return {{"id", d.id}, {"text", d.text}, {"label", kDocTopics[static_cast<size_t>(d.label)]}, {"source", d.source}};
}

/// One JSON object a line; text that is not UTF-8 is replaced, never thrown on.
std::string jsonl(const std::vector<json>& lines) {
  std::string out;
  for (const auto& j : lines) {
    out += j.dump(-1, ' ', false, json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

std::string string_field(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) throw bad_input(fmt::format("{}: \"{}\" is missing or not a string", where, key));
  return it->get<std::string>();
}

std::string topic_field(const json& j, const char* key, const std::string& where) {
  std::string topic = string_field(j, key, where);
  if (doc_topic_index(topic) < 0) throw bad_input(fmt::format("{}: \"{}\" is '{}', not one of the twelve topics", where, key, topic));
  return topic;
}

/// Calls `on_line(json, where)` for each non-empty line of a JSON-lines file.
void read_jsonl(const fs::path& file, const std::function<void(const json&, const std::string&)>& on_line) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw bad_input(fmt::format("{}: cannot open", file.string()));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const std::string where = fmt::format("{}:{}", file.string(), n);
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw bad_input(fmt::format("{}: not a JSON object", where));
    on_line(j, where);
  }
}

}  // namespace

int doc_topic_index(std::string_view name) {
  for (size_t i = 0; i < kDocTopics.size(); ++i)
    if (kDocTopics[i] == name) return static_cast<int>(i);
  return -1;
}

std::string_view strip_archive_area(std::string_view section) {
  const size_t slash = section.rfind('/');
  return slash == std::string_view::npos ? section : section.substr(slash + 1);
}

std::optional<int> topic_of_section(std::string_view section) {
  const auto& fold = section_fold();
  const auto it = fold.find(strip_archive_area(section));
  if (it == fold.end()) return std::nullopt;
  return doc_topic_index(it->second);
}

std::vector<DebianPackage> read_debian_packages(const std::vector<fs::path>& packages_files,
                                                const std::vector<fs::path>& translation_files) {
  // Packages first, keeping each description's md5, then the translations that match one.
  std::vector<DebianPackage> packages;
  std::vector<std::string> md5s;
  std::unordered_set<std::string> names;
  for (const auto& file : packages_files) {
    read_file_stanzas(file, [&](const Stanza& s) {
      const auto name = s.find("Package");
      if (!name || !names.insert(std::string(*name)).second) return;
      DebianPackage p;
      p.name = std::string(*name);
      const auto source = s.find("Source");
      p.source = source ? source_name(*source) : p.name;
      p.section = std::string(s.find("Section").value_or(""));
      const std::string_view description = s.find("Description").value_or("");
      p.synopsis = std::string(description_synopsis(description));
      p.text = description_text(description);
      md5s.emplace_back(s.find("Description-md5").value_or(""));
      packages.push_back(std::move(p));
    });
  }
  std::unordered_map<std::string, std::string> long_text;  // md5 -> Description-en
  for (const auto& md5 : md5s)
    if (!md5.empty()) long_text.emplace(md5, std::string());
  for (const auto& file : translation_files) {
    read_file_stanzas(file, [&](const Stanza& s) {
      const auto md5 = s.find("Description-md5");
      const auto description = s.find("Description-en");
      if (!md5 || !description) return;
      const auto it = long_text.find(std::string(*md5));
      if (it != long_text.end() && it->second.empty()) it->second = std::string(*description);
    });
  }
  for (size_t i = 0; i < packages.size(); ++i) {
    const auto it = long_text.find(md5s[i]);
    if (it == long_text.end() || it->second.empty()) continue;
    packages[i].synopsis = std::string(description_synopsis(it->second));
    packages[i].text = description_text(it->second);
  }
  return packages;
}

std::vector<bool> hold_out_by_source(const std::vector<Doc>& docs, double fraction, uint64_t seed, uint64_t stream) {
  std::map<std::string, int64_t> source_size;
  for (const auto& d : docs) ++source_size[d.source];
  std::vector<std::string> sources;
  for (const auto& [name, n] : source_size) sources.push_back(name);
  Rng rng(seed, stream);
  shuffle(sources, rng);
  const double goal = fraction * static_cast<double>(docs.size());
  std::set<std::string> held_out;
  int64_t held = 0;
  for (const auto& s : sources) {
    if (static_cast<double>(held) >= goal) break;
    held_out.insert(s);
    held += source_size[s];
  }
  std::vector<bool> out(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) out[i] = held_out.count(docs[i].source) > 0;
  return out;
}

std::vector<int> swap_labels(const std::vector<int>& labels, int num_classes, double noise, uint64_t seed, uint64_t stream) {
  std::vector<size_t> order(labels.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Rng rng(seed, stream);
  shuffle(order, rng);
  const auto swaps = std::min(order.size(), static_cast<size_t>(std::llround(noise * static_cast<double>(labels.size()))));
  std::vector<int> out = labels;
  for (size_t k = 0; k < swaps; ++k) {
    int& label = out[order[k]];
    const int draw = rng.uniform_int(0, num_classes - 2);
    label = draw < label ? draw : draw + 1;
  }
  return out;
}

DocDataset make_doc_dataset(const std::vector<DebianPackage>& packages, const DocDatasetOptions& o) {
  DocDataset out;
  out.packages = static_cast<int64_t>(packages.size());

  // Fold and filter, in package-name order so "the first package" does not depend on files.
  std::vector<const DebianPackage*> by_name;
  for (const auto& p : packages) by_name.push_back(&p);
  std::sort(by_name.begin(), by_name.end(), [](const auto* a, const auto* b) { return a->name < b->name; });
  std::vector<Doc> docs;
  std::unordered_set<std::string> texts;
  for (const DebianPackage* p : by_name) {
    const auto topic = topic_of_section(p->section);
    if (!topic) {
      ++out.dropped_section;
    } else if (is_transitional(p->synopsis)) {
      ++out.dropped_transitional;
    } else if (!texts.insert(p->text).second) {
      ++out.dropped_duplicate;
    } else {
      docs.push_back(Doc{p->name, p->text, p->source, *topic, *topic});
    }
  }

  // Cap each topic by whole sources, taken in a seeded order.
  if (o.max_per_topic > 0) {
    std::vector<std::map<std::string, std::vector<size_t>>> by_topic(kDocTopics.size());
    for (size_t i = 0; i < docs.size(); ++i) by_topic[static_cast<size_t>(docs[i].true_label)][docs[i].source].push_back(i);
    std::vector<bool> keep(docs.size(), false);
    for (size_t t = 0; t < by_topic.size(); ++t) {
      std::vector<const std::vector<size_t>*> sources;
      for (const auto& [name, members] : by_topic[t]) sources.push_back(&members);
      Rng rng(o.seed, 100 + t);
      shuffle(sources, rng);
      int64_t kept = 0;
      for (const auto* members : sources) {
        if (kept + static_cast<int64_t>(members->size()) > o.max_per_topic) continue;  // a smaller source may still fit
        for (size_t i : *members) keep[i] = true;
        kept += static_cast<int64_t>(members->size());
      }
    }
    std::vector<Doc> capped;
    for (size_t i = 0; i < docs.size(); ++i) {
      if (keep[i]) capped.push_back(std::move(docs[i]));
      else ++out.dropped_cap;
    }
    docs = std::move(capped);
  }

  // Split by source.
  const std::vector<bool> test = hold_out_by_source(docs, o.test_fraction, o.seed, 1);
  for (size_t i = 0; i < docs.size(); ++i) (test[i] ? out.test : out.train).push_back(std::move(docs[i]));

  // Swap some test labels.
  std::vector<int> labels;
  for (const auto& d : out.test) labels.push_back(d.true_label);
  labels = swap_labels(labels, static_cast<int>(kDocTopics.size()), o.noise, o.seed, 2);
  for (size_t i = 0; i < labels.size(); ++i) out.test[i].label = labels[i];
  return out;
}

void write_doc_dataset(const DocDataset& dataset, const fs::path& out) {
  fs::create_directories(out);
  auto docs_file = [](const std::vector<Doc>& docs) {
    std::vector<json> lines;
    for (const auto& d : docs) lines.push_back(doc_json(d));
    return jsonl(lines);
  };
  std::string classes;
  for (const auto t : kDocTopics) classes += std::string(t) + "\n";
  std::vector<json> truth;
  for (const auto& d : dataset.test)
    truth.push_back({{"id", d.id},
                     {"true_label", kDocTopics[static_cast<size_t>(d.true_label)]},
                     {"given_label", kDocTopics[static_cast<size_t>(d.label)]},
                     {"swapped", d.swapped()}});
  write_file_atomic(out / "classes.txt", classes);
  write_file_atomic(out / "train.jsonl", docs_file(dataset.train));
  write_file_atomic(out / "test.jsonl", docs_file(dataset.test));
  write_file_atomic(out / "truth.jsonl", jsonl(truth));
}

std::vector<DocTruth> read_doc_truth(const fs::path& file) {
  std::vector<DocTruth> out;
  std::unordered_map<std::string, std::string> seen;  // id -> where
  read_jsonl(file, [&](const json& j, const std::string& where) {
    DocTruth t;
    t.id = string_field(j, "id", where);
    t.true_label = topic_field(j, "true_label", where);
    t.given_label = topic_field(j, "given_label", where);
    const auto swapped = j.find("swapped");
    if (swapped == j.end() || !swapped->is_boolean())
      throw bad_input(fmt::format("{}: \"swapped\" is missing or not true/false", where));
    t.swapped = swapped->get<bool>();
    if (t.swapped != (t.true_label != t.given_label))
      throw bad_input(fmt::format("{}: \"swapped\" is {} but the true and given labels are {} and {}", where, t.swapped,
                                  t.true_label, t.given_label));
    if (const auto [it, fresh] = seen.emplace(t.id, where); !fresh)
      throw bad_input(fmt::format("{}: id '{}' is already at {}", where, t.id, it->second));
    out.push_back(std::move(t));
  });
  return out;
}

std::vector<Doc> read_doc_jsonl(const fs::path& file) {
  std::vector<Doc> out;
  read_jsonl(file, [&](const json& j, const std::string& where) {
    Doc d;
    d.id = string_field(j, "id", where);
    d.text = string_field(j, "text", where);
    d.label = d.true_label = doc_topic_index(topic_field(j, "label", where));
    if (const auto s = j.find("source"); s != j.end() && s->is_string()) d.source = s->get<std::string>();
    out.push_back(std::move(d));
  });
  return out;
}

}  // namespace lv::demo
