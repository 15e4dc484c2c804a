// Tokenizer conformance: determinism, ids inside the vocabulary, byte offsets within bounds and
// monotone, decode(encode(x)) == x on a built-in multilingual sample (or, for lossy tokenizers
// such as uncased WordPiece, encode(decode(encode(x))) == encode(x)), and concurrency.
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
  report.run("offsets", "byte offsets within the text, begin <= end, begins monotone; same ids",
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
                 uint32_t last_begin = 0;
                 for (size_t i = 0; i < ids.size(); ++i) {
                   const uint32_t b = offsets[2 * i], e = offsets[2 * i + 1];
                   if (!c.expect(b <= e && e <= s.size() && b >= last_begin,
                                 "token " + std::to_string(i) + " of " + show(s) + " has [" +
                                     std::to_string(b) + ", " + std::to_string(e) +
                                     ") (text size " + std::to_string(s.size()) +
                                     ", previous begin " + std::to_string(last_begin) + ")"))
                     break;
                   last_begin = b;
                 }
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
