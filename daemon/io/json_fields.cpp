#include "json_fields.hpp"

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "formats.hpp"
#include "utf8.hpp"

namespace qkv::io {
namespace {

int hex4(std::string_view s, size_t at) {
  if (at + 4 > s.size()) return -1;
  int v = 0;
  for (size_t i = at; i < at + 4; ++i) {
    char c = s[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// Raw [begin, end) of the content of each top-level string value whose key is in `fields`
// (npos when absent). Only called on lines nlohmann parsed after repair, so it is valid JSON.
std::vector<std::pair<size_t, size_t>> locate_values(std::string_view s,
                                                     std::span<const std::string> fields) {
  std::vector<std::pair<size_t, size_t>> out(fields.size(), {std::string::npos, std::string::npos});
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
  };
  auto skip_string = [&] {  // i at the opening quote; returns the content range
    size_t begin = ++i;
    while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
    return std::pair<size_t, size_t>{begin, i++};
  };
  auto skip_value = [&] {
    if (i >= s.size()) return;
    int depth = 0;
    do {
      if (s[i] == '"') {
        skip_string();
        continue;
      }
      if (s[i] == '{' || s[i] == '[')
        ++depth;
      else if (s[i] == '}' || s[i] == ']')
        --depth;
      else if (depth == 0 && (s[i] == ','))
        break;
      ++i;
    } while (i < s.size() && depth > 0);
    // scalars (numbers, literals): run to the next delimiter
    while (depth == 0 && i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ' ' &&
           s[i] != '\n' && s[i] != '\t' && s[i] != '\r')
      ++i;
  };
  skip_ws();
  if (i >= s.size() || s[i] != '{') return out;
  ++i;
  while (true) {
    skip_ws();
    if (i >= s.size() || s[i] != '"') return out;
    auto key = skip_string();
    std::string decoded(s.substr(key.first, key.second - key.first));
    auto parsed_key = nlohmann::json::parse("\"" + decoded + "\"", nullptr, false);
    if (parsed_key.is_string()) decoded = parsed_key.get<std::string>();
    skip_ws();
    ++i;  // ':'
    skip_ws();
    if (i < s.size() && s[i] == '"') {
      auto value = skip_string();
      for (size_t f = 0; f < fields.size(); ++f)
        if (fields[f] == decoded && out[f].first == std::string::npos) out[f] = value;
    } else {
      skip_value();
    }
    skip_ws();
    if (i >= s.size() || s[i] != ',') return out;
    ++i;
  }
}

// Decoded length of raw JSON string content s[begin, upto).
uint64_t decoded_length(std::string_view s, size_t begin, size_t upto) {
  uint64_t n = 0;
  size_t i = begin;
  while (i < upto) {
    if (s[i] != '\\') {
      ++n;
      ++i;
      continue;
    }
    if (s[i + 1] != 'u') {
      ++n;
      i += 2;
      continue;
    }
    int cu = hex4(s, i + 2);
    if (cu >= 0xD800 && cu <= 0xDBFF && i + 12 <= s.size() && s[i + 6] == '\\' && s[i + 7] == 'u') {
      n += 4;
      i += 12;
    } else {
      n += cu < 0x80 ? 1 : cu < 0x800 ? 2 : 3;
      i += 6;
    }
  }
  return n;
}

// The common case, at SIMD speed: a well-formed object whose requested fields are strings of
// valid UTF-8, each present once. Anything else (and every error message) takes the careful
// path below, so both give the same texts.
bool extract_fast(std::string_view line, std::span<const std::string> fields,
                  std::string_view id_field, std::vector<std::string>& texts, std::string& id) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(line.data(), line.size()).get_object().get(object) != simdjson::SUCCESS)
    return false;
  texts.assign(fields.size(), std::string());
  std::vector<bool> seen(fields.size(), false);
  bool id_seen = false;
  for (auto [key, value] : object) {
    if (!id_field.empty() && key == id_field) {
      if (id_seen) return false;  // a duplicate key: the careful path keeps the last, as nlohmann
      id_seen = true;
      std::string_view text;
      int64_t i = 0;
      uint64_t u = 0;
      if (value.get_string().get(text) == simdjson::SUCCESS) {
        if (!simdjson::validate_utf8(text.data(), text.size())) return false;
        id.clear();
        append_json_string(id, text);
      } else if (value.get_int64().get(i) == simdjson::SUCCESS) {
        id = std::to_string(i);
      } else if (value.get_uint64().get(u) == simdjson::SUCCESS) {
        id = std::to_string(u);
      } else if (!value.is_null()) {
        return false;  // the careful path words the error
      }
    }
    for (size_t f = 0; f < fields.size(); ++f) {
      if (key != fields[f]) continue;
      std::string_view text;
      // A duplicate key (nlohmann keeps the last) or a non-string: the careful path decides.
      if (seen[f] || value.get_string().get(text) != simdjson::SUCCESS) return false;
      // simdjson accepts some lone-surrogate escapes; the policy must see them.
      if (!simdjson::validate_utf8(text.data(), text.size())) return false;
      texts[f].assign(text);
      seen[f] = true;
    }
  }
  for (bool s : seen)
    if (!s) return false;
  return true;
}

}  // namespace

std::string repair_json_line(std::string_view s, std::vector<size_t>& repairs) {
  std::string out;
  out.reserve(s.size() + 16);
  bool in_string = false;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t bad = 0;
      size_t len = utf8_sequence(s.substr(i), &bad);
      if (len) {
        out.append(s.data() + i, len);
        i += len;
      } else {
        repairs.push_back(i);
        out.append("\xEF\xBF\xBD");
        i += bad;
      }
      continue;
    }
    if (c == '"') in_string = !in_string;
    if (in_string && c == '\\' && i + 1 < s.size()) {
      if (s[i + 1] == 'u') {
        int cu = hex4(s, i + 2);
        if (cu >= 0xD800 && cu <= 0xDBFF) {
          int low =
              (i + 12 <= s.size() && s[i + 6] == '\\' && s[i + 7] == 'u') ? hex4(s, i + 8) : -1;
          if (low >= 0xDC00 && low <= 0xDFFF) {
            out.append(s.data() + i, 12);
            i += 12;
          } else {
            repairs.push_back(i);
            out.append("\\uFFFD");
            i += 6;
          }
          continue;
        }
        if (cu >= 0xDC00 && cu <= 0xDFFF) {
          repairs.push_back(i);
          out.append("\\uFFFD");
          i += 6;
          continue;
        }
      }
      out.append(s.data() + i, 2);
      i += 2;
      continue;
    }
    out += static_cast<char>(c);
    ++i;
  }
  return out;
}

