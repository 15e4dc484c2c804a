#include "jobs/redis/redis_options.hpp"

#include <unistd.h>

#include <cstdio>

namespace qkv::jobs::redis {

std::string default_consumer() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !host[0])
    std::snprintf(host, sizeof host, "qkvd");
  return std::string(host) + "-" + std::to_string(::getpid());
}

}  // namespace qkv::jobs::redis
