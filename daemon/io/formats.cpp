#include "formats.hpp"

#include <charconv>
#include <stdexcept>

#include "utf8.hpp"

namespace qkv::io {

namespace {
inline void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}
}  // namespace

void append_ids(std::string& out, std::span<const int32_t> ids) {
  // Hot (every token of every tokenize job): format into a stack block and append it whole.
  // Not resize-then-shrink on `out`: that zero-filled (and faulted in) 12 bytes per id, about
  // twice what is written, and showed as memset in the job's profile.
  constexpr size_t kMaxId = 11;  // "-2147483648"
  char block[4096];
  char* const limit = block + sizeof block - (kMaxId + 2);
  char* p = block;
  *p++ = '[';
  for (size_t i = 0; i < ids.size(); ++i) {
    if (p > limit) {
      out.append(block, p);
      p = block;
    }
    if (i) *p++ = ',';
    p = std::to_chars(p, p + kMaxId, ids[i]).ptr;
  }
  *p++ = ']';
  out.append(block, p);
}

void append_ids_offsets(std::string& out, std::span<const int32_t> ids,
                        std::span<const uint32_t> offsets) {
  out += "{\"ids\":";
  append_ids(out, ids);
  out += ",\"offsets\":[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += '[';
    append_int(out, offsets[2 * i]);
    out += ',';
    append_int(out, offsets[2 * i + 1]);
    out += ']';
  }
  out += "]}";
}

void append_json_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void append_base64(std::string& out, std::string_view bytes) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0, n = bytes.size();
  for (; i + 3 <= n; i += 3) {
    uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8 | p[i + 2];
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = uint32_t(p[i]) << 16;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (n - i == 2) {
    uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
}

void append_text_record(std::string& out, std::string_view bytes) {
  if (utf8_valid(bytes)) {
    out += "{\"text\":";
    append_json_string(out, bytes);
    out += '}';
  } else {
    out += "{\"bytes_b64\":\"";
    append_base64(out, bytes);
    out += "\"}";
  }
}

void append_bin_ids(std::string& out, std::span<const int32_t> ids, bool wide) {
  const size_t start = out.size();
  out.resize(start + ids.size() * (wide ? 4 : 2));
  auto* p = reinterpret_cast<unsigned char*>(out.data() + start);
  for (int32_t id : ids) {
    if (id < 0 || (!wide && id > 0xffff))
      throw std::out_of_range("token id " + std::to_string(id) + " does not fit the .bin dtype");
    const auto v = static_cast<uint32_t>(id);
    *p++ = static_cast<unsigned char>(v);
    *p++ = static_cast<unsigned char>(v >> 8);
    if (wide) {
      *p++ = static_cast<unsigned char>(v >> 16);
      *p++ = static_cast<unsigned char>(v >> 24);
    }
  }
}

}  // namespace qkv::io
