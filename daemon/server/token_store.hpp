// The TCP tokens (tcp.tokens_file): lines `NAME:TOKEN`, TOKEN at least 32 bytes. The file must
// be a regular file of mode 0600 owned by the daemon's user, or the daemon refuses to start.
// Tokens are compared in constant time; only the NAME ever leaves this class.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qkv::server {

class TokenStore {
 public:
  static constexpr std::size_t kMinTokenBytes = 32;
  // Throws std::runtime_error naming the file, line and problem.
  static TokenStore load(const std::filesystem::path& file);
  // The NAME of the token, if `token` is one; the time taken does not depend on where (or
  // whether) it matches.
  std::optional<std::string> name_for(std::string_view token) const;
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;  // NAME, TOKEN
};

}  // namespace qkv::server
