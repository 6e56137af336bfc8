#include "tree_merge.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/core.h>

#include "report.h"

#include "atomic_file.h"
#include "byte_text.h"
#include "error.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

namespace lv {

namespace fs = std::filesystem;

std::string_view to_string(TreeMergeMode mode) {
  switch (mode) {
    case TreeMergeMode::move: return "move";
    case TreeMergeMode::link: return "link";
  }
  return "unknown";
}

bool merged_separately(std::string_view root_entry_name) {
  return root_entry_name == "verification_report.json" || root_entry_name == kConcatDirName ||
         (!root_entry_name.empty() && root_entry_name.front() == '.');
}

fs::path merge_manifest_file(const fs::path& manifest_dir, int shard) {
  return manifest_dir / fmt::format("merged_shard_{:02d}.txt", shard);
}

namespace {

[[noreturn]] void fail(const std::string& message) { throw Error(ExitCode::failed, message); }

[[noreturn]] void fail_errno(const std::string& what, int err) {
  fail(fmt::format("{}: {}", what, std::strerror(err)));
}

std::string join_rel(std::string_view rel, std::string_view name) {
  std::string out;
  out.reserve(rel.size() + 1 + name.size());
  if (!rel.empty()) {
    out.append(rel);
    out.push_back('/');
  }
  out.append(name);
  return out;
}

/// `base/rel`, or `base` for the root (rel == "").
std::string under(const std::string& base, std::string_view rel) {
  if (rel.empty()) return base;
  std::string out = base;
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(rel);
  return out;
}

/// An open file descriptor, closed at scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Fd open_dir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_errno(fmt::format("{}: cannot open folder", path), errno);
  return Fd(fd);
}

// ---- scanning ----

struct ScannedDir {
  std::string rel;  ///< "" for the root, else "a/b" ('/'-separated)
  size_t parent = 0;  ///< index of the parent folder in ScannedTree::dirs (the root: itself)
  std::vector<std::string> files;
  std::vector<std::string> subdirs;
  bool shared = false;  ///< another source has a folder at the same relative path
  bool holds_temporaries = false;  ///< a leftover temporary file lies in it or below it
};

struct ScannedTree {
  const TreeSource* source = nullptr;
  std::string base;              ///< source->dir as a string
  std::vector<ScannedDir> dirs;  ///< parents before their children
  int64_t file_count = 0;
  int64_t temporaries = 0;  ///< leftover temporary files, never merged
};

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

/// Lists one source tree: names only, one readdir pass per folder, a stat only where the
/// filesystem does not report entry types.
ScannedTree scan_tree(const TreeSource& source) {
  ScannedTree tree;
  tree.source = &source;
  tree.base = source.dir.string();
  struct stat st {};
  if (::stat(tree.base.c_str(), &st) != 0)
    fail_errno(fmt::format("{}: cannot read shard {} output", tree.base, source.shard), errno);
  if (!S_ISDIR(st.st_mode)) fail(fmt::format("{}: shard {} output is not a folder", tree.base, source.shard));

  tree.dirs.push_back(ScannedDir{});
  std::vector<size_t> pending{0};
  while (!pending.empty()) {
    const size_t index = pending.back();
    pending.pop_back();
    const std::string path = under(tree.base, tree.dirs[index].rel);
    std::unique_ptr<DIR, DirCloser> dir(::opendir(path.c_str()));
    if (!dir) fail_errno(fmt::format("{}: cannot list folder", path), errno);
    for (;;) {
      errno = 0;
      const dirent* entry = ::readdir(dir.get());
      if (!entry) {
        if (errno != 0) fail_errno(fmt::format("{}: cannot list folder", path), errno);
        break;
      }
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      if (index == 0 && merged_separately(name)) continue;
      const std::string rel = join_rel(tree.dirs[index].rel, name);
      if (name.find('\n') != std::string_view::npos)
        fail(fmt::format("{}: a file name with a line break cannot be merged", under(tree.base, rel)));
      unsigned char type = entry->d_type;
      if (type == DT_UNKNOWN) {
        struct stat entry_st {};
        if (::fstatat(::dirfd(dir.get()), entry->d_name, &entry_st, AT_SYMLINK_NOFOLLOW) != 0)
          fail_errno(fmt::format("{}: cannot stat", under(tree.base, rel)), errno);
        type = S_ISDIR(entry_st.st_mode) ? DT_DIR : S_ISREG(entry_st.st_mode) ? DT_REG
               : S_ISLNK(entry_st.st_mode)                                    ? DT_LNK
                                                                              : DT_UNKNOWN;
      }
      if (type == DT_REG && is_temporary_name(name)) {
        // A writer killed between write and rename left it; it is not a result.
        tree.dirs[index].holds_temporaries = true;
        ++tree.temporaries;
      } else if (type == DT_REG) {
        tree.dirs[index].files.emplace_back(name);
        ++tree.file_count;
      } else if (type == DT_DIR) {
        tree.dirs[index].subdirs.emplace_back(name);
        tree.dirs.push_back(ScannedDir{rel, index, {}, {}, false, false});
        pending.push_back(tree.dirs.size() - 1);
      } else if (type == DT_LNK) {
        // Workers never write links; following one could pull in files from anywhere.
        fail(fmt::format("{}: is a symbolic link; shard {} output may hold only files and folders",
                         under(tree.base, rel), source.shard));
      } else {
        fail(fmt::format("{}: is not a regular file or folder (shard {})", under(tree.base, rel),
                         source.shard));
      }
    }
  }
  // Children come after their parents: one backward pass marks every ancestor too, so that no
  // folder holding a temporary at any depth is moved whole into the destination.
  for (size_t i = tree.dirs.size(); i-- > 1;)
    if (tree.dirs[i].holds_temporaries) tree.dirs[tree.dirs[i].parent].holds_temporaries = true;
  return tree;
}

/// The same relative path in two trees is an error unless both are folders. Only folders that
/// exist in more than one tree are compared, so memory stays at one set of names per folder.
/// Also marks the folders that more than one tree has.
void check_collisions(std::vector<ScannedTree>& trees, const fs::path& dest) {
  if (trees.size() < 2) return;
  std::unordered_map<std::string_view, std::vector<std::pair<size_t, size_t>>> by_rel;
  for (size_t t = 0; t < trees.size(); ++t)
    for (size_t d = 0; d < trees[t].dirs.size(); ++d) by_rel[trees[t].dirs[d].rel].emplace_back(t, d);

  for (const auto& entry : by_rel) {
    const std::string_view rel = entry.first;
    const auto& owners = entry.second;
    if (owners.size() < 2) continue;
    for (const auto& owner : owners) trees[owner.first].dirs[owner.second].shared = true;
    struct Seen {
      size_t tree;
      bool is_dir;
    };
    std::unordered_map<std::string_view, Seen> seen;
    for (const auto& owner : owners) {
      const size_t t = owner.first;
      const ScannedDir& dir = trees[t].dirs[owner.second];
      const auto collide = [&](std::string_view name, const Seen& first, bool is_dir) {
        const std::string rel_path = join_rel(rel, name);
        const auto describe = [&](size_t tree, bool folder) {
          return fmt::format("shard {}: {}{}", trees[tree].source->shard, under(trees[tree].base, rel_path),
                             folder ? " (a folder)" : "");
        };
        fail(fmt::format("{} is produced by two shards ({}; {}); nothing was merged into {}",
                         rel_path, describe(first.tree, first.is_dir), describe(t, is_dir), dest.string()));
      };
      for (const std::string& name : dir.files) {
        const auto [it, inserted] = seen.emplace(name, Seen{t, false});
        if (!inserted) collide(name, it->second, false);
      }
      for (const std::string& name : dir.subdirs) {
        const auto [it, inserted] = seen.emplace(name, Seen{t, true});
        if (!inserted && !it->second.is_dir) collide(name, it->second, true);
      }
    }
  }
}

// ---- placing files ----

/// Appends merged relative paths to one shard's manifest. Written after each file is placed and
/// flushed after each folder, so a crash can only leave placed files unlisted, never list a
/// file that was not placed.
class ManifestWriter {
 public:
  explicit ManifestWriter(fs::path file) : path_(std::move(file)) {
    file_ = std::fopen(path_.c_str(), "a");
    if (!file_) fail_errno(fmt::format("{}: cannot open merge manifest", path_.string()), errno);
  }
  ~ManifestWriter() {
    if (file_) std::fclose(file_);
  }
  ManifestWriter(const ManifestWriter&) = delete;
  ManifestWriter& operator=(const ManifestWriter&) = delete;

