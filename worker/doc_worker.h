#pragma once
/// The document worker's run (DESIGN §6 protocol, issue 8): documents of one shard in, verdicts
/// (task verify), top-k labels (classify) or vectors (embed) out, journal and shard report as
/// every worker writes them (worker_kit.h).
#include <atomic>

#include "config.h"
#include "exit_code.h"
#include "model.h"
#include "worker_kit.h"

namespace lv {

/// Processes one shard of `config.input.documents`. Returns ok when every item has a record
/// (bad documents included, as errors), interrupted when `stop` was set (the journal then
/// holds every finished item). At the end writes, in input order, the shard's files that the
/// orchestrator concatenates across shards (`concat/`): verify `correct.jsonl`,
/// `mislabeled.jsonl`, `uncertain.jsonl`, `unlabeled.jsonl`, `errors.jsonl` and
/// `documents_corrected.jsonl`; classify `classified.jsonl`; embed `embeddings.npy` and
/// `embeddings_ids.txt`. Throws lv::Error for usage (2), model (3) and unreadable-input (4)
/// failures before any item is processed.
/// The text model of `config` as a run loads it (its classes, its tokenizer's largest id), for
/// the batch-size finder.
std::unique_ptr<TextModel> load_doc_model(const Config& config);

ExitCode run_doc_worker(const Config& config, const WorkerArgs& args, const std::atomic<bool>& stop);

}  // namespace lv
