// Who may talk to qkvd and what each may do: TCP clients prove a token first (HTTP and
// anything else is refused and closed), jobs record the real identity, a submitter sees and
// cancels only its own jobs, only admins reload; a second local user is refused another's jobs.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

const std::string kAlice = "alice-0123456789abcdef0123456789abcdef";
const std::string kBob = "bob-0123456789abcdef0123456789abcdef012";

// A rig with a TCP listener, tokens alice and bob, the test's own uid as the only admin.
struct TcpRig {
  explicit TcpRig(const std::string& extra = "", unsigned tokens_mode = 0600)
      : port(free_tcp_port()), rig(yaml(extra, port), /*slow_delay_us=*/20000) {
    tokens = rig.dir.path / "tokens";
    write_text(tokens, "# NAME:TOKEN\nalice:" + kAlice + "\nbob:" + kBob + "\n");
    ::chmod(tokens.c_str(), tokens_mode);
    std::string cfg = read_text(rig.config);
    write_text(rig.config, cfg + "  tokens_file: " + tokens.string() + "\n");
  }
  static std::string yaml(const std::string& extra, uint16_t port) {
    return extra + "access: {admin_uids: [" + std::to_string(::getuid()) +
           "]}\ntcp:\n  address: 127.0.0.1\n  port: " + std::to_string(port) + "\n";
  }
  ctl::Client tcp() const { return ctl::Client::connect_tcp("127.0.0.1", port); }
  ctl::Client authed(const std::string& token) const {
    auto c = tcp();
    auto r = c.call({{"op", "auth"}, {"token", token}});
    EXPECT_TRUE(r.value("ok", false)) << r.dump();
    return c;
  }
  uint16_t port;
  Rig rig;
  fs::path tokens;
};

std::string code_of(const json& r) { return r.value("error", json::object()).value("code", ""); }

bool closed_by_daemon(ctl::Client& c) {
  try {
    c.read_line(10s);
    return false;
  } catch (const ctl::ConnectionError&) {
    return true;
  }
}

TEST(SecurityAuth, TcpNeedsAPrivateTokensFile) {
  {  // no tokens_file at all: a config error
    uint16_t port = free_tcp_port();
    Rig rig(TcpRig::yaml("", port));
    auto r = run_cmd({bin("qkvd"), "--check-config", rig.config.string()});
    EXPECT_NE(r.code, 0);
    EXPECT_NE((r.out + r.err).find("tokens_file"), std::string::npos) << r.out << r.err;
  }
  {  // readable by others: qkvd refuses to start, naming the file and the mode
    TcpRig t("", 0644);
    Daemon d(t.rig);
    d.spawn();
    EXPECT_EQ(d.wait_exit(20s), 1);
    EXPECT_NE(d.log().find("must be 0600"), std::string::npos) << d.log();
  }
  {  // a token shorter than 32 bytes
    TcpRig t;
    write_text(t.tokens, "short:abc\n");
    ::chmod(t.tokens.c_str(), 0600);
    Daemon d(t.rig);
    d.spawn();
    EXPECT_EQ(d.wait_exit(20s), 1);
    EXPECT_NE(d.log().find("fewer than 32"), std::string::npos) << d.log();
  }
}

TEST(SecurityAuth, AnUnauthenticatedTcpClientIsRefusedAndClosed) {
  TcpRig t;
  Daemon d(t.rig);
  d.start();
  {  // any other first request
    auto c = t.tcp();
    auto r = c.call({{"op", "list"}});
    EXPECT_EQ(code_of(r), "unauthenticated") << r.dump();
    EXPECT_TRUE(closed_by_daemon(c));
  }
  {  // a wrong token, one byte off
    auto c = t.tcp();
    std::string wrong = kAlice;
    wrong.back() ^= 1;
    auto r = c.call({{"op", "auth"}, {"token", wrong}});
    EXPECT_EQ(code_of(r), "unauthenticated") << r.dump();
    EXPECT_TRUE(closed_by_daemon(c));
  }
  {  // a valid token: served, as who it is
    auto c = t.authed(kAlice);
    auto r = c.call({{"op", "health"}});
    EXPECT_TRUE(r.value("ok", false)) << r.dump();
    EXPECT_EQ(c.call({{"op", "auth"}, {"token", kBob}})["identity"],
              json({{"via", "tcp"}, {"token", "alice"}}));  // no switching identity
  }
  EXPECT_NE(d.log().find("refused authentication"), std::string::npos) << d.log();
  EXPECT_EQ(d.log().find(kAlice), std::string::npos) << "a token reached the log";
}

