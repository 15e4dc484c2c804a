#include "crash/quarantine.hpp"

#include <sys/stat.h>

#include "io/atomic_file.hpp"
#include "io/sha256.hpp"

namespace qkv::crash {
namespace {

void put(io::Sha256& h, std::string_view s) {
  h.update(std::to_string(s.size()) + ":");
  h.update(s);
}

bool is_key(std::string_view name) {
  if (name.size() != 64) return false;
  for (char c : name)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string inline_key(std::string_view pipeline,
                       const std::vector<std::pair<std::string, std::string>>& overrides,
                       const std::vector<std::string>& texts) {
  io::Sha256 h;
  put(h, pipeline);
  h.update(std::to_string(overrides.size()) + "set");
  for (auto& [k, v] : overrides) {
    put(h, k);
    put(h, v);
  }
  h.update(std::to_string(texts.size()) + "texts");
  for (auto& t : texts) put(h, t);
  return h.hex();
}

Quarantine::Quarantine(std::filesystem::path dir, std::chrono::seconds period)
    : dir_((std::filesystem::create_directories(dir), io::Directory::open(dir))), period_(period) {
  const auto now = Clock::now();
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir_.path(), ec)) {
    std::string name = e.path().filename().string();
    struct stat st {};
    if (!is_key(name) || ::lstat(e.path().c_str(), &st) != 0) continue;
    Clock::time_point since{std::chrono::seconds(st.st_mtim.tv_sec)};
    if (now - since >= period_)
      dir_.remove(name);
    else
      since_.emplace(name, since);
  }
}

void Quarantine::add(const std::string& key) {
  if (!is_key(key)) return;
  {
    io::AtomicFile f(dir_.path_of(key));
    f.write("quarantined after it crashed qkvd\n");
    f.commit();
  }
  std::lock_guard lock(mutex_);
  since_[key] = Clock::now();
}

bool Quarantine::refuses(std::string_view key) const {
  std::lock_guard lock(mutex_);
  auto it = since_.find(key);
  return it != since_.end() && Clock::now() - it->second < period_;
}

}  // namespace qkv::crash
