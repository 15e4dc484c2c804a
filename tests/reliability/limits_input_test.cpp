// Inputs are bounded after decompression (daemon/io/inputs.cpp, line_reader.cpp): one document
// (line) at most limits.max_document_bytes (64 MiB), all inputs at most
// limits.max_job_input_bytes. Fixtures in data/: limits_bomb_line.jsonl.zst (66 KB ->
// one 2 GiB line), limits_bomb_lines.jsonl.zst (45 KB -> 512 MiB of short lines).
#include <gtest/gtest.h>

#include <fstream>

#include "limits_support.hpp"

namespace qkv::test {
namespace {

const fs::path kData = fs::path(QKV_SOURCE_DIR) / "tests/reliability/data";

// Peak resident memory of a process (VmHWM), in MiB.
long peak_rss_mib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long kb = -1;
  while (f >> key) {
    if (key == "VmHWM:") {
      f >> kb;
      break;
    }
    std::getline(f, key);
  }
  return kb / 1024;
}

json run_job(const Daemon& d, const fs::path& input, const fs::path& output) {
  auto c = d.client();
  auto r = c.call({{"op", "submit"},
                   {"pipeline", "bytes"},
                   {"inputs", {input.string()}},
                   {"output", output.string()}});
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
  if (!r.value("ok", false)) return r;
  c.send({{"op", "wait"}, {"id", r["id"]}});
  json ev = json::object();
  for (int i = 0; i < 100000 && ev.value("event", "") != "end"; ++i) ev = c.read_json(120s);
  return ev.value("job", json::object());
}

TEST(LimitsInput, ADecompressionBombLineFailsItsJobWithinTheDocumentLimit) {
  Rig rig;
  fs::copy_file(kData / "limits_bomb_line.jsonl.zst", rig.in / "bomb.jsonl.zst");
  Daemon d(rig);
  d.start();

  auto job = run_job(d, rig.in / "bomb.jsonl.zst", rig.out / "bomb.jsonl");
  EXPECT_EQ(job.value("state", ""), "failed") << job.dump();
  const std::string msg = job.value("error", json::object()).value("message", "");
  EXPECT_NE(msg.find("limits.max_document_bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bomb.jsonl.zst: line 1"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(rig.out / "bomb.jsonl"));
  // One 64 MiB line at most was held (plus the daemon itself), not the 2 GiB line.
  EXPECT_LT(peak_rss_mib(d.pid()), 512) << "MiB peak RSS";
  // Others are served, the daemon is up.
  auto r = d.client().call({{"op", "run"}, {"pipeline", "bytes"}, {"texts", {"ok"}}});
  EXPECT_EQ(r["results"], json::parse("[[111,107]]")) << r.dump();

  // `qkvd run` applies the same limit.
  auto run =
      run_cmd({bin("qkvd"), "--config", rig.config.string(), "run", "-p", "bytes", "-i",
               (rig.in / "bomb.jsonl.zst").string(), "-o", (rig.out / "run.jsonl").string()});
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.err.find("limits.max_document_bytes"), std::string::npos) << run.err;
}

TEST(LimitsInput, TheInputLimitCountsDecompressedBytes) {
  // 45 KB on disk: under the limit as the file is; 512 MiB once decompressed.
  Rig rig("limits: {max_job_input_bytes: 10000000}\n");
  fs::copy_file(kData / "limits_bomb_lines.jsonl.zst", rig.in / "lines.jsonl.zst");
  Daemon d(rig);
  d.start();

  auto job = run_job(d, rig.in / "lines.jsonl.zst", rig.out / "lines.jsonl");
  EXPECT_EQ(job.value("state", ""), "failed") << job.dump();
  const std::string msg = job.value("error", json::object()).value("message", "");
  EXPECT_NE(msg.find("limits.max_job_input_bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("after decompression"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(rig.out / "lines.jsonl"));
}

}  // namespace
}  // namespace qkv::test
