#include "ctl/commands.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "config/daemon_config.hpp"
#include "config/install_layout.hpp"
#include "ctl/client.hpp"
#include "ctl/exit_codes.hpp"
#include "ctl/progress_view.hpp"
#include "ctl/requests.hpp"
#include "protocol/job_state.hpp"
#include "protocol/replies.hpp"

namespace qkv::ctl {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using protocol::JobState;
using protocol::reply_error_code;
using protocol::reply_ok;

// Sends a command's request (built by ctl/requests.cpp) and reads the reply line.
json call(Client& c, const protocol::RequestBody& request) {
  return c.call(protocol::request_object(request));
}

int refused(const json& reply, const Options& o) {
  if (o.json) {
    std::cout << reply.dump() << "\n";
  } else {
    std::string code = reply_error_code(reply);
    std::cerr << "qkvctl: [" << (code.empty() ? "?" : code) << "] "
              << protocol::reply_error_message(reply) << "\n";
  }
  return exit_for_error(reply_error_code(reply));
}

int exit_for_state(const std::string& state) {
  auto s = protocol::parse_job_state(state);
  if (s == JobState::done) return kOk;
  if (s == JobState::cancelled) return kCancelled;
  if (s == JobState::queued) return kTempFail;  // given back at shutdown: runs after restart
  return kJobFailed;
}

// ", 3 truncated (model.truncate), 2 bad records skipped (OUT.rejects.jsonl)", or "": what a
// done job's result did not write whole, shown by status and wait, not only in the manifest.
std::string cut_and_skipped(const json& result) {
  std::string s;
  if (auto n = result.value("truncated", uint64_t(0)))
    s += ", " + std::to_string(n) + " truncated (model.truncate)";
  if (auto n = result.value("rejected", uint64_t(0)))
    s += ", " + std::to_string(n) + " bad records skipped (OUT.rejects.jsonl)";
  return s;
}

void print_outcome(const json& job) {
  std::string id = job.value("id", ""), state = job.value("state", "");
  if (protocol::parse_job_state(state) == JobState::done) {
    auto r = job.value("result", json::object());
    const double bytes = double(r.value("input_bytes", uint64_t(0)));
    const double seconds = r.value("seconds", 0.0);
    std::printf("job %s done: %llu documents, %llu tokens, %s in %.2f s (%s/s)\n", id.c_str(),
                static_cast<unsigned long long>(r.value("documents", uint64_t(0))),
                static_cast<unsigned long long>(r.value("tokens", uint64_t(0))),
                human_bytes(bytes).c_str(), seconds,
                human_bytes(seconds > 0 ? bytes / seconds : 0).c_str());
    if (std::string more = cut_and_skipped(r); !more.empty())
      std::printf("job %s: %s\n", id.c_str(), more.substr(2).c_str());
    for (auto& out : r.value("outputs", json::array()))
      std::printf("  wrote %s\n", out.get<std::string>().c_str());
  } else {
    auto err = job.value("error", json::object());
    std::printf("job %s %s: [%s] %s\n", id.c_str(), state.c_str(), err.value("code", "").c_str(),
                err.value("message", "").c_str());
  }
  std::fflush(stdout);
}

// Streams a wait: progress to stderr (bar or lines), the end to stdout.
int wait_job(Client& c, const std::string& id, const Options& o, bool quiet = false) {
  c.send(protocol::request_object(protocol::WaitRequest{id}));
  ProgressView view(stderr, o.tty);
  for (;;) {
    json j = c.read_json();
    if (o.json) std::cout << j.dump() << std::endl;
    if (j.value("event", "") == protocol::event::progress) {
      if (!o.json && !quiet) view.update(j);
      continue;
    }
    view.finish();
    if (!reply_ok(j)) return o.json ? exit_for_error(reply_error_code(j)) : refused(j, o);
    json job = j.value("job", json::object());
    if (!o.json && !quiet) print_outcome(job);
    return exit_for_state(job.value("state", ""));
  }
}

int submit(Client& c, const Options& o) {
  json reply = call(c, build_request("submit", o));
  if (!reply_ok(reply)) return refused(reply, o);
  std::string id = reply.value("id", "");
  if (o.json)
    std::cout << reply.dump() << std::endl;
  else
    std::cout << id << std::endl;
  if (!o.wait) return kOk;
  // A sharded job on the Redis queue has a parent whose state any worker derives from the
  // shards' ends: waiting for it is waiting for all of them.
  if (o.shards == 0 || o.queue == "redis") return wait_job(c, id, o);
  // A sharded job's shards are jobs of their own, "<id>.s00000" on: wait for each in order
  // and exit as the first shard that did not end done.
  int first_bad = kOk;
  for (unsigned i = 0; i < o.shards; ++i) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, ".s%05u", i);
    const int rc = wait_job(c, id + suffix, o);
    if (first_bad == kOk) first_bad = rc;
  }
  return first_bad;
}

