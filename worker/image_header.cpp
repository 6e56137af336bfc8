#include "image_header.h"

#include <cstdlib>

namespace lv {

namespace {

uint32_t be16(std::string_view b, size_t at) {
  return (uint32_t(uint8_t(b[at])) << 8) | uint8_t(b[at + 1]);
}
uint32_t be32(std::string_view b, size_t at) { return (be16(b, at) << 16) | be16(b, at + 2); }
uint32_t le16(std::string_view b, size_t at) {
  return uint8_t(b[at]) | (uint32_t(uint8_t(b[at + 1])) << 8);
}
uint32_t le24(std::string_view b, size_t at) { return le16(b, at) | (uint32_t(uint8_t(b[at + 2])) << 16); }
uint32_t le32(std::string_view b, size_t at) { return le16(b, at) | (le16(b, at + 2) << 16); }

std::optional<ImageSize> probe_png(std::string_view b) {
  if (b.size() < 24 || b.substr(12, 4) != "IHDR") return std::nullopt;
  return ImageSize{"png", be32(b, 16), be32(b, 20)};
}

std::optional<ImageSize> probe_jpeg(std::string_view b) {
  size_t i = 2;
  while (i + 4 <= b.size()) {
    if (uint8_t(b[i]) != 0xFF) return std::nullopt;
    const uint8_t marker = uint8_t(b[i + 1]);
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length field
      i += 2;
      continue;
    }
    const uint32_t length = be16(b, i + 2);
    if (length < 2) return std::nullopt;
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (i + 9 > b.size()) return std::nullopt;
      return ImageSize{"jpeg", be16(b, i + 7), be16(b, i + 5)};
    }
    if (marker == 0xDA) return std::nullopt;  // start of scan before any frame header
    i += 2 + length;
  }
  return std::nullopt;
}

std::optional<ImageSize> probe_bmp(std::string_view b) {
  if (b.size() < 26) return std::nullopt;
  const uint32_t header = le32(b, 14);
  if (header == 12) return ImageSize{"bmp", le16(b, 18), le16(b, 20)};
  const int32_t w = static_cast<int32_t>(le32(b, 18));
  const int32_t h = static_cast<int32_t>(le32(b, 22));  // negative: top-down rows
  return ImageSize{"bmp", std::llabs(int64_t{w}), std::llabs(int64_t{h})};
}

std::optional<ImageSize> probe_webp(std::string_view b) {
  if (b.size() < 30) return std::nullopt;
  const std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8 ") return ImageSize{"webp", le16(b, 26) & 0x3FFF, le16(b, 28) & 0x3FFF};
  if (chunk == "VP8L") {
    const uint32_t bits = le32(b, 21);
    return ImageSize{"webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (chunk == "VP8X") return ImageSize{"webp", int64_t{le24(b, 24)} + 1, int64_t{le24(b, 27)} + 1};
  return std::nullopt;
}

std::optional<ImageSize> probe_tiff(std::string_view b) {
  const bool little = b[0] == 'I';
  auto u16 = [&](size_t at) { return little ? le16(b, at) : be16(b, at); };
  auto u32 = [&](size_t at) { return little ? le32(b, at) : be32(b, at); };
  const size_t ifd = u32(4);
  if (ifd + 2 > b.size()) return std::nullopt;
  const uint32_t entries = u16(ifd);
  int64_t width = -1, height = -1;
  for (uint32_t e = 0; e < entries; ++e) {
    const size_t at = ifd + 2 + size_t{e} * 12;
    if (at + 12 > b.size()) return std::nullopt;
    const uint32_t tag = u16(at), type = u16(at + 2);
    if (tag != 256 && tag != 257) continue;
    int64_t value = -1;
    if (type == 3) value = u16(at + 8);       // SHORT, left-justified in the value field
    else if (type == 4) value = u32(at + 8);  // LONG
    if (tag == 256) width = value;
    else height = value;
  }
  if (width < 0 || height < 0) return std::nullopt;
  return ImageSize{"tiff", width, height};
}

}  // namespace

std::optional<ImageSize> probe_image_size(std::string_view b) {
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return probe_png(b);
  if (b.size() >= 3 && uint8_t(b[0]) == 0xFF && uint8_t(b[1]) == 0xD8 && uint8_t(b[2]) == 0xFF) return probe_jpeg(b);
  if (b.size() >= 2 && b.substr(0, 2) == "BM") return probe_bmp(b);
  if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return probe_webp(b);
  if (b.size() >= 8 && (b.substr(0, 4) == std::string_view("II*\0", 4) || b.substr(0, 4) == std::string_view("MM\0*", 4)))
    return probe_tiff(b);
  return std::nullopt;
}

}  // namespace lv
