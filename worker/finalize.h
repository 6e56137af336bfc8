#pragma once
/// `image_worker --finalize --config C --output-dir OUT`: the adaptive policy's pass over a
/// merged run (verification.policy: adaptive, adaptive.h). The orchestrator calls it after a
/// complete merge whose report says "finalize": true, and again on --merge-only.
///
/// It reads OUT/verification_report.json, takes the per-class thresholds t_j from every box
/// judged on its scores, judges those boxes again (judge_adaptive) and moves each image whose
/// verdict changed to its new verdict folder, with its labels/ (corrected when mislabeled),
/// labels_original/ and debug image made to match, reading the label files and images from
/// the input root again. The report is written last (atomically) with the new verdicts, the
/// summary counted again, "policy" {name, thresholds} in its header and, on each box whose
/// verdict the policy changed, "fixed" {verdict, reason, suggested}: the fixed rule's. Run
/// again (after a kill, or on an already finalized report) it gives the same tree and report.
#include <atomic>
#include <filesystem>

#include "config.h"
#include "exit_code.h"

namespace lv {

/// Throws lv::Error naming the file when the report cannot be read or is not a finalizable
/// image report, or when an image's files cannot be moved (what was moved stays consistent:
/// run it again).
ExitCode finalize_run(const Config& config, const std::filesystem::path& output_dir, const std::atomic<bool>& stop);

}  // namespace lv
