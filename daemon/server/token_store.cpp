#include "server/token_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cctype>
#include <set>
#include <stdexcept>

namespace qkv::server {
namespace {

// Equal only if the same length and bytes; reads every byte of `secret` whatever `given` is.
bool constant_time_equal(std::string_view given, std::string_view secret) {
  unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (std::size_t i = 0; i < secret.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(secret[i]));
  }
  return diff == 0;
}

std::string read_checked(const std::filesystem::path& file) {
  const std::string where = "tcp.tokens_file " + file.string();
  int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    throw std::runtime_error(where + ": cannot open (" + std::string(std::strerror(errno)) +
                             "; a symlink is refused)");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw std::runtime_error(where + ": not a regular file");
  if (st.st_uid != ::geteuid())
    throw std::runtime_error(where + ": owned by uid " + std::to_string(st.st_uid) +
                             ", not by the daemon's user (uid " + std::to_string(::geteuid()) +
                             "); chown it");
  if ((st.st_mode & 07777) != 0600) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    throw std::runtime_error(where + ": mode " + mode + ", must be 0600 (chmod 600 it)");
  }
  if (st.st_size > (1 << 20)) throw std::runtime_error(where + ": larger than 1 MiB");
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(where + ": read failed");
    got += static_cast<std::size_t>(n);
  }
  return bytes;
}

}  // namespace

TokenStore TokenStore::load(const std::filesystem::path& file) {
  const std::string text = read_checked(file);
  TokenStore store;
  std::set<std::string> names;
  std::size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const std::string where = "tcp.tokens_file " + file.string() + ":" + std::to_string(line_no);
    std::size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0)
      throw std::runtime_error(where + ": expected NAME:TOKEN");
    std::string name = line.substr(0, colon), token = line.substr(colon + 1);
    for (char c : name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
        throw std::runtime_error(where + ": NAME may hold only letters, digits, '-', '_', '.'");
    if (token.size() < kMinTokenBytes)
      throw std::runtime_error(where + ": the token of '" + name + "' is " +
                               std::to_string(token.size()) + " bytes, fewer than " +
                               std::to_string(kMinTokenBytes));
    if (!names.insert(name).second)
      throw std::runtime_error(where + ": NAME '" + name + "' appears twice");
    store.entries_.emplace_back(std::move(name), std::move(token));
  }
  if (store.entries_.empty())
    throw std::runtime_error("tcp.tokens_file " + file.string() + ": holds no NAME:TOKEN line");
  return store;
}

std::optional<std::string> TokenStore::name_for(std::string_view token) const {
  std::optional<std::string> found;
  for (const auto& [name, secret] : entries_)  // no early exit: every entry is compared
    if (constant_time_equal(token, secret) && !found) found = name;
  return found;
}

}  // namespace qkv::server
