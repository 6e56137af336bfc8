#include "npy.h"

#include <cstring>
#include <string>
#include <vector>

#include "catch.h"
#include "error.h"
#include "test_util.h"

namespace fs = std::filesystem;
using lv::test::TempDir;
using lv::test::write_text;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The bytes of `values` as a little-endian float32 array (the machines we run on).
std::string float_bytes(const std::vector<float>& values) {
  std::string bytes(values.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

/// A float32 C-order array with `rows` x `cols` values start, start + 1, ...
void write_matrix(const fs::path& file, int64_t rows, int64_t cols, float start) {
  std::vector<float> values;
  for (int64_t i = 0; i < rows * cols; ++i) values.push_back(start + static_cast<float>(i));
  write_text(file, lv::npy_header("<f4", {rows, cols}) + float_bytes(values));
}

/// A version 1.0 file holding the header dictionary `dict` as it is (no data).
std::string v1_file(const std::string& dict) {
  return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size()) + '\0' + dict;
}

/// The message of the lv::Error that `f` throws, or "(no error)".
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const lv::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("npy: the version 1.0 header of a (3, 4) float32 array is the bytes the format specifies", "[npy]") {
  // Magic \x93NUMPY, version 1 0, header length 118 (0x76 0x00, little-endian), then the dict,
  // 58 spaces and '\n': 6 + 2 + 2 + 59 + 58 + 1 = 128 bytes, a multiple of 64.
  std::string expected("\x93NUMPY\x01\x00\x76\x00", 10);
  expected += "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  expected += std::string(58, ' ');
  expected += "\n";
  REQUIRE(expected.size() == 128);
  CHECK(lv::npy_header("<f4", {3, 4}) == expected);
}

TEST_CASE("npy: a 1-D shape is written (N,) and a 0-d one ()", "[npy]") {
  CHECK(contains(lv::npy_header("<i8", {5}), "'shape': (5,), }"));
  CHECK(contains(lv::npy_header("<f4", {}), "'shape': (), }"));
  CHECK(contains(lv::npy_header("<f4", {2, 3, 4}), "'shape': (2, 3, 4), }"));
}

TEST_CASE("npy: every header ends in a newline at a multiple of 64 bytes, padded with spaces", "[npy]") {
  for (int64_t rows : std::vector<int64_t>{0, 1, 9, 10, 99999, 1234567890123}) {
    for (const std::vector<int64_t>& tail : {std::vector<int64_t>{}, {1}, {768}, {3, 224, 224}}) {
      std::vector<int64_t> shape{rows};
      shape.insert(shape.end(), tail.begin(), tail.end());
      const std::string h = lv::npy_header("<f4", shape);
      INFO(h);
      CHECK(h.size() % 64 == 0);
      CHECK(h.back() == '\n');
      const size_t length = static_cast<unsigned char>(h[8]) | static_cast<unsigned char>(h[9]) << 8;
      CHECK(length == h.size() - 10);
      const size_t close = h.find('}');
      CHECK(h.find_first_not_of(' ', close + 1) == h.size() - 1);
    }
  }
}

TEST_CASE("npy: read_npy_header gives back what npy_header wrote", "[npy]") {
  TempDir dir;
  write_matrix(dir / "m.npy", 7, 3, 0);
  const lv::NpyInfo info = lv::read_npy_header(dir / "m.npy");
  CHECK(info.descr == "<f4");
  CHECK_FALSE(info.fortran_order);
  CHECK(info.shape == std::vector<int64_t>{7, 3});
  CHECK(info.data_offset == 128);

  write_text(dir / "v.npy", lv::npy_header("|u1", {5}) + "abcde");
  CHECK(lv::read_npy_header(dir / "v.npy").shape == std::vector<int64_t>{5});
}

TEST_CASE("npy: read_npy_header reads a version 2.0 header and NumPy's other spellings", "[npy]") {
  TempDir dir;
  // Version 2.0 has a 4-byte length; double quotes, key order, Python 2 longs and spacing vary.
  const std::string dict = "{\"shape\": (2L,3), 'fortran_order':True,'descr':'>i2'}  \n";
  std::string bytes("\x93NUMPY\x02\x00", 8);
  bytes += std::string(1, static_cast<char>(dict.size())) + std::string(3, '\0') + dict;
  write_text(dir / "v2.npy", bytes);
  const lv::NpyInfo info = lv::read_npy_header(dir / "v2.npy");
  CHECK(info.descr == ">i2");
  CHECK(info.fortran_order);
  CHECK(info.shape == std::vector<int64_t>{2, 3});
  CHECK(info.data_offset == 12 + dict.size());
}

TEST_CASE("npy: a malformed header is an error naming the file", "[npy]") {
  TempDir dir;
  const std::string good = lv::npy_header("<f4", {2, 2});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"magic.npy", "PK\x03\x04 not numpy at all"},
      {"short.npy", good.substr(0, 40)},
      {"version.npy", std::string("\x93NUMPY\x03\x00", 8) + good.substr(8)},
      {"nokey.npy", v1_file("{'descr': '<f4', }\n")},
      {"shape.npy", v1_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }\n")},
      {"struct.npy", v1_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }\n")},
      {"open.npy", v1_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), \n")},
  };
  for (const auto& [name, bytes] : cases) {
    write_text(dir / name, bytes);
    const std::string message = error_of([&] { lv::read_npy_header(dir / name); });
    INFO(name << ": " << message);
    CHECK(contains(message, (dir / name).string()));
  }
  CHECK(contains(error_of([&] { lv::read_npy_header(dir / "missing.npy"); }), "missing.npy"));
}

