#include "jobs/spool_source.hpp"

#include <unistd.h>

#include <iostream>

#include "jobs/job_error.hpp"
#include "jobs/job_json.hpp"
#include "jobs/request_key.hpp"
#include "jobs/shard_manifest.hpp"
#include "jobs/shard_plan.hpp"

namespace qkv::jobs {
namespace fs = std::filesystem;
namespace {

// A file in incoming/ that does not parse may still be being written by a careless writer
// (not using tmp/ + rename): it is only failed once it has not changed for this long.
constexpr auto kSettle = std::chrono::seconds(5);

class SpoolLease final : public JobLease {
 public:
  SpoolLease(Spool& spool, std::string name, std::string id,
             std::function<void(const std::string&)> on_claimed,
             std::function<void()> after_done = {})
      : spool_(spool),
        name_(std::move(name)),
        id_(std::move(id)),
        on_claimed_(std::move(on_claimed)),
        after_done_(std::move(after_done)) {}
  bool claim() override {
    bool ok = spool_.claim(name_, id_);
    on_claimed_(name_);
    return ok;
  }
  void complete(const JobRecord& job, const JobOutcome& outcome) override {
    spool_.complete(id_, outcome.state == JobState::done, job_view(job, &outcome));
    if (after_done_ && outcome.state == JobState::done) after_done_();
  }
  void release() override { spool_.release(id_); }