  void add(std::string_view rel_dir, std::string_view name) {
    if (!rel_dir.empty()) {
      std::fwrite(rel_dir.data(), 1, rel_dir.size(), file_);
      std::fputc('/', file_);
    }
    std::fwrite(name.data(), 1, name.size(), file_);
    std::fputc('\n', file_);
  }
  void flush() {
    if (std::fflush(file_) != 0 || std::ferror(file_))
      fail_errno(fmt::format("{}: cannot write merge manifest", path_.string()), errno);
  }
  void close() {
    flush();
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) fail_errno(fmt::format("{}: cannot write merge manifest", path_.string()), errno);
  }

 private:
  fs::path path_;
  FILE* file_ = nullptr;
};

/// Whether two files, open as `a` and `b`, hold the same bytes. Throws on read errors.
bool same_bytes(int a, const std::string& a_name, int b, const std::string& b_name) {
  constexpr size_t kChunk = 1 << 16;
  std::vector<char> buf_a(kChunk), buf_b(kChunk);
  const auto read_full = [](int fd, char* buf, size_t size, const std::string& name) {
    size_t got = 0;
    while (got < size) {
      const ssize_t n = ::read(fd, buf + got, size - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno(fmt::format("{}: cannot read", name), errno);
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    return got;
  };
  for (;;) {
    const size_t na = read_full(a, buf_a.data(), kChunk, a_name);
    const size_t nb = read_full(b, buf_b.data(), kChunk, b_name);
    if (na != nb || std::memcmp(buf_a.data(), buf_b.data(), na) != 0) return false;
    if (na < kChunk) return true;
  }
}

class Merger {
 public:
  Merger(fs::path dest, TreeMergeMode mode, fs::path manifest_dir)
      : dest_(std::move(dest)), dest_base_(dest_.string()), mode_(mode), manifest_dir_(std::move(manifest_dir)) {
    made_dirs_.insert("");
  }

  void merge(const ScannedTree& tree) {
    tree_ = &tree;
    manifest_.emplace(merge_manifest_file(manifest_dir_, tree.source->shard));
    // Folders that arrive whole, with a folder rename (move mode) or with such an ancestor.
    std::vector<char> moved_whole(tree.dirs.size(), 0);
    for (size_t i = 0; i < tree.dirs.size(); ++i) {
      const ScannedDir& dir = tree.dirs[i];
      if (i > 0 && (moved_whole[dir.parent] || move_whole_dir(dir))) {
        moved_whole[i] = 1;
        ++stats.dirs;
        stats.files += static_cast<int64_t>(dir.files.size());
        for (const std::string& name : dir.files) manifest_->add(dir.rel, name);
        manifest_->flush();
        continue;
      }
      ensure_dest_dir(dir.rel);
      if (dir.files.empty()) continue;
      const std::string src_path = under(tree.base, dir.rel);
      const std::string dst_path = under(dest_base_, dir.rel);
      const Fd src = open_dir(src_path);
      const Fd dst = open_dir(dst_path);
      for (const std::string& name : dir.files) place(dir.rel, name, src.get(), dst.get(), src_path, dst_path);
      manifest_->flush();
    }
    manifest_->close();
    manifest_.reset();
    tree_ = nullptr;
  }

  TreeMergeStats stats;

 private:
  int shard() const { return tree_->source->shard; }

  /// In move mode, a folder no other source has and the destination lacks is moved with one
  /// rename, everything below it included: the common case, since shards are contiguous runs of
  /// the input and so mostly fill folders of their own. False when it has to go file by file.
  bool move_whole_dir(const ScannedDir& dir) {
    if (mode_ != TreeMergeMode::move || dir.shared || dir.holds_temporaries || made_dirs_.count(dir.rel)) return false;
    const std::string from = under(tree_->base, dir.rel);
    const std::string to = under(dest_base_, dir.rel);
    if (rename_noreplace(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str()) == 0) return true;
    if (errno == EEXIST || errno == ENOTEMPTY || errno == EXDEV) return false;
    fail_errno(fmt::format("cannot move {} to {}", from, to), errno);
  }

  void ensure_dest_dir(const std::string& rel) {
    if (made_dirs_.count(rel)) return;
    const std::string path = under(dest_base_, rel);
    if (::mkdir(path.c_str(), 0777) == 0) {
      ++stats.dirs;
    } else if (errno == EEXIST) {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        fail(fmt::format("{} exists and is not a folder (shard {} has a folder there: {})", path, shard(),
                         under(tree_->base, rel)));
    } else {
      fail_errno(fmt::format("{}: cannot create folder", path), errno);
    }
    made_dirs_.insert(rel);
  }

  /// rename(2) that refuses to replace: renameat2(RENAME_NOREPLACE) where the kernel and
  /// filesystem have it (one atomic call), else a check followed by renameat.
  int rename_noreplace(int src_dir, const char* src_name, int dst_dir, const char* dst_name) {
#ifdef SYS_renameat2
    if (have_renameat2_) {
      if (::syscall(SYS_renameat2, src_dir, src_name, dst_dir, dst_name, RENAME_NOREPLACE) == 0) return 0;
      if (errno != ENOSYS && errno != EINVAL) return -1;
      have_renameat2_ = false;
    }
#endif
    struct stat st {};
    if (::fstatat(dst_dir, dst_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      errno = EEXIST;
      return -1;
    }
    if (errno != ENOENT) return -1;
    return ::renameat(src_dir, src_name, dst_dir, dst_name);
  }

  /// Copies `src_path/name` to its fixed temporary name in `dst_path`; returns that name. Fixed,
  /// so that a copy cut short by a crash is found and replaced when the merge runs again,
  /// instead of staying in the destination.
  std::string copy_to_temp(const std::string& name, int dst_dir, const std::string& src_path,
                           const std::string& dst_path) {
    const std::string tmp = fixed_temporary_path(name).string();
    const std::string from = under(src_path, name);
    const std::string to = under(dst_path, tmp);
    if (::unlinkat(dst_dir, tmp.c_str(), 0) != 0 && errno != ENOENT)
      fail_errno(fmt::format("{}: cannot remove leftover temporary file", to), errno);
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) fail(fmt::format("cannot copy {} to {}: {}", from, to, ec.message()));
    return tmp;
  }

  void placed(std::string_view rel_dir, std::string_view name) {
    ++stats.files;
    manifest_->add(rel_dir, name);
  }

  void place(const std::string& rel_dir, const std::string& name, int src_dir, int dst_dir,
             const std::string& src_path, const std::string& dst_path) {
    const char* n = name.c_str();
    if (mode_ == TreeMergeMode::move) {
      if (rename_noreplace(src_dir, n, dst_dir, n) == 0) return placed(rel_dir, name);
      if (errno == EEXIST) return resolve_existing(rel_dir, name, src_dir, dst_dir, src_path, dst_path);
      if (errno != EXDEV)
        fail_errno(fmt::format("cannot move {} to {}", under(src_path, name), under(dst_path, name)), errno);
      copy_into_place(rel_dir, name, src_dir, dst_dir, src_path, dst_path);
      return;
    }
    if (::linkat(src_dir, n, dst_dir, n, 0) == 0) return placed(rel_dir, name);
    if (errno == EEXIST) return resolve_existing(rel_dir, name, src_dir, dst_dir, src_path, dst_path);
    // Another filesystem, or one without hard links (or protected_hardlinks): copy instead.
    if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != EOPNOTSUPP)
      fail_errno(fmt::format("cannot link {} to {}", under(src_path, name), under(dst_path, name)), errno);
    copy_into_place(rel_dir, name, src_dir, dst_dir, src_path, dst_path);
  }

  /// Copy under a temporary name and rename into place, so a crash never leaves a partial file
  /// under the final name. In move mode the source is then removed.
  void copy_into_place(const std::string& rel_dir, const std::string& name, int src_dir, int dst_dir,
                       const std::string& src_path, const std::string& dst_path) {
    const std::string tmp = copy_to_temp(name, dst_dir, src_path, dst_path);
    if (rename_noreplace(dst_dir, tmp.c_str(), dst_dir, name.c_str()) != 0) {
      const int err = errno;
      ::unlinkat(dst_dir, tmp.c_str(), 0);
      if (err == EEXIST) return resolve_existing(rel_dir, name, src_dir, dst_dir, src_path, dst_path);
      fail_errno(fmt::format("cannot rename {} to {}", under(dst_path, tmp), under(dst_path, name)), err);
    }
    if (mode_ == TreeMergeMode::move) remove_source(name, src_dir, src_path);
    ++stats.copied;
    placed(rel_dir, name);
  }

  void remove_source(const std::string& name, int src_dir, const std::string& src_path) {
    if (::unlinkat(src_dir, name.c_str(), 0) != 0)
      fail_errno(fmt::format("{}: cannot remove after merging", under(src_path, name)), errno);
  }

  /// Which shard's manifest lists each merged path; read on the first conflict only.
  const std::unordered_map<std::string, int>& owners() {
    if (owners_) return *owners_;
    if (manifest_) manifest_->flush();
    owners_.emplace();
    std::error_code ec;
    if (!fs::is_directory(manifest_dir_, ec)) return *owners_;
    for (const fs::directory_entry& entry : fs::directory_iterator(manifest_dir_)) {
      const std::string file = entry.path().filename().string();
      int shard = 0;
      char tail[8] = {};
      if (std::sscanf(file.c_str(), "merged_shard_%d%7s", &shard, tail) != 2 || std::string(tail) != ".txt")
        continue;
      FILE* in = std::fopen(entry.path().c_str(), "r");
      if (!in) fail_errno(fmt::format("{}: cannot read merge manifest", entry.path().string()), errno);
      const std::unique_ptr<FILE, FileCloser> guard(in);
      char* line = nullptr;
      size_t capacity = 0;
      ssize_t length;
      while ((length = ::getline(&line, &capacity, in)) > 0) {
        if (line[length - 1] == '\n') --length;
        if (length > 0) owners_->emplace(std::string(line, static_cast<size_t>(length)), shard);
      }
      const bool read_error = std::ferror(in);
      std::free(line);
      if (read_error) fail(fmt::format("{}: cannot read merge manifest", entry.path().string()));
    }
    return *owners_;
  }

  /// The destination file exists: decide between already merged, replace (an older copy from
  /// the same shard) and a collision.
  void resolve_existing(const std::string& rel_dir, const std::string& name, int src_dir, int dst_dir,
                        const std::string& src_path, const std::string& dst_path) {
    const std::string rel = join_rel(rel_dir, name);
    const std::string src_file = under(src_path, name);
    const std::string dst_file = under(dst_path, name);
    struct stat s {}, d {};
    if (::fstatat(src_dir, name.c_str(), &s, AT_SYMLINK_NOFOLLOW) != 0) fail_errno(src_file, errno);
    if (::fstatat(dst_dir, name.c_str(), &d, AT_SYMLINK_NOFOLLOW) != 0) fail_errno(dst_file, errno);
    if (!S_ISREG(d.st_mode))
      fail(fmt::format("{} exists and is not a regular file (shard {} also produced it: {})", dst_file, shard(),
                       src_file));

    const auto& owner_of = owners();
    const auto owner_it = owner_of.find(rel);
    const std::optional<int> owner =
        owner_it == owner_of.end() ? std::nullopt : std::optional<int>(owner_it->second);
    const bool listed_here = owner && *owner == shard();
    if (owner && !listed_here)
      fail(fmt::format("{} was merged from shard {} earlier (listed in {}) and shard {} also produced it: {}",
                       dst_file, *owner, merge_manifest_file(manifest_dir_, *owner).string(), shard(), src_file));

    bool present = s.st_dev == d.st_dev && s.st_ino == d.st_ino;
    if (!present && s.st_size == d.st_size) {
      const Fd a(::openat(src_dir, name.c_str(), O_RDONLY | O_CLOEXEC));
      if (a.get() < 0) fail_errno(fmt::format("{}: cannot read", src_file), errno);
      const Fd b(::openat(dst_dir, name.c_str(), O_RDONLY | O_CLOEXEC));
      if (b.get() < 0) fail_errno(fmt::format("{}: cannot read", dst_file), errno);
      present = same_bytes(a.get(), src_file, b.get(), dst_file);
    }
    if (present) {
      ++stats.already_present;
      if (mode_ == TreeMergeMode::move) remove_source(name, src_dir, src_path);
      if (!listed_here) manifest_->add(rel_dir, name);
      return;
    }
    if (!listed_here)
      fail(fmt::format("{} exists and was not written by this run's merge (shard {} also produced it: {})",
                       dst_file, shard(), src_file));

    // A newer version of a file this shard produced before (the shard was re-run): replace it.
    if (mode_ == TreeMergeMode::move) {
      if (::renameat(src_dir, name.c_str(), dst_dir, name.c_str()) != 0)
        fail_errno(fmt::format("cannot move {} to {}", src_file, dst_file), errno);
    } else {
      std::string tmp = fixed_temporary_path(name).string();
      ::unlinkat(dst_dir, tmp.c_str(), 0);  // a leftover of a merge cut short
      if (::linkat(src_dir, name.c_str(), dst_dir, tmp.c_str(), 0) != 0) {
        tmp = copy_to_temp(name, dst_dir, src_path, dst_path);
        ++stats.copied;
      }
      if (::renameat(dst_dir, tmp.c_str(), dst_dir, name.c_str()) != 0)
        fail_errno(fmt::format("cannot replace {}", dst_file), errno);
    }
    ++stats.files;
    ++stats.replaced;
  }

  fs::path dest_;
  std::string dest_base_;
  TreeMergeMode mode_;
  fs::path manifest_dir_;
  const ScannedTree* tree_ = nullptr;
  std::optional<ManifestWriter> manifest_;
  std::unordered_set<std::string> made_dirs_;
  std::optional<std::unordered_map<std::string, int>> owners_;
  bool have_renameat2_ = true;
};

/// Refuses a destination that is one of the sources or lies inside one.
void check_layout(const std::vector<TreeSource>& sources, const fs::path& dest) {
  std::error_code ec;
  const fs::path d = fs::weakly_canonical(fs::absolute(dest), ec);
  if (ec) fail(fmt::format("{}: cannot resolve: {}", dest.string(), ec.message()));
  std::unordered_set<int> shards;
  for (const TreeSource& source : sources) {
    if (!shards.insert(source.shard).second)
      fail(fmt::format("shard {} is listed twice in the merge ({})", source.shard, source.dir.string()));
    const fs::path s = fs::weakly_canonical(fs::absolute(source.dir), ec);
    if (ec) fail(fmt::format("{}: cannot resolve: {}", source.dir.string(), ec.message()));
    auto [s_end, d_it] = std::mismatch(s.begin(), s.end(), d.begin(), d.end());
    (void)d_it;
    if (s_end == s.end())
      fail(fmt::format("cannot merge shard {} output {} into {}: the destination lies inside it",
                       source.shard, source.dir.string(), dest.string()));
  }
}

}  // namespace

TreeMergeStats merge_trees(const std::vector<TreeSource>& sources, const fs::path& dest, TreeMergeMode mode,
                           const fs::path& manifest_dir) {
  check_layout(sources, dest);

  std::vector<ScannedTree> trees;
  trees.reserve(sources.size());
  for (const TreeSource& source : sources) trees.push_back(scan_tree(source));
  check_collisions(trees, dest);

  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec) fail(fmt::format("{}: cannot create folder: {}", dest.string(), ec.message()));
  if (!fs::is_directory(dest)) fail(fmt::format("{} exists and is not a folder", dest.string()));
  fs::create_directories(manifest_dir, ec);
  if (ec) fail(fmt::format("{}: cannot create folder: {}", manifest_dir.string(), ec.message()));

  Merger merger(dest, mode, manifest_dir);
  for (const ScannedTree& tree : trees) {
    merger.merge(tree);
    merger.stats.temporaries_skipped += tree.temporaries;
  }
  return merger.stats;
}

}  // namespace lv
