// The text demo's classifier: network, training loop, TorchScript export. The only
// translation unit of the text demo tools (besides its test) that includes LibTorch.
#include "doc_classifier.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "demo_random.h"
#include "doc_dataset.h"
#include "doc_training.h"
#include "error.h"
#include "hashed_tokenizer.h"

namespace lv::demo {

namespace fs = std::filesystem;

DocNetImpl::DocNetImpl(int64_t buckets, int64_t dim, int64_t num_classes) {
  embedding = register_module(
      "embedding", torch::nn::EmbeddingBag(torch::nn::EmbeddingBagOptions(buckets, dim).mode(torch::kMean).sparse(true)));
  fc = register_module("fc", torch::nn::Linear(dim, num_classes));
  // fastText's start: small random word vectors, a zero output layer.
  torch::NoGradGuard no_grad;
  embedding->weight.uniform_(-1.0 / static_cast<double>(dim), 1.0 / static_cast<double>(dim));
  fc->weight.zero_();
  fc->bias.zero_();
}

torch::Tensor DocNetImpl::embed(const torch::Tensor& ids, const torch::Tensor& offsets) {
  return embedding->forward(ids, offsets);  // [B, D]
}

torch::Tensor DocNetImpl::forward(const torch::Tensor& ids, const torch::Tensor& offsets) {
  return fc(embed(ids, offsets));  // [B, classes]
}

namespace {

// The padded-batch form of DocNet: EmbeddingBag's mean is the masked mean over real tokens.
constexpr const char* kClassifierForward = R"JIT(
def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    # input_ids, attention_mask: [B, L] int64; 0 ids are padding, mask 1 marks a token
    mask = attention_mask.float().unsqueeze(2)
    rows = torch.embedding(self.embedding_weight, input_ids)
    mean = (rows * mask).sum(1) / mask.sum(1).clamp_min(1.0)
    return torch.linear(mean, self.fc_weight, self.fc_bias)
)JIT";

constexpr const char* kEncoderForward = R"JIT(
def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    # input_ids, attention_mask: [B, L] int64; output [B, D], the masked mean L2-normalised
    mask = attention_mask.float().unsqueeze(2)
    rows = torch.embedding(self.embedding_weight, input_ids)
    mean = (rows * mask).sum(1) / mask.sum(1).clamp_min(1.0)
    return mean / torch.sqrt((mean * mean).sum(1, keepdim=True)).clamp_min(1e-12)
)JIT";

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// Fisher-Yates with the demo's portable generator.
void shuffle(std::vector<size_t>& v, Rng& rng) {
  for (int i = static_cast<int>(v.size()) - 1; i > 0; --i)
    std::swap(v[static_cast<size_t>(i)], v[static_cast<size_t>(rng.uniform_int(0, i))]);
}

/// The EmbeddingBag inputs of docs[order[begin..end)]: flat ids and each doc's offset.
std::pair<torch::Tensor, torch::Tensor> flat_batch(const std::vector<std::vector<int64_t>>& docs,
                                                   const std::vector<size_t>& order, size_t begin, size_t end) {
  std::vector<int64_t> ids, offsets;
  for (size_t k = begin; k < end; ++k) {
    offsets.push_back(static_cast<int64_t>(ids.size()));
    const auto& d = docs[order[k]];
    ids.insert(ids.end(), d.begin(), d.end());
  }
  return {torch::tensor(ids, torch::kLong), torch::tensor(offsets, torch::kLong)};
}

/// Softmax probabilities of every doc, in order.
std::vector<std::vector<float>> predict(DocNet& net, const std::vector<std::vector<int64_t>>& docs) {
  torch::NoGradGuard no_grad;
  std::vector<size_t> order(docs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::vector<std::vector<float>> out;
  for (size_t begin = 0; begin < docs.size(); begin += 512) {
    const size_t end = std::min(docs.size(), begin + 512);
    auto [ids, offsets] = flat_batch(docs, order, begin, end);
    const torch::Tensor p = torch::softmax(net->forward(ids, offsets), 1).contiguous();  // [B, C]
    const float* data = p.data_ptr<float>();
    for (int64_t i = 0; i < p.size(0); ++i) out.emplace_back(data + i * p.size(1), data + (i + 1) * p.size(1));
  }
  return out;
}

double accuracy(const std::vector<std::vector<float>>& probs, const std::vector<int>& labels) {
  int64_t right = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const auto best = std::max_element(probs[i].begin(), probs[i].end()) - probs[i].begin();
    right += best == labels[i] ? 1 : 0;
  }
  return probs.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(probs.size());
}

