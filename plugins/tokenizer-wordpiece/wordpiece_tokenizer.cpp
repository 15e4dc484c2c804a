#include "wordpiece_tokenizer.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace qkv::wordpiece {

namespace {

// Reused buffers of the calling thread: no allocation per word or per token.
struct Scratch {
  std::vector<char> word;           // normalized bytes of the current word
  std::vector<uint32_t> ob, oe;     // origin [begin, end) of each word byte (offsets only)
  std::vector<int32_t> piece_id;    // pieces of the current word before they are committed
  std::vector<uint32_t> piece_end;  // end byte of each piece in `word`
};
thread_local Scratch tls_scratch;

// Decodes one code point at s[i] (i < n); invalid bytes decode as U+FFFD, one byte long.
inline char32_t decode_utf8(const unsigned char* s, size_t i, size_t n, size_t* len) {
  const unsigned char c = s[i];
  auto cont = [&](size_t k) { return i + k < n && (s[i + k] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF && cont(1)) {
    *len = 2;
    return (char32_t(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
  }
  if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
    char32_t cp = (char32_t(c & 0x0F) << 12) | (char32_t(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
      *len = 3;
      return cp;
    }
  } else if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    char32_t cp = (char32_t(c & 0x07) << 18) | (char32_t(s[i + 1] & 0x3F) << 12) |
                  (char32_t(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
    if (cp >= 0x10000 && cp <= 0x10FFFF) {
      *len = 4;
      return cp;
    }
  }
  *len = 1;
  return 0xFFFD;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

void cleanup(std::string& s) {
  if (s.find(' ') == std::string::npos) return;
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) replace_all(s, from, to);
}

}  // namespace

struct WordPieceTokenizer::Run {
  const unsigned char* text;
  size_t size;
  bool offsets;
  Encoding& out;
  size_t limit;  // content ids still allowed
  bool full = false;
  Scratch& s;
  size_t cap;               // bytes the word buffer may hold
  size_t wlen = 0;          // bytes in the word buffer
  size_t wchars = 0;        // chars in the word (may exceed what the buffer holds)
  uint32_t wb = 0, we = 0;  // origin span of the word

  void emit(int32_t id, uint32_t b, uint32_t e) {
    out.ids.push_back(id);
    if (offsets) {
      out.offsets.push_back(b);
      out.offsets.push_back(e);
    }
    if (--limit == 0) full = true;
  }
  // Appends normalized bytes that come from the original span [b, e).
  void append(const char* bytes, size_t len, size_t nchars, uint32_t b, uint32_t e) {
    if (wchars == 0) wb = b;
    we = e;
    wchars += nchars;
    if (wlen + len > cap) return;  // already longer than any word WordPiece will split
    for (size_t k = 0; k < len; ++k) s.word[wlen + k] = bytes[k];
    if (offsets)
      for (size_t k = 0; k < len; ++k) {
        s.ob[wlen + k] = b;
        s.oe[wlen + k] = e;
      }
    wlen += len;
  }
};

WordPieceTokenizer::WordPieceTokenizer(ModelSpec spec)
    : spec_(std::move(spec)), table_(spec_.normalizer) {
  std::vector<std::pair<std::string, int32_t>> keys;
  keys.reserve(spec_.vocab.size());
  for (size_t id = 0; id < spec_.vocab.size(); ++id)
    if (!spec_.vocab[id].empty()) keys.emplace_back(spec_.vocab[id], static_cast<int32_t>(id));
  trie_ = DoubleArrayTrie(keys);
  finish();
  build_single_ids();
}

void WordPieceTokenizer::finish() {
  cont_root_ = trie_.walk(DoubleArrayTrie::kRoot, spec_.prefix);
  unk_id_ = token_to_id(spec_.unk_token);
  if (unk_id_ < 0)
    throw std::runtime_error("unk_token '" + spec_.unk_token + "' is not in the vocabulary");
  if (spec_.max_input_chars_per_word == 0 || spec_.max_input_chars_per_word > (1u << 20))
    throw std::runtime_error("max_input_chars_per_word must be in 1..1048576");
  for (int c = 0; c < 0x80; ++c) {
    const auto& e = table_.bmp(static_cast<char32_t>(c));
    ascii_kind_[c] = e.kind;
    ascii_byte_[c] = e.len == 1 ? table_.bytes()[e.offset] : 0;
    // The fast path copies one byte; anything else (not seen for ASCII) takes the general path.
    if (e.kind == CharKind::kWord && e.len != 1) ascii_kind_[c] = CharKind::kMixed;
  }
  is_special_.assign(spec_.vocab.size(), 0);
  for (const auto& a : spec_.added) {
    default_.add(a.content, a.id);
    all_.add(a.content, a.id);
    if (a.special && a.id >= 0 && static_cast<size_t>(a.id) < is_special_.size())
      is_special_[a.id] = 1;
  }
  for (int32_t id : {spec_.cls_id, spec_.sep_id})
    if (id >= static_cast<int32_t>(spec_.vocab.size()))
      throw std::runtime_error("post-processor token id " + std::to_string(id) +
                               " is outside the vocabulary");
}

// Punctuation and CJK chars are words of their own: WordPiece of such a word is its token, or
// [UNK] (a one-char word has no split).
void WordPieceTokenizer::build_single_ids() {
  single_id_.assign(0x10000, unk_id_);
  for (char32_t cp = 0; cp < 0x10000; ++cp) {
    const auto& e = table_.bmp(cp);
    if (e.kind != CharKind::kPunct && e.kind != CharKind::kCjk) continue;
    const int32_t id = token_to_id(std::string_view(table_.bytes() + e.offset, e.len));
    if (id >= 0) single_id_[cp] = id;
  }
}

int32_t WordPieceTokenizer::token_to_id(std::string_view token) const {
  if (token.empty()) return -1;
  int32_t st = trie_.walk(DoubleArrayTrie::kRoot, token);
  return st < 0 ? -1 : trie_.value(st);
}

SpecialMatcher WordPieceTokenizer::matcher_for(const EncodeParams& p) const {
  SpecialMatcher m;
  for (std::string_view name : p.special_names) {
    int32_t id = token_to_id(name);
    if (id < 0)
      throw std::invalid_argument("special token '" + std::string(name) +
                                  "' is not in the vocabulary");
    m.add(std::string(name), id);
  }
  return m;
}

void WordPieceTokenizer::encode(std::string_view text, const EncodeParams& p, Encoding& out) const {
  out.clear();
  const bool post = p.add_special && spec_.cls_id >= 0 && spec_.sep_id >= 0;
  size_t limit = std::numeric_limits<size_t>::max();
  if (p.max_length > 0) limit = post ? (p.max_length > 2 ? p.max_length - 2 : 0) : p.max_length;
  if (post) {
    out.ids.push_back(spec_.cls_id);
    if (p.offsets) out.offsets.insert(out.offsets.end(), {0, 0});
  }
  if (post && p.max_length == 1) return;

  SpecialMatcher listed;
  const SpecialMatcher* matcher = &default_;
  if (p.specials == SpecialPolicy::kAll) matcher = &all_;
  if (p.specials == SpecialPolicy::kNone) matcher = &listed;
  if (p.specials == SpecialPolicy::kList) {
    listed = matcher_for(p);
    matcher = &listed;
  }

  Scratch& s = tls_scratch;
  // Room for the longest word WordPiece splits (longer ones are only counted).
  const size_t cap = (spec_.max_input_chars_per_word + 1) * 4 + 64;
  if (s.word.size() < cap) s.word.resize(cap);
  if (p.offsets && s.ob.size() < cap) {
    s.ob.resize(cap);
    s.oe.resize(cap);
  }
  Run run{reinterpret_cast<const unsigned char*>(text.data()),
          text.size(),
          p.offsets,
          out,
          limit,
          limit == 0,
          s,
          cap};

  size_t pos = 0;
  while (!run.full) {
    auto m =
        matcher->empty() ? SpecialMatcher::Match{text.size(), 0, -1} : matcher->find(text, pos);
    encode_segment(run, pos, m.pos);
    if (run.full || m.pos >= text.size()) break;
    run.emit(m.id, static_cast<uint32_t>(m.pos), static_cast<uint32_t>(m.pos + m.len));
    pos = m.pos + m.len;
  }
  if (post) {
    out.ids.push_back(spec_.sep_id);
    if (p.offsets) out.offsets.insert(out.offsets.end(), {0, 0});
  }
}

void WordPieceTokenizer::encode_segment(Run& r, size_t begin, size_t end) const {
  Scratch& s = r.s;
  // Splits the finished word into pieces; the whole word becomes [UNK] if it is too long or
  // some remainder has no piece (HF WordPiece).
  auto flush = [&] {
    if (r.wchars == 0) return;
    const size_t n = r.wlen;
    const char* w = s.word.data();
    bool bad = r.wchars > spec_.max_input_chars_per_word;
    if (!bad) {
      // Most words are one token: no piece list then.
      size_t len = 0;
      const int32_t id = trie_.longest(DoubleArrayTrie::kRoot, w, n, &len);
      if (id >= 0 && len == n) {
        r.emit(id, r.wb, r.we);
        r.wlen = r.wchars = 0;
        return;
      }
      s.piece_id.clear();
      s.piece_end.clear();
      if (id < 0) bad = true;
      if (!bad) {
        s.piece_id.push_back(id);
        s.piece_end.push_back(static_cast<uint32_t>(len));
      }
      for (size_t at = len; !bad && at < n;) {
        const int32_t got = cont_root_ < 0 ? -1 : trie_.longest(cont_root_, w + at, n - at, &len);
        if (got < 0) {
          bad = true;
          break;
        }
        at += len;
        s.piece_id.push_back(got);
        s.piece_end.push_back(static_cast<uint32_t>(at));
      }
    }
    if (bad) {
      r.emit(unk_id_, r.wb, r.we);
    } else {
      uint32_t start = 0;
      for (size_t k = 0; k < s.piece_id.size() && !r.full; ++k) {
        const uint32_t stop = s.piece_end[k];
        if (r.offsets)
          r.emit(s.piece_id[k], s.ob[start], s.oe[stop - 1]);
        else
          r.emit(s.piece_id[k], 0, 0);
        start = stop;
      }
    }
    r.wlen = 0;
    r.wchars = 0;
  };

  const unsigned char* t = r.text;
  const CharTable::Entry* entries = &table_.bmp(0);
  const char* pool = table_.bytes();
  CharResult slow;
  char tmp[64];
  for (size_t i = begin; i < end;) {
    // ASCII fast path: runs of word bytes go straight into the word buffer.
    if (t[i] < 0x80) {
      const uint8_t c = t[i];
      const CharKind k = ascii_kind_[c];
      if (k == CharKind::kWord) {
        size_t j = i;
        if (r.wchars == 0) r.wb = static_cast<uint32_t>(i);
        char* out = s.word.data();
        size_t wlen = r.wlen;
        const size_t room = r.cap - std::min(r.cap, wlen);
        while (j < end && t[j] < 0x80 && ascii_kind_[t[j]] == CharKind::kWord) {
          if (j - i < room) out[wlen + (j - i)] = ascii_byte_[t[j]];
          ++j;
        }
        const size_t run = j - i;
        if (r.offsets)
          for (size_t k2 = 0; k2 < std::min(run, room); ++k2) {
            s.ob[wlen + k2] = static_cast<uint32_t>(i + k2);
            s.oe[wlen + k2] = static_cast<uint32_t>(i + k2 + 1);
          }
        r.wlen = wlen + std::min(run, room);
        r.wchars += run;
        r.we = static_cast<uint32_t>(j);
        i = j;
        continue;
      }
      if (k == CharKind::kSpace) {
        flush();
        if (r.full) return;
        ++i;
        continue;
      }
    }
    size_t n = 1;
    const char32_t cp = t[i] < 0x80 ? t[i] : decode_utf8(t, i, end, &n);
    const uint32_t b = static_cast<uint32_t>(i), e = static_cast<uint32_t>(i + n);
    i += n;
    CharKind kind;
    const char* bytes;
    size_t len, nchars;
    if (cp < 0x10000) {
      const CharTable::Entry& en = entries[cp];
      kind = en.kind;
      bytes = pool + en.offset;
      len = en.len;
      nchars = en.nchars;
      if (kind == CharKind::kMixed) normalize_char(cp, table_.flags(), slow);
    } else {
      normalize_char(cp, table_.flags(), slow);
      kind = slow.kind;
      len = 0;
      for (int k = 0; k < slow.nchars; ++k) len += utf8_encode(slow.chars[k], tmp + len);
      bytes = tmp;
      nchars = slow.nchars;
    }
    switch (kind) {
      case CharKind::kSkip:
        break;
      case CharKind::kWord:
        if (nchars) r.append(bytes, len, nchars, b, e);
        break;
      case CharKind::kSpace:
        flush();
        break;
      case CharKind::kPunct:
      case CharKind::kCjk:
        flush();
        if (r.full) return;
        if (cp < 0x10000) {  // a one-char word: its id is precomputed
          r.emit(single_id_[cp], b, e);
        } else {
          r.append(bytes, len, nchars, b, e);
          flush();
        }
        break;
      case CharKind::kMixed:
        for (int k = 0; k < slow.nchars && !r.full; ++k) {
          char one[4];
          const int m = utf8_encode(slow.chars[k], one);
          if (slow.roles[k] == Role::kWord) {
            r.append(one, m, 1, b, e);
          } else {
            flush();
            if (slow.roles[k] == Role::kPunct && !r.full) {
              r.append(one, m, 1, b, e);
              flush();
            }
          }
        }
        break;
    }
    if (r.full) return;
  }
  flush();
}

void WordPieceTokenizer::decode(std::span<const int32_t> ids, std::string& out) const {
  size_t produced = 0;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= spec_.vocab.size() || spec_.vocab[id].empty())
      throw std::out_of_range("token id " + std::to_string(id) + " is not in the vocabulary (" +
                              std::to_string(spec_.vocab.size()) + " ids)");
    if (is_special_[id]) continue;
    std::string_view tok = spec_.vocab[id];
    std::string piece;
    if (produced > 0) {
      if (!spec_.prefix.empty() && tok.substr(0, spec_.prefix.size()) == spec_.prefix)
        piece = tok.substr(spec_.prefix.size());
      else {
        piece.assign(1, ' ');
        piece.append(tok);
      }
    } else {
      piece = tok;
    }
    // HF cleans each piece on its own (decoders::wordpiece::cleanup), so only replacements
    // that fit inside one piece ever fire.
    if (spec_.decode_cleanup) cleanup(piece);
    out += piece;
    ++produced;
  }
}

}  // namespace qkv::wordpiece