FieldsResult extract_fields(std::string_view line, std::span<const std::string> fields,
                            bool replace, std::string_view id_field) {
  FieldsResult r;
  if (extract_fast(line, fields, id_field, r.texts, r.id)) return r;
  r.texts.clear();
  r.id.clear();
  auto parsed = nlohmann::json::parse(line, nullptr, false);
  std::vector<size_t> repairs;
  std::string repaired;
  if (parsed.is_discarded()) {
    repaired = repair_json_line(line, repairs);
    if (!repairs.empty()) parsed = nlohmann::json::parse(repaired, nullptr, false);
    if (parsed.is_discarded()) {
      try {
        auto again = nlohmann::json::parse(repairs.empty() ? line : std::string_view(repaired));
        (void)again;
        r.error = "not valid JSON";
      } catch (const nlohmann::json::parse_error& e) {
        r.error = std::string("not valid JSON: ") + e.what();
      }
      return r;
    }
  }
  if (!parsed.is_object()) {
    r.error = "expected a JSON object per line";
    return r;
  }
  if (!replace && !repairs.empty()) {
    // Only invalid UTF-8 inside the fields we tokenize matters; find the first one.
    auto ranges = locate_values(line, fields);
    for (size_t at : repairs) {
      for (size_t f = 0; f < fields.size(); ++f) {
        auto [b, e] = ranges[f];
        if (b != std::string::npos && at >= b && at < e) {
          r.invalid = InvalidUtf8{f, decoded_length(line, b, at), at};
          return r;
        }
      }
    }
  }
  if (!id_field.empty()) {
    auto it = parsed.find(id_field);
    if (it != parsed.end() && !it->is_null()) {
      if (!it->is_string() && !it->is_number_integer()) {
        r.error = "field \"" + std::string(id_field) +
                  "\" (input.id_field) is not a string or an integer";
        return r;
      }
      if (it->is_string())  // the fast path's writer, so both give the same bytes
        append_json_string(r.id, it->template get_ref<const std::string&>());
      else
        r.id = it->dump();
    }
  }
  r.texts.reserve(fields.size());
  for (const auto& name : fields) {
    auto it = parsed.find(name);
    if (it == parsed.end()) {
      r.error = "has no field \"" + name + "\"";
      r.texts.clear();
      return r;
    }
    if (!it->is_string()) {
      r.error = "field \"" + name + "\" is not a string";
      r.texts.clear();
      return r;
    }
    r.texts.push_back(std::move(it->get_ref<std::string&>()));
  }
  return r;
}

}  // namespace qkv::io
