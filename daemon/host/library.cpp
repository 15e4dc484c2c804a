#include "host/library.hpp"

#include <boost/dll/shared_library.hpp>
#include <boost/system/system_error.hpp>

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <unistd.h>

namespace qkv::host {
namespace fs = std::filesystem;

struct Library::Impl {
  boost::dll::shared_library lib;
};

namespace {

// Boost.DLL reports "load() failed (dlerror system message: <text>): <errno text>"; dlerror's
// <text> is "<path>: <cause>". Keep only the cause: callers name the file themselves.
std::string loader_message(const std::exception& e, const std::string& path) {
  std::string what = e.what();
  const std::string marker = "dlerror system message: ";
  auto at = what.find(marker);
  if (at == std::string::npos) return what;
  std::string text = what.substr(at + marker.size());
  if (auto close = text.rfind("): "); close != std::string::npos)
    text.resize(close);
  else if (!text.empty() && text.back() == ')')
    text.pop_back();
  if (text.rfind(path + ": ", 0) == 0) text.erase(0, path.size() + 2);
  return text;
}

struct CopyPlace {
  std::mutex mutex;
  fs::path parent;  // empty: $TMPDIR, read at each use
  std::string prefix = "qkv-";
  fs::path cleaned;  // the parent last cleaned
};

CopyPlace& copy_place() {
  static CopyPlace place;
  return place;
}

// Removes <parent>/<prefix><pid> folders of dead pids and of this pid (mutex held).
std::size_t clean_place(const fs::path& parent, const CopyPlace& place) {
  std::size_t removed = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(parent, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() <= place.prefix.size() || name.compare(0, place.prefix.size(), place.prefix))
      continue;
    std::string digits = name.substr(place.prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
      continue;
    pid_t pid = static_cast<pid_t>(std::stol(digits));
    bool dead = pid == ::getpid() || (::kill(pid, 0) != 0 && errno == ESRCH);
    if (!dead) continue;
    std::error_code rm;
    fs::remove_all(e.path(), rm);
    if (!rm) ++removed;
  }
  return removed;
}

// This process's folder for private copies (created, the place cleaned on first use).
fs::path own_copy_folder() {
  CopyPlace& place = copy_place();
  std::lock_guard lock(place.mutex);
  const fs::path parent = place.parent.empty() ? fs::temp_directory_path() : place.parent;
  if (place.cleaned != parent) {
    clean_place(parent, place);
    place.cleaned = parent;
  }
  fs::path own = parent / (place.prefix + std::to_string(::getpid()));
  std::error_code ec;
  fs::create_directories(own, ec);
  if (ec)
    throw LibraryError("cannot make " + own.string() +
                       " for private plugin copies: " + ec.message());
  ::chmod(own.c_str(), 0700);
  return own;
}

// A copy of a library in a fresh private directory, removed again when this goes out of scope
// (once loaded, the mapping outlives the directory entry).
class PrivateCopy {
 public:
  explicit PrivateCopy(const fs::path& file) {
    const fs::path own = own_copy_folder();
    std::string dir = (own / "XXXXXX").string();
    if (!::mkdtemp(dir.data()))
      throw LibraryError("cannot make a private directory under " + own.string() +
                         " for a private copy");
    dir_ = dir;
    path_ = dir_ / file.filename();
    std::error_code ec;
    fs::copy_file(file, path_, ec);
    if (ec) {
      remove();
      throw LibraryError("cannot make a private copy: " + ec.message());
    }
  }
  ~PrivateCopy() { remove(); }
  PrivateCopy(const PrivateCopy&) = delete;
  PrivateCopy& operator=(const PrivateCopy&) = delete;
  const fs::path& path() const noexcept { return path_; }

 private:
  void remove() noexcept {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_, path_;
};

}  // namespace

std::size_t set_private_copy_place(const fs::path& parent, const std::string& prefix) {
  CopyPlace& place = copy_place();
  std::lock_guard lock(place.mutex);
  place.parent = parent;
  place.prefix = prefix;
  std::error_code ec;
  fs::create_directories(parent, ec);
  place.cleaned = parent;
  return clean_place(parent, place);
}

std::shared_ptr<Library> Library::open(const fs::path& file, LoadMode mode) {
  constexpr auto flags = boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local;
  std::optional<PrivateCopy> copy;
  if (mode == LoadMode::private_copy) copy.emplace(file);
  const fs::path& target = copy ? copy->path() : file;
  auto impl = std::make_unique<Impl>();
  std::string failure;
  try {
    impl->lib.load(boost::dll::fs::path(target.string()), flags);
  } catch (const std::exception& e) {
    failure = loader_message(e, target.string());
  }
  if (copy) {
    // The loader names the copy; name the file the user knows instead.
    const std::string from = target.string(), to = file.string();
    for (auto at = failure.find(from); at != std::string::npos;
         at = failure.find(from, at + to.size()))
      failure.replace(at, from.size(), to);
  }
  if (!failure.empty() || !impl->lib.is_loaded())
    throw LibraryError(failure.empty() ? "the dynamic loader refused it" : failure);
  return std::make_shared<Library>(Key{}, file, std::move(impl));
}

Library::Library(Key, fs::path file, std::unique_ptr<Impl> impl)
    : file_(std::move(file)), impl_(std::move(impl)) {}

Library::~Library() = default;

void* Library::symbol(const char* name) const noexcept {
  try {
    if (!impl_->lib.has(name)) return nullptr;
    return static_cast<void*>(&impl_->lib.get<char>(name));
  } catch (...) {
    return nullptr;
  }
}

}  // namespace qkv::host
