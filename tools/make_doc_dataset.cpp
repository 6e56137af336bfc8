// make_doc_dataset: the text demo's dataset from Debian's package lists (fetched by
// tools/fetch_debian_descriptions.sh): descriptions labelled with twelve topics folded from
// their sections, split by source package, 10 % of the test labels swapped (truth.jsonl).
//
//   make_doc_dataset --lists demo/docs/apt/lists --out demo/docs --seed 7 --noise 0.10
#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "doc_dataset.h"
#include "error.h"
#include "message.h"
#include "program.h"

namespace fs = std::filesystem;

namespace {

/// The files of `dir` whose names end with `suffix`, sorted.
std::vector<fs::path> files_ending_with(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path());
  }
  if (ec) throw lv::Error(lv::ExitCode::input_unreadable, fmt::format("{}: cannot list: {}", dir.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  lv::set_program_name("make_doc_dataset");

  // Options.
  CLI::App app{"Makes the text demo's dataset from Debian Packages and Translation-en lists: twelve topics, "
               "split by source package, some test labels swapped."};
  lv::demo::DocDatasetOptions o;
  std::string lists, out = "demo/docs";
  std::vector<std::string> packages_files, translation_files;
  bool force = false;
  app.add_option("--lists", lists, "apt lists folder: every *_Packages and *_i18n_Translation-en file in it");
  app.add_option("--packages", packages_files, "a Packages file (repeatable; added to --lists')");
  app.add_option("--translations", translation_files, "a Translation-en file (repeatable; added to --lists')");
  app.add_option("--out", out, "dataset folder to write")->capture_default_str();
  app.add_option("--seed", o.seed, "random seed of the cap, the split and the swaps")->capture_default_str();
  app.add_option("--test-fraction", o.test_fraction, "share of docs in test.jsonl")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--noise", o.noise, "share of test labels swapped")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-per-topic", o.max_per_topic, "at most N docs per topic, whole sources (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--force", force, "replace a dataset already in --out");
  if (const auto code = lv::parse_command_line(app, argc, argv)) return *code;

  return lv::run_guarded([&] {
    // Inputs.
    std::vector<fs::path> packages(packages_files.begin(), packages_files.end());
    std::vector<fs::path> translations(translation_files.begin(), translation_files.end());
    if (!lists.empty()) {
      for (auto& f : files_ending_with(lists, "_Packages")) packages.push_back(f);
      for (auto& f : files_ending_with(lists, "_i18n_Translation-en")) translations.push_back(f);
    }
    if (packages.empty()) throw lv::usage_error("no Packages file (give --lists or --packages)");
    if (translations.empty()) lv::print_warning("no Translation-en file: only the synopses of Packages are used");
    if (fs::exists(fs::path(out) / "truth.jsonl") && !force)
      throw lv::usage_error(fmt::format("{} already holds a dataset; add --force to replace it", out));

    // Read, fold, split, swap.
    const auto all = lv::demo::read_debian_packages(packages, translations);
    const auto dataset = lv::demo::make_doc_dataset(all, o);
    lv::demo::write_doc_dataset(dataset, out);

    // Counts.
    fmt::print("make_doc_dataset: {} packages read; dropped {} (section), {} (transitional/dummy), {} (same text), "
               "{} (over --max-per-topic)\n",
               dataset.packages, dataset.dropped_section, dataset.dropped_transitional, dataset.dropped_duplicate,
               dataset.dropped_cap);
    std::array<int64_t, lv::demo::kDocTopics.size()> train{}, test{}, swapped{};
    for (const auto& d : dataset.train) ++train[static_cast<size_t>(d.true_label)];
    for (const auto& d : dataset.test) {
      ++test[static_cast<size_t>(d.true_label)];
      if (d.swapped()) ++swapped[static_cast<size_t>(d.true_label)];
    }
    fmt::print("  {:<10} {:>7} {:>7} {:>8}\n", "topic", "train", "test", "swapped");
    int64_t total_swapped = 0;
    for (size_t t = 0; t < lv::demo::kDocTopics.size(); ++t) {
      fmt::print("  {:<10} {:>7} {:>7} {:>8}\n", lv::demo::kDocTopics[t], train[t], test[t], swapped[t]);
      total_swapped += swapped[t];
    }
    fmt::print("  {:<10} {:>7} {:>7} {:>8}\n", "all", dataset.train.size(), dataset.test.size(), total_swapped);
    fmt::print("make_doc_dataset: wrote {}/train.jsonl, test.jsonl, classes.txt, truth.jsonl\n", out);
    return 0;
  });
}
