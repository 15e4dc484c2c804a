#include "loaders.hpp"

#include "post_processor.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace qkv::bpe {
namespace {

using Json = nlohmann::json;

}  // namespace

std::string read_vocab_file(const std::string& path) {
  // One read into a string of the file's size: a stream copy through ostringstream cost as
  // much as hashing the bytes (o200k: 3.6 MB on every load).
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw LoadError(true, path + ": cannot open file");
  const std::streamoff size = in.tellg();
  std::string out;
  if (size > 0) {
    out.resize(size_t(size));
    in.seekg(0);
    in.read(out.data(), size);
    if (in.gcount() != size) throw LoadError(true, path + ": read error");
    // A file that grew meanwhile (or a pipe-like file tellg cannot size): read the rest too.
  }
  std::ostringstream rest;
  if (in.good() && in.peek() != std::char_traits<char>::eof()) {
    rest << in.rdbuf();
    out += std::move(rest).str();
  }
  if (in.bad()) throw LoadError(true, path + ": read error");
  return out;
}

namespace {

std::string read_file(const std::string& path) { return read_vocab_file(path); }

[[noreturn]] void malformed(const std::string& path, size_t line, const std::string& what) {
  throw LoadError(false, path + ":" + std::to_string(line) + ": " + what);
}

Json parse_json(const std::string& path, const std::string& text) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // Turn the byte position into line:column.
    size_t line = 1, col = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n')
        ++line, col = 1;
      else
        ++col;
    }
    throw LoadError(false, path + ":" + std::to_string(line) + ":" + std::to_string(col) +
                               ": invalid JSON: " + e.what());
  }
}

int base64_value(unsigned char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (unsigned char c : in) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return false;
    int v = base64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  return (in.size() % 4 == 0) && pad <= 2;
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other bytes
// for 256, 257, ... in byte order.
struct ByteAlphabet {
  std::array<int, 324> byte_of;  // code point -> byte, -1 if not in the alphabet
  ByteAlphabet() {
    byte_of.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      byte_of[size_t(printable ? b : next++)] = b;
    }
  }
};
const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

uint32_t parse_id(const Json& v, const std::string& path, const std::string& where) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= 0x7FFFFFFF)
    throw LoadError(false, path + ": " + where + ": expected a non-negative integer id");
  return uint32_t(v.get<int64_t>());
}

// Byte-level vocab (string -> id) into spec tokens; also fills `ids` by string.
void read_byte_level_vocab(const Json& vocab, const std::string& path, BpeSpec& spec,
                           std::unordered_map<std::string, uint32_t>& ids) {
  if (!vocab.is_object()) throw LoadError(false, path + ": vocab: expected a JSON object");
  spec.tokens.reserve(vocab.size());
  ids.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const uint32_t id = parse_id(it.value(), path, "vocab entry \"" + it.key() + "\"");
    auto bytes = byte_level_to_bytes(it.key());
    if (!bytes || bytes->empty())
      throw LoadError(false, path + ": vocab entry \"" + it.key() +
                                 "\" has a character outside GPT-2's byte alphabet");
    ids.emplace(it.key(), id);
    spec.tokens.push_back({std::move(*bytes), id});
  }
}

uint32_t merge_side(const std::unordered_map<std::string, uint32_t>& ids, const std::string& tok,
                    const std::string& where) {
  auto it = ids.find(tok);
  if (it == ids.end()) throw LoadError(false, where + ": \"" + tok + "\" is not in the vocabulary");
  return it->second;
}

void add_merge(const std::unordered_map<std::string, uint32_t>& ids, const std::string& a,
               const std::string& b, const std::string& where, BpeSpec& spec) {
  const uint32_t left = merge_side(ids, a, where), right = merge_side(ids, b, where);
  merge_side(ids, a + b, where);  // the merged token must exist too
  spec.merges.emplace_back(left, right);
}

}  // namespace

