// The idx reader and the Fashion-MNIST split loader on small files made here.
#include "idx_reader.h"

#include "catch.h"
#include "error.h"
#include "fashion_mnist.h"
#include "idx_fixture.h"
#include "test_util.h"

using lv::demo::load_fashion_split;
using lv::demo::read_idx_images;
using lv::demo::read_idx_labels;
using lv::test::gzip_bytes;
using lv::test::idx1_bytes;
using lv::test::idx3_bytes;
using lv::test::TempDir;
using lv::test::write_text;

namespace {

/// The lv::Error a call throws (fails the test when it throws nothing).
template <typename F>
lv::Error error_of(F&& f) {
  try {
    f();
  } catch (const lv::Error& e) {
    return e;
  }
  FAIL("no lv::Error thrown");
  return lv::Error(lv::ExitCode::ok, "");
}

// Three 2 x 4 images with pixels 0..23 in order.
std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i);
  return v;
}

}  // namespace

TEST_CASE("idx3 images and idx1 labels are read from gzip files", "[idx]") {
  TempDir dir;
  write_text(dir / "img.gz", gzip_bytes(idx3_bytes(3, 2, 4, ramp(24))));
  write_text(dir / "lab.gz", gzip_bytes(idx1_bytes(3, {7, 0, 9})));

  const auto images = read_idx_images(dir / "img.gz");
  CHECK(images.count == 3);
  CHECK(images.rows == 2);
  CHECK(images.cols == 4);
  REQUIRE(images.pixels.size() == 24);
  CHECK(images.image(1)[0] == 8);  // image 1 starts after 2 * 4 pixels
  CHECK(images.image(2)[7] == 23);
  CHECK(read_idx_labels(dir / "lab.gz") == std::vector<uint8_t>{7, 0, 9});
}

TEST_CASE("an uncompressed idx file is read as it is", "[idx]") {
  TempDir dir;
  write_text(dir / "img", idx3_bytes(1, 1, 2, {5, 6}));
  const auto images = read_idx_images(dir / "img");
  CHECK(images.count == 1);
  CHECK(images.pixels == std::vector<uint8_t>{5, 6});
}

TEST_CASE("truncated idx data is rejected with the counts", "[idx]") {
  TempDir dir;
  // The header announces 3 images of 2 x 4 (24 bytes) but only 20 follow.
  write_text(dir / "img.gz", gzip_bytes(idx3_bytes(3, 2, 4, ramp(20))));
  const lv::Error e = error_of([&] { read_idx_images(dir / "img.gz"); });
  CHECK(e.code() == lv::ExitCode::input_unreadable);
  CHECK_THAT(e.what(), Catch::Contains((dir / "img.gz").string()) && Catch::Contains("truncated") &&
                           Catch::Contains("3 images of 2x4 (24 data bytes) but only 20 follow"));
}

TEST_CASE("bytes after the announced data are rejected", "[idx]") {
  TempDir dir;
  write_text(dir / "lab.gz", gzip_bytes(idx1_bytes(2, {1, 2, 3})));
  CHECK_THAT(error_of([&] { read_idx_labels(dir / "lab.gz"); }).what(),
             Catch::Contains("1 unexpected bytes after the data: the header announces 2 labels"));
}

TEST_CASE("a truncated gzip stream is rejected", "[idx]") {
  TempDir dir;
  std::string gz = gzip_bytes(idx3_bytes(4, 28, 28, lv::test::striped_garments(4)));
  gz.resize(gz.size() / 2);
  write_text(dir / "img.gz", gz);
  const lv::Error e = error_of([&] { read_idx_images(dir / "img.gz"); });
  CHECK(e.code() == lv::ExitCode::input_unreadable);
  CHECK_THAT(e.what(), Catch::Contains((dir / "img.gz").string() + ": truncated gzip stream"));
}