TEST(SecurityAuth, EachHttpMethodIsRefusedAndClosedAndNothingRuns) {
  TcpRig t;
  Daemon d(t.rig);
  d.start();
  const std::string body = R"({"op":"submit","inputs":[")" + (t.rig.in / "a.jsonl").string() +
                           R"("],"output":")" + (t.rig.out / "x").string() + R"("})";
  write_text(t.rig.in / "a.jsonl", jsonl_of({"hello"}));
  for (std::string method : {"GET", "POST", "PUT", "OPTIONS", "HEAD", "DELETE"}) {
    auto c = t.tcp();
    c.send_raw(method + " / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n" +
               "Content-Length: " + std::to_string(body.size() + 1) + "\r\n\r\n" + body + "\n");
    auto r = c.read_json(10s);
    EXPECT_EQ(code_of(r), "unauthenticated") << method << ": " << r.dump();
    EXPECT_TRUE(closed_by_daemon(c)) << method;
  }
  {
    auto c = t.tcp();
    c.send_raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + body + "\n");
    EXPECT_EQ(code_of(c.read_json(10s)), "unauthenticated");
    EXPECT_TRUE(closed_by_daemon(c));
  }
  auto stats = d.client().call({{"op", "stats"}});
  EXPECT_EQ(stats["jobs"]["accepted"], 0) << stats.dump();
  EXPECT_FALSE(fs::exists(t.rig.out / "x"));
}

json submit_slow(ctl::Client& c, const Rig& rig, const std::string& name) {
  std::vector<std::string> texts(400, "some text");
  write_text(rig.in / (name + ".jsonl"), jsonl_of(texts));
  auto r = c.call({{"op", "submit"},
                   {"pipeline", "slow"},
                   {"inputs", {(rig.in / (name + ".jsonl")).string()}},
                   {"output", (rig.out / name).string()}});
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
  return r;
}

TEST(SecurityAuth, JobsRecordTheRealIdentityAndOnlyTheirSubmitterOrAnAdminActsOnThem) {
  TcpRig t;
  Daemon d(t.rig);
  d.start();
  auto alice = t.authed(kAlice);
  auto bob = t.authed(kBob);
  std::string id = submit_slow(alice, t.rig, "alice")["id"];

  auto mine = alice.call({{"op", "status"}, {"id", id}});
  ASSERT_TRUE(mine.value("ok", false)) << mine.dump();
  EXPECT_EQ(mine["job"]["submitted_by"], json({{"via", "tcp"}, {"token", "alice"}}));

  for (const char* op : {"status", "wait", "cancel"}) {
    auto r = bob.call({{"op", op}, {"id", id}});
    EXPECT_EQ(code_of(r), "permission_denied") << op << ": " << r.dump();
  }
  EXPECT_EQ(bob.call({{"op", "list"}})["jobs"].size(), 0u);
  // (polled: a job being started is briefly in neither the queue nor the running set)
  EXPECT_TRUE(eventually([&] { return alice.call({{"op", "list"}})["jobs"].size() == 1u; }));
  EXPECT_EQ(code_of(bob.call({{"op", "reload"}})), "permission_denied");
  EXPECT_EQ(code_of(alice.call({{"op", "reload"}})), "permission_denied");

  // The Unix-socket client is this test's uid, an admin: sees, and cancels, alice's job.
  auto admin = d.client();
  EXPECT_TRUE(eventually([&] { return admin.call({{"op", "list"}})["jobs"].size() == 1u; }));
  std::string own = submit_slow(admin, t.rig, "root")["id"];
  auto view = admin.call({{"op", "status"}, {"id", own}});
  EXPECT_EQ(view["job"]["submitted_by"]["via"], "unix");
  EXPECT_EQ(view["job"]["submitted_by"]["uid"], ::getuid());
  EXPECT_EQ(code_of(alice.call({{"op", "status"}, {"id", own}})), "permission_denied");
  EXPECT_TRUE(admin.call({{"op", "cancel"}, {"id", id}}).value("cancelled", false));
  EXPECT_TRUE(admin.call({{"op", "cancel"}, {"id", own}}).value("cancelled", false));
  // After the end, from the kept report: still alice's only.
  ASSERT_TRUE(eventually([&] {
    return alice.call({{"op", "status"}, {"id", id}})["job"].value("state", "") == "cancelled";
  }));
  EXPECT_EQ(code_of(bob.call({{"op", "status"}, {"id", id}})), "permission_denied");
  EXPECT_NE(d.log().find("permission_denied"), std::string::npos);
}

