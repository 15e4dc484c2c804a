#include "service/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace qkv::service {

bool sd_notify(std::string_view state) noexcept {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return false;
  std::size_t len = std::strlen(path);
  sockaddr_un addr{};
  if (len >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  socklen_t alen = socklen_t(offsetof(sockaddr_un, sun_path) + len);
  ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), alen);
  ::close(fd);
  return n == ssize_t(state.size());
}

void notify_ready(std::string_view status) noexcept {
  try {
    sd_notify("READY=1\nSTATUS=" + std::string(status) + "\nMAINPID=" + std::to_string(::getpid()));
  } catch (...) {
  }
}

void notify_reloading() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  try {
    sd_notify("RELOADING=1\nSTATUS=reloading pipelines and plugins\nMONOTONIC_USEC=" +
              std::to_string(uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000));
  } catch (...) {
  }
}

void notify_stopping() noexcept { sd_notify("STOPPING=1\nSTATUS=draining jobs"); }

}  // namespace qkv::service
