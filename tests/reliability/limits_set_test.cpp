// `set` on inline runs is refused for keys that make a new tokenizer instance or model stage
// (daemon/service/inline_overrides.cpp): each distinct value loaded its files again and kept
// them cached (~19 MB per distinct tokenizer `set`). Other keys, and file jobs, stay open.
#include <gtest/gtest.h>

#include "limits_support.hpp"

namespace qkv::test {
namespace {

TEST(LimitsSet, InlineSetOfAKeyThatLoadsFilesIsRefused) {
  Rig rig;
  const fs::path vocab = rig.in / "v.vocab";
  make_sparse(vocab, 4096);
  Daemon d(rig);
  d.start();

  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"tokenizer.config.vocab", vocab.string()},
                                                        {"tokenizer.config.delay_us", "1"},
                                                        {"tokenizer.plugin", "test-bytes"},
                                                        {"model.path", rig.in.string()}}) {
    auto r = d.client().call(
        {{"op", "run"}, {"pipeline", "bytes"}, {"set", {{key, value}}}, {"texts", {"ab"}}});
    EXPECT_EQ(error_code_of(r), "bad_request") << key << ": " << r.dump();
    EXPECT_NE(error_message_of(r).find("'" + key + "'"), std::string::npos) << r.dump();
  }
  EXPECT_FALSE(fs::exists(vocab.string() + ".loading")) << "the refused set was loaded";

  // A key that changes no instance (encode options) still works inline.
  auto ok = d.client().call({{"op", "run"},
                             {"pipeline", "bytes"},
                             {"set", {{"tokenizer.add_special", "false"}}},
                             {"texts", {"ab"}}});
  EXPECT_EQ(ok["results"], json::parse("[[97,98]]")) << ok.dump();

  // A file job may set a tokenizer key: it is accepted and runs.
  write_text(rig.in / "a.jsonl", jsonl_of({"ab"}));
  auto c = d.client();
  auto sub = c.call({{"op", "submit"},
                     {"pipeline", "bytes"},
                     {"inputs", {(rig.in / "a.jsonl").string()}},
                     {"output", (rig.out / "a.jsonl").string()},
                     {"set", {{"tokenizer.config.delay_us", "1"}}}});
  ASSERT_TRUE(sub.value("ok", false)) << sub.dump();
  c.send({{"op", "wait"}, {"id", sub["id"]}});
  json end = json::object();
  for (int i = 0; i < 1000 && end.value("event", "") != "end"; ++i) end = c.read_json(30s);
  EXPECT_EQ(end["job"]["state"], "done") << end.dump();
}

}  // namespace
}  // namespace qkv::test