void print_status(const json& job) {
  auto line = [](const char* k, const std::string& v) {
    if (!v.empty()) std::printf("%-10s %s\n", k, v.c_str());
  };
  line("id:", job.value("id", ""));
  std::string state = job.value("state", "");
  auto p = job.value("progress", json::object());
  if (!p.empty()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, " (%llu documents, %s of %s)",
                  static_cast<unsigned long long>(p.value("documents_done", uint64_t(0))),
                  human_bytes(double(p.value("bytes_done", uint64_t(0)))).c_str(),
                  human_bytes(double(p.value("bytes_total", uint64_t(0)))).c_str());
    state += buf;
  }
  line("state:", state);
  line("pipeline:", job.value("pipeline", ""));
  std::string inputs;
  for (auto& i : job.value("inputs", json::array())) {
    if (!inputs.empty()) inputs += ' ';
    inputs += i.get<std::string>();
  }
  line("inputs:", inputs);
  line("output:", job.value("output", ""));
  auto by = job.value("submitted_by", json::object());
  std::string sub = job.value("submitted_at", "");
  if (!by.empty())
    sub += " by uid " + std::to_string(by.value("uid", 0)) + " (" + by.value("via", "") + ")";
  line("submitted:", sub);
  line("started:", job.value("started_at", ""));
  line("ended:", job.value("ended_at", ""));
  if (job.contains("result")) {
    auto r = job["result"];
    line("result:", std::to_string(r.value("documents", uint64_t(0))) + " documents, " +
                        std::to_string(r.value("tokens", uint64_t(0))) + " tokens" +
                        cut_and_skipped(r));
    for (auto& out : r.value("outputs", json::array())) line("wrote:", out.get<std::string>());
  }
  if (job.contains("error")) {
    std::string e = "[";
    e += job["error"].value("code", "");
    e += "] ";
    e += job["error"].value("message", "");
    line("error:", e);
  }
}

// A command with one request and one reply: `show` prints the reply for humans.
int simple(Client& c, const std::string& name, const Options& o, void (*show)(const json&)) {
  json reply = call(c, build_request(name, o));
  if (!reply_ok(reply)) return refused(reply, o);
  if (o.json)
    std::cout << reply.dump() << std::endl;
  else
    show(reply);
  return kOk;
}

void flat(const json& j, const std::string& prefix) {
  for (auto& [k, v] : j.items()) {
    if (k == "v" || k == "ok") continue;
    if (v.is_object())
      flat(v, prefix + k + ".");
    else
      std::printf("%s%s: %s\n", prefix.c_str(), k.c_str(), v.dump().c_str());
  }
}

// `qkvctl plugins`: what the running daemon loaded (not what is on disk now).
void print_plugins(const json& r) {
  auto loaded = r.value("plugins", json::array());
  std::printf("loaded plugins (%zu):\n", loaded.size());
  for (auto& p : loaded) {
    std::printf("  %-11s %-22s %-10s ABI %s  %s", p.value("kind", "").c_str(),
                p.value("name", "").c_str(), p.value("version", "").c_str(),
                p.value("abi", "").c_str(), p.value("file", "").c_str());
    if (auto d = p.value("description", ""); !d.empty()) std::printf("  -- %s", d.c_str());
    std::printf("\n");
  }
  auto refused = r.value("refused", json::array());
  if (!refused.empty()) std::printf("refused (%zu):\n", refused.size());
  for (auto& p : refused) std::printf("  %s\n", p.value("error", "").c_str());
}

// `qkvctl pipelines`: the pipelines the running daemon validated at its last (re)load.
void print_pipelines(const json& r) {
  for (auto& p : r.value("pipelines", json::array())) {
    std::string name = p.value("name", "");
    if (p.value("default", false)) name += " (default)";
    if (!p.value("valid", false)) {
      std::printf("  %s: INVALID: %s\n", name.c_str(), p.value("error", "").c_str());
      continue;
    }
    std::printf("  %s: %s%s -> %s", name.c_str(), p.value("tokenizer", "").c_str(),
                p.value("model", false) ? " + model" : "", p.value("format", "").c_str());
    if (auto d = p.value("description", ""); !d.empty()) std::printf("  # %s", d.c_str());
    std::printf("\n");
  }
}

int cancel(Client& c, const Options& o) {
  json reply = call(c, build_request("cancel", o));
  if (!reply_ok(reply)) return refused(reply, o);
  if (o.json) std::cout << reply.dump() << std::endl;
  std::string state = reply.value("state", "");
  if (!reply.value("cancelled", false)) {
    if (!o.json)
      std::cerr << "qkvctl: job " << o.id << " already ended (" << state
                << "); nothing to cancel\n";
    return protocol::parse_job_state(state) == JobState::cancelled ? kOk : kRefused;
  }
  if (state == "cancelling" && !o.no_wait) {
    int rc = wait_job(c, o.id, o, true);
    if (!o.json)
      std::printf("job %s %s\n", o.id.c_str(),
                  rc == kCancelled ? "cancelled" : "ended before the cancel took effect");
    return rc == kCancelled ? kOk : rc;
  }
  if (!o.json) std::printf("job %s %s\n", o.id.c_str(), state.c_str());
  return kOk;
}

