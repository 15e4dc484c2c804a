// pipeline::run_job with a byte-level fake tokenizer (id = byte value), so every expected
// output is computed directly from the input bytes: formats, ordering, thread-count
// independence, the UTF-8 policy, decode, inline jobs, cancel, a model stage.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <atomic>
#include <random>

#include "config/diagnostics.hpp"
#include "pipeline/model_stage.hpp"
#include "pipeline/run_job.hpp"
#include "test_support.hpp"

namespace {

using namespace qkv;
using namespace qkv::test;

class ByteTokenizer : public pipeline::Tokenizer {
 public:
  explicit ByteTokenizer(uint32_t vocab = 256, int32_t shift = 0) : vocab_(vocab), shift_(shift) {}
  void encode(std::string_view text, std::vector<int32_t>& ids,
              std::vector<uint32_t>* offsets) const override {
    for (size_t i = 0; i < text.size(); ++i) {
      ids.push_back(static_cast<unsigned char>(text[i]) + shift_);
      if (offsets) {
        offsets->push_back(static_cast<uint32_t>(i));
        offsets->push_back(static_cast<uint32_t>(i + 1));
      }
      if (on_encode) on_encode();
    }
  }
  void decode(std::span<const int32_t> ids, std::string& out) const override {
    for (int32_t id : ids) {
      if (id - shift_ < 0 || id - shift_ > 255)
        throw std::runtime_error("unknown id " + std::to_string(id));
      out += static_cast<char>(id - shift_);
    }
  }
  uint32_t vocab_size() const override { return vocab_; }
  std::function<void()> on_encode;

