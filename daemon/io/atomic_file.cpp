// AtomicFile and the temporary-name scheme it shares with remove_stale_temps: the name is made
// and parsed only here.
#include "atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>

#include "io_error.hpp"

namespace qkv::io {
namespace fs = std::filesystem;

namespace {
std::atomic<WriteFunction> g_write{nullptr};

ssize_t do_write(int fd, const void* buf, size_t n) {
  WriteFunction fn = g_write.load(std::memory_order_relaxed);
  return fn ? fn(fd, buf, n) : ::write(fd, buf, n);
}

// ---- The temporary-name scheme: ".<final>.tmp-<pid>-<nonce: 16 hex>-<counter>" ----

constexpr std::string_view kTempMarker = ".tmp-";

// Random per process, so a later process that gets the same pid tells its files from ours.
uint64_t process_nonce() {
  static const uint64_t nonce = [] {
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }();
  return nonce;
}

std::string make_temp_name(std::string_view final_name) {
  static std::atomic<uint64_t> counter{0};
  char suffix[80];
  std::snprintf(suffix, sizeof suffix, "%.*s%d-%016llx-%llu", int(kTempMarker.size()),
                kTempMarker.data(), int(::getpid()),
                static_cast<unsigned long long>(process_nonce()),
                static_cast<unsigned long long>(counter.fetch_add(1)));
  std::string name = ".";
  name += final_name;
  name += suffix;
  return name;
}

struct TempName {
  std::string_view final_name;
  long pid;
  uint64_t nonce;
};

// Reads `digits` as a number in `base`; nullopt unless every character is a digit.
std::optional<uint64_t> parse_number(std::string_view digits, int base) {
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : digits) {
    int d = (c >= '0' && c <= '9')                 ? c - '0'
            : (base == 16 && c >= 'a' && c <= 'f') ? c - 'a' + 10
                                                   : -1;
    if (d < 0) return std::nullopt;
    v = v * uint64_t(base) + uint64_t(d);
  }
  return v;
}

// Exactly the scheme above, or nullopt.
std::optional<TempName> parse_temp_name(std::string_view name) {
  const size_t marker = name.rfind(kTempMarker);
  if (name.size() < 2 || name[0] != '.' || marker == std::string_view::npos || marker < 2)
    return std::nullopt;
  std::string_view tail = name.substr(marker + kTempMarker.size());
  const size_t dash1 = tail.find('-');
  if (dash1 == std::string_view::npos) return std::nullopt;
  const size_t dash2 = tail.find('-', dash1 + 1);
  if (dash2 == std::string_view::npos || dash2 - dash1 - 1 != 16) return std::nullopt;
  auto pid = parse_number(tail.substr(0, dash1), 10);
  auto nonce = parse_number(tail.substr(dash1 + 1, 16), 16);
  auto count = parse_number(tail.substr(dash2 + 1), 10);
  if (!pid || !nonce || !count || *pid == 0 || *pid > 0x7fffffff) return std::nullopt;
  return TempName{name.substr(1, marker - 1), long(*pid), *nonce};
}

bool writer_is_gone(const TempName& t) {
  if (t.pid == long(::getpid())) return t.nonce != process_nonce();
  return ::kill(pid_t(t.pid), 0) != 0 && errno == ESRCH;  // EPERM: alive, another user's
}

}  // namespace

void set_write_function_for_testing(WriteFunction fn) { g_write.store(fn); }

