#pragma once
/// The counters of document records: what doc_worker puts in its shard report's "summary" and
/// "per_class" blocks (the orchestrator adds them up without knowing their names).
#include <memory>

#include "report.h"

namespace lv {

/// A counter of document records:
///   summary {total_documents, correct, mislabeled, uncertain, unlabeled, classified, embedded,
///            errors, truncated}
///   per_class {label: {documents, correct, mislabeled, uncertain}} for verified documents
///            (keyed by their label), {predicted: {documents}} for classified ones.
/// A record's "verdict" picks its counter; "error" (or a non-empty "error" field) counts in
/// errors; "truncated": true counts in truncated as well.
std::unique_ptr<RecordCounter> document_counter();

/// How doc_worker lays out its shard report: records under "items", document_counter().
ReportLayout document_report_layout();

}  // namespace lv