 private:
  uint32_t vocab_;
  int32_t shift_;
};

std::string ids_of(std::string_view text, int32_t shift = 0) {
  std::string s = "[";
  for (size_t i = 0; i < text.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(static_cast<unsigned char>(text[i]) + shift);
  }
  return s + "]";
}

class RunJob : public ::testing::Test {
 protected:
  void SetUp() override {
    spit(dir_ / "byte.yaml",
         "tokenizer:\n  plugin: fake\n"
         "batch: {documents: 3}\n");
    env_.pipelines_dir = dir_.path();
    env_.tokenizer_factory = [this](const config::PipelineConfig&) { return tokenizer_; };
  }
  pipeline::JobResult run(pipeline::JobSpec spec, unsigned threads = 2) {
    if (spec.pipeline.empty()) spec.pipeline = "byte";
    spec.threads = threads;
    return pipeline::run_job(spec, env_, progress_, cancel_);
  }
  std::string fail(pipeline::JobSpec spec) {
    try {
      run(std::move(spec));
    } catch (const std::exception& e) {
      return e.what();
    }
    return "no error";
  }
  TempDir dir_;
  pipeline::RunEnvironment env_;
  pipeline::JobProgress progress_;
  pipeline::CancelFlag cancel_;
  std::shared_ptr<ByteTokenizer> tokenizer_ = std::make_shared<ByteTokenizer>();
};

TEST_F(RunJob, JsonlIdsInInputOrder) {
  spit(dir_ / "in.jsonl",
       "{\"text\":\"ab\"}\n{\"id\":2,\"text\":\"\"}\n{\"text\":\"x\\ny\"}\n{\"text\":\"z\"}\n");
  spit(dir_ / "in2.txt", "line one\n\nlast");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.jsonl").string(), (dir_ / "in2.txt").string()};
  s.output = (dir_ / "out.jsonl").string();
  pipeline::JobResult r = run(s);
  EXPECT_EQ(slurp(dir_ / "out.jsonl"), "[97,98]\n[]\n[120,10,121]\n[122]\n" + ids_of("line one") +
                                           "\n[]\n" + ids_of("last") + "\n");
  EXPECT_EQ(r.documents, 7u);
  EXPECT_EQ(r.tokens, 2u + 3 + 1 + 8 + 4);
  // The second record's "id" goes to the ids companion (input.id_field), not into the rows.
  EXPECT_EQ(r.outputs, (std::vector<std::string>{(dir_ / "out.jsonl").string(),
                                                 (dir_ / "out.ids.jsonl").string(),
                                                 (dir_ / "out.manifest.json").string()}));
  EXPECT_EQ(slurp(dir_ / "out.ids.jsonl"), "null\n2\nnull\nnull\nnull\nnull\nnull\n");
  EXPECT_EQ(progress_.documents_done, 7u);
  EXPECT_EQ(progress_.bytes_done.load(), progress_.bytes_total.load());
  auto m = nlohmann::json::parse(slurp(dir_ / "out.manifest.json"));
  EXPECT_EQ(m["documents"], 7);
  EXPECT_EQ(m["tokens"], 18);
  EXPECT_EQ(m["pipeline"], "byte");
  EXPECT_EQ(m["inputs"][0]["bytes"], fs::file_size(dir_ / "in.jsonl"));
  EXPECT_EQ(dir_.names(),
            (std::vector<std::string>{"byte.yaml", "in.jsonl", "in2.txt", "out.ids.jsonl",
                                      "out.jsonl", "out.manifest.json"}));
}

// input.on_error: skip: bad records get no output row and go to OUT.rejects.jsonl with file,
// line and byte offset; the manifest counts them; more than input.max_errors fails the job and
// writes nothing; without skip the first bad record fails the job.
TEST_F(RunJob, BadRecordsAreSkippedIntoRejectsWhenAsked) {
  const std::string bad_json = "{\"text\": oops}\n";
  const std::string bad_utf8 = "{\"text\":\"\xff\"}\n";
  spit(dir_ / "in.jsonl", "{\"text\":\"a\"}\n" + bad_json + "{\"text\":\"b\"}\n" + bad_utf8 +
                              "{\"nofield\":1}\n{\"text\":\"c\"}\n\n");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.jsonl").string()};
  s.output = (dir_ / "o.bin").string();
  s.overrides = {{"input.on_error", "skip"}, {"output.separator", "none"}};
  pipeline::JobResult r = run(s);
  EXPECT_EQ(slurp(dir_ / "o.bin"), std::string("a\0b\0c\0", 6));
  EXPECT_EQ(r.documents, 6u) << "records read, the trailing blank line is none";
  EXPECT_EQ(r.rejected, 3u);
  auto rejects = split_lines(slurp(dir_ / "o.rejects.jsonl"));
  ASSERT_EQ(rejects.size(), 3u);
  const std::string in = (dir_ / "in.jsonl").string();
  auto first = nlohmann::json::parse(rejects[0]);
  EXPECT_EQ(first["file"], in);
  EXPECT_EQ(first["line"], 2);
  EXPECT_EQ(first["byte_offset"], 13);
  EXPECT_FALSE(first["error"].get<std::string>().empty());
  EXPECT_EQ(nlohmann::json::parse(rejects[1])["line"], 4);
  EXPECT_NE(nlohmann::json::parse(rejects[1])["error"].get<std::string>().find("invalid UTF-8"),
            std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(rejects[2])["line"], 5);
  auto m = nlohmann::json::parse(slurp(dir_ / "o.manifest.json"));
  EXPECT_EQ(m["rejected_records"], 3);
  EXPECT_EQ(read_npy_independently(dir_ / "o.idx.npy").values<int64_t>(),
            (std::vector<int64_t>{0, 1, 2, 3}));

  s.output = (dir_ / "few.bin").string();
  s.overrides.push_back({"input.max_errors", "2"});
  EXPECT_NE(fail(s).find("3 bad records, more than input.max_errors (2)"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "few.bin"));
  EXPECT_FALSE(fs::exists(dir_ / "few.rejects.jsonl"));

  s.output = (dir_ / "strict.bin").string();
  s.overrides = {};
  EXPECT_NE(fail(s).find(":2: document 1: "), std::string::npos) << fail(s);
  EXPECT_FALSE(fs::exists(dir_ / "strict.bin"));
}

// .txt framing (input.document) through a whole job: BOM skipped, CRLF ends lines, paragraphs.
TEST_F(RunJob, TxtDocumentModes) {
  spit(dir_ / "in.txt",
       "\xEF\xBB\xBF"
       "ab\r\ncd\r\n\r\nef\r\n");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.txt").string()};
  s.output = (dir_ / "lines.jsonl").string();
  run(s);
  EXPECT_EQ(slurp(dir_ / "lines.jsonl"), "[97,98]\n[99,100]\n[]\n[101,102]\n");
  s.output = (dir_ / "paras.jsonl").string();
  s.overrides = {{"input.document", "paragraph"}};
  run(s);
  EXPECT_EQ(slurp(dir_ / "paras.jsonl"), "[97,98,10,99,100]\n[101,102]\n");
  s.output = (dir_ / "file.jsonl").string();
  s.overrides = {{"input.document", "file"}};
  run(s);
  EXPECT_EQ(slurp(dir_ / "file.jsonl"), "[97,98,13,10,99,100,13,10,13,10,101,102,13,10]\n");
}

TEST_F(RunJob, OffsetsForm) {
  spit(dir_ / "in.txt", "hi\n");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.txt").string()};
  s.output = (dir_ / "o.jsonl").string();
  s.overrides = {{"output.offsets", "true"}};
  run(s);
  EXPECT_EQ(slurp(dir_ / "o.jsonl"), "{\"ids\":[104,105],\"offsets\":[[0,1],[1,2]]}\n");
}

TEST_F(RunJob, MultiFieldJsonl) {
  spit(dir_ / "in.jsonl", "{\"a\":\"x\",\"b\":\"yz\"}\n");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.jsonl").string()};
  s.output = (dir_ / "o.jsonl").string();
  s.overrides = {{"input.fields", "{src: a, tgt: b}"}};
  run(s);
  EXPECT_EQ(slurp(dir_ / "o.jsonl"), "{\"src\":[120],\"tgt\":[121,122]}\n");
}

// Many documents, chunks of 7, compressed and plain inputs: same bytes for 1, 2 and 4 threads.
TEST_F(RunJob, OutputBytesDoNotDependOnThreads) {
  std::mt19937 rng(7);
  std::string jsonl, txt;
  for (int i = 0; i < 3000; ++i) {
    std::string t(rng() % 200, 'a');
    for (auto& c : t) c = static_cast<char>('a' + rng() % 26);
    jsonl += nlohmann::json{{"text", t}}.dump() + "\n";
    txt += t + "\n";
  }
  spit(dir_ / "a.jsonl", jsonl);
  gzFile g = gzopen((dir_ / "b.txt.gz").c_str(), "wb");
  gzwrite(g, txt.data(), static_cast<unsigned>(txt.size()));
  gzclose(g);
  for (const char* format : {"jsonl", "bin"}) {
    std::vector<std::string> outs;
    for (unsigned threads : {1u, 2u, 4u}) {
      pipeline::JobSpec s;
      s.inputs = {(dir_ / "a.jsonl").string(), (dir_ / "b.txt.gz").string()};
      s.output = (dir_ / (std::string("o") + std::to_string(threads) + "." + format)).string();
      s.overrides = {{"batch.documents", "7"}, {"output.format", format}};
      pipeline::JobResult r = run(s, threads);
      EXPECT_EQ(r.documents, 6000u);
      std::string bytes = slurp(s.output);
      if (std::string(format) == "bin")
        bytes += slurp(dir_ / ("o" + std::to_string(threads) + ".idx.npy"));
      outs.push_back(bytes);
    }
    EXPECT_EQ(outs[0], outs[1]) << format;
    EXPECT_EQ(outs[0], outs[2]) << format;
  }
}

TEST_F(RunJob, BinAndIdxReadBackIndependently) {
  spit(dir_ / "in.txt", "ab\n\nxyz\n");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.txt").string()};
  s.output = (dir_ / "t.bin").string();
  s.overrides = {{"output.format", "bin"}};
  run(s);
  EXPECT_EQ(slurp(dir_ / "t.bin"), std::string("a\0b\0x\0y\0z\0", 10));
  Npy idx = read_npy_independently(dir_ / "t.idx.npy");
  EXPECT_EQ(idx.descr, "<i8");
  EXPECT_EQ(idx.shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(idx.values<int64_t>(), (std::vector<int64_t>{0, 2, 2, 5}));
  auto m = nlohmann::json::parse(slurp(dir_ / "t.manifest.json"));
  EXPECT_EQ(m["dtype"], "uint16");
  ASSERT_EQ(m["outputs"].size(), 2u);
  // What produced it: the qkv version, the overrides as given, the tokenizer plugin.
  EXPECT_EQ(m["qkv_version"], QKV_TEST_VERSION);
  EXPECT_EQ(m["set"], nlohmann::json::parse(R"([{"key":"output.format","value":"bin"}])"));
  EXPECT_TRUE(m["tokenizer"]["plugin"].is_string());

  // Over 65536 ids: uint32.
  tokenizer_ = std::make_shared<ByteTokenizer>(70000, 65000);
  s.output = (dir_ / "w.bin").string();
  run(s);
  const std::string w = slurp(dir_ / "w.bin");
  ASSERT_EQ(w.size(), 20u);
  const uint32_t first = static_cast<unsigned char>(w[0]) | static_cast<unsigned char>(w[1]) << 8 |
                         static_cast<unsigned char>(w[2]) << 16 |
                         static_cast<unsigned char>(w[3]) << 24;
  EXPECT_EQ(first, 65000u + 'a');
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "w.manifest.json"))["dtype"], "uint32");
}

