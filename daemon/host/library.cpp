#include "host/library.hpp"

#include <boost/dll/shared_library.hpp>
#include <boost/system/system_error.hpp>

#include <cstdlib>
#include <string>
#include <system_error>
#include <unistd.h>

namespace qkv::host {
namespace fs = std::filesystem;

struct Library::Impl {
  boost::dll::shared_library lib;
};

namespace {

// Boost.DLL reports "load() failed (dlerror system message: <text>)": keep only the text.
std::string loader_message(const std::exception& e) {
  std::string what = e.what();
  const std::string marker = "dlerror system message: ";
  auto at = what.find(marker);
  if (at == std::string::npos) return what;
  std::string text = what.substr(at + marker.size());
  if (!text.empty() && text.back() == ')') text.pop_back();
  return text;
}

// Copies `file` into a fresh private directory; the caller loads it, then removes both
// (the mapping outlives the directory entry).
fs::path private_copy_of(const fs::path& file) {
  fs::path dir_template = fs::temp_directory_path() / "qkv-plugin-XXXXXX";
  std::string buf = dir_template.string();
  if (!::mkdtemp(buf.data()))
    throw LibraryError("cannot make a private directory under " +
                       fs::temp_directory_path().string() + " for a private copy");
  fs::path copy = fs::path(buf) / file.filename();
  std::error_code ec;
  fs::copy_file(file, copy, ec);
  if (ec) {
    fs::remove_all(buf, ec);
    throw LibraryError("cannot make a private copy: " + ec.message());
  }
  return copy;
}

}  // namespace

std::shared_ptr<Library> Library::open(const fs::path& file, LoadMode mode) {
  constexpr auto flags = boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local;
  fs::path target = mode == LoadMode::private_copy ? private_copy_of(file) : file;
  auto impl = std::make_unique<Impl>();
  std::string failure;
  try {
    impl->lib.load(boost::dll::fs::path(target.string()), flags);
  } catch (const std::exception& e) {
    failure = loader_message(e);
  }
  if (mode == LoadMode::private_copy) {
    std::error_code ec;
    fs::remove_all(target.parent_path(), ec);
    // The loader names the copy; name the file the user knows instead.
    for (auto at = failure.find(target.string()); at != std::string::npos;
         at = failure.find(target.string(), at + file.string().size()))
      failure.replace(at, target.string().size(), file.string());
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