// Runs `fn` in a child process with the rights of `uid`; returns its exit status.
template <class Fn>
int as_user(uid_t uid, gid_t gid, Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(90);
    ::_exit(fn());
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

TEST(SecurityAuth, ASecondLocalUserCannotSeeOrCancelAnothersJobs) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root to create a second local user with useradd (running as uid "
                 << ::geteuid() << ")";
  const char* name = "qkvsectest";
  if (!::getpwnam(name)) {
    auto r = run_cmd({"/usr/sbin/useradd", "--system", "--no-create-home", "--shell",
                      "/usr/sbin/nologin", name});
    if (r.code != 0 && !::getpwnam(name))
      GTEST_SKIP() << "useradd failed (exit " << r.code << "): " << r.err;
  }
  const passwd* pw = ::getpwnam(name);
  ASSERT_NE(pw, nullptr);
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;

  Rig rig("socket_mode: \"0666\"\naccess: {admin_uids: [0]}\n", /*slow_delay_us=*/20000);
  ::chmod(rig.dir.path.c_str(), 0755);
  Daemon d(rig);
  d.start();
  auto root = d.client();
  std::string id = submit_slow(root, rig, "victim")["id"];
  const std::string sock = rig.socket.string();
  int rc = as_user(uid, gid, [&] {
    try {
      auto c = ctl::Client::connect(sock);
      if (code_of(c.call({{"op", "status"}, {"id", id}})) != "permission_denied") return 1;
      if (code_of(c.call({{"op", "wait"}, {"id", id}})) != "permission_denied") return 2;
      if (code_of(c.call({{"op", "cancel"}, {"id", id}})) != "permission_denied") return 3;
      if (!c.call({{"op", "list"}})["jobs"].empty()) return 4;
      if (code_of(c.call({{"op", "reload"}})) != "permission_denied") return 5;
      return 0;
    } catch (...) {
      return 9;
    }
  });
  EXPECT_EQ(rc, 0) << "1 status, 2 wait, 3 cancel, 4 list, 5 reload was allowed; 9 no socket";
  auto after = root.call({{"op", "status"}, {"id", id}});
  EXPECT_NE(after["job"].value("state", ""), "cancelled") << after.dump();
  EXPECT_NE(d.log().find("permission_denied: uid " + std::to_string(uid)), std::string::npos)
      << d.log();
  root.call({{"op", "cancel"}, {"id", id}});
}

TEST(SecurityAuth, OnePeerCannotTakeEveryConnection) {
  Rig rig("limits: {max_connections_per_peer: 3}\n");
  Daemon d(rig);
  d.start();
  std::vector<ctl::Client> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(d.client());
    EXPECT_TRUE(held.back().call({{"op", "health"}}).value("ok", false));
  }
  auto extra = d.client();
  auto r = extra.read_json(10s);
  EXPECT_EQ(code_of(r), "too_many_connections") << r.dump();
  held.pop_back();  // one closed: room again
  EXPECT_TRUE(eventually([&] {
    try {
      return d.client().call({{"op", "health"}}).value("ok", false);
    } catch (const std::exception&) {
      return false;
    }
  }));
}

}  // namespace
}  // namespace qkv::test
