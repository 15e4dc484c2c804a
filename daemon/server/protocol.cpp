#include "server/protocol.hpp"

#include "jobs/job_error.hpp"
#include "jobs/job_json.hpp"

namespace qkv::server {
namespace {

constexpr std::pair<Op, std::string_view> kOps[] = {
    {Op::submit, "submit"}, {Op::status, "status"}, {Op::wait, "wait"},
    {Op::cancel, "cancel"}, {Op::list, "list"},     {Op::stats, "stats"},
    {Op::reload, "reload"}, {Op::health, "health"}, {Op::run, "run"}};

// nlohmann's DOM parser recurses per nesting level: refuse deep nesting before parsing.
bool nesting_within(std::string_view s, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth) {
      --depth;
    }
  }
  return true;
}

struct Fail {
  std::string code, message;
};

std::string required_id(const json& j) {
  auto it = j.find("id");
  if (it == j.end() || !it->is_string())
    throw Fail{"bad_request", "field 'id': expected a job id string (the field is required)"};
  std::string id = it->get<std::string>();
  if (id.empty() || id.size() > 128)
    throw Fail{"bad_request", "field 'id': expected a job id of 1 to 128 characters"};
  return id;
}

}  // namespace

std::string_view to_string(Op op) noexcept {
  for (auto& [o, name] : kOps)
    if (o == op) return name;
  return "unknown";
}

std::variant<Request, ProtocolError> parse_request(std::string_view line,
                                                   const ProtocolLimits& limits) {
  Request r;
  try {
    if (!nesting_within(line, limits.max_depth))
      throw Fail{"bad_json",
                 "JSON nested deeper than " + std::to_string(limits.max_depth) + " levels"};
    r.body = json::parse(line.begin(), line.end());
    if (!r.body.is_object())
      throw Fail{"bad_request", "a request must be a JSON object, e.g. {\"op\":\"health\"}"};
    if (auto t = r.body.find("tag"); t != r.body.end()) {
      if (t->is_structured()) throw Fail{"bad_request", "field 'tag': expected a string or number"};
      r.tag = *t;
    }
    if (auto v = r.body.find("v"); v != r.body.end()) {
      if (!v->is_number_integer()) throw Fail{"bad_request", "field 'v': expected an integer"};
      if (v->get<int64_t>() != kProtocolVersion)
        throw Fail{"unsupported_version", "protocol version " + v->dump() +
                                              " is not supported; this qkvd speaks version " +
                                              std::to_string(kProtocolVersion)};
    }
    auto op = r.body.find("op");
    if (op == r.body.end() || !op->is_string())
      throw Fail{"bad_request",
                 "field 'op': expected one of submit, status, wait, cancel, list, "
                 "stats, reload, health, run"};
    std::string name = op->get<std::string>();
    bool known = false;
    for (auto& [o, n] : kOps)
      if (n == name) r.op = o, known = true;
    if (!known)
      throw Fail{"unknown_op", "unknown op '" + name.substr(0, 64) +
                                   "'; expected one of submit, status, "
                                   "wait, cancel, list, stats, reload, health, run"};
    switch (r.op) {
      case Op::status:
      case Op::cancel:
        r.id = required_id(r.body);
        break;
      case Op::wait:
        r.id = required_id(r.body);
        if (auto it = r.body.find("interval_ms"); it != r.body.end()) {
          if (!it->is_number_unsigned() || it->get<uint64_t>() < 10 || it->get<uint64_t>() > 60000)
            throw Fail{"bad_request", "field 'interval_ms': expected an integer from 10 to 60000"};
          r.interval_ms = it->get<unsigned>();
        }
        break;
      case Op::list:
        if (auto it = r.body.find("state"); it != r.body.end() && !it->is_null()) {
          auto st = it->is_string() ? jobs::parse_job_state(it->get<std::string>()) : std::nullopt;
          if (!st)
            throw Fail{"bad_request",
                       "field 'state': expected queued, running, done, failed or cancelled"};
          r.state_filter = st;
        }
        if (auto it = r.body.find("limit"); it != r.body.end()) {
          if (!it->is_number_unsigned() || it->get<uint64_t>() < 1 || it->get<uint64_t>() > 100000)
            throw Fail{"bad_request", "field 'limit': expected an integer from 1 to 100000"};
          r.limit = it->get<std::size_t>();
        }
        break;
      case Op::submit:
        // Types only: paths are checked (and the job stored) by the daemon.
        jobs::parse_job_fields(r.body, jobs::JobKind::file, "-");
        break;
      case Op::run:
        r.run =
            jobs::parse_job_fields(r.body, jobs::JobKind::inline_texts, limits.default_pipeline);
        if (r.run.texts.size() > limits.max_inline_texts)
          throw Fail{"too_many_texts", "the request has " + std::to_string(r.run.texts.size()) +
                                           " texts, over limits.max_inline_texts (" +
                                           std::to_string(limits.max_inline_texts) +
                                           "); submit a file job instead"};
        break;
      default:
        break;
    }
    return r;
  } catch (const Fail& f) {
    return ProtocolError{f.code, f.message, r.tag};
  } catch (const jobs::JobError& e) {
    return ProtocolError{e.code(), e.what(), r.tag};
  } catch (const json::parse_error& e) {
    return ProtocolError{"bad_json", std::string("request is not valid JSON: ") + e.what(),
                         nullptr};
  } catch (const std::exception& e) {
    return ProtocolError{"bad_request", e.what(), r.tag};
  }
}

std::string ok_line(json fields, const json& tag) {
  json j = {{"v", kProtocolVersion}, {"ok", true}};
  if (!tag.is_null()) j["tag"] = tag;
  for (auto& [k, v] : fields.items()) j[k] = std::move(v);
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string error_line(std::string_view code, std::string_view message, const json& tag) {
  json j = {{"v", kProtocolVersion},
            {"ok", false},
            {"error", {{"code", std::string(code)}, {"message", std::string(message)}}}};
  if (!tag.is_null()) j["tag"] = tag;
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string event_line(json fields, const json& tag) {
  json j = {{"v", kProtocolVersion}};
  if (!tag.is_null()) j["tag"] = tag;
  for (auto& [k, v] : fields.items()) j[k] = std::move(v);
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace qkv::server
