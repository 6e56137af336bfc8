// The embed task's sanity figure: .npy reading and nearest neighbours by cosine.
#include "embedding_check.h"


#include "catch.h"
#include "error.h"
#include "npy.h"
#include "test_util.h"

using lv::demo::FloatMatrix;
using lv::demo::nearest_neighbour_agreement;

namespace {

/// A .npy file as the doc_worker's merge writes it: lv::npy_header, then the data.
std::string npy_bytes(std::string_view descr, const std::vector<int64_t>& shape, const std::vector<float>& values) {
  std::string out = lv::npy_header(descr, shape);
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  return out;
}

}  // namespace

TEST_CASE("a float32 C-order .npy file reads as its rows", "[embedding]") {
  lv::test::TempDir dir;
  lv::test::write_text(dir / "e.npy", npy_bytes("<f4", {2, 3}, {1, 2, 3, 4, 5, 6}));
  const FloatMatrix m = lv::demo::read_npy_float32_matrix(dir / "e.npy");
  CHECK(m.rows == 2);
  CHECK(m.cols == 3);
  CHECK(m.data == std::vector<float>{1, 2, 3, 4, 5, 6});

  lv::test::write_text(dir / "d.npy", npy_bytes("<f8", {1, 1}, {0, 0}));
  CHECK_THROWS_WITH(lv::demo::read_npy_float32_matrix(dir / "d.npy"), Catch::Contains("dtype '<f8' is not '<f4'"));
  lv::test::write_text(dir / "s.npy", npy_bytes("<f4", {4, 3}, {1, 2}));
  CHECK_THROWS_WITH(lv::demo::read_npy_float32_matrix(dir / "s.npy"), Catch::Contains("shorter than its shape (4, 3) says"));
  lv::test::write_text(dir / "v.npy", npy_bytes("<f4", {6}, {1, 2, 3, 4, 5, 6}));
  CHECK_THROWS_WITH(lv::demo::read_npy_float32_matrix(dir / "v.npy"), Catch::Contains("shape (6) is not 2-D"));
}

TEST_CASE("nearest neighbours are found by cosine, not by length, against the chance of a random one", "[embedding]") {
  // Rows 0, 1 point along x (row 1 ten times longer), rows 2, 3 along y; row 4 is between but
  // nearer y. Topics: 0, 0, 1, 1, 0.
  FloatMatrix m;
  m.rows = 5;
  m.cols = 2;
  m.data = {1, 0, 10, 0.1f, 0, 1, 0.1f, 1, 0.4f, 1};
  const auto a = nearest_neighbour_agreement(m, {0, 0, 1, 1, 0}, 0, 1);
  // 0 -> 1 same, 1 -> 0 same, 2 -> 3 same, 3 -> 2 same, 4 -> 3 different.
  CHECK(a.queries == 5);
  CHECK(a.same_topic == 4);
  CHECK(a.share() == Approx(0.8));
  CHECK(a.chance == Approx(0.6 * 0.6 + 0.4 * 0.4));

  const auto sample = nearest_neighbour_agreement(m, {0, 0, 1, 1, 0}, 3, 7);
  CHECK(sample.queries == 3);
  CHECK_THROWS_AS(nearest_neighbour_agreement(m, {0, 1}, 0, 1), lv::Error);
}