TEST_CASE("a corrupt gzip stream is rejected", "[idx]") {
  TempDir dir;
  std::string gz = gzip_bytes(idx1_bytes(3, {1, 2, 3}));
  for (size_t i = 10; i < gz.size(); ++i) gz[i] = static_cast<char>(0xff);  // keep the gzip header, wreck the rest
  write_text(dir / "lab.gz", gz);
  CHECK_THAT(error_of([&] { read_idx_labels(dir / "lab.gz"); }).what(), Catch::Contains("corrupt gzip stream"));
}

TEST_CASE("a wrong magic number is rejected, naming both numbers", "[idx]") {
  TempDir dir;
  // A label file given where images are expected, and the other way round.
  write_text(dir / "lab.gz", gzip_bytes(idx1_bytes(3, {1, 2, 3})));
  write_text(dir / "img.gz", gzip_bytes(idx3_bytes(1, 1, 1, {0})));
  CHECK_THAT(error_of([&] { read_idx_images(dir / "lab.gz"); }).what(),
             Catch::Contains("lab.gz: magic number 0x00000801, expected 0x00000803"));
  CHECK_THAT(error_of([&] { read_idx_labels(dir / "img.gz"); }).what(),
             Catch::Contains("img.gz: magic number 0x00000803, expected 0x00000801"));
}

TEST_CASE("short headers and empty or missing files are rejected", "[idx]") {
  TempDir dir;
  write_text(dir / "short", std::string("\0\0\x08\x03\0\0\0\x01", 8));  // magic and count, no rows/cols
  write_text(dir / "empty", "");
  write_text(dir / "zero", idx3_bytes(0, 28, 28, {}));
  CHECK_THAT(error_of([&] { read_idx_images(dir / "short"); }).what(), Catch::Contains("the idx3 image file header alone needs 16"));
  CHECK_THAT(error_of([&] { read_idx_images(dir / "empty"); }).what(), Catch::Contains("0 bytes: too short"));
  CHECK_THAT(error_of([&] { read_idx_images(dir / "zero"); }).what(), Catch::Contains("empty images: 0 images of 28x28"));
  const lv::Error missing = error_of([&] { read_idx_images(dir / "nope.gz"); });
  CHECK(missing.code() == lv::ExitCode::input_unreadable);
  CHECK_THAT(missing.what(), Catch::Contains((dir / "nope.gz").string() + ": cannot open"));
}

TEST_CASE("a split whose label count differs from its image count is rejected", "[idx]") {
  TempDir dir;
  write_text(dir / "t10k-images-idx3-ubyte.gz", gzip_bytes(idx3_bytes(3, 2, 4, ramp(24))));
  write_text(dir / "t10k-labels-idx1-ubyte.gz", gzip_bytes(idx1_bytes(2, {1, 2})));
  const lv::Error e = error_of([&] { load_fashion_split(dir.path(), "t10k"); });
  CHECK(e.code() == lv::ExitCode::input_unreadable);
  CHECK_THAT(e.what(), Catch::Contains("t10k-labels-idx1-ubyte.gz: 2 labels for the 3 images of") &&
                           Catch::Contains("t10k-images-idx3-ubyte.gz"));
}

TEST_CASE("a label outside the ten classes is rejected with its item", "[idx]") {
  TempDir dir;
  write_text(dir / "train-images-idx3-ubyte.gz", gzip_bytes(idx3_bytes(3, 2, 4, ramp(24))));
  write_text(dir / "train-labels-idx1-ubyte.gz", gzip_bytes(idx1_bytes(3, {1, 10, 2})));
  CHECK_THAT(error_of([&] { load_fashion_split(dir.path(), "train"); }).what(),
             Catch::Contains("label 10 of item 1 is out of range (0..9)"));
}

TEST_CASE("a good split loads", "[idx]") {
  TempDir dir;
  lv::test::write_striped_split(dir.path(), "t10k", 20);
  const auto split = load_fashion_split(dir.path(), "t10k");
  CHECK(split.images.count == 20);
  CHECK(split.labels[13] == 3);
  // Garment 13 (class 3) is lit in its first 11 columns.
  CHECK(split.images.image(13)[10] == 255);
  CHECK(split.images.image(13)[11] == 0);
}
