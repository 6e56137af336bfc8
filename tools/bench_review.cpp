// bench_review: how fast the review page (issue 12) is ready, in a real headless Chromium.
// Prints figures; asserts nothing.
//
//   synthetic   a merged report of N images (default 100 000, a third of them with a flagged
//               box) -> write_review (issues.csv, review/ data pages), timed; then the page in
//               chromium --headless --dump-dom: its first screen (summary, tables and the grid
//               of the first data page) and every page loaded, as the page itself measured them
//               (performance.now(), data-first-screen-ms / data-all-loaded-ms on <body>), and
//               the whole browser process as a baseline (start-up included).
//   --page P    the same browser figures for an existing review page (e.g. the demo's
//               demo/run/output/review/index.html after tools/demo.sh).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <regex>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "gpu_discovery.h"
#include "launcher.h"
#include "report.h"
#include "review.h"
#include "run_state.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// A merged report of `n` images in the layout stream_report writes: every third image has a
/// mislabeled box, every tenth a missing one.
void write_synthetic_report(const fs::path& output, int64_t n) {
  std::vector<std::string> items, lines;
  const char* names[] = {"person", "car", "dog", "cat", "bicycle"};
  int64_t flagged = 0, boxes = 0;
  for (int64_t i = 0; i < n; ++i) {
    const std::string path = fmt::format("site{}/cam{}/images/frame_{:07d}.jpg", i % 7, i % 13, i);
    items.push_back(path);
    json b = json::array();
    const bool wrong = i % 3 == 0;
    for (int k = 0; k < 3; ++k) {
      const bool bad = wrong && k == 1;
      b.push_back({{"index", k}, {"line", k + 1}, {"label", k}, {"label_name", names[k]},
                   {"verdict", bad ? "mislabeled" : "correct"}, {"reason", bad ? "other_class" : "label_confirmed"},
                   {"predicted", bad ? 3 : k}, {"predicted_name", bad ? names[3] : names[k]},
                   {"confidence", bad ? 0.91 : 0.97}, {"label_prob", bad ? 0.02 + (i % 50) / 1000.0 : 0.97},
                   {"suggested", bad ? json(3) : json(nullptr)}, {"suggested_name", bad ? json(names[3]) : json(nullptr)},
                   {"box", {0.2 + 0.25 * k, 0.5, 0.2, 0.3}}});
      ++boxes;
    }
    json missing = json::array();
    if (i % 10 == 0) missing.push_back({{"class", 4}, {"class_name", names[4]}, {"confidence", 0.8}, {"box", {0.9, 0.2, 0.1, 0.1}}});
    flagged += wrong || !missing.empty();
    lines.push_back(json{{"path", path}, {"verdict", wrong ? "mislabeled" : missing.empty() ? "correct" : "uncertain"},
                         {"shard", i % 8}, {"width", 1280}, {"height", 720}, {"label_file", path + ".txt"},
                         {"boxes", b}, {"missing", missing}, {"label_errors", json::array()}, {"error", nullptr}}
                        .dump());
  }
  auto records = lv::memory_lines(std::move(lines));
  lv::ReportPart part;
  part.shard = 0;
  part.end = n;
  part.records = records.get();
  part.counts = {{"summary", {{"images", n}, {"total_boxes", boxes}, {"flagged_images", flagged}}}, {"per_class", json::object()}};
  fs::create_directories(output);
  lv::write_file_atomic(output / lv::kReportFileName, [&](std::ostream& out) {
    lv::stream_report(out, items, {part}, lv::merged_header({}, "bench_review"), lv::ReportLayout{});
  });
}

/// The page in headless Chromium: the browser process's wall time and the page's own marks.
void time_page(const std::string& chromium, const fs::path& page, const std::string& what, int runs) {
  const fs::path profile = page.parent_path() / ".bench-profile";
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const lv::CaptureResult out = lv::capture_output(
        {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile.string(), "--dump-dom",
         "file://" + page.string()},
        std::chrono::seconds(300));
    const double wall = seconds_since(start);
    std::smatch first, all;
    const bool has_first = std::regex_search(out.out, first, std::regex("data-first-screen-ms=\"([0-9]+)\""));
    const bool has_all = std::regex_search(out.out, all, std::regex("data-all-loaded-ms=\"([0-9]+)\""));
    std::printf("%-34s run %d: first screen %7s ms, all pages %7s ms, chromium process %6.2f s%s\n", what.c_str(), r + 1,
                has_first ? first[1].str().c_str() : "?", has_all ? all[1].str().c_str() : "(not yet)", wall,
                out.exit_code == 0 ? "" : fmt::format(" (exit {}: {})", out.exit_code, out.error.substr(0, 200)).c_str());
  }
  std::error_code ec;
  fs::remove_all(profile, ec);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_review: the review page's write and load times (issue 12); prints figures"};
  int64_t images = 100000;
  int runs = 3;
  std::string chromium = "/usr/bin/chromium", page, dir;
  app.add_option("--images", images, "images in the synthetic report")->capture_default_str();
  app.add_option("--runs", runs, "browser runs per page")->capture_default_str();
  app.add_option("--chromium", chromium, "the browser")->capture_default_str();
  app.add_option("--page", page, "time this existing review/index.html as well");
  app.add_option("--dir", dir, "work folder (default: a new one under /tmp, removed at the end)");
  CLI11_PARSE(app, argc, argv);

  const fs::path work = dir.empty() ? fs::temp_directory_path() / fmt::format("bench_review_{}", ::getpid()) : fs::path(dir);
  const fs::path output = work / "output";
  auto start = std::chrono::steady_clock::now();
  write_synthetic_report(output, images);
  std::printf("synthetic report: %lld images, %.1f MB, written in %.2f s\n", static_cast<long long>(images),
              static_cast<double>(fs::file_size(output / lv::kReportFileName)) / 1e6, seconds_since(start));
  start = std::chrono::steady_clock::now();
  const lv::ReviewStats stats = lv::write_review(output, "bench");
  const double write_s = seconds_since(start);
  uintmax_t data_bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(output / "review" / "data")) data_bytes += e.file_size();
  std::printf("write_review: %lld flagged boxes in %lld images, %lld data pages (%.1f MB), issues.csv %.1f MB: %.2f s "
              "(%.1f us an image)\n",
              static_cast<long long>(stats.flagged_boxes), static_cast<long long>(stats.flagged_images),
              static_cast<long long>(stats.pages), static_cast<double>(data_bytes) / 1e6,
              static_cast<double>(fs::file_size(output / "issues.csv")) / 1e6, write_s,
              1e6 * write_s / static_cast<double>(std::max<int64_t>(1, images)));
  // The baseline: the browser on an empty page (its own start-up and exit).
  lv::write_file_atomic(work / "empty.html", "<!doctype html><title>empty</title>\n");
  time_page(chromium, work / "empty.html", "empty page (browser baseline)", runs);
  time_page(chromium, output / "review" / "index.html", fmt::format("synthetic, {} images", images), runs);
  if (!page.empty()) time_page(chromium, fs::absolute(page), "given page", runs);
  if (dir.empty()) fs::remove_all(work);
  return 0;
}
