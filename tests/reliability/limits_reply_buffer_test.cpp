// limits.max_reply_buffer_bytes (8 MiB): a client that sends requests and never reads the
// replies stops being read once that much is unsent, and is closed after
// limits.idle_timeout_seconds (daemon/server/connection.cpp). The daemon's memory stays
// bounded (it grew ~100 MB/s before) and others are served.
#include <fcntl.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <fstream>

#include "limits_support.hpp"

namespace qkv::test {
namespace {

long status_mib(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long kb = -1;
  while (f >> key) {
    if (key == field) {
      f >> kb;
      break;
    }
    std::getline(f, key);
  }
  return kb / 1024;
}

TEST(LimitsReplyBuffer, AClientThatDoesNotReadIsStoppedThenClosedAndMemoryStaysBounded) {
  Rig rig("limits: {idle_timeout_seconds: 2}\n");
  Daemon d(rig);
  d.start();
  const long before = status_mib(d.pid(), "VmRSS:");

  // Each request: one 100 KB text; each reply: 100 000 ids, ~400 KB of JSON.
  const std::string request =
      json{{"op", "run"}, {"pipeline", "bytes"}, {"texts", {std::string(100000, 'a')}}}.dump() +
      "\n";
  auto greedy = d.client();
  ::fcntl(greedy.fd(), F_SETFL, ::fcntl(greedy.fd(), F_GETFL) | O_NONBLOCK);
  // Send up to 1000 requests (400 MB of replies), never reading; stop once the daemon has not
  // taken a byte for 2 s (it stopped reading us).
  std::size_t sent = 0, requests = 0, at = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (requests < 1000 && std::chrono::steady_clock::now() - last_progress < 2s) {
    ssize_t n = ::send(greedy.fd(), request.data() + at, request.size() - at, MSG_NOSIGNAL);
    if (n > 0) {
      sent += std::size_t(n);
      at += std::size_t(n);
      if (at == request.size()) at = 0, ++requests;
      last_progress = std::chrono::steady_clock::now();
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      break;  // closed by the daemon already
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  EXPECT_LT(requests, 1000u) << "the daemon read every request of a client that reads nothing";
  // Others are served while it is stuck.
  EXPECT_TRUE(d.client().call({{"op", "health"}}).value("ok", false));

  // Closed after limits.idle_timeout_seconds: only the asking client is left.
  EXPECT_TRUE(eventually(
      [&] {
        return d.client().call({{"op", "stats"}})["connections"] == 1;
      },
      30s));
  const long peak = status_mib(d.pid(), "VmHWM:");
  EXPECT_LT(peak - before, 200) << "MiB of growth; " << requests << " requests, " << sent
                                << " bytes sent";
  EXPECT_NE(d.log().find("does not read its replies"), std::string::npos) << d.log();
}

}  // namespace
}  // namespace qkv::test