TEST_F(RunJob, InvalidUtf8ErrorNamesFileDocumentAndOffsets) {
  // Line 2 (document 1): "ok " then 0xC3 0x28 -> invalid at byte 3 of the text.
  const std::string first = "{\"text\":\"fine\"}\n";
  const std::string second = "{\"text\":\"ok \xC3(\"}\n";
  spit(dir_ / "in.jsonl", first + second);
  spit(dir_ / "out.jsonl", "existing");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.jsonl").string()};
  s.output = (dir_ / "out.jsonl").string();
  const std::string msg = fail(s);
  EXPECT_EQ(msg,
            (dir_ / "in.jsonl").string() +
                ":2: document 1: invalid UTF-8 in field \"text\" at byte 3 of "
                "the document's text (byte " +
                std::to_string(first.size() + second.find('\xC3')) +
                " of the file); set input.invalid_utf8: replace to turn invalid bytes into U+FFFD");
  EXPECT_EQ(slurp(dir_ / "out.jsonl"), "existing");
  EXPECT_EQ(dir_.names(), (std::vector<std::string>{"byte.yaml", "in.jsonl", "out.jsonl"}));

  s.overrides = {{"input.invalid_utf8", "replace"}};
  run(s);
  EXPECT_EQ(slurp(dir_ / "out.jsonl"), ids_of("fine") + "\n" + ids_of("ok \xEF\xBF\xBD(") + "\n");
}

