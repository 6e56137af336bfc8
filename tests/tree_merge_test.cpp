#include "tree_merge.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "catch.h"
#include "error.h"
#include "test_util.h"

namespace fs = std::filesystem;
using lv::test::read_text;
using lv::test::TempDir;
using lv::test::write_text;

namespace {

using Files = std::map<std::string, std::string>;  // relative path -> content

void make_tree(const fs::path& root, const Files& files) {
  fs::create_directories(root);
  for (const auto& [rel, content] : files) write_text(root / rel, content);
}

/// Every regular file under `root` (at any depth, hidden ones included) with its content.
Files read_tree(const fs::path& root) {
  Files files;
  if (!fs::exists(root)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file()) files[fs::relative(entry.path(), root).generic_string()] = read_text(entry.path());
  return files;
}

std::vector<std::string> manifest_lines(const fs::path& manifest_dir, int shard) {
  std::vector<std::string> lines;
  const std::string text = read_text(lv::merge_manifest_file(manifest_dir, shard));
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

ino_t inode(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

/// The message of the lv::Error that `f` throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const lv::Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Three shards as workers leave them: reports and journals at the root, nested verdict folders.
const Files kShard0 = {
    {"verification_report.json", "{\"shard\":0}"},
    {".journal.jsonl", "{}\n"},
    {"correct/a/JPEGImages/x0.jpg", "x0"},
    {"correct/a/labels/x0.txt", "0 0.5 0.5 0.1 0.1\n"},
    {"debug_images/x0.jpg", "d0"},
};
const Files kShard1 = {
    {"verification_report.json", "{\"shard\":1}"},
    {".journal.jsonl", "{}\n{}\n"},
    {"correct/a/JPEGImages/x1.jpg", "x1"},
    {"mislabeled/b/c/JPEGImages/y1.jpg", "y1"},
    {"mislabeled/b/c/labels_original/y1.txt", "1 0.5 0.5 0.2 0.2\n"},
};
const Files kShard2 = {
    {"verification_report.json", "{\"shard\":2}"},
    {".journal.jsonl", ""},
    {".cache/tmp.bin", "skip me"},
    {"uncertain/d/JPEGImages/z2.jpg", "z2"},
    {"correct/a/.hidden_deep", "hidden below the root is merged"},
};

// What output/ must hold after merging the three shards.
const Files kMerged = {
    {"correct/a/JPEGImages/x0.jpg", "x0"},
    {"correct/a/labels/x0.txt", "0 0.5 0.5 0.1 0.1\n"},
    {"debug_images/x0.jpg", "d0"},
    {"correct/a/JPEGImages/x1.jpg", "x1"},
    {"mislabeled/b/c/JPEGImages/y1.jpg", "y1"},
    {"mislabeled/b/c/labels_original/y1.txt", "1 0.5 0.5 0.2 0.2\n"},
    {"uncertain/d/JPEGImages/z2.jpg", "z2"},
    {"correct/a/.hidden_deep", "hidden below the root is merged"},
};

struct Fixture {
  TempDir tmp;
  fs::path dest = tmp / "output";
  fs::path manifests = tmp / "merge";
  std::vector<lv::TreeSource> sources = {{0, tmp / "output_gpu0"}, {1, tmp / "output_gpu1"}, {2, tmp / "output_gpu2"}};

  Fixture() {
    make_tree(sources[0].dir, kShard0);
    make_tree(sources[1].dir, kShard1);
    make_tree(sources[2].dir, kShard2);
    fs::create_directories(sources[2].dir / "uncertain/empty");
  }
  lv::TreeMergeStats merge(lv::TreeMergeMode mode) { return lv::merge_trees(sources, dest, mode, manifests); }
};

}  // namespace

TEST_CASE("root entries merged separately are the report and hidden entries", "[tree_merge]") {
  CHECK(lv::merged_separately("verification_report.json"));
  CHECK(lv::merged_separately(".journal.jsonl"));
  CHECK(lv::merged_separately(".x"));
  CHECK_FALSE(lv::merged_separately("correct"));
  CHECK_FALSE(lv::merged_separately("verification_report.json.bak"));
  CHECK(lv::merge_manifest_file("m", 2) == fs::path("m/merged_shard_02.txt"));
  CHECK(lv::merge_manifest_file("m", 12) == fs::path("m/merged_shard_12.txt"));
}

TEST_CASE("move mode merges nested shard trees and skips root reports and journals", "[tree_merge]") {
  Fixture f;
  const lv::TreeMergeStats stats = f.merge(lv::TreeMergeMode::move);

  CHECK(read_tree(f.dest) == kMerged);
  CHECK(stats.files == 8);
  CHECK(stats.already_present == 0);
  CHECK(stats.copied == 0);
  CHECK(stats.replaced == 0);
  // correct, correct/a, correct/a/JPEGImages, correct/a/labels, debug_images, mislabeled,
  // mislabeled/b, mislabeled/b/c, .../JPEGImages, .../labels_original, uncertain, uncertain/d,
  // uncertain/d/JPEGImages, uncertain/empty
  CHECK(stats.dirs == 14);
  CHECK(fs::is_directory(f.dest / "uncertain/empty"));
  // Folders of one shard only moved whole; shared ones were made and filled file by file.
  CHECK_FALSE(fs::exists(f.sources[1].dir / "mislabeled"));
  CHECK_FALSE(fs::exists(f.sources[2].dir / "uncertain"));
  CHECK(fs::is_directory(f.sources[0].dir / "correct/a/JPEGImages"));
  CHECK(fs::is_directory(f.sources[1].dir / "correct/a/JPEGImages"));

  // Only what is merged separately is left in the sources.
  CHECK(read_tree(f.sources[0].dir) == Files{{"verification_report.json", "{\"shard\":0}"}, {".journal.jsonl", "{}\n"}});
  CHECK(read_tree(f.sources[1].dir) ==
        Files{{"verification_report.json", "{\"shard\":1}"}, {".journal.jsonl", "{}\n{}\n"}});
  CHECK(read_tree(f.sources[2].dir) ==
        Files{{"verification_report.json", "{\"shard\":2}"}, {".journal.jsonl", ""}, {".cache/tmp.bin", "skip me"}});

  CHECK(manifest_lines(f.manifests, 0) ==
        std::vector<std::string>{"correct/a/JPEGImages/x0.jpg", "correct/a/labels/x0.txt", "debug_images/x0.jpg"});
  CHECK(manifest_lines(f.manifests, 1) ==
        std::vector<std::string>{"correct/a/JPEGImages/x1.jpg", "mislabeled/b/c/JPEGImages/y1.jpg",
                                 "mislabeled/b/c/labels_original/y1.txt"});
  CHECK(manifest_lines(f.manifests, 2) ==
        std::vector<std::string>{"correct/a/.hidden_deep", "uncertain/d/JPEGImages/z2.jpg"});

  SECTION("running it again finds nothing left to do") {
    const lv::TreeMergeStats again = f.merge(lv::TreeMergeMode::move);
    CHECK(again.files == 0);
    CHECK(again.already_present == 0);
    CHECK(again.dirs == 0);
    CHECK(read_tree(f.dest) == kMerged);
  }
}

TEST_CASE("link mode keeps the sources and hard-links, a second run is a no-op", "[tree_merge]") {
  Fixture f;
  const lv::TreeMergeStats first = f.merge(lv::TreeMergeMode::link);
  CHECK(first.files == 8);
  CHECK(first.already_present == 0);
  CHECK(first.copied == 0);
  CHECK(read_tree(f.dest) == kMerged);
  CHECK(read_tree(f.sources[1].dir) == kShard1);
  CHECK(inode(f.dest / "correct/a/JPEGImages/x1.jpg") == inode(f.sources[1].dir / "correct/a/JPEGImages/x1.jpg"));
  CHECK(inode(f.dest / "uncertain/d/JPEGImages/z2.jpg") == inode(f.sources[2].dir / "uncertain/d/JPEGImages/z2.jpg"));

  const lv::TreeMergeStats second = f.merge(lv::TreeMergeMode::link);
  CHECK(second.files == 0);
  CHECK(second.already_present == 8);
  CHECK(second.dirs == 0);
  CHECK(read_tree(f.dest) == kMerged);
  CHECK(manifest_lines(f.manifests, 0).size() == 3);  // not listed twice

  SECTION("a move-mode merge after a link-mode one only empties the sources") {
    const lv::TreeMergeStats moved = f.merge(lv::TreeMergeMode::move);
    CHECK(moved.files == 0);
    CHECK(moved.already_present == 8);
    CHECK(read_tree(f.dest) == kMerged);
    CHECK(read_tree(f.sources[0].dir).size() == 2);  // report and journal
  }
}

TEST_CASE("the same file from two shards is an error naming both, and nothing moves", "[tree_merge]") {
  Fixture f;
  write_text(f.sources[2].dir / "correct/a/JPEGImages/x0.jpg", "x0 again");
  const std::string message = error_of([&] { f.merge(lv::TreeMergeMode::move); });
  INFO(message);
  CHECK(contains(message, "correct/a/JPEGImages/x0.jpg"));
  CHECK(contains(message, "shard 0: " + (f.sources[0].dir / "correct/a/JPEGImages/x0.jpg").string()));
  CHECK(contains(message, "shard 2: " + (f.sources[2].dir / "correct/a/JPEGImages/x0.jpg").string()));
  CHECK(read_tree(f.dest).empty());
  CHECK(read_tree(f.sources[0].dir) == kShard0);
  CHECK(read_tree(f.sources[1].dir) == kShard1);

  SECTION("a file in one shard where another has a folder collides too") {
    fs::remove(f.sources[2].dir / "correct/a/JPEGImages/x0.jpg");
    write_text(f.sources[2].dir / "debug_images/x0.jpg/inner.jpg", "i");
    const std::string folder = error_of([&] { f.merge(lv::TreeMergeMode::link); });
    INFO(folder);
    CHECK(contains(folder, "shard 0: " + (f.sources[0].dir / "debug_images/x0.jpg").string()));
    CHECK(contains(folder, "shard 2: " + (f.sources[2].dir / "debug_images/x0.jpg").string() + " (a folder)"));
    CHECK(read_tree(f.dest).empty());
  }
}

TEST_CASE("an interrupted move-mode merge completes with every file once", "[tree_merge]") {
  Fixture f;
  // Simulate a merge killed part-way: shard 0 fully moved, shard 1 half moved, manifests
  // written for what was moved, shard 2 untouched.
  const auto move_by_hand = [&](int shard, const std::string& rel) {
    fs::create_directories((f.dest / rel).parent_path());
    fs::rename(f.sources[shard].dir / rel, f.dest / rel);
    fs::create_directories(f.manifests);
    std::ofstream(lv::merge_manifest_file(f.manifests, shard), std::ios::app) << rel << "\n";
  };
  move_by_hand(0, "correct/a/JPEGImages/x0.jpg");
  move_by_hand(0, "correct/a/labels/x0.txt");
  move_by_hand(0, "debug_images/x0.jpg");
  move_by_hand(1, "correct/a/JPEGImages/x1.jpg");
  // Killed between the rename and the manifest line: moved but not listed.
  fs::create_directories(f.dest / "mislabeled/b/c/JPEGImages");
  fs::rename(f.sources[1].dir / "mislabeled/b/c/JPEGImages/y1.jpg", f.dest / "mislabeled/b/c/JPEGImages/y1.jpg");

  const lv::TreeMergeStats stats = f.merge(lv::TreeMergeMode::move);
  CHECK(stats.files == 3);  // y1.txt, z2.jpg, .hidden_deep
  CHECK(stats.already_present == 0);
  CHECK(read_tree(f.dest) == kMerged);
  CHECK(read_tree(f.sources[1].dir).size() == 2);
  CHECK(manifest_lines(f.manifests, 1) ==
        std::vector<std::string>{"correct/a/JPEGImages/x1.jpg", "mislabeled/b/c/labels_original/y1.txt"});
}

TEST_CASE("an interrupted copy leaves an identical file that counts as already present", "[tree_merge]") {
  Fixture f;
  write_text(f.dest / "correct/a/JPEGImages/x1.jpg", "x1");  // a byte copy, never listed
  const lv::TreeMergeStats stats = f.merge(lv::TreeMergeMode::move);
  CHECK(stats.files == 7);
  CHECK(stats.already_present == 1);
  CHECK(read_tree(f.dest) == kMerged);
  CHECK_FALSE(fs::exists(f.sources[1].dir / "correct/a/JPEGImages/x1.jpg"));
  CHECK(manifest_lines(f.manifests, 1).size() == 3);  // now listed
}

TEST_CASE("a destination file from outside the run is an error naming the shard", "[tree_merge]") {
  Fixture f;
  write_text(f.dest / "uncertain/d/JPEGImages/z2.jpg", "someone else's");
  const fs::path src = f.sources[2].dir / "uncertain/d/JPEGImages/z2.jpg";
  const std::string message = error_of([&] { f.merge(lv::TreeMergeMode::move); });
  CHECK(message == (f.dest / "uncertain/d/JPEGImages/z2.jpg").string() +
                       " exists and was not written by this run's merge (shard 2 also produced it: " +
                       src.string() + ")");
  CHECK(read_text(f.dest / "uncertain/d/JPEGImages/z2.jpg") == "someone else's");
  CHECK(read_text(src) == "z2");

  // Once the stray file is gone, running again finishes the merge.
  fs::remove(f.dest / "uncertain/d/JPEGImages/z2.jpg");
  f.merge(lv::TreeMergeMode::move);
  CHECK(read_tree(f.dest) == kMerged);
}

TEST_CASE("a file merged earlier is replaced by its own shard and refused from another", "[tree_merge]") {
  Fixture f;
  f.merge(lv::TreeMergeMode::move);
  // Shard 1 re-run: it writes y1.jpg again with new bytes.
  write_text(f.sources[1].dir / "mislabeled/b/c/JPEGImages/y1.jpg", "y1 v2");
  lv::TreeMergeStats stats = f.merge(lv::TreeMergeMode::move);
  CHECK(stats.files == 1);
  CHECK(stats.replaced == 1);
  CHECK(read_text(f.dest / "mislabeled/b/c/JPEGImages/y1.jpg") == "y1 v2");

  // Shard 2 producing shard 0's file later: the manifest names the owner.
  write_text(f.sources[2].dir / "debug_images/x0.jpg", "d0");
  const std::string message = error_of([&] { f.merge(lv::TreeMergeMode::move); });
  INFO(message);
  CHECK(contains(message, "was merged from shard 0 earlier"));
  CHECK(contains(message, "shard 2 also produced it: " + (f.sources[2].dir / "debug_images/x0.jpg").string()));
  CHECK(read_text(f.dest / "debug_images/x0.jpg") == "d0");
}

TEST_CASE("a symbolic link in a shard tree is refused before anything moves", "[tree_merge]") {
  Fixture f;
  fs::create_symlink("/etc/hostname", f.sources[1].dir / "correct/a/JPEGImages/link.jpg");
  const std::string message = error_of([&] { f.merge(lv::TreeMergeMode::move); });
  CHECK(contains(message, (f.sources[1].dir / "correct/a/JPEGImages/link.jpg").string() + ": is a symbolic link"));
  CHECK(read_tree(f.dest).empty());
}

TEST_CASE("a destination inside a source tree is refused", "[tree_merge]") {
  Fixture f;
  const std::string message =
      error_of([&] { lv::merge_trees(f.sources, f.sources[1].dir / "out", lv::TreeMergeMode::move, f.manifests); });
  CHECK(contains(message, "the destination lies inside it"));
  CHECK(read_tree(f.sources[1].dir) == kShard1);
}

TEST_CASE("across filesystems link mode copies and move mode copies then removes", "[tree_merge]") {
  // Needs a second filesystem: /dev/shm (tmpfs) beside the temp dir, where there is one.
  struct stat shm {}, tmp {};
  if (::stat("/dev/shm", &shm) != 0 || ::access("/dev/shm", W_OK) != 0 ||
      ::stat(fs::temp_directory_path().c_str(), &tmp) != 0 || shm.st_dev == tmp.st_dev) {
    WARN("skipped: no writable /dev/shm on another filesystem than the temp dir");
    return;
  }
  TempDir out;
  const fs::path shard_dir = fs::path("/dev/shm") / ("lv_tree_merge_" + std::to_string(::getpid()));
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{shard_dir};
  make_tree(shard_dir, kShard1);
  const std::vector<lv::TreeSource> sources = {{1, shard_dir}};
  const Files merged = {
      {"correct/a/JPEGImages/x1.jpg", "x1"},
      {"mislabeled/b/c/JPEGImages/y1.jpg", "y1"},
      {"mislabeled/b/c/labels_original/y1.txt", "1 0.5 0.5 0.2 0.2\n"},
  };

  const lv::TreeMergeStats linked = lv::merge_trees(sources, out / "output", lv::TreeMergeMode::link, out / "merge");
  CHECK(linked.files == 3);
  CHECK(linked.copied == 3);
  CHECK(read_tree(out / "output") == merged);
  CHECK(read_tree(shard_dir) == kShard1);

  // The copies are recognised by their bytes; moving now only removes the sources.
  const lv::TreeMergeStats moved = lv::merge_trees(sources, out / "output", lv::TreeMergeMode::move, out / "merge");
  CHECK(moved.files == 0);
  CHECK(moved.already_present == 3);
  CHECK(read_tree(shard_dir).size() == 2);  // report and journal

  SECTION("move mode alone copies and removes each source file") {
    make_tree(shard_dir, kShard1);
    const lv::TreeMergeStats fresh =
        lv::merge_trees(sources, out / "output2", lv::TreeMergeMode::move, out / "merge2");
    CHECK(fresh.files == 3);
    CHECK(fresh.copied == 3);
    CHECK(read_tree(out / "output2") == merged);
    CHECK(read_tree(shard_dir).size() == 2);
  }

  SECTION("a copy cut short by a crash is replaced when the merge runs again, not left behind") {
    make_tree(shard_dir, kShard1);
    write_text(out / "output3/correct/a/JPEGImages/x1.jpg.tmp.0.0", "x");  // the crashed merge's copy
    const lv::TreeMergeStats again = lv::merge_trees(sources, out / "output3", lv::TreeMergeMode::move, out / "merge3");
    CHECK(again.files == 3);
    CHECK(read_tree(out / "output3") == merged);
  }
}

TEST_CASE("leftover temporaries in a shard tree are never merged, at any depth, in either mode", "[tree_merge]") {
  // A worker SIGKILLed between write and rename left `x.txt.tmp.<pid>`; the merged output held it.
  const auto mode = GENERATE(lv::TreeMergeMode::move, lv::TreeMergeMode::link);
  Fixture f;
  write_text(f.sources[1].dir / "mislabeled/b/c/labels/y1.txt.tmp.25734", "1 0.5");  // folder moved whole otherwise
  write_text(f.sources[0].dir / "correct/a/labels/x0.txt.tmp.25734.2", "0 0.5");    // a shared folder
  const lv::TreeMergeStats stats = f.merge(mode);
  CHECK(read_tree(f.dest) == kMerged);
  CHECK(stats.temporaries_skipped == 2);
  CHECK(stats.files == 8);
}
