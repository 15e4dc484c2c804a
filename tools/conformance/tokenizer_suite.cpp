// Tokenizer conformance: determinism, ids inside the vocabulary, byte offsets within bounds,
// monotone and not overlapping, max_length honoured (a prefix of the full ids), add_special
// adding only special ids around the plain ones, decode(encode(x)) == x on a built-in multilingual
// sample (or, for lossy tokenizers such as uncased WordPiece, encode(decode(encode(x))) ==
// encode(x)), and concurrency.
#include <algorithm>
#include <sstream>
#include <thread>

#include "host/plugin_error.hpp"
#include "host/plugin_instance.hpp"
#include "host/tokenizer_handle.hpp"
#include "suites.hpp"

namespace qkv::conformance {
namespace {

// Scripts, emoji sequences, combining marks, code and whitespace runs.
const char* const kSample[] = {
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "我能吞下玻璃而不伤身体。今天天气很好！",
    "私はガラスを食べられます。それは私を傷つけません。カタカナとひらがな",
    "أنا قادر على أكل الزجاج و هذا لا يؤلمني.",
    "मैं काँच खा सकता हूँ और मुझे उससे कोई चोट नहीं पहुंचती.",
    "Emoji: 👩‍👩‍👧‍👦 🇫🇷 👍🏽 ❤️ and café / cafe\u0301 (combining)",
    "def f(x):\n    return x ** 2  # square\n\tif x != 0: pass\r\n",
    "   leading and trailing spaces   ",
    "numbers 1234567890 3.14159 -42 1e-5, URLs https://example.org/a?b=c&d=e",
    "Ελληνικά, 한국어 텍스트, עברית, ไทย",
    "",
    "a",
    "\n\n\n",
};

// The text quoted for a message: at most ~60 bytes, cut on a UTF-8 character boundary.
std::string show(std::string_view s) {
  size_t cut = s.size();
  if (cut > 60) {
    cut = 60;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string out = std::string(s.substr(0, cut)) + (cut < s.size() ? "..." : "");
  for (auto& ch : out)
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
  return "\"" + out + "\"";
}

}  // namespace

void tokenizer_suite(Report& report, const host::LoadedPlugin& plugin, const Options& o) {
  std::optional<host::TokenizerHandle> handle;
  if (!report.run("create", "create an instance with the given config", [&](Checker& c) {
        c.count_case();
        handle.emplace(host::create_instance(plugin, o.config, o.config_dir, o.config_file));
        c.expect(handle->info().vocab_size > 0, "info().vocab_size is 0");
      }))
    return;
  const auto& tok = *handle;
  const auto plain = host::encode_options();

  report.run("determinism", "encoding the same text twice gives the same ids", [&](Checker& c) {
    for (const char* text : kSample) {
      c.count_case();
      c.expect(tok.encode(text, plain) == tok.encode(text, plain),
               "two encodes of " + show(text) + " differ");
    }
  });
  report.run("vocabulary", "every id is in [0, vocab_size)", [&](Checker& c) {
    const auto vocab = tok.info().vocab_size;
    for (const char* text : kSample) {
      c.count_case();
      for (int32_t id : tok.encode(text, plain))
        if (!c.expect(id >= 0 && static_cast<uint32_t>(id) < vocab,
                      "id " + std::to_string(id) + " of " + show(text) +
                          " is outside [0, vocab_size " + std::to_string(vocab) + ")"))
          break;
    }
  });
  report.run(
      "offsets",
      "byte offsets within the text, begin <= end, in order, no partial overlap; same ids",
      [&](Checker& c) {
        for (const char* text : kSample) {
          c.count_case();
          const std::string_view s(text);
          std::vector<int32_t> ids;
          std::vector<uint32_t> offsets;
          tok.encode(s, host::encode_options(QKV_ENCODE_OFFSETS), ids, &offsets);
          if (!c.expect(ids == tok.encode(s, plain),
                        "asking for offsets changed the ids of " + show(s)) ||
              !c.expect(offsets.size() == 2 * ids.size(),
                        "got " + std::to_string(offsets.size()) + " offsets for " +
                            std::to_string(ids.size()) + " ids of " + show(s)))
            continue;
          uint32_t last_begin = 0, last_end = 0;
          for (size_t i = 0; i < ids.size(); ++i) {
            const uint32_t b = offsets[2 * i], e = offsets[2 * i + 1];
            // Tokens of one text cover disjoint byte ranges, in order. Several tokens may
            // share one range (pieces of one character: WordPiece splits a decomposed
            // Hangul syllable), but never overlap partly.
            const bool same_range = b == last_begin && e == last_end;
            if (!c.expect(
                    b <= e && e <= s.size() && b >= last_begin && (b >= last_end || same_range),
                    "token " + std::to_string(i) + " of " + show(s) + " has [" + std::to_string(b) +
                        ", " + std::to_string(e) + ") (text size " + std::to_string(s.size()) +
                        ", previous token [" + std::to_string(last_begin) + ", " +
                        std::to_string(last_end) + "))"))
              break;
            last_begin = b;
            last_end = e;
          }
        }
      });
  report.run(
      "max-length",
      "with max_length m, at most m ids, the first m of the full encoding (specials "
      "count)",
      [&](Checker& c) {
        const uint64_t cut_before = tok.overlong_results();
        for (const char* text : kSample) {
          const auto full = tok.encode(text, plain);
          if (full.size() < 2) continue;
          for (uint32_t m : {1u, uint32_t(full.size() / 2), uint32_t(full.size() - 1)}) {
            if (m == 0) continue;
            c.count_case();
            auto cut = tok.encode(text, host::encode_options(0, QKV_SPECIAL_DEFAULT, m));
            c.expect(std::equal(cut.begin(), cut.end(), full.begin()) && cut.size() == m,
                     "max_length " + std::to_string(m) + " on " + show(text) + " gave " +
                         std::to_string(cut.size()) +
                         " ids that are not the first ones of the full encoding");
            c.count_case();
            tok.encode(text, host::encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT, m));
          }
        }
        // The host cuts an overlong result itself (host/tokenizer_handle.cpp), so what
        // the plugin did shows in its count, not in the ids.
        const uint64_t overlong = tok.overlong_results() - cut_before;
        c.expect(overlong == 0, "the plugin ignored max_length: " + std::to_string(overlong) +
                                    " results were longer (the host cut them)");
      });
  report.run("add-special",
             "add_special adds only special ids (bos, eos, cls, sep) around the plain ids; a "
             "vocabulary with cls and sep ids adds them",
             [&](Checker& c) {
               const auto& info = tok.info();
               auto special = [&](int32_t id) {
                 return id >= 0 && (id == info.bos_id || id == info.eos_id || id == info.cls_id ||
                                    id == info.sep_id);
               };
               const auto with = host::encode_options(QKV_ENCODE_ADD_SPECIAL);
               for (const char* text : kSample) {
                 c.count_case();
                 const auto bare = tok.encode(text, plain);
                 const auto ids = tok.encode(text, with);
                 auto at = std::search(ids.begin(), ids.end(), bare.begin(), bare.end());
                 if (!c.expect(at != ids.end() || bare.empty(),
                               "with add_special the ids of " + show(text) +
                                   " no longer contain the plain ones"))
                   continue;
                 if (bare.empty()) at = ids.begin();
                 const bool only_specials =
                     std::all_of(ids.begin(), at, special) &&
                     std::all_of(at + std::ptrdiff_t(bare.size()), ids.end(), special);
                 if (!c.expect(only_specials, "add_special put non-special ids around " +
                                                  show(text) + " (not bos/eos/cls/sep of info())"))
                   continue;
                 if (info.cls_id >= 0 && info.sep_id >= 0)
                   c.expect(ids.size() > bare.size(),
                            "the vocabulary has cls_id and sep_id, but add_special added "
                            "nothing to " +
                                show(text) + " (is QKV_ENCODE_ADD_SPECIAL ignored?)");
               }
             });
  if (!o.lossy)
    report.run("round-trip", "decode(encode(x)) == x on a multilingual sample", [&](Checker& c) {
      for (const char* text : kSample) {
        c.count_case();
        auto back = tok.decode(tok.encode(text, plain));
        c.expect(back == text, "decode(encode(" + show(text) + ")) gave " + show(back) +
                                   " (a lossy tokenizer? run with --lossy)");
      }
    });
  else
    report.run(
        "re-encode",
        "encode(decode(encode(x))) == encode(x) (lossy tokenizer; texts without unknown tokens)",
        [&](Checker& c) {
          // Texts with unknown-token ids are left out: their decode has lost the text.
          const int32_t unk = tok.info().unk_id;
          for (const char* text : kSample) {
            auto ids = tok.encode(text, plain);
            if (unk >= 0 && std::find(ids.begin(), ids.end(), unk) != ids.end()) continue;
            c.count_case();
            const auto decoded = tok.decode(ids);
            c.expect(tok.encode(decoded, plain) == ids, "re-encoding the decoded text of " +
                                                            show(text) + ", " + show(decoded) +
                                                            ", changed the ids");
          }
        });
  std::ostringstream what;
  what << o.threads << " threads calling one instance; same ids as one thread";
  report.run("concurrency", what.str(), [&](Checker& c) {
    std::vector<std::vector<int32_t>> expected;
    for (const char* text : kSample) expected.push_back(tok.encode(text, plain));
    const size_t n = std::size(kSample);
    std::vector<std::string> errors(o.threads);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < o.threads; ++t)
      pool.emplace_back([&, t] {
        try {
          for (int round = 0; round < 20; ++round)
            for (size_t i = 0; i < n; ++i) {
              const size_t k = (i + t + round) % n;
              if (tok.encode(kSample[k], plain) != expected[k]) {
                errors[t] = "thread " + std::to_string(t) + ": " + show(kSample[k]) +
                            " gave other ids than on one thread";
                return;
              }
              if (!o.lossy && tok.decode(expected[k]) != kSample[k]) {
                errors[t] = "thread " + std::to_string(t) + ": decode of " + show(kSample[k]) +
                            " differs from one thread's";
                return;
              }
            }
        } catch (const std::exception& e) {
          errors[t] = "thread " + std::to_string(t) + ": " + e.what();
        }
      });
    for (auto& th : pool) th.join();
    c.count_case();
    for (auto& e : errors)
      if (!e.empty()) c.fail(e);
  });
}

}  // namespace qkv::conformance
