#include "embedding_check.h"

#include <cmath>
#include <fstream>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "demo_random.h"
#include "error.h"
#include "npy.h"

namespace lv::demo {

namespace fs = std::filesystem;

namespace {

Error bad_input(const std::string& message) { return Error(ExitCode::input_unreadable, message); }

}  // namespace

FloatMatrix read_npy_float32_matrix(const fs::path& file) {
  const NpyInfo info = read_npy_header(file);
  if (info.descr != "<f4") throw bad_input(fmt::format("{}: dtype '{}' is not '<f4' (little-endian float32)", file.string(), info.descr));
  if (info.fortran_order) throw bad_input(fmt::format("{}: not in C order", file.string()));
  if (info.shape.size() != 2)
    throw bad_input(fmt::format("{}: shape ({}) is not 2-D", file.string(), fmt::join(info.shape, ", ")));
  FloatMatrix m;
  m.rows = info.shape[0];
  m.cols = info.shape[1];
  m.data.resize(static_cast<size_t>(m.rows * m.cols));
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(info.data_offset));
  if (!in.read(reinterpret_cast<char*>(m.data.data()), static_cast<std::streamsize>(m.data.size() * sizeof(float))))
    throw bad_input(fmt::format("{}: shorter than its shape ({}, {}) says", file.string(), m.rows, m.cols));
  return m;
}

std::vector<std::string> read_id_lines(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw bad_input(fmt::format("{}: cannot open", file.string()));
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

NeighbourAgreement nearest_neighbour_agreement(const FloatMatrix& e, const std::vector<int>& topics, size_t max_queries,
                                               uint64_t seed) {
  if (static_cast<int64_t>(topics.size()) != e.rows)
    throw usage_error(fmt::format("{} topics for {} embeddings", topics.size(), e.rows));
  const auto n = static_cast<size_t>(e.rows), d = static_cast<size_t>(e.cols);

  // Unit rows, so the dot product is the cosine.
  std::vector<float> unit(e.data);
  std::vector<bool> usable(n, false);
  for (size_t i = 0; i < n; ++i) {
    float* row = unit.data() + i * d;
    double norm = 0;
    for (size_t k = 0; k < d; ++k) norm += static_cast<double>(row[k]) * row[k];
    norm = std::sqrt(norm);
    usable[i] = norm > 0;
    for (size_t k = 0; k < d && usable[i]; ++k) row[k] = static_cast<float>(row[k] / norm);
  }

  NeighbourAgreement out;
  std::map<int, int64_t> per_topic;
  for (int t : topics) ++per_topic[t];
  for (const auto& [t, count] : per_topic) {
    const double share = static_cast<double>(count) / static_cast<double>(n);
    out.chance += share * share;
  }

  std::vector<size_t> queries(n);
  std::iota(queries.begin(), queries.end(), size_t{0});
  if (max_queries > 0 && n > max_queries) {
    Rng rng(seed);
    for (size_t i = 0; i < max_queries; ++i)  // partial Fisher-Yates: the first max_queries are the sample
      std::swap(queries[i], queries[i + static_cast<size_t>(rng.uniform_int(0, static_cast<int>(n - i - 1)))]);
    queries.resize(max_queries);
  }
  for (size_t q : queries) {
    if (!usable[q]) continue;
    const float* a = unit.data() + q * d;
    size_t best = n;
    float best_sim = -2;
    for (size_t j = 0; j < n; ++j) {
      if (j == q || !usable[j]) continue;
      const float* b = unit.data() + j * d;
      float sim = 0;
      for (size_t k = 0; k < d; ++k) sim += a[k] * b[k];
      if (sim > best_sim) best_sim = sim, best = j;
    }
    if (best == n) continue;
    ++out.queries;
    if (topics[best] == topics[q]) ++out.same_topic;
  }
  return out;
}

}  // namespace lv::demo
