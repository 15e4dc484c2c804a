// SHA-256 (FIPS 180-4) for the manifest's output checksums; no crypto library needed.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace qkv::io {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::array<uint8_t, 32> finish();
  std::string hex();  // finish() as lowercase hex

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t used_ = 0;
  uint64_t length_ = 0;
};

std::string sha256_file(const std::filesystem::path& file);

}  // namespace qkv::io
