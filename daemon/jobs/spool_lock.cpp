#include "jobs/spool_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace qkv::jobs {

SpoolLock::SpoolLock(const std::filesystem::path& spool) {
  std::filesystem::create_directories(spool);
  const std::string file = (spool / "lock").string();
  fd_ = io::UniqueFd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!fd_)
    throw std::runtime_error("cannot open the spool lock " + file + ": " + std::strerror(errno));
  if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK)
      throw std::runtime_error("cannot lock the spool (" + file + "): " + std::strerror(err));
    char buf[32] = {};
    ssize_t n = ::pread(fd_.get(), buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, size_t(n)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    throw std::runtime_error("the spool " + spool.string() + " is in use by another qkvd (pid " +
                             (pid.empty() ? std::string("unknown") : pid) + ", holding " + file +
                             "); one spool serves one daemon");
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_.get(), 0) != 0 ||
      ::pwrite(fd_.get(), me.data(), me.size(), 0) != ssize_t(me.size()))
    throw std::runtime_error("cannot write the spool lock " + file + ": " + std::strerror(errno));
}

}  // namespace qkv::jobs