std::size_t remove_stale_temps(const Directory& dir,
                               const std::function<bool(std::string_view)>& owned) {
  std::size_t removed = 0;
  try {
    // fdopendir takes its fd: list through a duplicate so `dir` stays open.
    UniqueFd listing(::openat(dir.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!listing) return 0;
    DIR* d = ::fdopendir(listing.get());
    if (!d) return 0;
    listing.release();
    std::vector<std::string> stale;
    while (const dirent* e = ::readdir(d)) {
      auto t = parse_temp_name(e->d_name);
      if (t && owned(t->final_name) && writer_is_gone(*t)) stale.emplace_back(e->d_name);
    }
    ::closedir(d);
    for (auto& name : stale)
      if (dir.remove(name)) ++removed;
  } catch (...) {
  }
  return removed;
}

AtomicFile::AtomicFile(fs::path final_path, size_t buffer_bytes)
    : AtomicFile(std::make_shared<const Directory>(Directory::open(final_path.parent_path())),
                 final_path.filename().string(), buffer_bytes) {}

AtomicFile::AtomicFile(std::shared_ptr<const Directory> dir, std::string name, size_t buffer_bytes)
    : AtomicFile(dir, dir, std::move(name), 0644, buffer_bytes) {}

AtomicFile::AtomicFile(std::shared_ptr<const Directory> temp_dir,
                       std::shared_ptr<const Directory> final_dir, std::string name, mode_t mode,
                       size_t buffer_bytes)
    : temp_dir_(std::move(temp_dir)),
      final_dir_(std::move(final_dir)),
      name_(std::move(name)),
      buf_(buffer_bytes) {
  require_entry_name(name_, final_dir_->path());
  final_ = final_dir_->path_of(name_);
  struct stat st {};
  if (::fstatat(final_dir_->fd(), name_.c_str(), &st, 0) == 0 && S_ISDIR(st.st_mode))
    throw IoError(final_.string() + ": output path is a folder");
  temp_name_ = make_temp_name(name_);
  // O_RDWR: read_back checksums the file through this fd.
  fd_ = UniqueFd(::openat(temp_dir_->fd(), temp_name_.c_str(),
                          O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd_) throw_errno(temp_path().string(), "cannot create output file", errno);
}

void AtomicFile::keep_mode_and_group() {
  struct stat st {};
  if (::fstatat(final_dir_->fd(), name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode))
    return;
  if (::fchmod(fd_.get(), st.st_mode & 0777) != 0)
    throw_errno(temp_path().string(), "cannot set the mode of the replaced file", errno);
  struct stat mine {};
  if (::fstat(fd_.get(), &mine) == 0 && mine.st_gid != st.st_gid)
    (void)::fchown(fd_.get(), uid_t(-1), st.st_gid);  // EPERM: not a group of ours
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() noexcept {
  fd_.reset();
  if (!committed_ && !temp_name_.empty()) temp_dir_->remove(temp_name_);
}

void AtomicFile::write_all(const char* p, size_t left) {
  while (left) {
    ssize_t n = do_write(fd_.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(final_.string(), "write failed", errno);
    }
    if (n == 0) throw_errno(final_.string(), "write failed", ENOSPC);
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void AtomicFile::flush() {
  write_all(buf_.data(), used_);
  used_ = 0;
}

void AtomicFile::write(std::string_view bytes) {
  if (!fd_ || synced_) throw IoError(final_.string() + ": write after close");
  size_ += bytes.size();
  if (bytes.size() > buf_.size() - used_) {
    flush();
    if (bytes.size() >= buf_.size()) return write_all(bytes.data(), bytes.size());
  }
  std::memcpy(buf_.data() + used_, bytes.data(), bytes.size());
  used_ += bytes.size();
}

void AtomicFile::write_at(uint64_t offset, std::string_view bytes) {
  if (!fd_ || synced_) throw IoError(final_.string() + ": write after close");
  flush();
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pwrite(fd_.get(), bytes.data() + done, bytes.size() - done,
                         static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(final_.string(), "write failed", errno);
    }
    done += static_cast<size_t>(n);
  }
}

void AtomicFile::sync() {
  if (synced_) return;
  if (!fd_) throw IoError(final_.string() + ": sync after close");
  flush();
  if (::fsync(fd_.get()) != 0) throw_errno(final_.string(), "fsync failed", errno);
  synced_ = true;
}

void AtomicFile::read_back(const std::function<void(std::string_view)>& sink) const {
  if (!synced_ || !fd_) throw IoError(final_.string() + ": read back before sync");
  ByteBuffer chunk(1 << 20);
  for (off_t at = 0;;) {
    ssize_t n = ::pread(fd_.get(), chunk.data(), chunk.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(temp_path().string(), "cannot read back", errno);
    if (n == 0) return;
    sink(std::string_view(chunk.data(), size_t(n)));
    at += n;
  }
}

bool AtomicFile::rename_into_place(Replace replace) {
  sync();
  if (::close(fd_.release()) != 0) throw_errno(final_.string(), "close failed", errno);
  // The rename is done once it returns; a failed folder fsync after it must not unlink the
  // file now under its final name, so `committed_` is set before move_durably syncs.
  const std::string temp = temp_name_;
  bool ok = false;
  try {
    ok = move_durably(*temp_dir_, temp, *final_dir_, name_, replace);
  } catch (...) {
    // Either the rename failed (temporary file still there: the destructor removes it) or
    // the fsync after it did (the file is in place: keep it).
    if (!temp_dir_->contains(temp)) committed_ = true;
    throw;
  }
  if (ok) committed_ = true;
  return ok;
}

void AtomicFile::commit() {
  if (!rename_into_place(Replace::yes))
    throw IoError(temp_path().string() + ": temporary file vanished before commit");
}

bool AtomicFile::commit_new() {
  if (rename_into_place(Replace::no)) return true;
  discard();
  return false;
}

}  // namespace qkv::io