/// The confusion matrix of argmax predictions, one row per true class.
std::string confusion_text(const std::vector<std::vector<float>>& probs, const std::vector<int>& labels,
                           const std::vector<std::string>& names) {
  std::vector<std::vector<int64_t>> confusion(names.size(), std::vector<int64_t>(names.size(), 0));
  for (size_t i = 0; i < probs.size(); ++i) {
    const auto best = std::max_element(probs[i].begin(), probs[i].end()) - probs[i].begin();
    ++confusion[static_cast<size_t>(labels[i])][static_cast<size_t>(best)];
  }
  std::string out = fmt::format("test confusion (rows: true topic; columns: predicted, in the same order)");
  for (size_t r = 0; r < names.size(); ++r) {
    out += fmt::format("\n  {:<9}", names[r]);
    for (size_t c = 0; c < names.size(); ++c) out += fmt::format(" {:>4}", confusion[r][c]);
  }
  return out;
}

/// max |reloaded(file) - expected| on a padded batch.
double export_difference(const fs::path& file, const std::vector<std::vector<int64_t>>& docs, const torch::Tensor& expected) {
  torch::jit::Module reloaded = torch::jit::load(file.string());
  reloaded.eval();
  auto [input_ids, attention_mask] = pad_batch(docs);
  const torch::Tensor again = reloaded.forward({input_ids, attention_mask}).toTensor();
  if (again.sizes() != expected.sizes())
    throw Error(ExitCode::failed, fmt::format("{}: the reloaded TorchScript gives shape {}, expected {}", file.string(),
                                              fmt::join(again.sizes(), "x"), fmt::join(expected.sizes(), "x")));
  return (again - expected).abs().max().item<double>();
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> pad_batch(const std::vector<std::vector<int64_t>>& docs) {
  size_t longest = 0;
  for (const auto& d : docs) longest = std::max(longest, d.size());
  const auto b = static_cast<int64_t>(docs.size()), l = static_cast<int64_t>(longest);
  torch::Tensor ids = torch::zeros({b, l}, torch::kLong), mask = torch::zeros({b, l}, torch::kLong);  // [B, L]
  auto id = ids.accessor<int64_t, 2>();
  auto m = mask.accessor<int64_t, 2>();
  for (size_t i = 0; i < docs.size(); ++i) {
    for (size_t k = 0; k < docs[i].size(); ++k) {
      id[static_cast<int64_t>(i)][static_cast<int64_t>(k)] = docs[i][k];
      m[static_cast<int64_t>(i)][static_cast<int64_t>(k)] = 1;
    }
  }
  return {ids, mask};
}

torch::jit::Module export_doc_torchscript(DocNet& net, DocExport kind, const std::vector<std::string>& class_names) {
  torch::NoGradGuard no_grad;
  torch::jit::Module m(kind == DocExport::classifier ? "DocClassifier" : "DocEncoder");
  m.register_parameter("embedding_weight", net->embedding->weight.detach().clone(), false);  // [buckets, D]
  if (kind == DocExport::classifier) {
    m.register_parameter("fc_weight", net->fc->weight.detach().clone(), false);  // [C, D]
    m.register_parameter("fc_bias", net->fc->bias.detach().clone(), false);      // [C]
  }
  c10::List<std::string> names;
  for (const auto& n : class_names) names.push_back(n);
  m.register_attribute("names", c10::ListType::ofStrings(), names);
  m.define(kind == DocExport::classifier ? kClassifierForward : kEncoderForward);
  m.eval();
  return m;
}

std::string doc_model_config_json(DocExport kind, const std::vector<std::string>& class_names,
                                  const DocTokenizerConfig& tokenizer, int64_t dim) {
  nlohmann::json names = nlohmann::json::object();
  for (size_t i = 0; i < class_names.size(); ++i) names[std::to_string(i)] = class_names[i];
  const bool classifier = kind == DocExport::classifier;
  const nlohmann::json j = {
      {"task", classifier ? "classify" : "embed"},
      {"names", names},
      {"tokenizer", "hashed"},
      {"hash_buckets", tokenizer.buckets},
      {"hash_bigrams", tokenizer.bigrams},
      {"max_length", tokenizer.max_length},
      {"embedding_dim", dim},
      {"normalized", !classifier},
      {"input", "input_ids [B, L] int64 (HashedTokenizer ids, 0 = padding), attention_mask [B, L] int64 (1 = token)"},
      {"output", classifier ? "[B, classes] logits" : "[B, embedding_dim] float32, masked mean embedding, L2-normalised"},
  };
  return j.dump();
}

void save_doc_model(const torch::jit::Module& module, const std::string& config_json, const fs::path& file) {
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  // Saved through a stream, the archive's inner folder is "archive" whatever the temporary
  // file is called, so the same seed gives the same bytes.
  try {
    write_file_atomic(file, [&](std::ostream& out) { module.save(out, {{"config.txt", config_json}}); });
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ExitCode::failed, fmt::format("{}: cannot save the model: {}", file.string(), e.what()));
  }
}

