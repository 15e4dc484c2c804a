// Generation through a real qkvd (issue 13 item 5): `qkvctl run --pipeline generate-gpt2 --text`
// prints one generation object per text in order, `--text-only` prints the texts, and
// limits.max_inline_new_tokens caps what an inline request may ask for.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

CmdResult ctl(const Rig& s, std::vector<std::string> args) {
  args.insert(args.begin(), {bin("qkvctl"), "--socket", s.socket.string()});
  return run_cmd(args, "");
}

// The shipped pipeline as one of pipelines_dir, its relative paths made absolute.
void write_generate_pipeline(const Rig& s) {
  std::string yaml =
      read_text(std::string(QKV_SOURCE_DIR) + "/configs/pipelines/generate-gpt2.yaml");
  for (size_t at; (at = yaml.find("../../")) != std::string::npos;)
    yaml.replace(at, 6, std::string(QKV_SOURCE_DIR) + "/");
  s.write_pipeline("generate-gpt2", yaml);
}

std::vector<nlohmann::json> lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) v.push_back(nlohmann::json::parse(l));
  return v;
}

TEST(DaemonGenerate, InlineRunPrintsOneGenerationObjectPerText) {
  Rig s("limits: {max_inline_new_tokens: 5}\n");
  write_generate_pipeline(s);
  Daemon d(s);
  d.start();
  auto r = ctl(s, {"run", "--pipeline", "generate-gpt2", "--set", "generate.max_new_tokens=3",
                   "--text", "Hello world", "--text", "The quick brown fox"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto got = lines(r.out);
  ASSERT_EQ(got.size(), 2u) << r.out;
  for (const auto& g : got) {
    EXPECT_EQ(g["ids"].size(), 3u);
    EXPECT_EQ(g["finish_reason"], "length");
  }
  // The same request again gives the same bytes (greedy, no state kept between requests).
  EXPECT_EQ(ctl(s, {"run", "--pipeline", "generate-gpt2", "--set", "generate.max_new_tokens=3",
                    "--text", "Hello world", "--text", "The quick brown fox"})
                .out,
            r.out);
  r = ctl(s, {"run", "--pipeline", "generate-gpt2", "--text-only", "--set",
              "generate.max_new_tokens=3", "--text", "Hello world"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, got[0]["text"].get<std::string>() + "\n");
  // An inline request cannot ask for more than limits.max_inline_new_tokens.
  r = ctl(s, {"run", "--pipeline", "generate-gpt2", "--set", "generate.max_new_tokens=50", "--text",
              "Hello world"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines(r.out).at(0)["ids"].size(), 5u);
}

// A generation file job through `qkvd run`: the records' ids go to OUT.ids.jsonl, one line per
// generation record in the same order (null for the record without one), and
// output.inline_id is refused for generation jsonl, naming the key.
TEST(DaemonGenerate, FileJobWritesTheInputIdsBesideTheGenerations) {
  Rig s;
  write_generate_pipeline(s);
  write_text(s.in / "prompts.jsonl",
             "{\"id\": \"p-1\", \"text\": \"Hello world\"}\n{\"text\": \"The quick\"}\n"
             "{\"id\": 3, \"text\": \"brown fox\"}\n");
  auto run = [&](std::vector<std::string> extra) {
    // One thread: under TSan the attention plugins' oneTBB loops (libtbb is not instrumented)
    // read as races; the daemon's executor runs jobs on one thread there for the same reason.
    std::vector<std::string> args{
        bin("qkvd"), "--config", s.config.string(), "run",   "-t",
        "1",         "-p",       "generate-gpt2",   "--set", "generate.max_new_tokens=2"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(),
                {"-i", (s.in / "prompts.jsonl").string(), "-o", (s.out / "gen.jsonl").string()});
    return run_cmd(args, "");
  };
  auto r = run({});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines(read_text(s.out / "gen.jsonl")).size(), 3u);
  EXPECT_EQ(lines(read_text(s.out / "gen.ids.jsonl")),
            (std::vector<nlohmann::json>{"p-1", nullptr, 3}));
  r = run({"--set", "output.inline_id=true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("output.inline_id: expected false"), std::string::npos) << r.err;
}

// -o -: the generation records on stdout are the bytes of the file output; the ids companion
// is not kept, and stderr says so.
TEST(DaemonGenerate, DashStreamsTheGenerationsToStdout) {
  Rig s;
  write_generate_pipeline(s);
  const std::string prompts =
      "{\"id\": \"p-1\", \"text\": \"Hello world\"}\n{\"text\": \"The quick\"}\n";
  write_text(s.in / "prompts.jsonl", prompts);
  std::vector<std::string> args{
      bin("qkvd"), "--config", s.config.string(), "run",   "-t",
      "1",         "-p",       "generate-gpt2",   "--set", "generate.max_new_tokens=2"};
  auto to_file = args;
  to_file.insert(to_file.end(),
                 {"-i", (s.in / "prompts.jsonl").string(), "-o", (s.out / "gen.jsonl").string()});
  auto r = run_cmd(to_file, "");
  ASSERT_EQ(r.code, 0) << r.err;
  args.insert(args.end(), {"-i", "-", "-o", "-"});
  r = run_cmd(args, prompts);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines(r.out).size(), 2u);
  EXPECT_EQ(r.out, read_text(s.out / "gen.jsonl"));
  EXPECT_NE(r.err.find("OUT.ids.jsonl was not kept"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qkv::test
