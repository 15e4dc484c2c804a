// Full-corpus parity with the goldens of tiktoken 1.0.22 and HF tokenizers 0.23.2, through the
// plugin .so as the host loads it.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "test_data.hpp"
#include "tokenizers.hpp"

namespace qkv::bpe::test {
namespace {

using Handle = qkv::host::TokenizerHandle;

std::vector<int32_t> encode(const Handle& tok, const std::string& text,
                            qkv_special_policy policy = QKV_SPECIAL_DEFAULT) {
  return tok.encode(text, qkv::host::encode_options(0, policy));
}

// The bytes of ids [k, k+4), escaped, for failure messages.
std::string show(const Handle& tok, const std::vector<int32_t>& ids, size_t k) {
  std::string out = "[";
  for (size_t i = k; i < ids.size() && i < k + 4; ++i) {
    out += "'";
    if (ids[i] >= 0 && uint32_t(ids[i]) < tok.info().vocab_size)
      for (unsigned char c : tok.decode(std::span(&ids[i], 1))) {
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
void expect_golden(const Handle& bpe, const std::vector<std::string>& docs,
                   const std::vector<std::vector<int32_t>>& gold, qkv_special_policy policy,
                   bool roundtrip) {
  ASSERT_EQ(docs.size(), gold.size());
  int bad = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    const auto ids = encode(bpe, docs[d], policy);
    if (ids != gold[d] && bad++ < 5) {
      size_t k = 0;
      while (k < ids.size() && k < gold[d].size() && ids[k] == gold[d][k]) ++k;
      ADD_FAILURE() << "document " << d << ": " << ids.size() << " ids, golden " << gold[d].size()
                    << "; first difference at id " << k << " (got "
                    << (k < ids.size() ? ids[k] : -1) << ", want "
                    << (k < gold[d].size() ? gold[d][k] : -1) << "); got " << show(bpe, ids, k)
                    << " want " << show(bpe, gold[d], k);
    }
    if (roundtrip) {
      EXPECT_EQ(bpe.decode(ids), docs[d]) << "decode(encode(x)) != x for document " << d;
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
  const std::string gold =
      (src->hf && stem == "mixed_edge") ? "mixed_edge.gpt2-hf" : stem + "." + src->golden;
  expect_golden(plugin(source), corpus(stem), golden(gold), QKV_SPECIAL_DEFAULT, true);
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
  expect_golden(plugin(GetParam()), corpus("mixed_edge"),
                golden("mixed_edge." + src().golden + ".allowed_special"), QKV_SPECIAL_ALL, false);
}

TEST_P(SourceParity, MixedEdgeWithNoSpecials) {
  expect_golden(plugin(GetParam()), corpus("mixed_edge"), golden("mixed_edge." + src().golden),
                QKV_SPECIAL_NONE, false);
}

TEST_P(SourceParity, InvalidUtf8ReplacedMatchesGolden) {
  std::vector<std::string> docs;
  for (const auto& line : invalid_utf8_lines()) docs.push_back(replace_invalid_utf8(line));
  // These goldens are tiktoken's encode_ordinary: no specials, for every source.
  expect_golden(plugin(GetParam()), docs, golden("invalid_utf8." + src().golden + ".replaced"),
                QKV_SPECIAL_NONE, true);
}

TEST_P(SourceParity, OneInstanceManyThreadsSameIds) {
  const Handle& bpe = plugin(GetParam());
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
