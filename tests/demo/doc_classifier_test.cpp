// The text demo's TorchScript export, on an untrained network (no real training here).
#include "doc_classifier.h"

#include <nlohmann/json.hpp>

#include "catch.h"
#include "doc_dataset.h"
#include "hashed_tokenizer.h"
#include "test_util.h"

using lv::demo::DocExport;
using lv::demo::DocNet;

namespace {

const std::vector<std::string> kNames(lv::demo::kDocTopics.begin(), lv::demo::kDocTopics.end());

/// An untrained network with weights far from its zero-initialised output layer.
DocNet scrambled_net(int64_t buckets, int64_t dim) {
  torch::manual_seed(3);
  DocNet net(buckets, dim, static_cast<int64_t>(kNames.size()));
  torch::NoGradGuard no_grad;
  net->embedding->weight.normal_();
  net->fc->weight.normal_();
  net->fc->bias.normal_();
  net->eval();
  return net;
}

std::pair<torch::Tensor, torch::Tensor> flat(const std::vector<std::vector<int64_t>>& docs) {
  std::vector<int64_t> ids, offsets;
  for (const auto& d : docs) {
    offsets.push_back(static_cast<int64_t>(ids.size()));
    ids.insert(ids.end(), d.begin(), d.end());
  }
  return {torch::tensor(ids, torch::kLong), torch::tensor(offsets, torch::kLong)};
}

}  // namespace

TEST_CASE("the exported classifier and encoder compute on padded batches what the network computes", "[doc_classifier]") {
  lv::test::TempDir dir;
  const int64_t buckets = 1024, dim = 8;
  DocNet net = scrambled_net(buckets, dim);
  const lv::HashedTokenizer tokenizer{buckets, true};
  // Different lengths, so most rows carry padding; one document has no token at all.
  const std::vector<std::vector<int64_t>> docs = {tokenizer.encode("A chess engine for the console", 256),
                                                  tokenizer.encode("mail", 256), {},
                                                  tokenizer.encode("a b c d e f g h i j k l m n o p", 256)};
  const lv::demo::DocTokenizerConfig config{buckets, true, 256};
  for (const auto kind : {DocExport::classifier, DocExport::encoder}) {
    const auto file = dir / (kind == DocExport::classifier ? "c.pt" : "e.pt");
    lv::demo::save_doc_model(lv::demo::export_doc_torchscript(net, kind, kNames),
                             lv::demo::doc_model_config_json(kind, kNames, config, dim), file);
    torch::jit::Module reloaded = torch::jit::load(file.string());
    reloaded.eval();
    torch::NoGradGuard no_grad;
    auto [input_ids, attention_mask] = lv::demo::pad_batch(docs);
    REQUIRE(input_ids.sizes() == torch::IntArrayRef({4, 31}));  // 16 words + 15 bigrams
    const torch::Tensor out = reloaded.forward({input_ids, attention_mask}).toTensor();
    auto [ids, offsets] = flat(docs);
    if (kind == DocExport::classifier) {
      REQUIRE(out.sizes() == torch::IntArrayRef({4, 12}));
      CHECK((out - net->forward(ids, offsets)).abs().max().item<double>() < 1e-5);
      // The empty document gets the bias alone.
      CHECK((out[2] - net->fc->bias).abs().max().item<double>() < 1e-6);
    } else {
      REQUIRE(out.sizes() == torch::IntArrayRef({4, dim}));
      const torch::Tensor mean = net->embed(ids, offsets);
      const torch::Tensor norms = out.norm(2, 1);
      CHECK((norms.narrow(0, 0, 2) - 1).abs().max().item<double>() < 1e-5);
      CHECK(norms[2].item<double>() == 0.0);  // no token: the zero vector stays zero
      const torch::Tensor expected = mean[0] / mean[0].norm();
      CHECK((out[0] - expected).abs().max().item<double>() < 1e-5);
    }
  }
}

TEST_CASE("config.txt carries the class names as the image demo writes them and the tokenizer settings", "[doc_classifier]") {
  lv::test::TempDir dir;
  DocNet net = scrambled_net(64, 4);
  const auto file = dir / "models" / "doc_classifier.pt";
  lv::demo::save_doc_model(lv::demo::export_doc_torchscript(net, DocExport::classifier, kNames),
                           lv::demo::doc_model_config_json(DocExport::classifier, kNames, {262144, true, 256}, 4), file);
  torch::jit::ExtraFilesMap extra{{"config.txt", ""}};
  torch::jit::load(file.string(), torch::kCPU, extra);
  const auto config = nlohmann::json::parse(extra.at("config.txt"));
  CHECK(config["names"]["0"] == "devel");
  CHECK(config["names"]["11"] == "math");
  CHECK(config["names"].size() == 12);
  CHECK(config["task"] == "classify");
  CHECK(config["tokenizer"] == "hashed");
  CHECK(config["hash_buckets"] == 262144);
  CHECK(config["hash_bigrams"] == true);
  CHECK(config["max_length"] == 256);
  CHECK(config["embedding_dim"] == 4);
  const auto encoder = nlohmann::json::parse(lv::demo::doc_model_config_json(DocExport::encoder, kNames, {}, 4));
  CHECK(encoder["task"] == "embed");
  CHECK(encoder["normalized"] == true);
  // Nothing but the model is left in the folder: the temporary was renamed.
  CHECK(std::distance(std::filesystem::directory_iterator(dir / "models"), std::filesystem::directory_iterator()) == 1);
}