int run(Client& c, Options o) {
  if (o.texts.empty())
    for (std::string line; std::getline(std::cin, line);) o.texts.push_back(line);
  json reply = call(c, build_request("run", o));
  if (!reply_ok(reply)) return refused(reply, o);
  if (o.json) {
    std::cout << reply.dump() << std::endl;
  } else {
    for (auto& r : reply.value("results", json::array())) {
      if (o.text_only && r.is_object() && r.contains("text") && r["text"].is_string())
        std::cout << r["text"].get<std::string>() << "\n";
      else
        std::cout << r.dump() << "\n";
    }
    std::cout.flush();
  }
  return kOk;
}

}  // namespace

std::string resolve_socket(const Options& o) {
  if (!o.socket.empty()) return o.socket;
  if (const char* env = std::getenv("QKV_SOCKET"); env && *env) return env;
  fs::path cfg = o.config.empty() ? config::default_config_file() : fs::path(o.config);
  if (!cfg.empty()) {
    try {
      return config::load_daemon_config(cfg).socket.string();
    } catch (const std::exception& e) {
      // A broken default config is an error too: guessing the socket would report
      // "cannot connect" to a path the user never chose.
      throw UsageError(std::string("cannot read ") + cfg.string() + ": " + e.what());
    }
  }
  return config::DaemonConfig{}.socket.string();
}

int run_command(const std::string& name, const Options& o) {
  try {
    Client c = Client::connect(resolve_socket(o));
    if (name == "submit") return submit(c, o);
    if (name == "status") return simple(c, name, o, [](const json& r) { print_status(r["job"]); });
    if (name == "wait") return wait_job(c, o.id, o);
    if (name == "cancel") return cancel(c, o);
    if (name == "list") {
      return simple(c, name, o, [](const json& r) {
        std::printf("%-34s %-10s %6s  %-20s %s\n", "ID", "STATE", "DONE", "PIPELINE", "SUBMITTED");
        for (auto& j : r["jobs"]) {
          double f = j.value("progress", json::object()).value("fraction", -1.0);
          std::string done = f < 0 ? "-" : std::to_string(int(f * 100 + 0.5)) + "%";
          std::printf("%-34s %-10s %6s  %-20s %s\n", j.value("id", "").c_str(),
                      j.value("state", "").c_str(), done.c_str(), j.value("pipeline", "").c_str(),
                      j.value("submitted_at", "").c_str());
        }
      });
    }
    if (name == "stats") return simple(c, name, o, [](const json& r) { flat(r, ""); });
    if (name == "reload") {
      return simple(c, name, o, [](const json& r) {
        std::printf("reloaded: %zu pipeline(s), %zu plugin(s) (generation %llu)\n",
                    r.value("pipelines", std::size_t(0)), r.value("plugins", std::size_t(0)),
                    static_cast<unsigned long long>(r.value("generation", uint64_t(0))));
        for (auto& w : r.value("warnings", json::array()))
          std::fprintf(stderr, "warning: %s\n", w.get<std::string>().c_str());
      });
    }
    if (name == "health") {
      json reply = call(c, build_request(name, o));
      if (!reply_ok(reply)) return refused(reply, o);
      const std::string status = reply.value("status", "");
      if (o.json) {
        std::cout << reply.dump() << std::endl;
      } else {
        std::printf("qkvd %s %s: protocol %d, pid %lld, up %.0f s, %zu queued, %zu running\n",
                    reply.value("version", "").c_str(), status.c_str(), reply.value("protocol", 0),
                    static_cast<long long>(reply.value("pid", 0LL)),
                    reply.value("uptime_seconds", 0.0), reply.value("queued", std::size_t(0)),
                    reply.value("running", std::size_t(0)));
        for (auto& p : reply.value("problems", json::array()))
          std::printf("  problem: %s\n", p.get<std::string>().c_str());
      }
      // degraded still serves (what works keeps working); only draining means "go elsewhere".
      return status == "ok" || status == "degraded" ? kOk : kTempFail;
    }
    if (name == "plugins") return simple(c, name, o, print_plugins);
    if (name == "pipelines") return simple(c, name, o, print_pipelines);
    if (name == "run") return run(c, o);
    std::cerr << "qkvctl: unknown command " << name << "\n";
    return kUsage;
  } catch (const UsageError& e) {
    std::cerr << "qkvctl: " << e.what() << "\n";
    return kUsage;
  } catch (const ConnectionError& e) {
    std::cerr << "\nqkvctl: " << e.what() << "\n";
    return kUnreachable;
  } catch (const std::exception& e) {
    std::cerr << "qkvctl: " << e.what() << "\n";
    return kUnreachable;
  }
}

}  // namespace qkv::ctl