// Every case of invalid_utf8.bin, placed as line 2 of a .txt after a valid line: the error
// names line 2, document 1 and Python's first-invalid offset (tests/io/data).
TEST_F(RunJob, InvalidUtf8CasesReportPythonsOffsets) {
  const auto cases =
      split_lines(slurp(fs::path(QKV_SOURCE_DIR) / "tests/data/corpus/invalid_utf8.bin"));
  auto rows =
      split_lines(slurp(fs::path(QKV_SOURCE_DIR) / "tests/io/data/invalid_utf8.expected.tsv"));
  ASSERT_EQ(rows.size(), 50u);
  for (size_t i = 1; i < rows.size(); ++i) {
    std::istringstream r(rows[i]);
    size_t line, first;
    r >> line >> first;
    spit(dir_ / "case.txt", "valid\n" + cases[line] + "\n");
    pipeline::JobSpec s;
    s.inputs = {(dir_ / "case.txt").string()};
    s.output = (dir_ / "o.jsonl").string();
    EXPECT_EQ(
        fail(s),
        (dir_ / "case.txt").string() + ":2: document 1: invalid UTF-8 at byte " +
            std::to_string(first) + " of the document's text (byte " + std::to_string(6 + first) +
            " of the file); set input.invalid_utf8: replace to turn invalid bytes into U+FFFD")
        << "case " << line;
  }
}

// A read error (truncated .gz) fails the job even when it falls between chunks.
TEST_F(RunJob, TruncatedCompressedInputFailsTheJob) {
  std::string txt;
  for (int i = 0; i < 20000; ++i) txt += "line " + std::to_string(i * 7919 % 10007) + "\n";
  gzFile g = gzopen((dir_ / "t.txt.gz").c_str(), "wb");
  gzwrite(g, txt.data(), static_cast<unsigned>(txt.size()));
  gzclose(g);
  fs::resize_file(dir_ / "t.txt.gz", fs::file_size(dir_ / "t.txt.gz") / 2);
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "t.txt.gz").string()};
  s.output = (dir_ / "o.jsonl").string();
  EXPECT_NE(fail(s).find("t.txt.gz: gzip data is corrupt or truncated"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "o.jsonl"));
}

TEST_F(RunJob, JsonErrorsNameTheLine) {
  spit(dir_ / "in.jsonl", "{\"text\":\"a\"}\n{\"txt\":\"b\"}\n");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.jsonl").string()};
  s.output = (dir_ / "o.jsonl").string();
  EXPECT_EQ(fail(s), (dir_ / "in.jsonl").string() + ":2: document 1: has no field \"text\"");
  EXPECT_FALSE(fs::exists(dir_ / "o.jsonl"));
}