TEST_CASE("npy: concat_npy joins the rows of three parts in the given order", "[npy]") {
  TempDir dir;
  write_matrix(dir / "a.npy", 2, 3, 0);
  write_matrix(dir / "b.npy", 0, 3, 100);  // an empty shard
  write_matrix(dir / "c.npy", 4, 3, 6);
  write_matrix(dir / "d.npy", 1, 3, 18);
  lv::concat_npy({dir / "a.npy", dir / "b.npy", dir / "c.npy", dir / "d.npy"}, dir / "all.npy");

  const lv::NpyInfo info = lv::read_npy_header(dir / "all.npy");
  CHECK(info.shape == std::vector<int64_t>{7, 3});
  CHECK(info.descr == "<f4");
  std::vector<float> expected;
  for (int i = 0; i < 21; ++i) expected.push_back(static_cast<float>(i));
  CHECK(lv::test::read_text(dir / "all.npy") == lv::npy_header("<f4", {7, 3}) + float_bytes(expected));
  for (const auto& entry : fs::directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("npy: concat_npy refuses parts whose trailing dimensions or dtype differ, naming both", "[npy]") {
  TempDir dir;
  write_matrix(dir / "a.npy", 2, 3, 0);
  write_matrix(dir / "b.npy", 2, 4, 0);
  std::string message = error_of([&] { lv::concat_npy({dir / "a.npy", dir / "b.npy"}, dir / "out.npy"); });
  INFO(message);
  CHECK(contains(message, (dir / "a.npy").string()));
  CHECK(contains(message, "(2, 3)"));
  CHECK(contains(message, (dir / "b.npy").string()));
  CHECK(contains(message, "(2, 4)"));
  CHECK_FALSE(fs::exists(dir / "out.npy"));

  write_text(dir / "d.npy", lv::npy_header("<f8", {1, 3}) + std::string(24, '\0'));
  message = error_of([&] { lv::concat_npy({dir / "a.npy", dir / "d.npy"}, dir / "out.npy"); });
  CHECK(contains(message, "'<f8'"));
  CHECK(contains(message, "'<f4'"));
}

TEST_CASE("npy: concat_npy refuses a part shorter or longer than its header says", "[npy]") {
  TempDir dir;
  write_matrix(dir / "a.npy", 2, 3, 0);
  const std::string full = lv::npy_header("<f4", {2, 3}) + float_bytes({1, 2, 3, 4, 5, 6});
  write_text(dir / "short.npy", full.substr(0, full.size() - 5));
  std::string message = error_of([&] { lv::concat_npy({dir / "a.npy", dir / "short.npy"}, dir / "out.npy"); });
  INFO(message);
  CHECK(contains(message, (dir / "short.npy").string()));
  CHECK(contains(message, "truncated"));
  CHECK_FALSE(fs::exists(dir / "out.npy"));

  write_text(dir / "long.npy", full + "x");
  CHECK(contains(error_of([&] { lv::concat_npy({dir / "long.npy"}, dir / "out.npy"); }), "long.npy"));
}

TEST_CASE("npy: concat_npy of no parts is an error", "[npy]") {
  TempDir dir;
  CHECK(contains(error_of([&] { lv::concat_npy({}, dir / "out.npy"); }), "out.npy"));
  CHECK_FALSE(fs::exists(dir / "out.npy"));
}
