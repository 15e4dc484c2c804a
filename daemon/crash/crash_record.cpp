#include "crash/crash_record.hpp"

#include <signal.h>

#include <cstring>

namespace qkv::crash {
namespace {

constexpr std::string_view kMagic = "qkv-crash 1 ";

struct Writer {
  char* buf;
  std::size_t cap, n = 0;
  void put(std::string_view s) noexcept {
    std::size_t k = s.size() < cap - n ? s.size() : cap - n;
    std::memcpy(buf + n, s.data(), k);
    n += k;
  }
  void number(unsigned long v) noexcept {
    char tmp[24];
    std::size_t i = sizeof tmp;
    do {
      tmp[--i] = char('0' + v % 10);
      v /= 10;
    } while (v);
    put({tmp + i, sizeof tmp - i});
  }
  void field(std::string_view name, const char* p, std::size_t len) noexcept {
    put(" ");
    put(name);
    put("=");
    number(len);
    put(":");
    if (p) put({p, len});
  }
};

// Reads "name=<len>:<bytes>" at `pos`; false when malformed.
bool read_field(std::string_view line, std::size_t& pos, std::string_view name, std::string& out) {
  if (line.substr(pos, 1) != " ") return false;
  ++pos;
  if (line.substr(pos, name.size()) != name || line.substr(pos + name.size(), 1) != "=")
    return false;
  pos += name.size() + 1;
  std::size_t len = 0, digits = 0;
  while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9' && digits < 8) {
    len = len * 10 + std::size_t(line[pos++] - '0');
    ++digits;
  }
  if (!digits || line.substr(pos, 1) != ":" || line.size() - pos - 1 < len) return false;
  out.assign(line.substr(pos + 1, len));
  pos += 1 + len;
  return true;
}

}  // namespace

std::string signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "signal " + std::to_string(sig);
  }
}

std::size_t format_record(char* buf, std::size_t cap, int sig, const Slot& slot) noexcept {
  if (cap < 2) return 0;
  Writer w{buf, cap - 1};  // room for the final newline, always
  w.put(kMagic);
  w.put("signal=");
  w.number(static_cast<unsigned long>(sig));
  w.field("owner", slot.owner.id, slot.owner.id_len);
  w.field("pipeline", slot.owner.pipeline, slot.owner.pipeline_len);
  w.field("plugin", slot.call.plugin, slot.call.plugin ? slot.call.plugin_len : 0);
  w.field("call", slot.call.what, slot.call.what ? std::strlen(slot.call.what) : 0);
  buf[w.n++] = '\n';
  return w.n;
}

std::vector<Record> parse_records(std::string_view text, const std::string& source) {
  std::vector<Record> out;
  // Fields may hold newlines: a record is parsed from its magic on, by lengths.
  std::size_t start = 0;
  while ((start = text.find(kMagic, start)) != std::string_view::npos) {
    std::string_view line = text.substr(start);
    std::size_t pos = kMagic.size();
    Record r;
    r.source = source;
    bool ok = line.substr(pos, 7) == "signal=";
    if (ok) {
      pos += 7;
      int sig = 0, digits = 0;
      while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9' && digits < 4) {
        sig = sig * 10 + (line[pos++] - '0');
        ++digits;
      }
      r.signal = sig;
      ok = digits > 0;
    }
    ok = ok && read_field(line, pos, "owner", r.owner) &&
         read_field(line, pos, "pipeline", r.pipeline) &&
         read_field(line, pos, "plugin", r.plugin) && read_field(line, pos, "call", r.call) &&
         line.substr(pos, 1) == "\n";
    if (ok) {
      out.push_back(std::move(r));
      start += pos + 1;
    } else {
      start += kMagic.size();
    }
  }
  return out;
}

std::string describe(const Record& r) {
  std::string s = signal_name(r.signal);
  if (!r.plugin.empty()) {
    s += " in plugin '" + r.plugin + "'";
    if (!r.call.empty()) s += " (" + r.call + ")";
  } else {
    s += " in qkvd itself (no plugin call)";
  }
  return s;
}

}  // namespace qkv::crash
