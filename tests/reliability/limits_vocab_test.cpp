// limits.max_vocab_bytes (256 MiB): a file a tokenizer plugin loads through config_path is
// refused before the plugin reads a byte of it (daemon/host/host_services.cpp), with an error
// naming the file, its size and the limit; the daemon keeps serving.
#include <gtest/gtest.h>

#include "limits_support.hpp"

namespace qkv::test {
namespace {

TEST(LimitsVocab, AVocabularyOverTheLimitIsRefusedUnread) {
  Rig rig;
  const fs::path vocab = rig.in / "big.vocab";
  make_sparse(vocab, 2ull << 30);
  rig.write_pipeline("bigvocab", "tokenizer: {plugin: test-bytes, config: {vocab: " +
                                     vocab.string() + "}}\noutput: {format: jsonl}\n");
  Daemon d(rig);
  d.start();

  auto r = d.client().call({{"op", "run"}, {"pipeline", "bigvocab"}, {"texts", {"x"}}});
  EXPECT_EQ(error_code_of(r), "plugin_error") << r.dump();
  const std::string msg = error_message_of(r);
  EXPECT_NE(msg.find("limits.max_vocab_bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find(vocab.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(2ull << 30)), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(vocab.string() + ".loading")) << "the plugin began reading it";

  // The same file within a raised limit loads (the check is the limit, not the file).
  Rig raised("limits: {max_vocab_bytes: 4294967296}\n");
  const fs::path small = raised.in / "small.vocab";
  make_sparse(small, 1 << 20);
  raised.write_pipeline("vocab", "tokenizer: {plugin: test-bytes, config: {vocab: " +
                                     small.string() + "}}\noutput: {format: jsonl}\n");
  Daemon d2(raised);
  d2.start();
  auto ok = d2.client().call({{"op", "run"}, {"pipeline", "vocab"}, {"texts", {"ok"}}});
  EXPECT_EQ(ok["results"], json::parse("[[111,107]]")) << ok.dump();
  EXPECT_TRUE(d.client().call({{"op", "health"}}).value("ok", false));
}

}  // namespace
}  // namespace qkv::test