TEST_F(RunJob, DecodeJsonlAndBin) {
  const std::string text = "h\xC3\xA9llo \"w\"\n";
  spit(dir_ / "in.txt", text + "\n" + "\xC3\xA9\n");
  pipeline::JobSpec enc;
  enc.inputs = {(dir_ / "in.txt").string()};
  enc.output = (dir_ / "ids.jsonl").string();
  run(enc);
  enc.output = (dir_ / "ids.bin").string();
  enc.overrides = {{"output.format", "bin"}};
  run(enc);
  spit(dir_ / "more.jsonl", "{\"ids\":[195],\"offsets\":[[0,1]]}\n");
  for (const char* in : {"ids.jsonl", "ids.bin"}) {
    pipeline::JobSpec dec;
    dec.decode = true;
    dec.inputs = {(dir_ / in).string(), (dir_ / "more.jsonl").string()};
    dec.output = (dir_ / "text.jsonl").string();
    pipeline::JobResult r = run(dec);
    EXPECT_EQ(r.documents, 4u);
    EXPECT_EQ(slurp(dir_ / "text.jsonl"),
              "{\"text\":\"h\xC3\xA9llo \\\"w\\\"\"}\n{\"text\":\"\"}\n{\"text\":\"\xC3\xA9\"}\n"
              "{\"bytes_b64\":\"ww==\"}\n")
        << in;
  }
  // A .bin whose only document has an unknown id, after ids.bin: named by file and job document.
  std::string idx(
      "\x93NUMPY\x01\x00\x76\x00{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 67);
  idx.resize(127, ' ');
  idx += '\n';
  idx += std::string("\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0", 16);
  spit(dir_ / "bad.idx.npy", idx);
  spit(dir_ / "bad.bin", std::string("\xe7\x03", 2));  // 999
  pipeline::JobSpec bin;
  bin.decode = true;
  bin.inputs = {(dir_ / "ids.bin").string(), (dir_ / "bad.bin").string()};
  bin.output = (dir_ / "t3.jsonl").string();
  EXPECT_EQ(fail(bin), (dir_ / "bad.bin").string() + ": document 3: unknown id 999");
  spit(dir_ / "bad.jsonl", "[1,2]\n[1,\"x\"]\n");
  pipeline::JobSpec dec;
  dec.decode = true;
  dec.inputs = {(dir_ / "bad.jsonl").string()};
  dec.output = (dir_ / "t2.jsonl").string();
  EXPECT_EQ(fail(dec),
            (dir_ / "bad.jsonl").string() +
                ":2: document 1: expected token ids (integers from 0 to 2147483647), got \"x\"");
  spit(dir_ / "bad.jsonl", "[1,999]\n");
  EXPECT_EQ(fail(dec), (dir_ / "bad.jsonl").string() + ":1: document 0: unknown id 999");
}

TEST_F(RunJob, InlineJobs) {
  pipeline::JobSpec s;
  s.texts = {"ab", "", "\xC3"};
  EXPECT_NE(fail(s).find("inline text 2: document 2: invalid UTF-8 at byte 0"), std::string::npos);
  s.overrides = {{"input.invalid_utf8", "replace"}};
  pipeline::JobResult r = run(s);
  EXPECT_EQ(r.inline_results, (std::vector<std::string>{"[97,98]", "[]", "[239,191,189]"}));
  EXPECT_TRUE(r.outputs.empty());
  pipeline::JobSpec d;
  d.decode = true;
  d.texts = {"[104,105]", "[195]"};
  EXPECT_EQ(run(d).inline_results,
            (std::vector<std::string>{"{\"text\":\"hi\"}", "{\"bytes_b64\":\"ww==\"}"}));
}

TEST_F(RunJob, CancelRemovesTemporaryFiles) {
  std::string many;
  for (int i = 0; i < 2000; ++i) many += "document number " + std::to_string(i) + "\n";
  spit(dir_ / "in.txt", many);
  std::atomic<int> seen{0};
  tokenizer_->on_encode = [&] {
    if (++seen == 5000) cancel_.requested = true;
  };
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.txt").string()};
  s.output = (dir_ / "o.jsonl").string();
  EXPECT_THROW(run(s), pipeline::JobCancelled);
  EXPECT_EQ(dir_.names(), (std::vector<std::string>{"byte.yaml", "in.txt"}));
}

TEST_F(RunJob, PipelineLookupAndConfigErrors) {
  spit(dir_ / "in.txt", "a\n");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.txt").string()};
  s.output = (dir_ / "o.jsonl").string();
  s.pipeline = (dir_ / "byte.yaml").string();  // by path
  run(s);
  EXPECT_EQ(slurp(dir_ / "o.jsonl"), "[97]\n");
  s.pipeline = "nope";
  EXPECT_NE(fail(s).find("pipeline 'nope' not found"), std::string::npos);
  s.pipeline = "byte";
  s.overrides = {{"batch.documents", "0"}};
  EXPECT_EQ(fail(s), "--set batch.documents: expected an integer in [1, 1000000], got '0'");
  s.overrides = {};
  s.inputs = {(dir_ / "missing.txt").string()};
  EXPECT_NE(fail(s).find("missing.txt: input file not found"), std::string::npos);
}

// A model stage that returns, per token, [id, position] and, per document, its length.
class FakeStage : public pipeline::ModelStage {
 public:
  size_t max_tokens(size_t) const override { return 4; }
  pipeline::StageOutput run(const pipeline::TokenBatch& b) const override {
    pipeline::StageOutput out;
    pipeline::StageTensor tok{"", 2, false, {}, {}}, len{".len", 1, true, {}, {}};
    for (size_t d = 0; d < b.documents(); ++d) {
      const int32_t begin = b.cu_seqlens[0][d], end = b.cu_seqlens[0][d + 1];
      for (int32_t t = begin; t < end; ++t) {
        tok.values.push_back(static_cast<float>(b.ids[0][t]));
        tok.values.push_back(static_cast<float>(t - begin));
      }
      tok.row_counts.push_back(end - begin);
      len.values.push_back(static_cast<float>(end - begin));
      len.row_counts.push_back(1);
    }
    out.tensors = {tok, len};
    return out;
  }
};

TEST_F(RunJob, ModelStageWritesNpyWithOffsets) {
  fs::create_directories(dir_ / "m");
  spit(dir_ / "model.yaml",
       "tokenizer: {plugin: fake}\nmodel: {path: m}\nbatch: {documents: 2, max_tokens: 5}\n");
  env_.model_stage_factory = [](const pipeline::ModelStageContext&) {
    return std::make_unique<FakeStage>();
  };
  spit(dir_ / "in.txt", "ab\nc\nlonger\n");
  pipeline::JobSpec s;
  s.pipeline = "model";
  s.inputs = {(dir_ / "in.txt").string()};
  s.output = (dir_ / "v.npy").string();
  pipeline::JobResult r = run(s);
  EXPECT_EQ(r.truncated, 1u);  // "longer" cut to 4 tokens
  Npy main = read_npy_independently(dir_ / "v.npy");
  EXPECT_EQ(main.descr, "<f4");
  EXPECT_EQ(main.shape, (std::vector<int64_t>{7, 2}));
  EXPECT_EQ(main.values<float>(),
            (std::vector<float>{'a', 0, 'b', 1, 'c', 0, 'l', 0, 'o', 1, 'n', 2, 'g', 3}));
  Npy off = read_npy_independently(dir_ / "v.offsets.npy");
  EXPECT_EQ(off.values<int64_t>(), (std::vector<int64_t>{0, 2, 3, 7}));
  Npy len = read_npy_independently(dir_ / "v.len.npy");
  EXPECT_EQ(len.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(len.values<float>(), (std::vector<float>{2, 1, 4}));
  EXPECT_FALSE(fs::exists(dir_ / "v.len.offsets.npy"));
  pipeline::JobSpec inl;
  inl.pipeline = "model";
  inl.texts = {"hi"};
  EXPECT_EQ(run(inl).inline_results, (std::vector<std::string>{"[[104,0],[105,1]]"}));
}

TEST_F(RunJob, ModelPipelineWithoutModelRuntimeFailsClearly) {
  fs::create_directories(dir_ / "m");
  spit(dir_ / "model.yaml", "tokenizer: {plugin: fake}\nmodel: {path: m}\n");
  pipeline::JobSpec inl;
  inl.pipeline = "model";
  inl.texts = {"hi"};
  EXPECT_NE(fail(inl).find("model.yaml: model: this program was built without the model runtime"),
            std::string::npos)
      << fail(inl);
}

// With a StageCache (the daemon's), jobs of one model pipeline share one stage: the weights
// load once, not per inline run. The factory sees the typed section config/ validated.
TEST_F(RunJob, ModelStageIsMadeOncePerPipelineWithACache) {
  fs::create_directories(dir_ / "m");
  spit(dir_ / "model.yaml",
       "tokenizer: {plugin: fake}\nmodel: {path: m, output: topk, topk: 3, attention: {plugin: "
       "attention-reference, config: {k: v}}}\n");
  std::atomic<int> made{0};
  uint32_t want_topk = 3;
  env_.model_stage_factory = [&](const pipeline::ModelStageContext& c) {
    ++made;
    EXPECT_EQ(c.model.path, fs::absolute(dir_ / "m").lexically_normal());
    EXPECT_EQ(c.model.output, config::ModelOutput::topk);
    EXPECT_EQ(c.model.topk, want_topk);
    EXPECT_EQ(c.model.attention.plugin, "attention-reference");
    const auto* k = c.model.attention.config.find("k");
    EXPECT_TRUE(k && k->scalar == "v");
    EXPECT_EQ(c.source_file, (dir_ / "model.yaml").string());
    return std::make_unique<FakeStage>();
  };
  env_.cache = std::make_shared<pipeline::StageCache>();
  pipeline::JobSpec inl;
  inl.pipeline = "model";
  inl.texts = {"hi"};
  EXPECT_EQ(run(inl).inline_results, (std::vector<std::string>{"[[104,0],[105,1]]"}));
  EXPECT_EQ(run(inl).inline_results, (std::vector<std::string>{"[[104,0],[105,1]]"}));
  EXPECT_EQ(made.load(), 1);
  EXPECT_EQ(env_.cache->models(), 1u);
  // A different model section is a different stage.
  inl.overrides = {{"model.topk", "4"}};
  want_topk = 4;
  run(inl);
  EXPECT_EQ(made.load(), 2);
  EXPECT_EQ(env_.cache->models(), 2u);
  // Without a cache (qkvd run), every job makes its own.
  env_.cache.reset();
  run(inl);
  EXPECT_EQ(made.load(), 3);
}

// input.id_field: the ids of the records that became documents go to OUT.ids.jsonl beside every
// output format, one line per output document in output order; a skipped record has no line, a
// record without the id a null line (also before the first id, across chunks: byte.yaml makes
// chunks of 3), and an id that is neither a string nor an integer is a bad record.
TEST_F(RunJob, IdsFileBesideEveryOutputFormat) {
  spit(dir_ / "in.jsonl",
       "{\"text\":\"a\"}\n{\"text\": oops}\n{\"text\":\"b\"}\n{\"text\":\"c\"}\n"
       "{\"id\": 7, \"text\":\"d\"}\n{\"text\":\"e\", \"id\":\"doc-e\"}\n"
       "{\"id\": 1.5, \"text\":\"x\"}\n{\"id\": -12345678901234, \"text\":\"f\"}\n"
       "{\"id\": \"q\\\"\\u00e9\", \"text\":\"g\"}\n{\"id\": null, \"text\":\"h\"}\n");
  const std::vector<nlohmann::json> want = {nullptr, nullptr,         nullptr,       7,
                                            "doc-e", -12345678901234, "q\"\xC3\xA9", nullptr};
  auto ids_of_file = [](const fs::path& f) {
    std::vector<nlohmann::json> out;
    for (const auto& l : split_lines(slurp(f))) out.push_back(nlohmann::json::parse(l));
    return out;
  };
  fs::create_directories(dir_ / "m");
  spit(dir_ / "model.yaml", "tokenizer: {plugin: fake}\nmodel: {path: m}\nbatch: {documents: 3}\n");
  env_.model_stage_factory = [](const pipeline::ModelStageContext&) {
    return std::make_unique<FakeStage>();
  };
  for (const std::string out : {"o.jsonl", "o.bin", "v.npy", "o-00001-of-00004.jsonl"}) {
    SCOPED_TRACE(out);
    pipeline::JobSpec s;
    s.pipeline = out == "v.npy" ? "model" : "byte";
    s.inputs = {(dir_ / "in.jsonl").string()};
    s.output = (dir_ / out).string();
    s.overrides = {{"input.on_error", "skip"}};
    pipeline::JobResult r = run(s);
    EXPECT_EQ(r.rejected, 2u);
    const fs::path stem = fs::path(s.output).replace_extension();
    const fs::path ids = stem.string() + ".ids.jsonl";
    EXPECT_EQ(ids_of_file(ids), want);
    const std::string rejects = slurp(stem.string() + ".rejects.jsonl");
    EXPECT_NE(rejects.find("field \\\"id\\\" (input.id_field) is not a string or an integer"),
              std::string::npos)
        << rejects;
    auto m = nlohmann::json::parse(slurp(stem.string() + ".manifest.json"));
    EXPECT_EQ(m["id_field"], "id");
    EXPECT_EQ(m["documents_with_id"], 4);
    bool listed = false;
    for (const auto& o : m["outputs"])
      if (o["path"] == ids.string()) listed = o["bytes"] == fs::file_size(ids);
    EXPECT_TRUE(listed) << m["outputs"].dump();
  }
  // Without skip, the bad id fails the job naming its line.
  pipeline::JobSpec strict;
  strict.inputs = {(dir_ / "in.jsonl").string()};
  strict.output = (dir_ / "strict.jsonl").string();
  spit(dir_ / "in.jsonl", "{\"id\": 1, \"text\":\"a\"}\n{\"id\": [1], \"text\":\"b\"}\n");
  EXPECT_NE(fail(strict).find(":2: document 1: field \"id\" (input.id_field) is not a string or "
                              "an integer"),
            std::string::npos)
      << fail(strict);
  EXPECT_FALSE(fs::exists(dir_ / "strict.ids.jsonl"));
}

// No record with an id, input.id_field: none, or a .txt input: no OUT.ids.jsonl, and one an
// earlier run left is removed (its ids would describe other documents). A .txt input beside a
// jsonl one gives null lines; input.id_field names another field.
TEST_F(RunJob, IdsFileOnlyWhenRecordsHaveIds) {
  spit(dir_ / "plain.jsonl", "{\"text\":\"a\"}\n{\"text\":\"b\"}\n");
  spit(dir_ / "with.jsonl", "{\"id\": 1, \"text\":\"a\", \"key\": \"k1\"}\n");
  spit(dir_ / "in.txt", "t1\nt2\n");
  spit(dir_ / "o.ids.jsonl", "stale\n");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "plain.jsonl").string()};
  s.output = (dir_ / "o.jsonl").string();
  run(s);
  EXPECT_FALSE(fs::exists(dir_ / "o.ids.jsonl")) << "a stale ids file outlived the run";
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "o.manifest.json"))["documents_with_id"], 0);

  s.inputs = {(dir_ / "with.jsonl").string()};
  s.overrides = {{"input.id_field", "none"}};
  run(s);
  EXPECT_FALSE(fs::exists(dir_ / "o.ids.jsonl"));
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "o.manifest.json"))["id_field"], nullptr);
  s.overrides = {{"input.id_field", "\"\""}};  // "" turns it off too
  run(s);
  EXPECT_FALSE(fs::exists(dir_ / "o.ids.jsonl"));
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "o.manifest.json"))["id_field"], nullptr);

  s.overrides = {{"input.id_field", "key"}};
  s.inputs = {(dir_ / "in.txt").string(), (dir_ / "with.jsonl").string()};
  run(s);
  EXPECT_EQ(slurp(dir_ / "o.ids.jsonl"), "null\nnull\n\"k1\"\n");

  s.overrides = {};
  s.inputs = {(dir_ / "in.txt").string()};
  run(s);
  EXPECT_FALSE(fs::exists(dir_ / "o.ids.jsonl"));
}

