// A service you can watch (issue 12 item 7): health ok / degraded / draining with its
// problems, GET /metrics on its own listener, qkvctl plugins / pipelines asking the running
// daemon, reload warnings, and `qkvctl run --decode --text '[...]'`.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

CmdResult ctl(const Rig& s, std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), {bin("qkvctl"), "--socket", s.socket.string()});
  return run_cmd(args, input);
}

TEST(Health, DegradedNamesTheBrokenPipelineAndStillServes) {
  Rig s;
  Daemon d(s);
  d.start();
  auto c = d.client();
  json h = c.call({{"op", "health"}});
  EXPECT_EQ(h["status"], "ok") << h.dump();
  EXPECT_EQ(h["problems"], json::array());

  // A pipeline whose plugin does not exist: reload warns, health turns degraded and says why.
  s.write_pipeline("broken", "tokenizer: {plugin: no-such-plugin}\n");
  auto r = ctl(s, {"reload"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("pipeline 'broken' is invalid"), std::string::npos) << r.err;
  h = c.call({{"op", "health"}});
  EXPECT_EQ(h["status"], "degraded") << h.dump();
  ASSERT_EQ(h["problems"].size(), 1u) << h.dump();
  EXPECT_NE(h["problems"][0].get<std::string>().find("'broken'"), std::string::npos);
  EXPECT_NE(h["problems"][0].get<std::string>().find("no-such-plugin"), std::string::npos);
  // Degraded still serves: qkvctl health exits 0 and lists the problem; the good pipeline runs.
  r = ctl(s, {"health"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("degraded"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("problem: pipeline 'broken'"), std::string::npos) << r.out;
  r = ctl(s, {"run", "--text", "ab"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[97,98]\n");

  // Fixed and reloaded: ok again.
  fs::remove(s.pipelines / "broken.yaml");
  ASSERT_EQ(ctl(s, {"reload"}).code, 0);
  h = c.call({{"op", "health"}});
  EXPECT_EQ(h["status"], "ok") << h.dump();
  EXPECT_EQ(h["problems"], json::array());
}

TEST(Health, DrainingWhileAJobFinishes) {
  Rig s("", 20000);  // 20 ms per document
  Daemon d(s);
  d.start();
  std::vector<std::string> texts(40, "slow");
  write_text(s.in / "slow.jsonl", jsonl_of(texts));
  auto sub = ctl(s, {"submit", "-p", "slow", (s.in / "slow.jsonl").string(), "-o",
                     (s.out / "slow.jsonl").string()});
  ASSERT_EQ(sub.code, 0) << sub.err;
  auto c = d.client();  // opened before the drain: new connections are refused then
  ASSERT_TRUE(eventually([&] { return c.call({{"op", "health"}})["running"] == 1; }));
  d.signal(SIGTERM);
  EXPECT_TRUE(eventually([&] {
    json h = c.call({{"op", "health"}});
    return h.value("status", "") == "draining";
  }));
  EXPECT_EQ(d.wait_exit(), 0);
}

TEST(Health, ReloadWarnsAboutKeysThatNeedARestart) {
  Rig s;
  Daemon d(s);
  d.start();
  std::string cfg = read_text(s.config);
  write_text(s.config, cfg + "limits: {max_queue: 7}\ndrain_seconds: 9\n");
  auto r = ctl(s, {"reload"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("limits.max_queue changed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("drain_seconds changed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("takes effect when qkvd restarts"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("socket changed"), std::string::npos) << r.err;
}

// Every line of a log, split.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(Logs, SyslogPrioritiesWhenStderrIsTheJournal) {
  Rig s;
  s.write_pipeline("broken", "tokenizer: {plugin: no-such-plugin}\n");
  Daemon d(s);
  d.start({{"JOURNAL_STREAM", "8:12345"}});  // what systemd sets when stderr is the journal
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
  bool serving = false, warned = false;
  for (const auto& l : lines_of(d.log())) {
    ASSERT_EQ(l[0], '<') << l;  // every line carries its priority
    if (l.rfind("<6>qkvd: serving on ", 0) == 0) serving = true;
    if (l.rfind("<4>qkvd: warning: pipeline 'broken' is invalid", 0) == 0) warned = true;
  }
  EXPECT_TRUE(serving) << d.log();
  EXPECT_TRUE(warned) << d.log();
}

TEST(Logs, JsonLinesWhenAsked) {
  Rig s("log_format: json\n");
  s.write_pipeline("broken", "tokenizer: {plugin: no-such-plugin}\n");
  Daemon d(s);
  d.start();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
  bool warned = false;
  for (const auto& l : lines_of(d.log())) {
    json j = json::parse(l, nullptr, false);
    ASSERT_TRUE(j.is_object()) << l;
    EXPECT_TRUE(j["time"].is_string()) << l;
    if (j["level"] == "warning" &&
        j["message"].get<std::string>().rfind("pipeline 'broken' is invalid", 0) == 0) {
      warned = true;
      EXPECT_EQ(j["priority"], 4);
    }
  }
  EXPECT_TRUE(warned) << d.log();
}

TEST(Inventory, PluginsAndPipelinesComeFromTheRunningDaemon) {
  Rig s;
  Daemon d(s);
  d.start();
  auto r = ctl(s, {"plugins"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("test-bytes"), std::string::npos) << r.out;
  r = ctl(s, {"--json", "pipelines"});
  ASSERT_EQ(r.code, 0) << r.err;
  json p = json::parse(r.out);
  std::set<std::string> names;
  for (auto& x : p["pipelines"]) {
    names.insert(x["name"].get<std::string>());
    EXPECT_TRUE(x["valid"].get<bool>()) << x.dump();
    if (x["name"] == "bytes") {
      EXPECT_TRUE(x["default"].get<bool>());
      EXPECT_EQ(x["tokenizer"], "test-bytes");
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{"bytes", "crashy", "slow"}));

  // A pipeline added on disk is not the daemon's until it reloads.
  s.write_pipeline("later", "tokenizer: {plugin: test-bytes}\n");
  r = ctl(s, {"pipelines"});
  EXPECT_EQ(r.out.find("later"), std::string::npos) << r.out;
  ASSERT_EQ(ctl(s, {"reload"}).code, 0);
  r = ctl(s, {"pipelines"});
  EXPECT_NE(r.out.find("  later: test-bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  bytes (default): test-bytes"), std::string::npos) << r.out;
}

TEST(Inventory, DecodeTextIsLikeTheSameIdsOnStdin) {
  Rig s;
  Daemon d(s);
  d.start();
  auto by_text = ctl(s, {"run", "--decode", "--text", "[104,105]"});
  auto by_stdin = ctl(s, {"run", "--decode"}, "[104,105]\n");
  EXPECT_EQ(by_text.code, 0) << by_text.err;
  EXPECT_EQ(by_stdin.code, 0) << by_stdin.err;
  EXPECT_EQ(by_text.out, by_stdin.out);
  EXPECT_NE(by_text.out.find("hi"), std::string::npos) << by_text.out;
}

TEST(QkvdRun, DashStreamsStdinToStdout) {
  Rig s;
  auto r = run_cmd(
      {bin("qkvd"), "--config", s.config.string(), "run", "-p", "bytes", "-i", "-", "-o", "-"},
      jsonl_of({"ab", "c"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[97,98]\n[99]\n");  // only the ids on stdout; the summary is on stderr
  EXPECT_NE(r.err.find("2 documents"), std::string::npos) << r.err;
  // Records with ids: the ids companion cannot go to stdout; stderr says so, and inline_id
  // puts the ids into the lines instead.
  const std::string with_ids = "{\"id\": \"a\", \"text\": \"ab\"}\n";
  r = run_cmd(
      {bin("qkvd"), "--config", s.config.string(), "run", "-p", "bytes", "-i", "-", "-o", "-"},
      with_ids);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[97,98]\n");
  EXPECT_NE(r.err.find("OUT.ids.jsonl was not kept (set output.inline_id=true"), std::string::npos)
      << r.err;
  r = run_cmd({bin("qkvd"), "--config", s.config.string(), "run", "-p", "bytes", "--set",
               "output.inline_id=true", "-i", "-", "-o", "-"},
              with_ids);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"id\":\"a\",\"ids\":[97,98]}\n");
  EXPECT_EQ(r.err.find("was not kept"), std::string::npos) << r.err;
  // And back: ids on stdin, text on stdout.
  r = run_cmd({bin("qkvd"), "--config", s.config.string(), "run", "-p", "bytes", "--decode", "-i",
               "-", "-o", "-"},
              "[104,105]\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"text\":\"hi\"}\n");
  // Nothing is left behind in the private folder.
  TempDir tmp;
  r = run_cmd({"/usr/bin/env", "TMPDIR=" + tmp.path.string(), bin("qkvd"), "--config",
               s.config.string(), "run", "-p", "bytes", "-i", "-", "-o", "-"},
              jsonl_of({"x"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::is_empty(tmp.path));
}

// A child with pipes on its stdin (unless `stdin_file` names a file to read) and stdout; its
// stderr goes to a file. For the streaming tests, where run_cmd's files would hide the timing.
struct Piped {
  pid_t pid = -1;
  int in = -1, out = -1;
  fs::path err;
  Piped(std::vector<std::string> args, const fs::path& err_file, const fs::path& stdin_file = {})
      : err(err_file) {
    int ip[2] = {-1, -1}, op[2];
    if ((stdin_file.empty() && ::pipe2(ip, O_CLOEXEC) != 0) || ::pipe2(op, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (stdin_file.empty())
      posix_spawn_file_actions_adddup2(&fa, ip[0], 0);
    else
      posix_spawn_file_actions_addopen(&fa, 0, stdin_file.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, op[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    if (stdin_file.empty()) {
      ::close(ip[0]);
      in = ip[1];
    }
    ::close(op[1]);
    out = op[0];
  }
  ~Piped() {
    close_in();
    close_out();
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      wait();
    }
  }
  void close_in() {
    if (in >= 0) ::close(in);
    in = -1;
  }
  void close_out() {
    if (out >= 0) ::close(out);
    out = -1;
  }
  void send(const std::string& s) const {
    ASSERT_EQ(::write(in, s.data(), s.size()), ssize_t(s.size()));
  }
  // Reads stdout until it holds `want` bytes or `timeout` passes; what it read.
  std::string read_bytes(size_t want, std::chrono::milliseconds timeout) const {
    std::string got;
    const auto end = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (got.size() < want) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      pollfd p{out, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, int(left.count())) <= 0) break;
      const ssize_t n = ::read(out, buf, std::min(sizeof buf, want - got.size()));
      if (n <= 0) break;
      got.append(buf, size_t(n));
    }
    return got;
  }
  std::string rest() const {
    std::string got;
    char buf[65536];
    for (ssize_t n; (n = ::read(out, buf, sizeof buf)) > 0;) got.append(buf, size_t(n));
    return got;
  }
  // The exit code, or -signal.
  int wait() {
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  }
};

std::vector<std::string> qkvd_run(const Rig& s, std::vector<std::string> args) {
  args.insert(args.begin(), {bin("qkvd"), "--config", s.config.string(), "run"});
  return args;
}

// Output comes as the input does: stdin stays open, yet each record's ids arrive while qkvd
// waits for more (a chunk ends when stdin stalls). Before, nothing came until stdin's end.
TEST(QkvdRun, DashStreamsWhileStdinStaysOpen) {
  Rig s;
  Piped p(qkvd_run(s, {"-p", "bytes", "-i", "-", "-o", "-"}), s.dir.path / "err.txt");
  ASSERT_GT(p.pid, 0);
  p.send(jsonl_of({"ab", "c"}));
  const std::string first = "[97,98]\n[99]\n";
  EXPECT_EQ(p.read_bytes(first.size(), 10s), first);
  p.send(jsonl_of({"d"}));
  EXPECT_EQ(p.read_bytes(6, 10s), "[100]\n");
  p.close_in();
  EXPECT_EQ(p.rest(), "");
  EXPECT_EQ(p.wait(), 0);
  const std::string err = read_text(p.err);
  EXPECT_NE(err.find("3 documents"), std::string::npos) << err;
  EXPECT_NE(err.find("wrote -"), std::string::npos) << err;
  EXPECT_NE(err.find("3 documents, 4 tokens, 40 B in"), std::string::npos)
      << err;  // the bytes read

  // And back: ids in, text out, as they come.
  Piped back(qkvd_run(s, {"-p", "bytes", "--decode", "-i", "-", "-o", "-"}),
             s.dir.path / "err2.txt");
  ASSERT_GT(back.pid, 0);
  back.send("[104,105]\n");
  const std::string hi = "{\"text\":\"hi\"}\n";
  EXPECT_EQ(back.read_bytes(hi.size(), 10s), hi);
  back.send("[33]\n");
  EXPECT_EQ(back.read_bytes(13, 10s), "{\"text\":\"!\"}\n");
  back.close_in();
  EXPECT_EQ(back.rest(), "");
  EXPECT_EQ(back.wait(), 0);
  const std::string err2 = read_text(back.err);
  EXPECT_NE(err2.find("2 documents, 3 tokens, 15 B in"), std::string::npos) << err2;
}

// -i - into a file: the file output as usual (companions, manifest), stdin in the manifest with
// the bytes read.
TEST(QkvdRun, DashInputIntoAFileKeepsTheCompanions) {
  Rig s;
  const std::string in = "{\"id\": \"a\", \"text\": \"ab\"}\n{\"text\": \"c\"}\n";
  auto r = run_cmd(qkvd_run(s, {"-p", "bytes", "-i", "-", "-o", (s.out / "x.jsonl").string()}), in);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_text(s.out / "x.jsonl"), "[97,98]\n[99]\n");
  EXPECT_EQ(read_text(s.out / "x.ids.jsonl"), "\"a\"\nnull\n");
  const json m = json::parse(read_text(s.out / "x.manifest.json"));
  ASSERT_EQ(m["inputs"].size(), 1u) << m.dump();
  EXPECT_EQ(m["inputs"][0]["path"], "<stdin>");
  EXPECT_EQ(m["inputs"][0]["bytes"], in.size());
  // And decoding stdin into a file.
  r = run_cmd(
      qkvd_run(s, {"-p", "bytes", "--decode", "-i", "-", "-o", (s.out / "t.jsonl").string()}),
      "[104,105]\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_text(s.out / "t.jsonl"), "{\"text\":\"hi\"}\n");
  EXPECT_EQ(json::parse(read_text(s.out / "t.manifest.json"))["inputs"][0]["bytes"], 10);
}

// Stdin is jsonl unless the pipeline says txt; then .txt framing applies (CRLF ends a line).
TEST(QkvdRun, DashReadsTxtWhenThePipelineSaysSo) {
  Rig s;
  auto r = run_cmd(qkvd_run(s, {"-p", "bytes", "--set", "input.format=txt", "-i", "-", "-o", "-"}),
                   "ab\r\nc\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[97,98]\n[99]\n");
  r = run_cmd(qkvd_run(s, {"-p", "bytes", "-i", "-", "-o", "-"}), "ab\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("<stdin>:1: document 0"), std::string::npos) << r.err;
}

// The shipped gpt2 pipeline on a real corpus: stdin -> stdout gives the bytes of file -> file,
// and both are tiktoken's (the committed golden).
TEST(QkvdRun, DashOutputEqualsTheFileOutputAndTheGolden) {
  Rig s;
  s.write_shipped_pipeline("gpt2", "tokenize-gpt2");
  auto golden = run_cmd({"/bin/gzip", "-dc",
                         std::string(QKV_SOURCE_DIR) + "/tests/data/golden/en.r50k_base.jsonl.gz"});
  ASSERT_EQ(golden.code, 0) << golden.err;
  // The corpus's first documents (about 600 KB: quick under the sanitizers too) and their lines
  // of the golden; each line is one document's ids, whatever comes after it.
  const std::string all = read_text(std::string(QKV_SOURCE_DIR) + "/tests/data/corpus/en.jsonl");
  size_t docs = 0, in_end = 0, golden_end = 0;
  while (in_end < 600000 && in_end < all.size()) {
    in_end = all.find('\n', in_end) + 1;
    golden_end = golden.out.find('\n', golden_end) + 1;
    ASSERT_NE(golden_end, 0u);
    ++docs;
  }
  ASSERT_GT(docs, 10u);
  const fs::path corpus = s.in / "en.jsonl";
  write_text(corpus, all.substr(0, in_end));
  const std::string expected = golden.out.substr(0, golden_end);
  auto file = run_cmd(
      qkvd_run(s, {"-p", "gpt2", "-i", corpus.string(), "-o", (s.out / "en.jsonl").string()}));
  ASSERT_EQ(file.code, 0) << file.err;
  EXPECT_TRUE(read_text(s.out / "en.jsonl") == expected);
  // stdin through a pipe (cat), not a seekable file.
  Piped p({"/bin/sh", "-c", "cat \"$0\" | \"$1\" --config \"$2\" run -p gpt2 -i - -o -",
           corpus.string(), bin("qkvd"), s.config.string()},
          s.dir.path / "err.txt", "/dev/null");
  const std::string streamed = p.rest();
  EXPECT_EQ(p.wait(), 0) << read_text(p.err);
  EXPECT_EQ(streamed.size(), expected.size());
  EXPECT_TRUE(streamed == expected);
  const std::string err = read_text(p.err);
  EXPECT_NE(err.find(std::to_string(docs) + " documents"), std::string::npos) << err;
}

// `| head -c 1`: the reader goes away; qkvd stops quietly with 141 (128 + SIGPIPE), as a
// program killed by SIGPIPE would tell a shell, and says nothing.
TEST(QkvdRun, DashOutputToAClosedPipeExits141Quietly) {
  Rig s;
  std::string big;
  for (int i = 0; i < 2000; ++i) big += "{\"text\": \"" + std::string(500, 'x') + "\"}\n";
  write_text(s.in / "big.jsonl", big);  // ~4 MB of ids out: far more than a pipe holds
  Piped p(qkvd_run(s, {"-p", "bytes", "-i", "-", "-o", "-"}), s.dir.path / "err.txt",
          s.in / "big.jsonl");
  EXPECT_EQ(p.read_bytes(1, 10s), "[");
  p.close_out();
  EXPECT_EQ(p.wait(), 141);
  const std::string err = read_text(p.err);
  EXPECT_EQ(err.find("terminate"), std::string::npos) << err;
  EXPECT_EQ(err.find("error"), std::string::npos) << err;
  EXPECT_EQ(err.find("crash"), std::string::npos) << err;
}

// input.on_error: skip on stdin: the good rows on stdout, the rejected record on stderr naming
// <stdin> and its line.
TEST(QkvdRun, DashSkipsBadRecordsNamingStdin) {
  Rig s;
  auto r =
      run_cmd(qkvd_run(s, {"-p", "bytes", "--set", "input.on_error=skip", "-i", "-", "-o", "-"}),
              "{\"text\": \"ab\"}\n{bad\n{\"text\": \"c\"}\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[97,98]\n[99]\n");
  EXPECT_NE(r.err.find("\"file\":\"<stdin>\",\"line\":2}"), std::string::npos) << r.err;
  // Without skip: the error names <stdin>:2, and nothing is written after it.
  r = run_cmd(qkvd_run(s, {"-p", "bytes", "-i", "-", "-o", "-"}), "{\"text\": \"ab\"}\n{bad\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("<stdin>:2: document 1"), std::string::npos) << r.err;
  // -o - writes ids jsonl only.
  r = run_cmd(qkvd_run(s, {"-p", "bytes", "--set", "output.format=bin", "-i", "-", "-o", "-"}),
              jsonl_of({"ab"}));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("-o - writes ids jsonl"), std::string::npos) << r.err;
}

TEST(QkvdRun, DrawsAProgressBarOnATerminalOnly) {
  Rig s("", 20000);  // 20 ms per document: a run of about a second
  std::vector<std::string> texts(50, "slow");
  write_text(s.in / "slow.jsonl", jsonl_of(texts));
  const std::string cmd = bin("qkvd") + " --config " + s.config.string() + " run -p slow -i " +
                          (s.in / "slow.jsonl").string() + " -o " + (s.out / "a.jsonl").string();
  // script(1) gives the run a terminal; its output is what the terminal showed.
  auto tty = run_cmd({"/usr/bin/script", "-qec", cmd, "/dev/null"});
  EXPECT_EQ(tty.code, 0) << tty.err;
  EXPECT_NE(tty.out.find("\r\033[Krunning  ["), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("50 documents"), std::string::npos) << tty.out;
  // Not a terminal (a log, a pipe): no bar.
  fs::remove(s.out / "a.jsonl");
  fs::remove(s.out / "a.manifest.json");
  auto plain = run_cmd({"/bin/sh", "-c", cmd});
  EXPECT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("\033[K"), std::string::npos) << plain.err;
}

TEST(Metrics, PrometheusTextOnItsOwnListener) {
  const uint16_t port = free_tcp_port();
  Rig s("metrics: {address: 127.0.0.1, port: " + std::to_string(port) + "}\n");
  Daemon d(s);
  d.start();
  std::vector<std::string> texts = {"one", "two", "three"};
  write_text(s.in / "a.jsonl", jsonl_of(texts));
  auto sub =
      ctl(s, {"submit", "--wait", (s.in / "a.jsonl").string(), "-o", (s.out / "a.jsonl").string()});
  ASSERT_EQ(sub.code, 0) << sub.err;
  ASSERT_EQ(ctl(s, {"run", "--text", "abcd"}).code, 0);
  ASSERT_NE(ctl(s, {"run", "-p", "nope", "--text", "x"}).code, 0);

  std::string text;
  // The job's end is counted by its end listener, which may run just after `wait` returned.
  ASSERT_TRUE(eventually([&] {
    text = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    return sample(text, "qkv_jobs_ended_total{pipeline=\"bytes\",state=\"done\"}") == 1;
  })) << text;
  EXPECT_EQ(text.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << text;
  EXPECT_NE(text.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_EQ(sample(text, "qkv_health{status=\"ok\"}"), 1);
  EXPECT_EQ(sample(text, "qkv_health{status=\"degraded\"}"), 0);
  EXPECT_EQ(sample(text, "qkv_jobs{state=\"running\"}"), 0);
  EXPECT_EQ(sample(text, "qkv_queue_depth"), 0);
  // 3 documents of the job and 1 inline text; tokens are bytes for test-bytes.
  EXPECT_EQ(sample(text, "qkv_documents_processed_total{pipeline=\"bytes\"}"), 4);
  EXPECT_EQ(sample(text, "qkv_tokens_processed_total{pipeline=\"bytes\"}"), 3 + 3 + 5 + 4);
  EXPECT_EQ(sample(text, "qkv_job_duration_seconds_count{pipeline=\"bytes\"}"), 1);
  EXPECT_EQ(sample(text, "qkv_job_duration_seconds_bucket{pipeline=\"bytes\",le=\"+Inf\"}"), 1);
  EXPECT_EQ(sample(text, "qkv_inline_request_duration_seconds_count{pipeline=\"bytes\"}"), 1);
  // A name that is not a loaded pipeline is no label of its own.
  EXPECT_EQ(sample(text, "qkv_inline_requests_total{pipeline=\"other\",result=\"error\"}"), 1);
  EXPECT_EQ(text.find("nope"), std::string::npos);
  EXPECT_GE(sample(text, "qkv_requests_total{op=\"submit\"}"), 1);
  // Aggregates only: no job ids or paths.
  EXPECT_EQ(text.find(s.in.string()), std::string::npos);
  EXPECT_EQ(text.find(s.out.string()), std::string::npos);

  // Read only, one path.
  EXPECT_EQ(http(port, "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(http(port, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  // The protocol is not served there: a request line gets no protocol reply.
  EXPECT_EQ(http(port, "{\"op\":\"health\"}\n\r\n\r\n").find("\"ok\""), std::string::npos);
  // Off by default: the daemon of a config without `metrics:` does not listen on that port.
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
  Rig plain;
  Daemon d2(plain);
  d2.start();
  EXPECT_EQ(http(port, "GET /metrics HTTP/1.1\r\n\r\n"), "");
}

}  // namespace
}  // namespace qkv::test
