#include "idx_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/core.h>

#include "error.h"

namespace lv::demo {

namespace {

Error unreadable(const std::string& name, const std::string& problem) {
  return Error(ExitCode::input_unreadable, fmt::format("{}: {}", name, problem));
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw unreadable(file.string(), fmt::format("cannot open: {}", std::strerror(errno)));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw unreadable(file.string(), fmt::format("cannot read: {}", std::strerror(errno)));
  return bytes;
}

/// Inflates one or more concatenated gzip members held in memory.
std::string gunzip(const std::string& in, const std::string& name) {
  z_stream zs{};
  // 15 + 16: a gzip wrapper (not zlib, not raw deflate) with the largest window.
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw unreadable(name, "zlib: cannot initialise inflate");
  std::string out;
  char buf[1 << 16];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another gzip member follows
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // input used up before the stream ended
    if (rc != Z_OK) break;
  }
  const std::string msg = zs.msg ? zs.msg : "";
  inflateEnd(&zs);
  if (rc == Z_STREAM_END) return out;
  if (rc == Z_BUF_ERROR || rc == Z_OK)
    throw unreadable(name, fmt::format("truncated gzip stream (ends after {} decompressed bytes)", out.size()));
  throw unreadable(name, fmt::format("corrupt gzip stream: {}", msg.empty() ? fmt::format("zlib error {}", rc) : msg));
}

uint32_t big_endian_u32(const std::string& bytes, size_t at) {
  const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

/// Checks the magic number and the header length; returns the dimensions.
std::vector<uint32_t> parse_header(const std::string& bytes, const std::string& name, uint32_t magic,
                                   const char* kind) {
  const size_t dims = magic & 0xff;
  const size_t header = 4 + 4 * dims;
  if (bytes.size() < 4)
    throw unreadable(name, fmt::format("{} bytes: too short for an idx header (not an {} file?)", bytes.size(), kind));
  const uint32_t found = big_endian_u32(bytes, 0);
  if (found != magic)
    throw unreadable(name, fmt::format("magic number 0x{:08x}, expected 0x{:08x} ({}: unsigned bytes, {} dimension{})",
                                       found, magic, kind, dims, dims == 1 ? "" : "s"));
  if (bytes.size() < header)
    throw unreadable(name, fmt::format("{} bytes: the {} header alone needs {}", bytes.size(), kind, header));
  std::vector<uint32_t> out;
  for (size_t d = 0; d < dims; ++d) out.push_back(big_endian_u32(bytes, 4 + 4 * d));
  return out;
}

void check_data_length(const std::string& bytes, size_t header, uint64_t expected, const std::string& name,
                       const std::string& what) {
  const uint64_t actual = bytes.size() - header;
  if (actual < expected)
    throw unreadable(name, fmt::format("truncated: the header announces {} ({} data bytes) but only {} follow", what,
                                       expected, actual));
  if (actual > expected)
    throw unreadable(name, fmt::format("{} unexpected bytes after the data: the header announces {} ({} data bytes)",
                                       actual - expected, what, expected));
}

}  // namespace

std::string read_maybe_gzip(const std::filesystem::path& file) {
  std::string bytes = read_file(file);
  const bool gzip = bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
                    static_cast<unsigned char>(bytes[1]) == 0x8b;
  return gzip ? gunzip(bytes, file.string()) : bytes;
}

IdxImages parse_idx_images(const std::string& bytes, const std::string& name) {
  const auto dims = parse_header(bytes, name, 0x00000803, "idx3 image file");
  if (dims[0] == 0 || dims[1] == 0 || dims[2] == 0)
    throw unreadable(name, fmt::format("empty images: {} images of {}x{}", dims[0], dims[1], dims[2]));
  if (dims[0] > 0x7fffffffU || dims[1] > 0xffffU || dims[2] > 0xffffU)
    throw unreadable(name, fmt::format("implausible dimensions: {} images of {}x{}", dims[0], dims[1], dims[2]));
  const uint64_t expected = static_cast<uint64_t>(dims[0]) * dims[1] * dims[2];
  check_data_length(bytes, 16, expected, name, fmt::format("{} images of {}x{}", dims[0], dims[1], dims[2]));
  IdxImages out;
  out.count = static_cast<int>(dims[0]);
  out.rows = static_cast<int>(dims[1]);
  out.cols = static_cast<int>(dims[2]);
  out.pixels.assign(bytes.begin() + 16, bytes.end());
  return out;
}

std::vector<uint8_t> parse_idx_labels(const std::string& bytes, const std::string& name) {
  const auto dims = parse_header(bytes, name, 0x00000801, "idx1 label file");
  if (dims[0] == 0) throw unreadable(name, "no labels: the header announces 0");
  check_data_length(bytes, 8, dims[0], name, fmt::format("{} labels", dims[0]));
  return std::vector<uint8_t>(bytes.begin() + 8, bytes.end());
}

IdxImages read_idx_images(const std::filesystem::path& file) {
  return parse_idx_images(read_maybe_gzip(file), file.string());
}

std::vector<uint8_t> read_idx_labels(const std::filesystem::path& file) {
  return parse_idx_labels(read_maybe_gzip(file), file.string());
}

}  // namespace lv::demo
