#pragma once
/// `orchestrator --apply-fixes decisions.json` (issue 12): the corrections a person accepted on
/// the review page, written into the dataset's own label files, with a backup of every file it
/// changes; `--dry-run` prints the diff instead; `--undo-fixes DIR` puts a backup back.
///
/// What an accepted decision does, from the report's record of the box: a suggested class
/// replaces the line's class; a suggested box (bad_location) its coordinates; a spurious or
/// duplicate box loses its line; an accepted missing box is appended as a new line. Rejected
/// and skipped decisions change nothing. A label file whose bytes differ from what the run
/// read (the report's label_hash) is refused by name, and then nothing is written at all.
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace lv {

struct ApplyFixesOptions {
  std::filesystem::path decisions;    ///< decisions.json, as the review page exports it
  std::filesystem::path output_dir;   ///< the run's output: its report and owner record
  std::filesystem::path input_root;   ///< what the report's label_file paths are relative to
  std::filesystem::path backup_root;  ///< backups go to <backup_root>/<time>/ (the work dir's fixes/)
  bool dry_run = false;
};

struct ApplyFixesResult {
  int files = 0;                      ///< label files changed (or, dry run, that would be)
  int lines_changed = 0, lines_removed = 0, lines_added = 0;
  int not_applicable = 0;             ///< accepted decisions with nothing to write (no suggestion)
  std::filesystem::path backup;       ///< where the originals went ("" for a dry run)
};

/// Applies the accepted decisions; prints the diff (dry run) or what it changed to `out`.
/// Throws lv::Error naming the file, the decision or the label file that stops it; nothing
/// is written then.
ApplyFixesResult apply_fixes(const ApplyFixesOptions& options, std::ostream& out);

/// Restores the label files of one backup (a folder apply_fixes made), each only while it
/// still holds what apply_fixes wrote (else lv::Error naming it, nothing restored). Returns
/// how many files it restored.
int undo_fixes(const std::filesystem::path& backup, const std::filesystem::path& input_root, std::ostream& out);

}  // namespace lv
