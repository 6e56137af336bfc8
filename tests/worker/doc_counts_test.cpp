#include "doc_counts.h"

#include <nlohmann/json.hpp>

#include "worker_catch.h"

using nlohmann::json;

TEST_CASE("document counter: verdicts, errors, truncated texts and per-class counts", "[docs]") {
  const auto counter = lv::document_counter();
  counter->add({{"verdict", "correct"}, {"label", "a"}, {"error", nullptr}});
  counter->add({{"verdict", "mislabeled"}, {"label", "a"}, {"suggested", "b"}, {"error", nullptr}, {"truncated", true}});
  counter->add({{"verdict", "uncertain"}, {"label", "b"}, {"error", nullptr}});
  counter->add({{"verdict", "something new"}, {"label", "b"}});  // needs a person's look: uncertain
  counter->add({{"verdict", "unlabeled"}, {"label", nullptr}, {"predicted", "a"}});
  counter->add({{"verdict", "error"}, {"label", "a"}, {"error", "empty text"}});
  counter->add({{"verdict", "classified"}, {"predicted", "c"}});
  counter->add({{"verdict", "classified"}, {"predicted", "c"}});
  counter->add({{"verdict", "embedded"}, {"row", 0}});
  CHECK(counter->summary() == json{{"total_documents", 9}, {"correct", 1}, {"mislabeled", 1}, {"uncertain", 2},
                                   {"unlabeled", 1}, {"classified", 2}, {"embedded", 1}, {"errors", 1},
                                   {"truncated", 1}});
  CHECK(counter->per_class() == json{{"a", {{"documents", 2}, {"correct", 1}, {"mislabeled", 1}}},
                                     {"b", {{"documents", 2}, {"uncertain", 2}}},
                                     {"c", {{"documents", 2}}}});
  CHECK(lv::document_report_layout().records_key == "items");
}