std::optional<std::string> byte_level_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto& a = alphabet();
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    uint32_t cp;
    if (c < 0x80) {
      cp = c, i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < text.size()) {
      cp = (uint32_t(c & 0x1F) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F), i += 2;
    } else {
      return std::nullopt;  // every alphabet character is below U+0800
    }
    if (cp >= a.byte_of.size() || a.byte_of[cp] < 0) return std::nullopt;
    out.push_back(char(a.byte_of[cp]));
  }
  return out;
}

std::optional<Encoding> builtin_encoding(std::string_view name) {
  if (name == "r50k_base" || name == "gpt2")
    return Encoding{Pattern::kR50k, {{"<|endoftext|>", 50256}}};
  if (name == "cl100k_base")
    return Encoding{Pattern::kCl100k,
                    {{"<|endoftext|>", 100257},
                     {"<|fim_prefix|>", 100258},
                     {"<|fim_middle|>", 100259},
                     {"<|fim_suffix|>", 100260},
                     {"<|endofprompt|>", 100276}}};
  if (name == "o200k_base")
    return Encoding{Pattern::kO200k, {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}}};
  return std::nullopt;
}

BpeSpec load_tiktoken(const std::string& path) {
  const std::string text = read_file(path);
  BpeSpec spec;
  spec.whole_piece_lookup = true;
  std::string bytes;
  size_t line = 0;
  for (size_t pos = 0; pos < text.size();) {
    ++line;
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view l(text.data() + pos, eol - pos);
    pos = eol + 1;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) continue;
    const size_t sp = l.find(' ');
    if (sp == std::string_view::npos || sp == 0) malformed(path, line, "expected 'base64 rank'");
    if (!base64_decode(l.substr(0, sp), bytes) || bytes.empty())
      malformed(path, line, "invalid base64 token");
    uint64_t rank = 0;
    std::string_view r = l.substr(sp + 1);
    if (r.empty() || r.size() > 10) malformed(path, line, "invalid rank");
    for (char ch : r) {
      if (ch < '0' || ch > '9') malformed(path, line, "invalid rank '" + std::string(r) + "'");
      rank = rank * 10 + uint64_t(ch - '0');
    }
    if (rank >= 0x7FFFFFFF) malformed(path, line, "rank too large");
    spec.tokens.push_back({bytes, uint32_t(rank)});
  }
  if (spec.tokens.empty()) throw LoadError(false, path + ": no ranks in file");
  return spec;
}

BpeSpec load_gpt2(const std::string& encoder_json, const std::string& vocab_bpe) {
  BpeSpec spec;
  spec.whole_piece_lookup = false;
  spec.has_merges = true;
  std::unordered_map<std::string, uint32_t> ids;
  read_byte_level_vocab(parse_json(encoder_json, read_file(encoder_json)), encoder_json, spec, ids);
  const std::string text = read_file(vocab_bpe);
  size_t line = 0;
  for (size_t pos = 0; pos < text.size();) {
    ++line;
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string l(text.data() + pos, eol - pos);
    pos = eol + 1;
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.empty() || (line == 1 && l.starts_with("#version"))) continue;
    const size_t sp = l.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == l.size() ||
        l.find(' ', sp + 1) != std::string::npos)
      malformed(vocab_bpe, line, "expected two tokens separated by one space");
    add_merge(ids, l.substr(0, sp), l.substr(sp + 1), vocab_bpe + ":" + std::to_string(line), spec);
  }
  return spec;
}

