// The text demo's configs against the trainer: the worker must tokenize as training did.
#include "catch.h"
#include "config.h"
#include "doc_training.h"

TEST_CASE("the text demo's verify and embed configs load and tokenize as train_doc_model trains", "[doc_demo]") {
  const lv::demo::DocTrainOptions trained;
  for (const char* name : {"demo_documents.yaml", "demo_documents_embed.yaml"}) {
    INFO(name);
    const lv::Config c = lv::load_config(std::string(LV_SOURCE_DIR "/configs/") + name);
    CHECK(c.task == (std::string(name) == "demo_documents.yaml" ? lv::Task::verify : lv::Task::embed));
    CHECK(c.model.type == lv::ModelType::text);
    CHECK(c.model.tokenizer == lv::Tokenizer::hashed);
    CHECK(c.model.hash_buckets == trained.buckets);
    CHECK(c.model.hash_bigrams == trained.bigrams);
    CHECK(c.model.max_length == trained.max_length);
    CHECK(c.input.documents.filename() == "test.jsonl");
    CHECK(c.worker.executable == "doc_worker");
  }
}
