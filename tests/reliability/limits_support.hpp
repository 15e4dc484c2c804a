// Helpers shared by the limits_* tests: health timings, reply checks, sparse files.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {

using json = nlohmann::json;

// A file of `bytes` that takes no disk space (a hole).
inline void make_sparse(const fs::path& file, uint64_t bytes) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(bytes)) != 0)
    throw std::runtime_error("cannot make sparse file " + file.string());
  ::close(fd);
}

// True when `c` has a reply (or EOF) ready to read now.
inline bool reply_ready(ctl::Client& c) {
  pollfd p{c.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// `health` on fresh connections `n` times; each must answer ok (within 10 s, generous on a
// loaded machine). Returns the reply times in milliseconds, fastest first.
inline std::vector<double> health_times(const Daemon& d, int n) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    auto c = d.client();
    auto t0 = std::chrono::steady_clock::now();
    c.send({{"op", "health"}});
    auto r = c.read_json(10s);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    EXPECT_TRUE(r.value("ok", false)) << r.dump();
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

// Writes pipeline "hang": test-bytes hangs in encode on a text containing HANG until the
// returned file exists (it writes <file>.started when it begins).
inline fs::path write_hang_pipeline(const Rig& rig) {
  const fs::path release = rig.dir.path / "release-hang";
  rig.write_pipeline("hang",
                     "tokenizer: {plugin: test-bytes, config: {hang_on: HANG, "
                     "hang_release: " +
                         release.string() + "}}\noutput: {format: jsonl}\n");
  return release;
}

inline std::string error_code_of(const json& reply) {
  return reply.value("error", json::object()).value("code", "");
}
inline std::string error_message_of(const json& reply) {
  return reply.value("error", json::object()).value("message", "");
}

}  // namespace qkv::test
