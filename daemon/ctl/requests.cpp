#include "ctl/requests.hpp"

#include <filesystem>

#include "protocol/job_state.hpp"

namespace qkv::ctl {
namespace {

namespace fs = std::filesystem;

std::string absolute(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

bool path_like(const std::string& p) {
  auto ends = [&](std::string_view e) {
    return p.size() >= e.size() && p.compare(p.size() - e.size(), e.size(), e) == 0;
  };
  return p.find('/') != std::string::npos || ends(".yaml") || ends(".yml");
}

// The fields `submit` and `run` share.
protocol::JobFields job_fields(const Options& o) {
  protocol::JobFields f;
  if (!o.pipeline.empty()) f.pipeline = path_like(o.pipeline) ? absolute(o.pipeline) : o.pipeline;
  for (auto& s : o.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("--set " + s + ": expected key.path=value");
    f.set[s.substr(0, eq)] = s.substr(eq + 1);  // a repeated key: the last one wins
  }
  f.decode = o.decode;
  return f;
}

}  // namespace

protocol::RequestBody build_request(std::string_view command, const Options& o) {
  if (command == "submit") {
    protocol::SubmitRequest r{job_fields(o), std::nullopt, std::nullopt, std::nullopt};
    for (auto& i : o.inputs) r.job.inputs.push_back(absolute(i));
    r.job.output = absolute(o.output);
    if (o.threads) r.job.threads = o.threads;
    if (!o.request_id.empty()) r.request_id = o.request_id;
    if (!o.queue.empty()) r.queue = o.queue;
    if (o.shards) r.shards = o.shards;
    return r;
  }
  if (command == "status") return protocol::StatusRequest{o.id};
  if (command == "wait") return protocol::WaitRequest{o.id};
  if (command == "cancel") return protocol::CancelRequest{o.id};
  if (command == "list") {
    protocol::ListRequest r;
    if (!o.state.empty()) {
      r.state = protocol::parse_job_state(o.state);
      if (!r.state)
        throw UsageError("--state " + o.state +
                         ": expected queued, running, done, failed or cancelled");
    }
    if (o.limit) r.limit = o.limit;
    return r;
  }
  if (command == "stats") return protocol::StatsRequest{};
  if (command == "reload") return protocol::ReloadRequest{};
  if (command == "health") return protocol::HealthRequest{};
  if (command == "plugins") return protocol::PluginsRequest{};
  if (command == "pipelines") return protocol::PipelinesRequest{};
  if (command == "run") {
    protocol::RunRequest r{job_fields(o)};
    r.job.texts = o.texts;
    return r;
  }
  throw UsageError("unknown command " + std::string(command));
}

}  // namespace qkv::ctl
