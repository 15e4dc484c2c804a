#include "protocol/job_fields.hpp"

#include "protocol/error.hpp"
#include "protocol/error_codes.hpp"

namespace qkv::protocol {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& field, const std::string& expected) {
  throw Error(code::bad_request, "field '" + field + "': expected " + expected);
}

std::vector<std::string> string_list(const json& object, const char* field, bool required) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) {
    if (required) bad(field, "a non-empty array of strings (the field is required)");
    return {};
  }
  if (!it->is_array()) bad(field, "an array of strings");
  std::vector<std::string> out;
  out.reserve(it->size());
  for (auto& v : *it) {
    if (!v.is_string()) bad(field, "an array of strings");
    out.push_back(v.get<std::string>());
  }
  if (required && out.empty()) bad(field, "a non-empty array of strings");
  return out;
}

std::optional<std::string> string_field(const json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) bad(field, "a string");
  return it->get<std::string>();
}

}  // namespace

JobFields parse_job_fields(const json& object, JobKind kind) {
  if (!object.is_object()) throw Error(code::bad_request, "a job must be a JSON object");
  JobFields f;
  f.pipeline = string_field(object, "pipeline");
  if (kind == JobKind::file) {
    f.inputs = string_list(object, "inputs", true);
    auto out = string_field(object, "output");
    if (!out || out->empty()) bad("output", "an output path (the field is required)");
    f.output = *out;
  } else {
    f.texts = string_list(object, "texts", true);
  }
  if (auto it = object.find("set"); it != object.end() && !it->is_null()) {
    if (!it->is_object()) bad("set", "an object of \"key.path\": value");
    for (auto& [k, v] : it->items()) {
      if (k.empty()) bad("set", "non-empty keys");
      f.set[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  if (auto it = object.find("decode"); it != object.end() && !it->is_null()) {
    if (!it->is_boolean()) bad("decode", "true or false");
    f.decode = it->get<bool>();
  }
  if (auto it = object.find("threads"); it != object.end() && !it->is_null()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() < 1 || it->get<uint64_t>() > 4096)
      bad("threads", "an integer from 1 to 4096");
    f.threads = it->get<unsigned>();
  }
  if (auto it = object.find("slice"); it != object.end() && !it->is_null()) {
    const char* expected = "an object {begin, end, first_document} of byte offsets";
    if (!it->is_object()) bad("slice", expected);
    SliceFields slice;
    auto number = [&](const char* key, uint64_t& into) {
      auto v = it->find(key);
      if (v == it->end() || v->is_null()) return false;
      if (!v->is_number_unsigned()) bad(std::string("slice.") + key, "a non-negative integer");
      into = v->get<uint64_t>();
      return true;
    };
    number("begin", slice.begin);
    number("end", slice.end);
    if (uint64_t first = 0; number("first_document", first)) slice.first_document = first;
    // No order between begin and end: they are offsets in the first and in the last input.
    if (kind != JobKind::file || f.decode)
      bad("slice", "no slice (only encode file jobs are sharded)");
    f.slice = slice;
  }
  return f;
}

void write_job_fields(json& object, const JobFields& f) {
  if (f.pipeline) object["pipeline"] = *f.pipeline;
  if (!f.inputs.empty()) object["inputs"] = f.inputs;
  if (!f.output.empty()) object["output"] = f.output;
  if (!f.texts.empty()) object["texts"] = f.texts;
  if (!f.set.empty()) object["set"] = f.set;
  if (f.decode) object["decode"] = true;
  if (f.threads) object["threads"] = *f.threads;
  if (f.slice) {
    json slice = {{"begin", f.slice->begin}};
    if (f.slice->end != UINT64_MAX) slice["end"] = f.slice->end;
    if (f.slice->first_document) slice["first_document"] = *f.slice->first_document;
    object["slice"] = std::move(slice);
  }
}

}  // namespace qkv::protocol
