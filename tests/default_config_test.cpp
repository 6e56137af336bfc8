// configs/default.yaml documents every key: it must load, and hold exactly the defaults.
#include "catch.h"
#include "config.h"

TEST_CASE("configs/default.yaml loads and matches the built-in defaults", "[config]") {
  const lv::Config c = lv::load_config(LV_SOURCE_DIR "/configs/default.yaml");
  const lv::Config d;  // the defaults in config.h
  CHECK(c.task == d.task);
  CHECK(c.input.documents.empty());
  CHECK(c.model.tokenizer == d.model.tokenizer);
  CHECK(c.model.vocab.empty());
  CHECK(c.model.max_length == d.model.max_length);
  CHECK(c.model.hash_buckets == d.model.hash_buckets);
  CHECK(c.model.hash_bigrams == d.model.hash_bigrams);
  CHECK(c.model.pooling == d.model.pooling);
  CHECK(c.processing.max_document_bytes == d.processing.max_document_bytes);
  CHECK(c.report.top_k == d.report.top_k);
  CHECK(c.output.debug_images == d.output.debug_images);
  CHECK(c.output.link_mode == d.output.link_mode);
  CHECK(c.output.review == d.output.review);
  CHECK(c.model.type == d.model.type);
  CHECK(c.model.input_size == d.model.input_size);
  CHECK(c.model.input_size_line == 0);  // auto: the model's own size (an export's imgsz)
  CHECK(c.model.crop_margin == d.model.crop_margin);
  CHECK(c.model.mean == d.model.mean);
  CHECK(c.model.std == d.model.std);
  CHECK(c.model.nms_iou == d.model.nms_iou);
  CHECK(c.model.conf_threshold == d.model.conf_threshold);
  CHECK(c.verification.correct_threshold == d.verification.correct_threshold);
  CHECK(c.verification.mislabel_threshold == d.verification.mislabel_threshold);
  CHECK(c.verification.iou_threshold == d.verification.iou_threshold);
  CHECK(c.verification.missing_threshold == d.verification.missing_threshold);
  CHECK(c.verification.location_min_iou == d.verification.location_min_iou);
  CHECK(c.verification.background_threshold == d.verification.background_threshold);
  CHECK(c.verification.policy == d.verification.policy);
  CHECK(c.autolabel.conf_threshold == d.autolabel.conf_threshold);
  CHECK(c.report.include_predictions == d.report.include_predictions);
  CHECK(c.input.image_folders.empty());
  CHECK(c.processing.batch_size == d.processing.batch_size);
  CHECK(c.processing.num_threads == d.processing.num_threads);
  CHECK(c.processing.fp16 == d.processing.fp16);
  CHECK(c.processing.max_image_pixels == d.processing.max_image_pixels);
  CHECK(c.processing.decode_threads == d.processing.decode_threads);
  CHECK(c.report.include_probabilities == d.report.include_probabilities);
  CHECK(c.worker.executable == d.worker.executable);
  CHECK(c.orchestrator.stall_timeout_s == d.orchestrator.stall_timeout_s);
  CHECK(c.orchestrator.startup_timeout_s == d.orchestrator.startup_timeout_s);
  CHECK(c.orchestrator.stop_grace_s == d.orchestrator.stop_grace_s);
  CHECK(c.orchestrator.max_retries == d.orchestrator.max_retries);
  CHECK(c.orchestrator.status_interval_s == d.orchestrator.status_interval_s);
  CHECK(c.orchestrator.balance == d.orchestrator.balance);
  CHECK(c.orchestrator.launcher == d.orchestrator.launcher);
  CHECK(c.slurm.tasks == d.slurm.tasks);
  CHECK(c.slurm.partition == d.slurm.partition);
  CHECK(c.slurm.account == d.slurm.account);
  CHECK(c.slurm.qos == d.slurm.qos);
  CHECK(c.slurm.time_limit == d.slurm.time_limit);
  CHECK(c.slurm.gres == d.slurm.gres);
  CHECK(c.slurm.cpus_per_task == d.slurm.cpus_per_task);
  CHECK(c.slurm.memory == d.slurm.memory);
  CHECK(c.slurm.max_concurrent == d.slurm.max_concurrent);
  CHECK(c.slurm.sbatch_args == d.slurm.sbatch_args);
}
