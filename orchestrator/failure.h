#pragma once
/// What most likely made a shard fail, read from how it ended and the tail of its log.
#include <string>
#include <string_view>
#include <vector>

#include "launcher.h"

namespace lv {

enum class FailureKind { none, cuda_oom, model_load, killed_by_signal, stalled, timed_out, interrupted, other };
std::string_view to_string(FailureKind kind);

/// Why the orchestrator itself stopped a worker, if it did.
enum class StopReason { none, stalled, timed_out, interrupted };

/// Classifies a failed attempt. Our own stop reasons win; then the log tail (out of memory,
/// model load errors); then a terminating signal; else `other`.
FailureKind classify_failure(const ExitStatus& status, StopReason reason, const std::vector<std::string>& tail);

/// One line of advice for the user ("lower processing.batch_size ..."), or "".
std::string failure_hint(FailureKind kind, const ExitStatus& status);

}  // namespace lv
