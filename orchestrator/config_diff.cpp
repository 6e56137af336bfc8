#include "config_diff.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

namespace lv {

std::map<std::string, std::string> flatten_config(const Config& c) {
  const auto text = [](const auto& v) { return fmt::format("{}", v); };
  std::string aliases;
  std::string folders;
  for (const auto& f : c.input.image_folders) folders += (folders.empty() ? "" : ",") + f.string();
  for (const auto& [name, targets] : c.model.aliases) aliases += fmt::format("{}:{};", name, fmt::join(targets, ","));
  return {
      {"task", std::string(to_string(c.task))},
      {"input.images", c.input.image_folders.empty() ? c.input.images.string()
                                                     : "[" + folders + "]"},
      {"input.documents", c.input.documents.string()},
      {"input.root", c.input.root.string()},
      {"input.classes", c.input.classes.empty() ? c.input.classes_file.string()
                                                : fmt::format("[{}]", fmt::join(c.input.classes, ","))},
      {"output.dir", c.output.dir.string()},
      {"output.debug_images", std::string(to_string(c.output.debug_images))},
      {"output.review", text(c.output.review)},
      {"output.link_mode", std::string(to_string(c.output.link_mode))},
      {"model.path", c.model.path.string()},
      {"model.type", std::string(to_string(c.model.type))},
      // auto is the model's own size (its export's imgsz), which may differ from 64.
      {"model.input_size", c.model.input_size_line > 0 ? text(c.model.input_size) : "auto"},
      {"model.class_names", fmt::format("[{}]", fmt::join(c.model.class_names, ","))},
      {"model.aliases", aliases},
      {"model.crop_margin", text(c.model.crop_margin)},
      {"model.mean", fmt::format("{}", fmt::join(c.model.mean, ","))},
      {"model.std", fmt::format("{}", fmt::join(c.model.std, ","))},
      {"model.nms_iou", text(c.model.nms_iou)},
      {"model.conf_threshold", text(c.model.conf_threshold)},
      {"model.tokenizer", std::string(to_string(c.model.tokenizer))},
      {"model.vocab", c.model.vocab.string()},
      {"model.max_length", text(c.model.max_length)},
      {"model.hash_buckets", text(c.model.hash_buckets)},
      {"model.hash_bigrams", text(c.model.hash_bigrams)},
      {"model.pooling", std::string(to_string(c.model.pooling))},
      {"verification.correct_threshold", text(c.verification.correct_threshold)},
      {"verification.mislabel_threshold", text(c.verification.mislabel_threshold)},
      {"verification.iou_threshold", text(c.verification.iou_threshold)},
      {"verification.location_min_iou", text(c.verification.location_min_iou)},
      {"verification.background_threshold", text(c.verification.background_threshold)},
      {"verification.missing_threshold", text(c.verification.missing_threshold)},
      {"verification.policy", std::string(to_string(c.verification.policy))},
      {"autolabel.conf_threshold", text(c.autolabel.conf_threshold)},
      {"processing.batch_size", text(c.processing.batch_size)},
      {"processing.num_threads", text(c.processing.num_threads)},
      {"processing.fp16", text(c.processing.fp16)},
      {"processing.max_image_pixels", text(c.processing.max_image_pixels)},
      {"processing.decode_threads", text(c.processing.decode_threads)},
      {"processing.max_document_bytes", text(c.processing.max_document_bytes)},
      {"report.include_probabilities", text(c.report.include_probabilities)},
      {"report.include_predictions", text(c.report.include_predictions)},
      {"report.top_k", text(c.report.top_k)},
      {"worker.executable", c.worker.executable},
      {"worker.args", fmt::format("{}", fmt::join(c.worker.args, "\x1f"))},
      {"orchestrator.stall_timeout_s", text(c.orchestrator.stall_timeout_s)},
      {"orchestrator.startup_timeout_s", text(c.orchestrator.startup_timeout_s)},
      {"orchestrator.stop_grace_s", text(c.orchestrator.stop_grace_s)},
      {"orchestrator.max_retries", text(c.orchestrator.max_retries)},
      {"orchestrator.status_interval_s", text(c.orchestrator.status_interval_s)},
      {"orchestrator.balance", text(c.orchestrator.balance)},
      {"orchestrator.launcher", std::string(to_string(c.orchestrator.launcher))},
      {"slurm.tasks", text(c.slurm.tasks)},
      {"slurm.partition", c.slurm.partition},
      {"slurm.account", c.slurm.account},
      {"slurm.qos", c.slurm.qos},
      {"slurm.time_limit", c.slurm.time_limit},
      {"slurm.gres", c.slurm.gres},
      {"slurm.cpus_per_task", text(c.slurm.cpus_per_task)},
      {"slurm.memory", c.slurm.memory},
      {"slurm.max_concurrent", text(c.slurm.max_concurrent)},
      {"slurm.sbatch_args", fmt::format("{}", fmt::join(c.slurm.sbatch_args, "\x1f"))},
  };
}

bool key_changes_results(const std::string& key) {
  // How fast or with what resources the work runs does not change what it finds; fp16 is
  // counted here as the README says (verdicts near a threshold may flip; documented).
  static const char* const kHarmless[] = {
      "processing.batch_size", "processing.num_threads", "processing.fp16",  "processing.decode_threads",
      "output.link_mode",      "output.review",          "worker.args",            "orchestrator.",            "slurm.",
  };
  for (const char* prefix : kHarmless)
    if (key.rfind(prefix, 0) == 0) return false;
  return true;
}

ConfigChanges diff_configs(const Config& before, const Config& after) {
  ConfigChanges changes;
  const auto a = flatten_config(before), b = flatten_config(after);
  for (const auto& [key, value] : a) {
    if (b.at(key) == value) continue;
    (key_changes_results(key) ? changes.result : changes.harmless).push_back(key);
  }
  return changes;
}

}  // namespace lv
