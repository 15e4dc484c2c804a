// A private redis-server for the scale-out tests: started by the test on a Unix socket in its
// temp folder (`--port 0`, no TCP at all), AOF on, stopped with SHUTDOWN and started again on
// the same data.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "jobs/redis/redis_client.hpp"

namespace qkv::test {

class RedisServer {
 public:
  explicit RedisServer(std::filesystem::path dir);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void start();     // waits until PING answers
  void shutdown();  // SHUTDOWN (AOF is synced first), waits for the process to exit
  std::string url() const { return "unix://" + socket_.string(); }
  // One command on a fresh connection (throws on error replies).
  jobs::redis::Reply cmd(const std::vector<std::string>& argv);

 private:
  std::filesystem::path dir_, socket_;
  pid_t pid_ = -1;
  jobs::redis::Client client_;
};

}  // namespace qkv::test
