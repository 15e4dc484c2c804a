// Clients that misbehave get a clear error or are disconnected, while a well-behaved client
// keeps being served the whole time and the daemon stays up.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

std::string error_code(ctl::Client& c) {
  auto j = c.read_json(10s);
  EXPECT_FALSE(j.value("ok", true)) << j.dump();
  return j.value("error", json::object()).value("code", "");
}

bool closed_by_daemon(ctl::Client& c) {
  try {
    c.read_line(10s);
    return false;
  } catch (const ctl::ConnectionError& e) {
    return std::string(e.what()).find("closed") != std::string::npos ||
           std::string(e.what()).find("lost") != std::string::npos;
  }
}

TEST(DaemonBadClients, EachGetsAClearErrorOrIsDisconnectedWhileOthersAreServed) {
  Rig s("limits: {idle_timeout_seconds: 2, max_request_bytes: 1048576}\n");
  Daemon d(s);
  d.start();

  // A good client, all along.
  std::atomic<int> good{0}, bad{0};
  std::jthread good_client([&](std::stop_token stop) {
    auto c = d.client();
    while (!stop.stop_requested()) {
      try {
        auto r = c.call({{"op", "run"}, {"pipeline", "bytes"}, {"texts", {"ok"}}});
        if (r.value("ok", false) && r["results"] == json::parse("[[111,107]]"))
          ++good;
        else
          ++bad;
      } catch (const std::exception&) {
        ++bad;
        c = d.client();  // idle timeouts do not apply: it is never idle
      }
      std::this_thread::sleep_for(5ms);
    }
  });

  {  // truncated JSON: an error, and the connection stays usable
    auto c = d.client();
    c.send_raw("{\"op\":\"sta\n");
    EXPECT_EQ(error_code(c), "bad_json");
    EXPECT_TRUE(c.call({{"op", "health"}}).value("ok", false));
  }
  {  // truncated JSON at the end of the stream: answered, then closed
    auto c = d.client();
    c.send_raw("{\"op\":\"health\"");
    ::shutdown(c.fd(), SHUT_WR);
    EXPECT_EQ(error_code(c), "bad_json");
    EXPECT_TRUE(closed_by_daemon(c));
  }
  {  // unknown op, wrong types, unsupported version, deep nesting
    auto c = d.client();
    c.send_raw("{\"op\":\"explode\"}\n");
    EXPECT_EQ(error_code(c), "unknown_op");
    for (const char* line :
         {R"({"op":"status","id":5})", R"({"op":"run","texts":"x"})",
          R"({"op":"submit","inputs":[1],"output":"/x"})", R"({"op":"list","limit":-1})",
          R"({"op":"wait","id":"x","interval_ms":"fast"})", R"(["op","health"])",
          R"({"op":"run","texts":["a"],"set":[1]})", R"({"op":17})"}) {
      c.send_raw(std::string(line) + "\n");
      EXPECT_EQ(error_code(c), "bad_request") << line;
    }
    c.send_raw("{\"v\":2,\"op\":\"health\"}\n");
    EXPECT_EQ(error_code(c), "unsupported_version");
    c.send_raw(std::string(100000, '[') + "\n");
    EXPECT_EQ(error_code(c), "bad_json");
    c.send_raw("{\"op\":\"run\",\"texts\":[\"\xff\xfe\"]}\n");  // not UTF-8
    EXPECT_EQ(error_code(c), "bad_json");
    EXPECT_TRUE(c.call({{"op", "health"}}).value("ok", false));
  }
  {  // binary garbage: one error per line, never a crash
    auto c = d.client();
    std::mt19937 rng(7);
    std::string junk;
    for (int i = 0; i < 20000; ++i) junk += char(rng() % 256);
    junk += '\n';
    int lines = 0;  // blank lines get no reply
    for (std::size_t b = 0, e; (e = junk.find('\n', b)) != std::string::npos; b = e + 1)
      lines += junk.find_first_not_of(" \t\r", b) < e;
    c.send_raw(junk);
    int errors = 0;
    for (int i = 0; i < lines; ++i) {
      try {
        auto j = c.read_json(10s);
        errors += !j.value("ok", true);
      } catch (const std::exception&) {
        break;
      }
    }
    EXPECT_GE(errors, 1);
  }
  {  // a 100 MB line: refused once it passes the limit, then disconnected
    auto c = d.client();
    std::jthread writer([&] {
      std::string mb(1 << 20, 'a');
      try {
        for (int i = 0; i < 100; ++i) c.send_raw(mb);
      } catch (const std::exception&) {  // the daemon hung up: expected
      }
    });
    EXPECT_EQ(error_code(c), "request_too_large");
    EXPECT_TRUE(closed_by_daemon(c));
  }
  {  // one byte per second: the idle deadline (2 s) cuts it off before the line completes
    auto c = d.client();
    std::string req = "{\"op\":\"health\"}\n";
    auto t0 = std::chrono::steady_clock::now();
    std::string code;
    std::jthread slow([&] {
      try {
        for (char ch : req) {
          c.send_raw(std::string(1, ch));
          std::this_thread::sleep_for(1s);
        }
      } catch (const std::exception&) {
      }
    });
    EXPECT_EQ(error_code(c), "idle_timeout");
    EXPECT_TRUE(closed_by_daemon(c));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);
  }
  {  // a client that vanishes in the middle of a wait
    write_text(s.in / "w.jsonl", jsonl_of(std::vector<std::string>(300, "w")));
    auto c = d.client();
    auto sub = c.call({{"op", "submit"},
                       {"pipeline", "slow"},
                       {"inputs", {(s.in / "w.jsonl").string()}},
                       {"output", (s.out / "w.jsonl").string()}});
    ASSERT_TRUE(sub.value("ok", false)) << sub.dump();
    std::string id = sub["id"];
    c.send({{"op", "wait"}, {"id", id}, {"interval_ms", 50}});
    EXPECT_EQ(c.read_json(10s).value("event", ""), "progress");
    c.close();  // gone
    auto c2 = d.client();
    c2.send({{"op", "wait"}, {"id", id}, {"interval_ms", 1000}});
    json end;
    do end = c2.read_json(30s);
    while (end.value("event", "") != "end");
    EXPECT_EQ(end["job"]["state"], "done");
    EXPECT_EQ(read_text(s.out / "w.jsonl"), bytes_ids_jsonl(std::vector<std::string>(300, "w")));
  }
  good_client.request_stop();
  good_client.join();
  EXPECT_GT(good.load(), 10);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_TRUE(d.client().call({{"op", "health"}}).value("ok", false));
  EXPECT_TRUE(d.running());
  // Connections were all released (the good client's is closed now too).
  EXPECT_TRUE(eventually(
      [&] {
        return d.client().call({{"op", "stats"}})["connections"] == 1;
      },
      5s));
}

}  // namespace
}  // namespace qkv::test
