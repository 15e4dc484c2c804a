// SHA-256 for the manifest's output checksums, from OpenSSL's libcrypto (hardware-accelerated:
// SHA-NI or AVX2), since it runs over every output byte at commit time.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace qkv::io {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::array<uint8_t, 32> finish();
  std::string hex();  // finish() as lowercase hex

 private:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const noexcept;
  };
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

std::string sha256_file(const std::filesystem::path& file);

}  // namespace qkv::io
