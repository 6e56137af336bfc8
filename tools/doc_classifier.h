#pragma once
/// The text demo's topic classifier: a bag of hashed words and word bigrams
/// (lv::HashedTokenizer ids), built and exported to TorchScript in C++ (no Python).
///
/// Inputs  input_ids      [B, L] int64, ids in [1, buckets), 0 = padding
///         attention_mask [B, L] int64, 1 for a token, 0 for padding
/// Model   embedding table [buckets, D]; the masked mean of the tokens' rows [B, D]; then
///         linear D -> classes. A document without tokens has the zero mean.
/// Outputs classifier: [B, classes] logits (kDocTopics order); encoder: [B, D], the masked
///         mean L2-normalised (the zero vector stays zero).
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

namespace lv::demo {

struct DocNetImpl : torch::nn::Module {
  /// Table [buckets, dim] drawn uniformly in +-1/dim, output layer [num_classes, dim] zero (as fastText starts).
  DocNetImpl(int64_t buckets, int64_t dim, int64_t num_classes);
  /// Flat ids of a batch and the offset of each document's first id (EmbeddingBag layout)
  /// -> [B, D] mean of each document's rows.
  torch::Tensor embed(const torch::Tensor& ids, const torch::Tensor& offsets);
  /// The same -> [B, classes] logits.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& offsets);

  torch::nn::EmbeddingBag embedding{nullptr};  ///< sparse gradients: a step touches only the rows used
  torch::nn::Linear fc{nullptr};               ///< D -> classes
};
TORCH_MODULE(DocNet);

/// What the exported module computes.
enum class DocExport { classifier, encoder };

/// A TorchScript module with `forward(self, input_ids: Tensor, attention_mask: Tensor) ->
/// Tensor`, defined with torch::jit::Module::define, computing what `net` computes
/// (classifier) or its L2-normalised mean embedding (encoder) on padded batches.
torch::jit::Module export_doc_torchscript(DocNet& net, DocExport kind, const std::vector<std::string>& class_names);

/// The tokenizer settings saved in config.txt.
struct DocTokenizerConfig {
  int64_t buckets = 262144;
  bool bigrams = true;
  int max_length = 256;
};

/// config.txt of an exported file: JSON with "names" ({"0": name, ...}, as the image demo
/// and Ultralytics write them), "task" ("classify" or "embed"), "tokenizer": "hashed",
/// "hash_buckets", "hash_bigrams", "max_length", "embedding_dim", "normalized" (encoder
/// outputs L2-normalised) and the input and output layouts in words.
std::string doc_model_config_json(DocExport kind, const std::vector<std::string>& class_names,
                                  const DocTokenizerConfig& tokenizer, int64_t dim);

/// Saves `module` with `config_json` as config.txt to `file` with write_file_atomic (folders
/// created); the same module gives the same bytes. Throws lv::Error (failed) naming the file.
void save_doc_model(const torch::jit::Module& module, const std::string& config_json, const std::filesystem::path& file);

/// Documents' ids padded to their longest: {input_ids [B, L] int64, attention_mask [B, L] int64}.
std::pair<torch::Tensor, torch::Tensor> pad_batch(const std::vector<std::vector<int64_t>>& docs);

}  // namespace lv::demo
