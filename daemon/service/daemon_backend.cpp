#include "service/daemon_backend.hpp"

#include <unistd.h>

#include "crash/call_slot.hpp"
#include "jobs/job_error.hpp"
#include "jobs/job_json.hpp"
#include "protocol/error_codes.hpp"
#include "protocol/replies.hpp"
#include "service/inline_overrides.hpp"

namespace qkv::service {

namespace code = protocol::code;
namespace event = protocol::event;
using protocol::error_line;
using protocol::event_line;
using protocol::ok_line;
using protocol::Op;
using json = nlohmann::json;

namespace {
// Inline runs up to this size run on one thread (in place when they may), not in the shared
// arena.
constexpr std::size_t kInlineSmallBytes = 16 * 1024;
}  // namespace

DaemonBackend::DaemonBackend(BackendContext ctx) : ctx_(std::move(ctx)) {
  limits_.max_inline_texts = ctx_.max_inline_texts;
}

void DaemonBackend::handle(server::Request r, const Who& who,
                           std::shared_ptr<server::Reply> reply) {
  ++requests_[std::size_t(r.op())];
  try {
    switch (r.op()) {
      case Op::submit:
        return submit(r, who, std::move(reply));
      case Op::status:
        return status(r, who, std::move(reply));
      case Op::wait:
        return wait(r, who, std::move(reply));
      case Op::cancel:
        return cancel(r, who, std::move(reply));
      case Op::list:
        return list(r, who, std::move(reply));
      case Op::stats:
        return stats(r, std::move(reply));
      case Op::health:
        return health(r, std::move(reply));
      case Op::run:
        return run(r, std::move(reply));
      case Op::plugins:
      case Op::pipelines:
        return inventory(r, std::move(reply));
      case Op::reload:
        return reload(r, who, std::move(reply));
      case Op::auth:  // answered by the server before it reaches here
        return reply->done(ok_line({{"identity", protocol::submitted_by(who)}}, r.tag));
    }
  } catch (const jobs::JobError& e) {
    reply->done(error_line(e.code(), e.what(), r.tag));
  } catch (const std::exception& e) {
    reply->done(error_line(code::internal, e.what(), r.tag));
  }
}

std::optional<DaemonBackend::Who> DaemonBackend::owner_of(const std::string& id) const {
  if (auto job = ctx_.scheduler.find(id)) return job->submitter();
  if (auto report = ctx_.spool.spool().find_report(id))
    return protocol::identity_from_json(report->value("submitted_by", json::object()));
  if (!jobs::valid_job_id(id)) return std::nullopt;
  const std::string name = id + ".json";
  if (!std::filesystem::exists(ctx_.spool.spool().incoming(name))) return std::nullopt;
  // Waiting beyond the queue: the daemon's own files carry the submitter, others their owner.
  Who owner;
  owner.via = protocol::via::spool;
  try {
    owner.uid = ctx_.spool.spool().incoming_owner(name);
    if (owner.uid == ::geteuid()) {
      auto file = json::parse(ctx_.spool.spool().read_incoming(name), nullptr, false);
      if (file.is_object() && file.contains("submitted_by"))
        owner = protocol::identity_from_json(file["submitted_by"]);
    }
  } catch (const std::exception&) {
    owner.uid = ::geteuid();  // gone meanwhile: only admins (and the daemon's user) see it
  }
  return owner;
}

bool DaemonBackend::permitted(const Who& who, const std::string& id, std::string_view op,
                              const json& tag, server::Reply& reply) const {
  auto owner = owner_of(id);
  if (!owner || ctx_.access.may_act_on(who, *owner)) return true;
  reply.done(error_line(
      code::permission_denied,
      ctx_.access.deny(who, std::string(op) + " job '" + id + "' of " + protocol::describe(*owner)),
      tag));
  return false;
}

void DaemonBackend::submit(server::Request& r, const Who& peer,
                           std::shared_ptr<server::Reply> reply) {
  if (draining_) {
    ctx_.scheduler.count_rejected();
    return reply->done(
        error_line(code::shutting_down, "qkvd is shutting down and accepts no new jobs", r.tag));
  }
  jobs::Submitter who = peer;
  // protocol/requests.cpp checked the value ("local" or "redis").
  if (std::get<protocol::SubmitRequest>(r.body).queue == "redis") {
    if (!ctx_.redis)
      return reply->done(error_line(code::bad_request,
                                    "field 'queue': \"redis\" needs a Redis source, and this qkvd "
                                    "has none (sources.redis in its config, docs/scale-out.md)",
                                    r.tag));
    return submit_redis(std::move(r.object), who, r.tag, std::move(reply));
  }
  // Path checks and the fsync happen off the socket thread.
  asio::post(ctx_.blocking, [this, body = std::move(r.object), tag = r.tag, who, reply] {
    try {
      auto job = ctx_.spool.submit(body, who, ctx_.scheduler);
      json fields = {{"id", job.id}, {"state", jobs::to_string(jobs::JobState::queued)}};
      if (job.repeated) {
        // The job of an earlier submit with this request_id: its state now.
        fields["repeated"] = true;
        if (auto known = ctx_.scheduler.find(job.id))
          fields["state"] = jobs::to_string(known->state());
        else if (auto report = ctx_.spool.spool().find_report(job.id))
          fields["state"] = report->value("state", "done");
      }
      reply->done(ok_line(std::move(fields), tag));
    } catch (const jobs::JobError& e) {
      if (e.code() == code::queue_full) ctx_.scheduler.count_rejected();
      reply->done(error_line(e.code(), e.what(), tag));
    } catch (const std::exception& e) {
      reply->done(
          error_line(code::internal, std::string("storing the job failed: ") + e.what(), tag));
    }
  });
}

void DaemonBackend::submit_redis(json body, const jobs::Submitter& who, const json& tag,
                                 std::shared_ptr<server::Reply> reply) {
  asio::post(ctx_.blocking, [this, body = std::move(body), tag, who, reply] {
    try {
      // Answered only after XADD returned: the entry is in Redis (its AOF) by then.
      auto job = ctx_.redis->submit(body, who);
      json fields = {
          {"id", job.id}, {"state", jobs::to_string(jobs::JobState::queued)}, {"queue", "redis"}};
      if (job.repeated) {
        // The job of an earlier submit with this request_id: its state now.
        fields["repeated"] = true;
        try {
          if (auto view = ctx_.redis->lookup(job.id)) fields["state"] = view->value("state", "");
        } catch (const jobs::JobError&) {
          // Redis unreachable just now: "queued" stands.
        }
      }
      reply->done(ok_line(std::move(fields), tag));
    } catch (const jobs::JobError& e) {
      reply->done(error_line(e.code(), e.what(), tag));
    } catch (const std::exception& e) {
      reply->done(
          error_line(code::internal, std::string("queueing the job failed: ") + e.what(), tag));
    }
  });
}

void DaemonBackend::status_redis(const std::string& id, const Who& who, const json& tag,
                                 std::shared_ptr<server::Reply> reply, bool wait,
                                 unsigned interval_ms) {
  asio::post(ctx_.blocking, [this, id, who, tag, reply, wait, interval_ms] {
    if (reply->closed()) return;
    std::optional<json> view;
    try {
      view = ctx_.redis->lookup(id);
    } catch (const jobs::JobError& e) {
      return reply->done(error_line(e.code(), e.what(), tag));
    }
    if (!view)
      return reply->done(error_line(code::not_found,
                                    "no job '" + id +
                                        "' on the Redis queue (ended jobs are kept for the "
                                        "configured retention)",
                                    tag));
    if (view->contains("submitted_by")) {
      auto owner = protocol::identity_from_json((*view)["submitted_by"]);
      if (!ctx_.access.may_act_on(who, owner))
        return reply->done(error_line(
            code::permission_denied,
            ctx_.access.deny(who, "see job '" + id + "' of " + protocol::describe(owner)), tag));
    }
    const std::string state = view->value("state", "");
    const bool ended = state == "done" || state == "failed" || state == "cancelled";
    if (!wait) return reply->done(ok_line({{"job", *view}}, tag));
    if (ended) return reply->done(ok_line({{"event", event::end}, {"job", *view}}, tag));
    reply->event(event_line({{"event", event::progress}, {"id", id}, {"state", state}}, tag));
    // Ended on another worker: only Redis knows, so look again after the interval.
    auto timer =
        std::make_shared<asio::steady_timer>(ctx_.io, std::chrono::milliseconds(interval_ms));
    timer->async_wait(
        [this, id, who, tag, reply, interval_ms, timer](const boost::system::error_code& ec) {
          if (!ec && !reply->closed()) status_redis(id, who, tag, reply, true, interval_ms);
        });
  });
}

void DaemonBackend::status(server::Request& r, const Who& who,
                           std::shared_ptr<server::Reply> reply) {
  const std::string& id = std::get<protocol::StatusRequest>(r.body).id;
  if (!permitted(who, id, "see", r.tag, *reply)) return;
  auto job = ctx_.scheduler.find(id);
  // A Redis job that ended here may have been ended by another worker (lease_lost): Redis
  // has the one recorded end.
  if (ctx_.redis && jobs::redis::RedisSource::is_redis_id(id) && (!job || job->outcome()))
    return status_redis(id, who, r.tag, std::move(reply), false, 0);
  if (job) return reply->done(ok_line({{"job", jobs::job_view(*job)}}, r.tag));
  if (auto report = ctx_.spool.spool().find_report(id))
    return reply->done(ok_line({{"job", *report}}, r.tag));
  if (jobs::valid_job_id(id) && std::filesystem::exists(ctx_.spool.spool().incoming(id + ".json")))
    return reply->done(ok_line(
        {{"job", {{"id", id}, {"state", jobs::to_string(jobs::JobState::queued)}}}}, r.tag));
  reply->done(error_line(code::not_found,
                         "no job '" + id + "' (ended jobs are kept for the configured retention)",
                         r.tag));
}

void DaemonBackend::wait(server::Request& r, const Who& who, std::shared_ptr<server::Reply> reply) {
  const auto& req = std::get<protocol::WaitRequest>(r.body);
  if (!permitted(who, req.id, "wait on", r.tag, *reply)) return;
  auto job = ctx_.scheduler.find(req.id);
  if (ctx_.redis && jobs::redis::RedisSource::is_redis_id(req.id) && (!job || job->outcome()))
    return status_redis(req.id, who, r.tag, std::move(reply), true,
                        std::max<unsigned>(100, req.interval_ms));
  if (!job) {
    if (auto report = ctx_.spool.spool().find_report(req.id))
      return reply->done(ok_line({{"event", event::end}, {"job", *report}}, r.tag));
    if (jobs::valid_job_id(req.id) &&
        std::filesystem::exists(ctx_.spool.spool().incoming(req.id + ".json"))) {
      // Waiting in the spool beyond the queue: look again until the scheduler has it.
      reply->event(event_line({{"event", event::progress},
                               {"id", req.id},
                               {"state", jobs::to_string(jobs::JobState::queued)}},
                              r.tag));
      auto timer =
          std::make_shared<asio::steady_timer>(ctx_.io, std::chrono::milliseconds(req.interval_ms));
      timer->async_wait(
          [this, r = std::move(r), who, reply, timer](const boost::system::error_code& ec) mutable {
            if (ec || reply->closed()) return;
            wait(r, who, reply);
          });
      return;
    }
    return reply->done(
        error_line(code::not_found, "no job '" + req.id + "' queued, running or kept", r.tag));
  }
  // Progress events from a timer on the socket thread, at most one per interval and only on
  // change; the end event from the job's end listener.
  struct Watch {
    explicit Watch(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::string last;
    std::atomic<bool> over{false};
  };
  auto w = std::make_shared<Watch>(ctx_.io);
  auto tag = r.tag;
  auto interval = std::chrono::milliseconds(req.interval_ms);
  reply->on_close([w] {
    w->over = true;
    w->timer.cancel();
  });
  auto tick = std::make_shared<std::function<void()>>();
  *tick = [w, job, reply, tag, interval, tick_weak = std::weak_ptr(tick)] {
    if (w->over || reply->closed()) return;
    json ev = {{"event", event::progress},
               {"id", job->id()},
               {"state", jobs::to_string(job->state())},
               {"progress", jobs::progress_json(job->progress())}};
    std::string line = event_line(ev, tag);
    if (line != w->last) {
      reply->event(line);
      w->last = std::move(line);
    }
    w->timer.expires_after(interval);
    w->timer.async_wait([tick_weak](const boost::system::error_code& ec) {
      if (auto t = tick_weak.lock(); t && !ec) (*t)();
    });
  };
  job->on_end([w, reply, tag, tick](const jobs::JobRecord& j) {
    w->over = true;  // the timer stops at its next expiry
    reply->done(ok_line({{"event", event::end}, {"job", jobs::job_view(j)}}, tag));
  });
  if (!w->over) (*tick)();
}

void DaemonBackend::cancel(server::Request& r, const Who& who,
                           std::shared_ptr<server::Reply> reply) {
  asio::post(ctx_.blocking, [this, id = std::get<protocol::CancelRequest>(r.body).id, tag = r.tag,
                             who, reply] {
    if (!permitted(who, id, "cancel", tag, *reply)) return;
    if (ctx_.redis && jobs::redis::RedisSource::is_parent_id(id))
      return cancel_parent(id, who, tag, *reply);
    auto result = ctx_.scheduler.cancel(id);
    switch (result) {
      case jobs::CancelResult::cancelled_queued:
        return reply->done(ok_line({{"id", id},
                                    {"state", jobs::to_string(jobs::JobState::cancelled)},
                                    {"cancelled", true}},
                                   tag));
      case jobs::CancelResult::cancelling_running:
        return reply->done(
            ok_line({{"id", id}, {"state", "cancelling"}, {"cancelled", true}}, tag));
      case jobs::CancelResult::already_ended:
      case jobs::CancelResult::not_found:
        break;
    }
    json view;
    if (auto job = ctx_.scheduler.find(id))
      view = jobs::job_view(*job);
    else if (auto report = ctx_.spool.spool().find_report(id))
      view = *report;
    if (view.is_null())
      return reply->done(
          error_line(code::not_found, "no job '" + id + "' queued, running or kept", tag));
    reply->done(ok_line(
        {{"id", id}, {"state", view.value("state", "unknown")}, {"cancelled", false}}, tag));
  });
}

// A sharded job's parent on the Redis queue: the cancel mark every worker reads (runs on the
// blocking pool: it talks to Redis).
void DaemonBackend::cancel_parent(const std::string& id, const Who& who, const json& tag,
                                  server::Reply& reply) {
  try {
    auto view = ctx_.redis->lookup(id);
    if (!view)
      return reply.done(error_line(code::not_found, "no job '" + id + "' on the Redis queue", tag));
    if (view->contains("submitted_by")) {
      auto owner = protocol::identity_from_json((*view)["submitted_by"]);
      if (!ctx_.access.may_act_on(who, owner))
        return reply.done(error_line(
            code::permission_denied,
            ctx_.access.deny(who, "cancel job '" + id + "' of " + protocol::describe(owner)), tag));
    }
    const std::string state = view->value("state", "");
    if (state == "done" || state == "failed" || state == "cancelled")
      return reply.done(ok_line({{"id", id}, {"state", state}, {"cancelled", false}}, tag));
    if (!ctx_.redis->cancel_parent(id))
      return reply.done(error_line(code::not_found, "no job '" + id + "' on the Redis queue", tag));
    reply.done(ok_line({{"id", id}, {"state", "cancelling"}, {"cancelled", true}}, tag));
  } catch (const jobs::JobError& e) {
    reply.done(error_line(e.code(), e.what(), tag));
  }
}

void DaemonBackend::list(server::Request& r, const Who& who, std::shared_ptr<server::Reply> reply) {
  const auto& req = std::get<protocol::ListRequest>(r.body);
  const bool all = ctx_.access.is_admin(who);  // others see only their own jobs
  json jobs_out = json::array();
  for (auto& job : ctx_.scheduler.list()) {
    if (jobs_out.size() >= req.limit) break;
    if (!all && !protocol::same_owner(who, job->submitter())) continue;
    auto view = jobs::job_view(*job);
    if (req.state && view["state"] != jobs::to_string(*req.state)) continue;
    jobs_out.push_back(std::move(view));
  }
  if (!ctx_.redis || jobs_out.size() >= req.limit)
    return reply->done(ok_line({{"jobs", std::move(jobs_out)}}, r.tag));
  // Sharded jobs on the Redis queue, whichever worker accepted them (Redis is asked off the
  // socket thread).
  asio::post(ctx_.blocking, [this, who, all, limit = req.limit, state = req.state, tag = r.tag,
                             reply, jobs_out = std::move(jobs_out)]() mutable {
    try {
      for (auto& view : ctx_.redis->list_parents(limit)) {
        if (jobs_out.size() >= limit) break;
        if (!all && !protocol::same_owner(who, protocol::identity_from_json(
                                                   view.value("submitted_by", json::object()))))
          continue;
        if (state && view["state"] != jobs::to_string(*state)) continue;
        jobs_out.push_back(std::move(view));
      }
    } catch (const jobs::JobError& e) {
      return reply->done(error_line(e.code(), e.what(), tag));
    }
    reply->done(ok_line({{"jobs", std::move(jobs_out)}}, tag));
  });
}

void DaemonBackend::stats(server::Request& r, std::shared_ptr<server::Reply> reply) {
  auto s = ctx_.scheduler.stats();
  json req;
  for (std::size_t i = 0; i < requests_.size(); ++i)
    req[std::string(protocol::to_string(protocol::kOps[i]))] = requests_[i].load();
  double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  json sources = json::object();
  if (ctx_.redis) {
    auto f = ctx_.redis->figures();
    auto problem = ctx_.redis->problem();
    sources["redis"] = {{"consumer", ctx_.redis->consumer()},
                        {"pending", f.pending},
                        {"lag", f.lag},
                        {"dead", f.dead},
                        {"taken", f.taken},
                        {"recorded", f.recorded},
                        {"lost", f.lost},
                        {"dead_lettered", f.dead_lettered},
                        {"problem", problem ? json(*problem) : json(nullptr)}};
  }
  reply->done(
      ok_line({{"uptime_seconds", up},
               {"sources", std::move(sources)},
               {"connections", ctx_.connections()},
               {"threads", ctx_.executor.concurrency()},
               {"runner_generation", ctx_.runner.generation()},
               {"requests", req},
               {"jobs",
                {{"queued", s.queued},
                 {"running", s.running},
                 {"accepted", s.accepted},
                 {"done", s.done},
                 {"failed", s.failed},
                 {"cancelled", s.cancelled},
                 {"rejected", s.rejected}}},
               {"processed",
                {{"documents", s.documents}, {"tokens", s.tokens}, {"input_bytes", s.input_bytes}}},
               {"inline",
                {{"runs", inline_runs_.load()},
                 {"texts", inline_texts_.load()},
                 {"errors", inline_errors_.load()},
                 {"in_place", ctx_.io_threads.in_place_runs()},
                 {"takeovers", ctx_.io_threads.takeovers()}}}},
              r.tag));
}

std::string DaemonBackend::health_status() const {
  if (draining_) return "draining";
  return ctx_.problems.all().empty() ? "ok" : "degraded";
}

void DaemonBackend::health(server::Request& r, std::shared_ptr<server::Reply> reply) {
  auto s = ctx_.scheduler.stats();
  double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  // Problems were found at load or reload (or reported by a job source): nothing is checked
  // here, so health answers at once whatever the plugins do.
  auto problems = ctx_.problems.all();
  reply->done(ok_line({{"status", draining_          ? "draining"
                                  : problems.empty() ? "ok"
                                                     : "degraded"},
                       {"problems", problems},
                       {"version", QKV_VERSION},
                       {"protocol", protocol::kProtocolVersion},
                       {"pid", ::getpid()},
                       {"uptime_seconds", up},
                       {"queued", s.queued},
                       {"running", s.running}},
                      r.tag));
}

void DaemonBackend::set_inventory(json plugins, json pipelines) {
  std::lock_guard lock(inventory_mutex_);
  plugins_view_ = std::move(plugins);
  pipelines_view_ = std::move(pipelines);
}

void DaemonBackend::inventory(server::Request& r, std::shared_ptr<server::Reply> reply) {
  json fields = {{"generation", ctx_.runner.generation()}};
  {
    std::lock_guard lock(inventory_mutex_);
    if (r.op() == Op::plugins) {
      fields["plugins"] = plugins_view_.value("loaded", json::array());
      fields["refused"] = plugins_view_.value("refused", json::array());
    } else {
      fields["pipelines"] = pipelines_view_;
      fields["default_pipeline"] = ctx_.default_pipeline;
    }
  }
  reply->done(ok_line(std::move(fields), r.tag));
}

std::string DaemonBackend::metrics_text() const {
  MetricsSnapshot now;
  now.scheduler = ctx_.scheduler.stats();
  now.max_queue = ctx_.max_queue;
  now.health = health_status();
  now.problems = ctx_.problems.all().size();
  now.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  now.connections = ctx_.connections();
  now.runner_generation = ctx_.runner.generation();
  for (std::size_t i = 0; i < requests_.size(); ++i)
    if (protocol::kOps[i] != Op::auth)
      now.requests.emplace_back(std::string(protocol::to_string(protocol::kOps[i])),
                                requests_[i].load());
  if (ctx_.redis) {
    now.redis = ctx_.redis->figures();
    now.redis_up = !ctx_.redis->problem();
  }
  return ctx_.metrics.render(now);
}

void DaemonBackend::reload(server::Request& r, const Who& who,
                           std::shared_ptr<server::Reply> reply) {
  if (!ctx_.access.is_admin(who))
    return reply->done(
        error_line(code::permission_denied, ctx_.access.deny(who, "reload the daemon"), r.tag));
  if (!reload_fn_) return reply->done(error_line(code::internal, "reload is not available", r.tag));
  reload_fn_([reply, tag = r.tag](bool ok, std::string body) {
    if (!ok) return reply->done(error_line(code::reload_failed, body, tag));
    reply->done(ok_line(json::parse(body), tag));
  });
}

void DaemonBackend::run(server::Request& r, std::shared_ptr<server::Reply> reply) {
  const auto arrived = std::chrono::steady_clock::now();
  if (draining_)
    return reply->done(error_line(code::shutting_down, "qkvd is shutting down", r.tag));
  pipeline::JobSpec spec = jobs::to_job_spec(std::move(std::get<protocol::RunRequest>(r.body).job),
                                             ctx_.default_pipeline);
  if (auto refused = refuse_loading_overrides(spec.overrides)) {
    ++inline_errors_;
    return reply->done(error_line(code::bad_request, *refused, r.tag));
  }
  std::string owner;
  if (std::string refused = quarantined(spec, r.tag, owner); !refused.empty())
    return reply->done(std::move(refused));
  std::size_t bytes = 0;
  for (auto& t : spec.texts) bytes += t.size();
  inline_runs_++;
  inline_texts_ += spec.texts.size();
  const bool small = bytes <= kInlineSmallBytes;
  if (small) spec.threads = 1;  // not worth the shared arena
  spec.id = "inline";
  auto cancel = std::make_shared<pipeline::CancelFlag>();
  reply->on_close([cancel] { cancel->requested = true; });
  // The deadline runs from arrival, so time spent waiting for a pool thread counts. A plugin
  // call that never returns keeps its thread; the client gets `timeout` and others go on.
  auto deadline = std::make_shared<asio::steady_timer>(ctx_.io, ctx_.request_timeout);
  deadline->async_wait([this, reply, cancel, tag = r.tag, arrived,
                        pipeline = spec.pipeline](const boost::system::error_code& ec) {
    if (ec) return;
    cancel->requested = true;
    ++inline_errors_;
    ctx_.metrics.inline_ended(
        pipeline, std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived).count(),
        false, 0, 0, 0);
    reply->done(error_line(code::timeout,
                           "the inline run did not finish within limits.request_timeout_seconds (" +
                               std::to_string(ctx_.request_timeout.count()) + " s)",
                           tag));
  });
  // Small runs without overrides (no new pipeline to load) are done in place: no thread
  // wake-up beyond the one that read the request. IoThreads sends a pipeline that outlasted
  // its patience to the pool until a pool run of it is quick again.
  if (small && spec.overrides.empty() && ctx_.io_threads.may_run_in_place(spec.pipeline)) {
    // Posted, so the work runs from its own handler, not inside the connection's.
    asio::post(ctx_.io, [this, spec = std::move(spec), tag = r.tag, reply, cancel, deadline,
                         owner = std::move(owner), arrived]() mutable {
      std::string line;
      ctx_.io_threads.run_in_place(
          spec.pipeline,
          [&] {
            if (!cancel->requested) line = run_inline(spec, tag, owner, *cancel, arrived);
          },
          [&](bool still_io_thread) {
            if (still_io_thread)
              deadline->cancel();
            else  // the timer belongs to the thread that serves the sockets now
              asio::post(ctx_.io, [deadline] { deadline->cancel(); });
            if (!line.empty()) reply->done(std::move(line));
          });
    });
    return;
  }
  // One hand-off per request, onto the bounded compute pool: never a thread per request.
  asio::post(ctx_.compute, [this, spec = std::move(spec), tag = r.tag, reply, cancel, deadline,
                            owner = std::move(owner), arrived, small]() mutable {
    const auto started = std::chrono::steady_clock::now();
    if (!cancel->requested) reply->done(run_inline(spec, tag, owner, *cancel, arrived));
    if (small)
      ctx_.io_threads.ran_on_pool(spec.pipeline, std::chrono::steady_clock::now() - started);
    asio::post(ctx_.io, [deadline] { deadline->cancel(); });
  });
}

std::string DaemonBackend::run_inline(const pipeline::JobSpec& spec, const json& tag,
                                      const std::string& owner, pipeline::CancelFlag& cancel,
                                      std::chrono::steady_clock::time_point arrived) {
  pipeline::JobProgress progress;
  auto ended = [&](bool ok, const pipeline::JobResult& res) {
    if (cancel.requested) return;  // timed out (counted then) or the client left
    ctx_.metrics.inline_ended(
        spec.pipeline,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived).count(), ok,
        res.documents, res.tokens, res.input_bytes);
  };
  try {
    auto runner = ctx_.runner.current();
    pipeline::JobResult res;
    // Every thread that runs plugin calls for this request names it in its crash slot.
    auto run = [&] {
      crash::OwnerScope as_owner(owner, spec.pipeline);
      res = runner->run(spec, progress, cancel);
    };
    if (spec.threads == 1)
      run();
    else
      ctx_.executor.execute(run);
    // Results are already compact JSON: splice them in rather than re-parse.
    std::string line = "{\"v\":" + std::to_string(protocol::kProtocolVersion) + ",\"ok\":true";
    if (!tag.is_null()) line += ",\"tag\":" + tag.dump();
    line += ",\"documents\":" + std::to_string(res.documents) +
            ",\"tokens\":" + std::to_string(res.tokens) + ",\"results\":[";
    for (std::size_t i = 0; i < res.inline_results.size(); ++i) {
      if (i) line += ',';
      line += res.inline_results[i];
    }
    line += "]}\n";
    ended(true, res);
    return line;
  } catch (const jobs::JobError& e) {
    ++inline_errors_;
    ended(false, {});
    return error_line(e.code(), e.what(), tag);
  } catch (const std::exception& e) {
    ++inline_errors_;
    ended(false, {});
    return error_line(code::job_failed, e.what(), tag);
  }
}

std::string DaemonBackend::quarantined(const pipeline::JobSpec& spec, const json& tag,
                                       std::string& owner) const {
  std::string key = crash::inline_key(spec.pipeline, spec.overrides, spec.texts);
  if (ctx_.quarantine.refuses(key))
    return error_line(code::suspect,
                      "this inline request (pipeline '" + spec.pipeline +
                          "', the same set and texts) crashed qkvd; it is refused for "
                          "limits.crash_quarantine_seconds (" +
                          std::to_string(ctx_.quarantine.period().count()) + " s)",
                      tag);
  owner = std::string(crash::kInlineOwnerPrefix) + key;
  return {};
}

}  // namespace qkv::service
