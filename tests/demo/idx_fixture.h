#pragma once
// Builders of small idx files for the demo tools' tests: bytes by hand, gzip through zlib.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace lv::test {

inline void append_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

/// idx3 bytes: the header (magic 0x803, count, rows, cols) and then `pixels` as given.
inline std::string idx3_bytes(uint32_t count, uint32_t rows, uint32_t cols, const std::vector<uint8_t>& pixels) {
  std::string out;
  append_be32(out, 0x00000803);
  append_be32(out, count);
  append_be32(out, rows);
  append_be32(out, cols);
  out.append(pixels.begin(), pixels.end());
  return out;
}

/// idx1 bytes: the header (magic 0x801, count) and then `labels` as given.
inline std::string idx1_bytes(uint32_t count, const std::vector<uint8_t>& labels) {
  std::string out;
  append_be32(out, 0x00000801);
  append_be32(out, count);
  out.append(labels.begin(), labels.end());
  return out;
}

/// The gzip encoding of `bytes`, made with zlib's deflate (gzip wrapper).
inline std::string gzip_bytes(const std::string& bytes) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(zs.total_out);
  return out;
}

/// Lit columns of the striped test garment of class k: round(2.8 (k + 1)), so the lit
/// fraction of a garment (about (k + 1) / 10) tells its class.
inline int garment_width(int k) { return (28 * (k + 1) + 5) / 10; }  // round(2.8 (k + 1)): 3, 6, 8, ..., 28

/// `count` 28 x 28 garments, garment i of class i % 10: columns [0, garment_width(i % 10)) lit
/// (255), the rest black.
inline std::vector<uint8_t> striped_garments(int count) {
  std::vector<uint8_t> px(static_cast<size_t>(count) * 28 * 28, 0);
  for (int i = 0; i < count; ++i)
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < garment_width(i % 10); ++x) px[static_cast<size_t>(i) * 784 + static_cast<size_t>(y) * 28 + static_cast<size_t>(x)] = 255;
  return px;
}

/// Writes a Fashion-MNIST-shaped split `<dir>/<split>-{images-idx3,labels-idx1}-ubyte.gz` of
/// `count` striped garments, garment i of class i % 10.
inline void write_striped_split(const std::filesystem::path& dir, const std::string& split, int count) {
  std::vector<uint8_t> labels;
  for (int i = 0; i < count; ++i) labels.push_back(static_cast<uint8_t>(i % 10));
  std::filesystem::create_directories(dir);
  auto write = [](const std::filesystem::path& p, const std::string& bytes) {
    FILE* f = std::fopen(p.c_str(), "wb");
    if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) throw std::runtime_error("write " + p.string());
    std::fclose(f);
  };
  write(dir / (split + "-images-idx3-ubyte.gz"), gzip_bytes(idx3_bytes(static_cast<uint32_t>(count), 28, 28, striped_garments(count))));
  write(dir / (split + "-labels-idx1-ubyte.gz"), gzip_bytes(idx1_bytes(static_cast<uint32_t>(count), labels)));
}

}  // namespace lv::test
