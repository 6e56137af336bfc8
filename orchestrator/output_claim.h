#pragma once
/// Who may write an output directory. A run locks its output dir for its whole life (so a
/// second orchestrator writing the same output/, from any work dir, refuses and names the
/// first), and records in it which run produced what is there (so no run deletes or replaces
/// results another run produced).
#include <filesystem>
#include <optional>
#include <string>

namespace lv {

/// The lock file and the owner record inside the output dir; neither counts as a result.
inline constexpr const char* kOutputLockFile = ".orchestrator.lock";
inline constexpr const char* kOutputOwnerFile = ".orchestrator_run.json";

/// An exclusive flock on `<output>/.orchestrator.lock`, held for the object's lifetime. The
/// output dir is created when missing (and removed again at release when nothing but the lock
/// was put in it). Throws lv::Error (exit 2) naming the holder (pid, work dir) when another
/// orchestrator holds it.
class OutputLock {
 public:
  OutputLock(const std::filesystem::path& output_dir, const std::filesystem::path& work_dir);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  std::filesystem::path dir_;
  int fd_ = -1;
  bool created_dir_ = false;
};

/// Which run produced the results in an output dir.
struct OutputOwner {
  std::string run_id;
  std::filesystem::path work_dir;
  std::string created_at;
};

/// The owner record of `output_dir`, or nullopt when there is none (a dir from before this
/// record existed, or not ours). Throws lv::Error naming the file when it is corrupt.
std::optional<OutputOwner> read_output_owner(const std::filesystem::path& output_dir);

/// Writes the owner record atomically (the dir must exist).
void write_output_owner(const std::filesystem::path& output_dir, const OutputOwner& owner);

/// True when `dir` holds anything but the lock file and the owner record.
bool holds_results(const std::filesystem::path& dir);

/// A fresh random run id (16 hex digits).
std::string new_run_id();

}  // namespace lv
