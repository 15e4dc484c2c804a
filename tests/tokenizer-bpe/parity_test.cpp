// Full-corpus parity with the goldens of tiktoken 1.0.22 and HF tokenizers 0.23.2.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "test_data.hpp"
#include "tokenizers.hpp"

namespace qkv::bpe::test {
namespace {

std::vector<int32_t> encode(const Bpe& bpe, const std::string& text,
                            SpecialSelection::Kind kind = SpecialSelection::kDefault) {
  std::vector<int32_t> ids;
  SpecialSelection sel;
  sel.kind = kind;
  bpe.encode(text, sel, 0, ids, nullptr);
  return ids;
}

// The bytes of ids [k, k+4), escaped, for failure messages.
std::string show(const Bpe& bpe, const std::vector<int32_t>& ids, size_t k) {
  std::string out = "[";
  for (size_t i = k; i < ids.size() && i < k + 4; ++i) {
    std::string_view b;
    out += "'";
    if (bpe.token_bytes(ids[i], &b))
      for (unsigned char c : b) {
        if (c < 0x20 || c == 0x7F) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "\\x%02x", c);
          out += hex;
        } else {
          out += char(c);
        }
      }
    out += "' ";
  }
  return out + "]";
}

// Compares all documents; reports the first differing position of each bad document.
void expect_golden(const Bpe& bpe, const std::vector<std::string>& docs,
                   const std::vector<std::vector<int32_t>>& gold, SpecialSelection::Kind kind,
                   bool roundtrip) {
  ASSERT_EQ(docs.size(), gold.size());
  int bad = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    const auto ids = encode(bpe, docs[d], kind);
    if (ids != gold[d] && bad++ < 5) {
      size_t k = 0;
      while (k < ids.size() && k < gold[d].size() && ids[k] == gold[d][k]) ++k;
      ADD_FAILURE() << "document " << d << ": " << ids.size() << " ids, golden "
                    << gold[d].size() << "; first difference at id " << k << " (got "
                    << (k < ids.size() ? ids[k] : -1) << ", want "
                    << (k < gold[d].size() ? gold[d][k] : -1) << "); got "
                    << show(bpe, ids, k) << " want " << show(bpe, gold[d], k);
    }
    if (roundtrip) {
      std::string back;
      bpe.decode(ids, back);
      EXPECT_EQ(back, docs[d]) << "decode(encode(x)) != x for document " << d;
    }
  }
  EXPECT_EQ(bad, 0) << "documents with wrong ids";
}

using Param = std::tuple<std::string, std::string>;  // source, corpus stem
class CorpusParity : public ::testing::TestWithParam<Param> {};

TEST_P(CorpusParity, IdsEqualGoldenAndDecodeRoundTrips) {
  const auto& [source, stem] = GetParam();
  const Source* src = nullptr;
  for (const auto& s : kSources)
    if (s.name == source) src = &s;
  ASSERT_NE(src, nullptr);
  // tokenizer.json matches <|endoftext|> by default: HF's own golden for mixed_edge.
  const std::string gold = (src->hf && stem == "mixed_edge") ? "mixed_edge.gpt2-hf"
                                                               : stem + "." + src->golden;
  expect_golden(tokenizer(source), corpus(stem), golden(gold), SpecialSelection::kDefault, true);
}

std::vector<Param> corpus_params() {
  std::vector<Param> out;
  for (const auto& s : kSources)
    for (const char* stem : {"en", "ru", "zh", "ja", "code", "mixed_edge"})
      out.emplace_back(s.name, stem);
  return out;
}
INSTANTIATE_TEST_SUITE_P(Bpe, CorpusParity, ::testing::ValuesIn(corpus_params()),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

class SourceParity : public ::testing::TestWithParam<std::string> {
 protected:
  const Source& src() const {
    for (const auto& s : kSources)
      if (s.name == GetParam()) return s;
    throw std::invalid_argument(GetParam());
  }
};

TEST_P(SourceParity, MixedEdgeWithAllSpecialsAllowed) {
  expect_golden(tokenizer(GetParam()), corpus("mixed_edge"),
                golden("mixed_edge." + src().golden + ".allowed_special"), SpecialSelection::kAll,
                false);
}

TEST_P(SourceParity, MixedEdgeWithNoSpecials) {
  expect_golden(tokenizer(GetParam()), corpus("mixed_edge"),
                golden("mixed_edge." + src().golden), SpecialSelection::kNone, false);
}

TEST_P(SourceParity, InvalidUtf8ReplacedMatchesGolden) {
  std::vector<std::string> docs;
  for (const auto& line : invalid_utf8_lines()) docs.push_back(replace_invalid_utf8(line));
  // These goldens are tiktoken's encode_ordinary: no specials, for every source.
  expect_golden(tokenizer(GetParam()), docs, golden("invalid_utf8." + src().golden + ".replaced"),
                SpecialSelection::kNone, true);
}

TEST_P(SourceParity, OneInstanceManyThreadsSameIds) {
  const Bpe& bpe = tokenizer(GetParam());
  const auto docs = corpus("en");
  const auto gold = golden("en." + src().golden);
  constexpr int kThreads = 4;
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      // Each thread walks the documents from a different start, so they overlap in time.
      for (size_t k = 0; k < docs.size(); ++k) {
        const size_t d = (k + size_t(t) * docs.size() / kThreads) % docs.size();
        if (encode(bpe, docs[d]) != gold[d]) ++wrong[size_t(t)];
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(wrong[size_t(t)], 0) << "thread " << t;
}

INSTANTIATE_TEST_SUITE_P(Bpe, SourceParity,
                         ::testing::Values("r50k_tiktoken", "gpt2_files", "gpt2_hf", "cl100k",
                                           "o200k"));

}  // namespace
}  // namespace qkv::bpe::test
