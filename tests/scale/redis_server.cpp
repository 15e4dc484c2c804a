#include "redis_server.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace qkv::test {

RedisServer::RedisServer(std::filesystem::path dir)
    : dir_(std::move(dir)),
      socket_(dir_ / "redis.sock"),
      client_(jobs::redis::parse_url("unix://" + (dir_ / "redis.sock").string()), {}) {
  start();
}

RedisServer::~RedisServer() {
  client_.disconnect();
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
}

void RedisServer::start() {
  std::vector<std::string> args{"redis-server",
                                "--port",
                                "0",
                                "--unixsocket",
                                socket_.string(),
                                "--unixsocketperm",
                                "700",
                                "--dir",
                                dir_.string(),
                                "--appendonly",
                                "yes",
                                "--appendfsync",
                                "always",
                                "--save",
                                "",
                                "--logfile",
                                (dir_ / "redis.log").string()};
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    try {
      client_.disconnect();
      if (client_.command({"PING"}).str == "PONG") return;
    } catch (const std::exception&) {
      if (std::chrono::steady_clock::now() > end)
        throw std::runtime_error("redis-server did not answer on " + socket_.string());
    }
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited at start (see " +
                               (dir_ / "redis.log").string() + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void RedisServer::shutdown() {
  try {
    client_.command({"SHUTDOWN"});
  } catch (const jobs::redis::ConnectionError&) {
    // SHUTDOWN closes the connection instead of answering.
  }
  client_.disconnect();
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

jobs::redis::Reply RedisServer::cmd(const std::vector<std::string>& argv) {
  return client_.command(argv);
}

}  // namespace qkv::test