DocTrainResult train_doc_model(const DocTrainOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  torch::set_num_threads(o.threads);
  torch::manual_seed(o.seed);
  const std::vector<std::string> names(kDocTopics.begin(), kDocTopics.end());

  // Data: train minus a held-out part (whole sources) for the thresholds; test with its true labels.
  const std::vector<Doc> train_file = read_doc_jsonl(o.data_dir / "train.jsonl");
  std::vector<Doc> test = read_doc_jsonl(o.data_dir / "test.jsonl");
  std::unordered_map<std::string, int> true_label;
  for (const auto& t : read_doc_truth(o.data_dir / "truth.jsonl")) true_label[t.id] = doc_topic_index(t.true_label);
  for (auto& d : test) {
    const auto it = true_label.find(d.id);
    if (it == true_label.end())
      throw Error(ExitCode::input_unreadable, fmt::format("{}: '{}' is not in truth.jsonl", (o.data_dir / "test.jsonl").string(), d.id));
    d.true_label = it->second;
  }
  const std::vector<bool> held_out = hold_out_by_source(train_file, o.validation_fraction, o.seed, 3);
  const HashedTokenizer tokenizer{o.buckets, o.bigrams};
  std::vector<std::vector<int64_t>> train_ids, validation_ids, test_ids;
  std::vector<int> train_labels, validation_labels, test_labels;
  for (size_t i = 0; i < train_file.size(); ++i) {
    auto ids = tokenizer.encode(train_file[i].text, static_cast<size_t>(o.max_length));
    (held_out[i] ? validation_ids : train_ids).push_back(std::move(ids));
    (held_out[i] ? validation_labels : train_labels).push_back(train_file[i].label);
  }
  for (const auto& d : test) {
    test_ids.push_back(tokenizer.encode(d.text, static_cast<size_t>(o.max_length)));
    test_labels.push_back(d.true_label);
  }
  DocTrainResult result;
  result.train_docs = static_cast<int64_t>(train_ids.size());
  result.validation_docs = static_cast<int64_t>(validation_ids.size());
  result.test_docs = static_cast<int64_t>(test_ids.size());
  log(fmt::format("{} training docs, {} held out for the thresholds, {} test docs; tokenized in {:.1f} s",
                  result.train_docs, result.validation_docs, result.test_docs, seconds_since(start)));

  // Training: Adagrad, which takes the table's sparse gradients (a step touches only the rows
  // of the batch's tokens, so a step costs the batch, not the 2^18-row table); learning rate
  // decayed linearly to zero.
  const auto train_start = std::chrono::steady_clock::now();
  DocNet net(o.buckets, o.dim, static_cast<int64_t>(names.size()));
  torch::optim::Adagrad optimizer(net->parameters(), torch::optim::AdagradOptions(o.learning_rate));
  std::vector<size_t> order(train_ids.size());
  std::iota(order.begin(), order.end(), size_t{0});
  const auto batch = static_cast<size_t>(o.batch_size);
  const int64_t steps_per_epoch = static_cast<int64_t>((order.size() + batch - 1) / batch);
  const int64_t total_steps = steps_per_epoch * o.epochs;
  int64_t step = 0;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    net->train();
    Rng rng(o.seed, 1000 + static_cast<uint64_t>(epoch));
    shuffle(order, rng);
    double loss_sum = 0;
    const auto epoch_start = std::chrono::steady_clock::now();
    for (size_t begin = 0; begin < order.size(); begin += batch, ++step) {
      const size_t end = std::min(order.size(), begin + batch);
      auto [ids, offsets] = flat_batch(train_ids, order, begin, end);
      std::vector<int64_t> y;
      for (size_t k = begin; k < end; ++k) y.push_back(train_labels[order[k]]);
      const double lr = o.learning_rate * (1.0 - static_cast<double>(step) / static_cast<double>(total_steps));
      static_cast<torch::optim::AdagradOptions&>(optimizer.param_groups()[0].options()).lr(lr);
      optimizer.zero_grad();
      const torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(ids, offsets), torch::tensor(y, torch::kLong));
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * static_cast<double>(end - begin);
    }
    net->eval();
    log(fmt::format("epoch {}/{}: loss {:.4f}, held-out accuracy {:.4f}  [{:.1f} s]", epoch + 1, o.epochs,
                    loss_sum / static_cast<double>(order.size()), accuracy(predict(net, validation_ids), validation_labels),
                    seconds_since(epoch_start)));
  }
  result.train_seconds = seconds_since(train_start);

  // Held-out thresholds, test accuracy on the true labels.
  net->eval();
  const auto validation_probs = predict(net, validation_ids);
  result.validation_accuracy = accuracy(validation_probs, validation_labels);
  if (!validation_probs.empty())
    result.thresholds = choose_thresholds(validation_probs, validation_labels, o.noise, o.seed, o.max_uncertain);
  const auto test_probs = predict(net, test_ids);
  result.test_accuracy = accuracy(test_probs, test_labels);
  log(confusion_text(test_probs, test_labels, names));

  // Export, reload, compare on a padded batch of test docs (short and long ones, padding included).
  const DocTokenizerConfig tokenizer_config{o.buckets, o.bigrams, o.max_length};
  save_doc_model(export_doc_torchscript(net, DocExport::classifier, names),
                 doc_model_config_json(DocExport::classifier, names, tokenizer_config, o.dim), o.classifier_out);
  save_doc_model(export_doc_torchscript(net, DocExport::encoder, names),
                 doc_model_config_json(DocExport::encoder, names, tokenizer_config, o.dim), o.encoder_out);
  std::vector<std::vector<int64_t>> check(test_ids.begin(), test_ids.begin() + std::min<size_t>(64, test_ids.size()));
  check.push_back({});  // a document without tokens
  {
    torch::NoGradGuard no_grad;
    std::vector<size_t> all(check.size());
    std::iota(all.begin(), all.end(), size_t{0});
    auto [ids, offsets] = flat_batch(check, all, 0, check.size());
    const torch::Tensor logits = net->forward(ids, offsets);
    const torch::Tensor mean = net->embed(ids, offsets);
    const torch::Tensor unit = mean / mean.norm(2, 1, true).clamp_min(1e-12);
    result.export_max_diff = std::max(export_difference(o.classifier_out, check, logits),
                                      export_difference(o.encoder_out, check, unit));
  }
  if (!(result.export_max_diff < 1e-4))
    throw Error(ExitCode::failed, fmt::format("{}, {}: the reloaded TorchScript differs from the trained network by {}",
                                              o.classifier_out.string(), o.encoder_out.string(), result.export_max_diff));
  result.classifier_bytes = static_cast<int64_t>(fs::file_size(o.classifier_out));
  result.encoder_bytes = static_cast<int64_t>(fs::file_size(o.encoder_out));
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace lv::demo
