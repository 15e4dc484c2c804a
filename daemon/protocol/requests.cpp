#include "protocol/requests.hpp"

#include <utility>

#include "protocol/error.hpp"
#include "protocol/error_codes.hpp"

namespace qkv::protocol {
namespace {

// The variant's alternatives must follow Op, so that op_of is the index.
template <std::size_t... I>
constexpr bool alternatives_follow_ops(std::index_sequence<I...>) {
  return ((std::variant_alternative_t<I, RequestBody>::op == kOps[I]) && ...);
}
static_assert(std::variant_size_v<RequestBody> == kOpCount);
static_assert(alternatives_follow_ops(std::make_index_sequence<kOpCount>{}));

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

[[noreturn]] void bad(const std::string& message) { throw Error(code::bad_request, message); }

std::optional<std::string> optional_queue(const json& j) {
  auto it = j.find("queue");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string() || (*it != "local" && *it != "redis"))
    bad("field 'queue': expected \"local\" or \"redis\", got " + it->dump());
  return it->get<std::string>();
}

std::optional<unsigned> optional_shards(const json& j) {
  auto it = j.find("shards");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_unsigned() || *it == 0 || *it > 99999)
    bad("field 'shards': expected an integer from 1 to 99999");
  return it->get<unsigned>();
}

std::optional<std::string> optional_request_id(const json& j) {
  auto it = j.find("request_id");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) bad("field 'request_id': expected a string");
  std::string id = it->get<std::string>();
  if (id.empty() || id.size() > 128) bad("field 'request_id': expected 1 to 128 characters");
  for (unsigned char c : id)
    if (c < 0x21 || c > 0x7e) bad("field 'request_id': expected printable ASCII without spaces");
  return id;
}

std::string required_id(const json& j) {
  auto it = j.find("id");
  if (it == j.end() || !it->is_string())
    bad("field 'id': expected a job id string (the field is required)");
  std::string id = it->get<std::string>();
  if (id.empty() || id.size() > 128) bad("field 'id': expected a job id of 1 to 128 characters");
  return id;
}

json with_op(Op op) { return json{{"op", std::string(to_string(op))}}; }

// Reads the fields of one op's request from its object.
RequestBody read_body(Op op, const json& j, const ProtocolLimits& limits) {
  switch (op) {
    case Op::submit:
      // Types only: paths are checked (and the job stored) by the daemon.
      return SubmitRequest{parse_job_fields(j, JobKind::file), optional_request_id(j),
                           optional_queue(j), optional_shards(j)};
    case Op::status:
      return StatusRequest{required_id(j)};
    case Op::cancel:
      return CancelRequest{required_id(j)};
    case Op::wait: {
      WaitRequest r{required_id(j)};
      if (auto it = j.find("interval_ms"); it != j.end()) {
        if (!it->is_number_unsigned() || it->get<uint64_t>() < WaitRequest::kMinIntervalMs ||
            it->get<uint64_t>() > WaitRequest::kMaxIntervalMs)
          bad("field 'interval_ms': expected an integer from 10 to 60000");
        r.interval_ms = it->get<unsigned>();
      }
      return r;
    }
    case Op::list: {
      ListRequest r;
      if (auto it = j.find("state"); it != j.end() && !it->is_null()) {
        r.state = it->is_string() ? parse_job_state(it->get<std::string>()) : std::nullopt;
        if (!r.state) bad("field 'state': expected queued, running, done, failed or cancelled");
      }
      if (auto it = j.find("limit"); it != j.end()) {
        if (!it->is_number_unsigned() || it->get<uint64_t>() < 1 ||
            it->get<uint64_t>() > ListRequest::kMaxLimit)
          bad("field 'limit': expected an integer from 1 to 100000");
        r.limit = it->get<std::size_t>();
      }
      return r;
    }
    case Op::stats:
      return StatsRequest{};
    case Op::reload:
      return ReloadRequest{};
    case Op::health:
      return HealthRequest{};
    case Op::run: {
      RunRequest r{parse_job_fields(j, JobKind::inline_texts)};
      if (r.job.texts.size() > limits.max_inline_texts)
        throw Error(code::too_many_texts, "the request has " + std::to_string(r.job.texts.size()) +
                                              " texts, over limits.max_inline_texts (" +
                                              std::to_string(limits.max_inline_texts) +
                                              "); submit a file job instead");
      return r;
    }
    case Op::plugins:
      return PluginsRequest{};
    case Op::pipelines:
      return PipelinesRequest{};
    case Op::auth: {
      auto it = j.find("token");
      if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
        bad("field 'token': expected the token string (the field is required)");
      return AuthRequest{it->get<std::string>()};
    }
  }
  bad("unknown op");  // unreachable: parse_op knows only the ops above
}

}  // namespace

