#include "image_file.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "image_bytes.hpp"

namespace qkv::image {
namespace {

constexpr uint64_t kMaxImageBytes = uint64_t{1} << 32;

struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  char key[64];
  uint64_t payload_bytes;
  uint64_t checksum;
};
static_assert(sizeof(FileHeader) == 96);

std::string errno_text() { return std::strerror(errno); }

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(size_t(n));
  }
  return true;
}

// Renamed into place, so a reader sees the old file, no file, or the whole new one. Not
// fsynced: an image lost or torn by a crash fails its checksum and is rebuilt.
std::string save(const std::string& folder, const std::string& path, std::string_view bytes) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) return "cannot create image folder " + folder + ": " + ec.message();
  std::string tmp = folder + "/.image-XXXXXX";
  Fd f{mkostemp(tmp.data(), O_CLOEXEC)};
  if (f.fd < 0) return "cannot write an image in " + folder + ": " + errno_text();
  if (!write_all(f.fd, bytes) || close(std::exchange(f.fd, -1)) != 0 ||
      rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = "cannot write image " + path + ": " + errno_text();
    unlink(tmp.c_str());
    return why;
  }
  return {};
}

}  // namespace

MappedFile::MappedFile(int fd, size_t size) : size_(size) { map(fd); }

MappedFile::MappedFile(const std::string& path) {
  const Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};  // the mapping outlives the fd
  struct stat st {};
  if (f.fd < 0 || ::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
  size_ = size_t(st.st_size);
  map(f.fd);
}

void MappedFile::map(int fd) {
  if (size_ == 0) return;
  void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (p != MAP_FAILED) data_ = static_cast<const char*>(p);
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<char*>(data_), size_);
}

uint64_t image_checksum(std::string_view bytes) noexcept {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t lane[4] = {1, 2, 3, 4};
  const char* p = bytes.data();
  size_t n = bytes.size();
  for (; n >= 32; p += 32, n -= 32)
    for (int i = 0; i < 4; ++i) {
      uint64_t v;
      std::memcpy(&v, p + 8 * i, 8);
      lane[i] = (lane[i] ^ v) * kMul;
      lane[i] ^= lane[i] >> 29;
    }
  uint64_t h = bytes.size();
  for (uint64_t l : lane) h = (h ^ l) * kMul;
  for (; n; ++p, --n) h = (h ^ static_cast<unsigned char>(*p)) * kMul;
  return h ^ (h >> 32);
}

void Key::Free::operator()(evp_md_ctx_st* ctx) const noexcept { EVP_MD_CTX_free(ctx); }

Key::Key(std::string_view domain) : sha_(EVP_MD_CTX_new()) {
  if (!sha_ || EVP_DigestInit_ex(sha_.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
  add(domain);
}

void Key::add(std::string_view bytes) {
  if (EVP_DigestUpdate(sha_.get(), bytes.data(), bytes.size()) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 update failed");
}

void Key::add_file(std::string_view config_key, std::string_view bytes) {
  add(std::string(config_key) + '\0' + std::to_string(bytes.size()) + '\0');
  add(bytes);
}

std::string Key::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(sha_.get(), digest, &n) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < n; ++i) (s += digits[digest[i] >> 4]) += digits[digest[i] & 15];
  return s;
}

std::string cache_folder(std::string_view plugin) {
  const char* dir = std::getenv("QKV_CACHE_DIR");
  return dir && *dir ? std::string(dir) + "/" + std::string(plugin) : std::string();
}

std::string image_path(const std::string& folder, const Format& format,
                       const std::string& key_hex) {
  return folder + "/" + std::string(format.prefix) + "-" + key_hex + ".img";
}

std::string image_file_bytes(const Format& format, const std::string& key_hex,
                             std::string_view payload) {
  FileHeader h{};
  std::memcpy(h.magic, format.magic, sizeof h.magic);
  h.version = format.version;
  h.header_bytes = sizeof h;
  std::memcpy(h.key, key_hex.data(), std::min(key_hex.size(), sizeof h.key));
  h.payload_bytes = payload.size();
  h.checksum = image_checksum(payload);
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(payload);
  return out;
}

bool image_payload(std::string_view file, const Format& format, const std::string& key_hex,
                   std::string_view* payload, std::string* why) {
  FileHeader h;
  if (file.size() < sizeof h) return *why = "truncated header", false;
  std::memcpy(&h, file.data(), sizeof h);
  if (std::memcmp(h.magic, format.magic, sizeof h.magic) != 0) return *why = "not an image", false;
  if (h.version != format.version || h.header_bytes != sizeof h)
    return *why = "format version " + std::to_string(h.version), false;
  if (key_hex.size() != sizeof h.key || std::memcmp(h.key, key_hex.data(), sizeof h.key) != 0)
    return *why = "built from another vocabulary", false;
  if (h.payload_bytes != file.size() - sizeof h) return *why = "truncated", false;
  *payload = file.substr(sizeof h);
  if (image_checksum(*payload) != h.checksum) return *why = "checksum mismatch", false;
  return true;
}

Outcome load_or_build(const std::string& folder, const Format& format, const std::string& key_hex,
                      const std::function<void(std::string_view payload)>& adopt,
                      const std::function<void()>& build,
                      const std::function<std::string()>& image) {
  if (folder.empty()) {
    build();
    return {Source::kBuilt, "images disabled"};
  }
  const std::string path = image_path(folder, format, key_hex);
  std::string note;
  if (Fd f{open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)}; f.fd >= 0) {
    struct stat st;
    if (fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode) || uint64_t(st.st_size) > kMaxImageBytes) {
      note = "image " + path + " is not a regular file of sane size";
    } else {
      MappedFile m(f.fd, size_t(st.st_size));
      std::string_view payload;
      std::string why;
      if (!m.ok() && st.st_size > 0) {
        note = "cannot map image " + path + ": " + errno_text();
      } else if (!image_payload(m.bytes(), format, key_hex, &payload, &why)) {
        note = "image " + path + " rebuilt: " + why;
      } else {
        try {
          adopt(payload);
          return {Source::kImage, {}};
        } catch (const ImageError& e) {
          note = "image " + path + " rebuilt: " + e.what();
        }
      }
    }
  } else if (errno != ENOENT) {
    note = "cannot open image " + path + ": " + errno_text();
  }
  build();
  const std::string failed = save(folder, path, image_file_bytes(format, key_hex, image()));
  if (!failed.empty()) return {Source::kBuilt, note.empty() ? failed : note + "; " + failed};
  return {Source::kBuiltAndSaved, note};
}

}  // namespace qkv::image