namespace {

// Sets spec.pattern from the pre-tokenizer; only splits equal to a known pattern are accepted.
void read_pre_tokenizer(const Json& pt, const std::string& path, BpeSpec& spec) {
  const std::string type = pt.value("type", "");
  auto unsupported = [&](const std::string& what) {
    throw LoadError(false, path + ": pre_tokenizer: " + what);
  };
  auto byte_level = [&](const Json& b, bool want_regex) {
    if (b.value("use_regex", true) != want_regex)
      unsupported(want_regex ? "ByteLevel without a split pattern is not supported"
                             : "ByteLevel after Split must have use_regex false");
    spec.add_prefix_space = b.value("add_prefix_space", false);
  };
  auto split = [&](const Json& s) {
    if (!s.contains("pattern") || !s["pattern"].contains("Regex"))
      unsupported("Split needs a Regex pattern");
    const std::string re = s["pattern"]["Regex"].get<std::string>();
    auto p = pattern_from_regex(re);
    if (!p) unsupported("Split regex is not one of the r50k/cl100k/o200k patterns: " + re);
    if (s.value("behavior", "") != "Isolated" || s.value("invert", false))
      unsupported("Split must have behavior Isolated and invert false");
    spec.pattern = *p;
  };
  if (type == "ByteLevel") {
    byte_level(pt, true);
    spec.pattern = Pattern::kR50k;
  } else if (type == "Sequence") {
    const Json& list = pt.contains("pretokenizers") ? pt["pretokenizers"] : Json::array();
    if (list.size() != 2 || list[0].value("type", "") != "Split" ||
        list[1].value("type", "") != "ByteLevel")
      unsupported("a Sequence must be [Split, ByteLevel]");
    split(list[0]);
    byte_level(list[1], false);
  } else {
    unsupported("type '" + type + "' is not supported (ByteLevel, Sequence[Split, ByteLevel])");
  }
}

}  // namespace

BpeSpec load_tokenizer_json(const std::string& path) {
  const Json j = parse_json(path, read_file(path));
  BpeSpec spec;
  spec.has_merges = true;
  spec.match_specials_by_default = true;
  try {
    const Json& model = j.at("model");
    if (model.value("type", "BPE") != "BPE")
      throw LoadError(false,
                      path + ": model.type is '" + model.value("type", "") + "', expected BPE");
    for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix"}) {
      if (model.contains(key) && !model[key].is_null() &&
          !(model[key].is_string() && model[key].get<std::string>().empty()))
        throw LoadError(false, path + ": model." + key + " is not supported");
    }
    if (model.value("byte_fallback", false))
      throw LoadError(false, path + ": model.byte_fallback is not supported");
    spec.whole_piece_lookup = model.value("ignore_merges", false);
    if (j.contains("normalizer") && !j["normalizer"].is_null())
      throw LoadError(false, path + ": a normalizer is not supported by the byte-level BPE");
    if (!j.contains("pre_tokenizer") || j["pre_tokenizer"].is_null())
      throw LoadError(false, path + ": pre_tokenizer is missing");
    read_pre_tokenizer(j["pre_tokenizer"], path, spec);

    std::unordered_map<std::string, uint32_t> ids;
    read_byte_level_vocab(model.at("vocab"), path, spec, ids);
    const Json& merges = model.at("merges");
    if (!merges.is_array()) throw LoadError(false, path + ": model.merges: expected an array");
    spec.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      const Json& m = merges[i];
      const std::string where = path + ": model.merges[" + std::to_string(i) + "]";
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos || sp == 0 || sp + 1 == s.size() ||
            s.find(' ', sp + 1) != std::string::npos)
          throw LoadError(false, where + ": expected \"left right\"");
        add_merge(ids, s.substr(0, sp), s.substr(sp + 1), where, spec);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        add_merge(ids, m[0].get<std::string>(), m[1].get<std::string>(), where, spec);
      } else {
        throw LoadError(false, where + ": expected \"left right\" or [\"left\", \"right\"]");
      }
    }
    spec.wrap = read_post_processor(j.value("post_processor", Json()), path);
    if (j.contains("added_tokens")) {
      size_t i = 0;
      for (const Json& t : j["added_tokens"]) {
        const std::string where = "added_tokens[" + std::to_string(i++) + "]";
        if (t.value("single_word", false) || t.value("rstrip", false))
          throw LoadError(false, path + ": " + where + ": single_word / rstrip are not supported");
        const std::string content = t.at("content").get<std::string>();
        if (content.empty()) throw LoadError(false, path + ": " + where + ": empty content");
        spec.specials.push_back(
            {content, parse_id(t.at("id"), path, where), t.value("lstrip", false)});
      }
    }
  } catch (const Json::exception& e) {
    throw LoadError(false, path + ": unexpected structure: " + e.what());
  }
  return spec;
}

}  // namespace qkv::bpe