Op op_of(const RequestBody& body) noexcept { return kOps[body.index()]; }

void to_json(json& j, const SubmitRequest& r) {
  j = with_op(r.op);
  write_job_fields(j, r.job);
  if (r.request_id) j["request_id"] = *r.request_id;
  if (r.queue) j["queue"] = *r.queue;
  if (r.shards) j["shards"] = *r.shards;
}
void to_json(json& j, const StatusRequest& r) {
  j = with_op(r.op);
  j["id"] = r.id;
}
void to_json(json& j, const WaitRequest& r) {
  j = with_op(r.op);
  j["id"] = r.id;
  if (r.interval_ms != WaitRequest::kDefaultIntervalMs) j["interval_ms"] = r.interval_ms;
}
void to_json(json& j, const CancelRequest& r) {
  j = with_op(r.op);
  j["id"] = r.id;
}
void to_json(json& j, const ListRequest& r) {
  j = with_op(r.op);
  if (r.state) j["state"] = std::string(to_string(*r.state));
  if (r.limit != ListRequest::kDefaultLimit) j["limit"] = r.limit;
}
void to_json(json& j, const StatsRequest& r) { j = with_op(r.op); }
void to_json(json& j, const ReloadRequest& r) { j = with_op(r.op); }
void to_json(json& j, const HealthRequest& r) { j = with_op(r.op); }
void to_json(json& j, const PluginsRequest& r) { j = with_op(r.op); }
void to_json(json& j, const PipelinesRequest& r) { j = with_op(r.op); }
void to_json(json& j, const RunRequest& r) {
  j = with_op(r.op);
  write_job_fields(j, r.job);
}

void to_json(json& j, const AuthRequest& r) {
  j = with_op(r.op);
  j["token"] = r.token;
}

json request_object(const RequestBody& body, const json& tag) {
  json j = std::visit([](const auto& r) { return json(r); }, body);
  if (!tag.is_null()) j["tag"] = tag;
  return j;
}

std::variant<Request, ProtocolError> parse_request(std::string_view line,
                                                   const ProtocolLimits& limits) {
  json tag;
  try {
    if (!nesting_within(line, limits.max_depth))
      throw Error(code::bad_json,
                  "JSON nested deeper than " + std::to_string(limits.max_depth) + " levels");
    json object = json::parse(line.begin(), line.end());
    if (!object.is_object()) bad("a request must be a JSON object, e.g. {\"op\":\"health\"}");
    if (auto t = object.find("tag"); t != object.end()) {
      if (t->is_structured()) bad("field 'tag': expected a string or number");
      tag = *t;
    }
    if (auto v = object.find("v"); v != object.end()) {
      if (!v->is_number_integer()) bad("field 'v': expected an integer");
      if (v->get<int64_t>() != kProtocolVersion)
        throw Error(code::unsupported_version, "protocol version " + v->dump() +
                                                   " is not supported; this qkvd speaks version " +
                                                   std::to_string(kProtocolVersion));
    }
    auto op_field = object.find("op");
    if (op_field == object.end() || !op_field->is_string())
      bad("field 'op': expected one of " + op_names());
    std::string name = op_field->get<std::string>();
    auto op = parse_op(name);
    if (!op)
      throw Error(code::unknown_op,
                  "unknown op '" + name.substr(0, 64) + "'; expected one of " + op_names());
    RequestBody body = read_body(*op, object, limits);
    return Request{std::move(body), std::move(tag), std::move(object)};
  } catch (const Error& e) {
    return ProtocolError{e.code(), e.what(), std::move(tag)};
  } catch (const json::parse_error& e) {
    return ProtocolError{std::string(code::bad_json),
                         std::string("request is not valid JSON: ") + e.what(), nullptr};
  } catch (const std::exception& e) {
    return ProtocolError{std::string(code::bad_request), e.what(), std::move(tag)};
  }
}

}  // namespace qkv::protocol
