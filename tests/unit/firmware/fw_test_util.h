// Helpers shared by the firmware tests: files, gzip'd IDX data (via the gzip tool, since the
// firmware test links nothing but the firmware) and hex dumps.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace hirfw_test {

inline std::string source_path(const std::string& rel) { return std::string(HIR_SOURCE_DIR) + "/" + rel; }

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Decompresses a .gz file with `gzip -dc`; empty on failure.
inline std::vector<uint8_t> read_gz(const std::string& path) {
  std::vector<uint8_t> out;
  FILE* p = popen(("gzip -dc '" + path + "'").c_str(), "r");
  if (!p) return out;
  uint8_t buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.insert(out.end(), buf, buf + n);
  if (pclose(p) != 0) out.clear();
  return out;
}

inline std::string fmnist_dir() {
  const char* env = std::getenv("HIR_FMNIST_DIR");
  return env ? env : "/usr/share/datasets/fashion-mnist";
}

inline std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}
inline std::string hex(const std::vector<uint8_t>& v) { return hex(v.data(), v.size()); }

}  // namespace hirfw_test
