#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace qkv::test {

std::string bin(const std::string& name) { return std::string(QKV_BINARY_DIR) + "/bin/" + name; }

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

std::string bytes_ids_jsonl(const std::vector<std::string>& texts) {
  std::string out;
  for (auto& t : texts) {
    out += '[';
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (i) out += ',';
      out += std::to_string(static_cast<unsigned char>(t[i]));
    }
    out += "]\n";
  }
  return out;
}

std::string jsonl_of(const std::vector<std::string>& texts) {
  std::string out;
  for (auto& t : texts) out += nlohmann::json{{"text", t}}.dump() + "\n";
  return out;
}

TempDir::TempDir() {
  // Short, under /tmp: a Unix socket path has at most 107 bytes.
  char tmpl[] = "/tmp/qkvdt-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path = tmpl;
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

Rig::Rig(const std::string& extra_yaml, long slow_delay_us, bool copy_plugins) {
  in = dir.path / "in";
  out = dir.path / "out";
  pipelines = dir.path / "pipelines";
  spool = dir.path / "spool";
  socket = dir.path / "qkvd.sock";
  config = dir.path / "qkvd.yaml";
  plugins = fs::path(QKV_TEST_PLUGIN_DIR);
  for (auto& d : {in, out, pipelines}) fs::create_directories(d);
  if (copy_plugins) {
    fs::path own = dir.path / "plugins";
    fs::create_directories(own);
    for (auto& e : fs::directory_iterator(plugins))
      if (e.path().extension() == ".so") fs::copy_file(e.path(), own / e.path().filename());
    plugins = own;
  }
  write_pipeline("bytes", "tokenizer: {plugin: test-bytes}\noutput: {format: jsonl}\n");
  write_pipeline("slow", "tokenizer: {plugin: test-bytes, config: {delay_us: " +
                             std::to_string(slow_delay_us) +
                             "}}\noutput: {format: jsonl}\nbatch: {documents: 4}\n");
  write_pipeline("crashy",
                 "tokenizer: {plugin: test-bytes, config: {crash_on: CRASH, delay_us: 1000}}\n"
                 "output: {format: jsonl}\nbatch: {documents: 4}\n");
  std::string yaml = "socket: " + socket.string() + "\nspool: " + spool.string() +
                     "\npipelines_dir: " + pipelines.string() + "\nplugin_dirs: [" +
                     plugins.string() + "]\ndefault_pipeline: bytes\n" +
                     (extra_yaml.find("threads:") == std::string::npos ? "threads: 2\n" : "") +
                     "roots: {input: [" + in.string() + ", " + QKV_SOURCE_DIR +
                     "/tests/data], output: [" + out.string() + "]}\n" + extra_yaml;
  write_text(config, yaml);
}

void Rig::write_pipeline(const std::string& name, const std::string& yaml) const {
  write_text(pipelines / (name + ".yaml"), yaml);
}

void Rig::write_shipped_pipeline(const std::string& name, const std::string& shipped) const {
  std::string yaml =
      read_text(std::string(QKV_SOURCE_DIR) + "/configs/pipelines/" + shipped + ".yaml");
  for (size_t at; (at = yaml.find("../../data/")) != std::string::npos;)
    yaml.replace(at, 6, std::string(QKV_SOURCE_DIR) + "/");
  write_pipeline(name, yaml);
}

Daemon::Daemon(const Rig& s) : setup_(s) {}

Daemon::~Daemon() {
  // A failing test shows what qkvd said.
  if (::testing::Test::HasFailure() && !log_.empty())
    std::cerr << "---- qkvd log " << log_ << ":\n" << log();
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
}

void Daemon::start(const std::map<std::string, std::string>& env) {
  spawn(env);
  wait_ready();
}

void Daemon::spawn(const std::map<std::string, std::string>& env) {
  log_ = setup_.dir.path / ("qkvd." + std::to_string(starts_++) + ".log");
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("NOTIFY_SOCKET=", 0) == 0) continue;
    envs.push_back(kv);
  }
  for (auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = bin("qkvd"), cfg = setup_.config.string();
  std::vector<char*> argv{exe.data(), const_cast<char*>("--config"), cfg.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start qkvd");
}

void Daemon::wait_ready() {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("qkvd exited at start:\n" + log());
    }
    try {
      auto c = ctl::Client::connect(setup_.socket.string());
      if (c.call({{"op", "health"}}).value("ok", false)) return;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(20ms);
  }
  throw std::runtime_error("qkvd did not answer within 30 s:\n" + log());
}

void Daemon::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

void Daemon::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int Daemon::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    }
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error("qkvd did not exit in time:\n" + log());
}

ctl::Client Daemon::client() const { return ctl::Client::connect(setup_.socket.string()); }

std::string Daemon::log() const { return read_text(log_); }

CmdResult run_cmd(const std::vector<std::string>& args, const std::string& input) {
  fs::path base = fs::temp_directory_path() /
                  ("qkvd-cmd-" + std::to_string(::getpid()) + "-" +
                   std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::path in = base.string() + ".in", out = base.string() + ".out", err = base.string() + ".err";
  write_text(in, input);
  std::vector<std::string> a = args;
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  CmdResult r;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  }
  posix_spawn_file_actions_destroy(&fa);
  r.out = read_text(out);
  r.err = read_text(err);
  std::error_code ec;
  for (auto& p : {in, out, err}) fs::remove(p, ec);
  return r;
}

std::string http(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) ::close(fd);
    return "";
  }
  (void)!::write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, std::size_t(n));
  ::close(fd);
  return out;
}

double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("cannot bind a TCP port on 127.0.0.1");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace qkv::test