// output.inline_id: ids jsonl records carry the id first and no OUT.ids.jsonl is written; bare
// arrays stay the default. Any other output format is an error naming the output.
TEST_F(RunJob, InlineIdRecords) {
  spit(dir_ / "in.jsonl", "{\"id\": 7, \"text\":\"d\"}\n{\"text\":\"e\"}\n");
  pipeline::JobSpec s;
  s.inputs = {(dir_ / "in.jsonl").string()};
  s.output = (dir_ / "o.jsonl").string();
  s.overrides = {{"output.inline_id", "true"}};
  run(s);
  EXPECT_EQ(slurp(dir_ / "o.jsonl"), "{\"id\":7,\"ids\":[100]}\n{\"id\":null,\"ids\":[101]}\n");
  EXPECT_FALSE(fs::exists(dir_ / "o.ids.jsonl"));
  // --decode reads such records as it reads offsets records: by their "ids".
  pipeline::JobSpec d;
  d.inputs = {(dir_ / "o.jsonl").string()};
  d.output = (dir_ / "text.jsonl").string();
  d.decode = true;
  run(d);
  EXPECT_EQ(slurp(dir_ / "text.jsonl"), "{\"text\":\"d\"}\n{\"text\":\"e\"}\n");
  s.overrides.push_back({"output.offsets", "true"});
  run(s);
  EXPECT_EQ(slurp(dir_ / "o.jsonl"),
            "{\"id\":7,\"ids\":[100],\"offsets\":[[0,1]]}\n"
            "{\"id\":null,\"ids\":[101],\"offsets\":[[0,1]]}\n");

  s.overrides = {{"output.inline_id", "true"}};
  s.output = (dir_ / "o.bin").string();
  EXPECT_NE(fail(s).find("output " + s.output +
                         ": output.inline_id puts the id into ids jsonl records, but this output "
                         "is bin; drop output.inline_id (the ids then go to OUT.ids.jsonl)"),
            std::string::npos)
      << fail(s);
  EXPECT_FALSE(fs::exists(dir_ / "o.bin"));
  s.output = (dir_ / "o.jsonl").string();
  s.overrides = {{"output.inline_id", "true"}, {"input.id_field", "none"}};
  EXPECT_NE(fail(s).find("input.id_field is none"), std::string::npos) << fail(s);
  s.overrides = {{"output.inline_id", "true"}, {"output.format", "bin"}};
  EXPECT_NE(fail(s).find("output.inline_id: expected false"), std::string::npos) << fail(s);
}

}  // namespace
