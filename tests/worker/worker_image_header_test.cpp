// Image sizes read from headers, before any decoding.
#include "worker_catch.h"
#include "image_header.h"

using namespace lv;

namespace {
std::string be16(int v) { return {char((v >> 8) & 0xFF), char(v & 0xFF)}; }
std::string be32(uint32_t v) { return be16(int(v >> 16)) + be16(int(v & 0xFFFF)); }
std::string le16(int v) { return {char(v & 0xFF), char((v >> 8) & 0xFF)}; }
std::string le32(uint32_t v) { return le16(int(v & 0xFFFF)) + le16(int(v >> 16)); }
std::string le24(uint32_t v) { return le16(int(v & 0xFFFF)) + char((v >> 16) & 0xFF); }
}  // namespace

TEST_CASE("header sizes of PNG, JPEG, BMP, WebP and TIFF", "[worker][header]") {
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + "IHDR" + be32(640) + be32(480) + "xxxxx";
  auto s = probe_image_size(png);
  REQUIRE(s);
  CHECK(s->format == "png");
  CHECK((s->width == 640 && s->height == 480));

  // SOI, an APP0 segment of 16 bytes, then SOF0: precision, height 480, width 70000 & 0xFFFF.
  const std::string jpeg = std::string("\xFF\xD8\xFF\xE0", 4) + be16(16) + std::string(14, 'j') +
                           std::string("\xFF\xFF\xC0", 3) + be16(17) + "\x08" + be16(480) + be16(40000) + "rest";
  s = probe_image_size(jpeg);
  REQUIRE(s);
  CHECK((s->width == 40000 && s->height == 480));

  const std::string bmp = "BM" + std::string(12, '\0') + le32(40) + le32(300) + le32(uint32_t(-200)) + "xx";
  s = probe_image_size(bmp);
  REQUIRE(s);
  CHECK((s->width == 300 && s->height == 200));

  const std::string webp = "RIFF" + le32(100) + "WEBPVP8X" + le32(10) + le32(0) + le24(99) + le24(49) + "xx";
  s = probe_image_size(webp);
  REQUIRE(s);
  CHECK((s->width == 100 && s->height == 50));

  const std::string tiff = std::string("II*\0", 4) + le32(8) + le16(2) + le16(256) + le16(3) + le32(1) + le16(1000) +
                           le16(0) + le16(257) + le16(4) + le32(1) + le32(200000);
  s = probe_image_size(tiff);
  REQUIRE(s);
  CHECK((s->width == 1000 && s->height == 200000));
}

TEST_CASE("unknown or cut-short headers give no size", "[worker][header]") {
  CHECK_FALSE(probe_image_size("").has_value());
  CHECK_FALSE(probe_image_size("hello, I am not an image").has_value());
  CHECK_FALSE(probe_image_size(std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + "IH").has_value());
  CHECK_FALSE(probe_image_size(std::string("\xFF\xD8\xFF\xE0", 4) + be16(16) + "abc").has_value());
}