 private:
  Spool& spool_;
  std::string name_, id_;
  std::function<void(const std::string&)> on_claimed_;
  std::function<void()> after_done_;  // a shard: the parent manifest once all shards are done
};

std::string id_for(const std::string& name) {
  if (name.size() > 5 && name.substr(name.size() - 5) == ".json")
    return name.substr(0, name.size() - 5);
  return name;
}

}  // namespace

SpoolSource::SpoolSource(Spool& spool, std::function<const io::PathPolicy&()> policy,
                         std::function<std::string()> default_pipeline,
                         std::function<void(const pipeline::JobSpec&)> validate)
    : spool_(spool),
      policy_(std::move(policy)),
      default_pipeline_(std::move(default_pipeline)),
      validate_(std::move(validate)) {}

void SpoolSource::recover(const std::vector<crash::Record>& crashes) {
  auto rep = spool_.recover(crashes, &policy_());
  std::lock_guard lock(mutex_);
  requests_.clear();
  for (auto& [id, file] : spool_.job_files()) {
    if (!file.is_object() || !file.contains("submitted_by")) continue;
    if (const std::string* rid = request_id_of(file))
      requests_[{request_owner(protocol::identity_from_json(file["submitted_by"])), *rid}] = {
          id, request_body_sha256(file)};
  }
  for (auto& id : rep.requeued)
    std::cerr << "qkvd: job " << id
              << " was running when qkvd stopped unexpectedly; running it again\n";
  for (auto& id : rep.blamed)
    std::cerr << "qkvd: job " << id
              << " crashed qkvd (crash record); a second crash fails it as suspect\n";
  for (auto& id : rep.suspects)
    std::cerr << "qkvd: job " << id << " crashed qkvd twice; moved to failed/ as suspect\n";
  for (auto& id : rep.finished)
    std::cerr << "qkvd: job " << id
              << " had written all its outputs before qkvd stopped; recorded as done\n";
  for (auto& id : rep.completed)
    std::cerr << "qkvd: job " << id << " had ended before the crash; its end is now recorded\n";
}

void SpoolSource::maintain() {
  if (std::size_t n = spool_.prune())
    std::cerr << "qkvd: retention removed " << n << " old job(s)\n";
}

pipeline::JobSpec SpoolSource::checked_spec(const nlohmann::json& request) const {
  pipeline::JobSpec spec = parse_job_fields(request, JobKind::file, default_pipeline_());
  try {
    spec.inputs = policy_().resolve_inputs(spec.inputs);
    spec.output = policy_().resolve_output(spec.output);
    io::refuse_output_onto_inputs(spec.output, spec.inputs);
  } catch (const io::PathError& e) {
    throw JobError(e.code(), e.what());
  }
  if (validate_) validate_(spec);
  return spec;
}

Submitted SpoolSource::submit(const nlohmann::json& request, const Submitter& who, JobSink& sink) {
  pipeline::JobSpec spec = checked_spec(request);
  std::lock_guard lock(mutex_);
  if (unsigned shards = requested_shards(request))
    return submit_sharded(request, who, spec, shards);
  const std::string* rid = request_id_of(request);
  const auto key = std::make_pair(request_owner(who), rid ? *rid : "");
  const std::string sha = rid ? request_body_sha256(request) : "";
  if (rid) {
    if (auto it = requests_.find(key); it != requests_.end()) {
      if (!spool_.id_taken(it->second.id)) {
        requests_.erase(it);  // its job is no longer kept: the id is free again
      } else if (it->second.body_sha256 == sha) {
        return {it->second.id, true};
      } else {
        throw JobError(code::bad_request, "field 'request_id': '" + *rid +
                                              "' was already used for job " + it->second.id +
                                              " with another request body");
      }
    }
  }
  if (std::string why; !sink.admits(who, &why)) throw JobError("queue_full", why);
  auto slot = sink.reserve();
  if (!slot) throw JobError("queue_full", "the job queue is full (limits.max_queue); retry later");
  nlohmann::json file = request;
  file.erase("v");
  file["op"] = "submit";
  file["submitted_by"] = protocol::submitted_by(who);
  std::string id;
  for (int attempt = 0;; ++attempt) {
    id = new_job_id();
    if (spool_.put_incoming(id, file.dump() + "\n")) break;
    if (attempt > 100) throw JobError("internal", "cannot find a free job id in the spool");
  }
  std::string name = id + ".json";
  offered_.insert(name);
  auto record = std::make_shared<JobRecord>(
      id, std::move(spec), who,
      std::make_shared<SpoolLease>(spool_, name, id, [this](const std::string& n) {
        std::lock_guard l(mutex_);
        offered_.erase(n);
      }));
  sink.enqueue(std::move(*slot), record);
  if (rid) requests_[key] = {id, sha};
  return {id, false};
}

std::size_t SpoolSource::poll(JobSink& sink) {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (auto& w : spool_.list_incoming()) {
    if (offered_.count(w.name) || sink.knows(id_for(w.name))) continue;
    auto record = load(w);
    // A submitter over its share waits in incoming/; the others' files go ahead of it.
    if (!record || !sink.admits(record->submitter(), nullptr)) continue;
    auto slot = sink.reserve();
    if (!slot) break;
    offered_.insert(w.name);
    sink.enqueue(std::move(*slot), std::move(record));
    ++n;
  }
  return n;
}

std::shared_ptr<JobRecord> SpoolSource::load(const Spool::Waiting& w) {
  // A file keeps its name as id unless the name is no valid id or the id is in use (a
  // dropped file may reuse the name of an old job still kept in done/ or failed/).
  std::string id = id_for(w.name);
  bool taken = false;
  for (const char* d : {"active", "done", "failed"})
    taken = taken || std::filesystem::exists(spool_.root() / d / (id + ".json")) ||
            std::filesystem::exists(spool_.root() / d / (id + ".report.json"));
  if (!valid_job_id(id) || w.name != id + ".json" || taken) id = new_job_id();
  uid_t owner = spool_.incoming_owner(w.name);
  if (!w.not_regular.empty()) {
    fail_unclaimed(w.name, id, "bad_request",
                   "incoming/" + w.name + ": not a regular file (a " + w.not_regular +
                       "); a job file is a regular file renamed into incoming/",
                   owner);
    return nullptr;
  }
  nlohmann::json request;
  try {
    std::string bytes = spool_.read_incoming(w.name);
    request = nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::exception& e) {
    if (std::chrono::system_clock::now() - w.mtime < kSettle) return nullptr;
    fail_unclaimed(w.name, id, "bad_json", std::string("job file is not valid JSON: ") + e.what(),
                   owner);
    return nullptr;
  } catch (const std::exception& e) {
    fail_unclaimed(w.name, id, "bad_request", e.what(), owner);
    return nullptr;
  }
  Submitter who;
  who.via = protocol::via::spool;
  who.uid = owner;
  // Files the daemon wrote itself carry the socket client's identity; any other file's
  // claim is ignored (its owner is who dropped it).
  if (owner == ::geteuid() && request.is_object()) {
    if (auto it = request.find("submitted_by"); it != request.end() && it->is_object()) {
      who = protocol::identity_from_json(*it);
      if (who.via == protocol::via::spool) who.uid = owner;
    }
  }
  pipeline::JobSpec spec;
  try {
    spec = checked_spec(request);
  } catch (const JobError& e) {
    fail_unclaimed(w.name, id, e.code(), e.what(), owner);
    return nullptr;
  } catch (const std::exception& e) {
    fail_unclaimed(w.name, id, "bad_request", e.what(), owner);
    return nullptr;
  }
  std::string name = w.name;
  std::function<void()> after_done;
  if (auto shard = shard_of(request)) after_done = [this, s = *shard] { finish_parent_of(s); };
  return std::make_shared<JobRecord>(id, std::move(spec), who,
                                     std::make_shared<SpoolLease>(
                                         spool_, name, id,
                                         [this](const std::string& n) {
                                           std::lock_guard l(mutex_);
                                           offered_.erase(n);
                                         },
                                         std::move(after_done)));
}

bool SpoolSource::finish_parent_of(const ShardOf& s) const {
  // The shard's end is recorded already; a failure here leaves the parent without its manifest
  // (said in the log), never the shard without its end.
  try {
    const fs::path output = s.parent_output;
    auto folder = policy_().open_output_folder(output.parent_path());
    if (finish_parent(s, folder, [&](unsigned i) { return shard_job_id(s.parent, i); })) {
      std::cerr << "qkvd: sharded job " << s.parent << ": all " << s.shards << " shards done; "
                << parent_manifest(output).string() << " written\n";
      return true;
    }
  } catch (const std::exception& e) {
    std::cerr << "qkvd: sharded job " << s.parent << ": cannot write its manifest: " << e.what()
              << "\n";
  }
  return false;
}

std::vector<nlohmann::json> SpoolSource::shard_files(const nlohmann::json& request,
                                                     const Submitter& who,
                                                     const pipeline::JobSpec& spec, unsigned shards,
                                                     const std::string& parent) const {
  if (spec.decode) throw JobError(code::bad_request, "field 'shards': decode jobs are not sharded");
  if (request.contains("slice"))
    throw JobError(code::bad_request, "field 'slice': set by qkvd for shards, not by a submit");
  std::vector<io::InputFile> files;
  std::vector<ShardPart> parts;
  try {
    // Framed as the pipeline reads them, so each shard's first_document is the index the
    // unsharded job gives its first document. Inputs are checked paths.
    const io::Framing framing = framing_ ? framing_(spec) : io::Framing{};
    files = io::expand_inputs(spec.inputs, framing.forced());
    parts = plan_shards(
        files, shards, [this](const fs::path& f) { return policy_().open_input(f); }, framing.txt);
  } catch (const io::PathError& e) {
    throw JobError(e.code(), e.what());
  } catch (const JobError&) {
    throw;  // the pipeline did not load (framing)
  } catch (const std::exception& e) {
    throw JobError(code::bad_request, std::string("field 'shards': ") + e.what());
  }
  std::vector<nlohmann::json> out;
  for (unsigned i = 0; i < shards; ++i) {
    nlohmann::json file = request;
    for (const char* k : {"v", "shards", "request_id", "queue", "tag"}) file.erase(k);
    file["op"] = "submit";
    file["submitted_by"] = protocol::submitted_by(who);
    file["inputs"] = parts[i].inputs;
    file["output"] = shard_output(spec.output, i, shards).string();
    protocol::JobFields slice_only;
    slice_only.slice = parts[i].slice;
    protocol::write_job_fields(file, slice_only);
    write_shard_of(file, ShardOf{parent, i, shards, spec.output});
    out.push_back(std::move(file));
  }
  return out;
}

Submitted SpoolSource::submit_sharded(const nlohmann::json& request, const Submitter& who,
                                      const pipeline::JobSpec& spec, unsigned shards) {
  std::string parent;
  for (int attempt = 0;; ++attempt) {
    parent = new_job_id();
    if (!spool_.id_taken(parent) && !spool_.id_taken(shard_job_id(parent, 0))) break;
    if (attempt > 100) throw JobError("internal", "cannot find a free job id in the spool");
  }
  auto files = shard_files(request, who, spec, shards, parent);
  // Every shard file is durable before the client hears "accepted"; the poll takes them as
  // the queue has room (a sharded job may have more shards than queue places).
  for (unsigned i = 0; i < shards; ++i)
    if (!spool_.put_incoming(shard_job_id(parent, i), files[i].dump() + "\n"))
      throw JobError("internal", "job id " + shard_job_id(parent, i) + " is taken in the spool");
  return {parent, false};
}

void SpoolSource::fail_unclaimed(const std::string& name, const std::string& id,
                                 const std::string& code, const std::string& message, uid_t owner) {
  std::cerr << "qkvd: warning: spool file incoming/" << name << ": " << message << "\n";
  try {
    if (!spool_.claim(name, id)) return;
    nlohmann::json report = {{"id", id},
                             {"state", "failed"},
                             {"file", name},
                             {"submitted_by", {{"via", "spool"}, {"uid", owner}}},
                             {"ended_at", iso_time(Clock::now())},
                             {"error", {{"code", code}, {"message", message}}}};
    spool_.complete(id, false, report);
  } catch (const std::exception& e) {
    std::cerr << "qkvd: error: cannot move incoming/" << name << " to failed/: " << e.what()
              << "\n";
  }
}

}  // namespace qkv::jobs
