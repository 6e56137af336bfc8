#pragma once
// Helpers shared by the fuzz targets: a scratch folder per process, and one way to fail.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <unistd.h>

namespace lv::fuzz {

/// Stops the run with a message: libFuzzer reports it as a crash and keeps the input.
[[noreturn]] inline void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::abort();
}

/// A folder of this process's own, removed when the process ends. In /dev/shm when there is
/// one: rewriting a file a million times on ext4 flushes it to disk each time (auto_da_alloc).
class ScratchDir {
 public:
  ScratchDir() {
    std::error_code ec;
    const std::filesystem::path base =
        std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : std::filesystem::temp_directory_path();
    std::string pattern = (base / "lv_fuzz_XXXXXX").string();
    if (!mkdtemp(pattern.data())) broken("cannot create a scratch folder");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Writes `bytes` to `file`, replacing it.
inline void write_bytes(const std::filesystem::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) broken("cannot write " + file.string());
}

}  // namespace lv::fuzz
