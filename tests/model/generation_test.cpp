// Generation (daemon/model/generator.cpp, generation_step.cpp) against independent references:
// greedy ids token-exact against the float64 torch loop of make_generation_fixtures.py (F16
// gpt2-tiny, F32 qkv-decoder with RoPE and RMSNorm, F16 seq2seq-tiny: sources encoded once,
// cross-attention K/V cached per source), through both bundled attention plugins'
// per-sequence KV-cache path; the cached decode equals full recomputation (and a deliberately
// broken cache is caught); and a document's tokens do not depend on what else is in the batch.
#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>

#include <unistd.h>

#include "host/attention_handle.hpp"
#include "model/config.hpp"
#include "model/error.hpp"
#include "model/generator.hpp"
#include "model/heads.hpp"
#include "plugin_support.hpp"
#include "test_support.hpp"

namespace qkv::model::testing {
namespace {

class PluginAttention final : public Attention {
 public:
  explicit PluginAttention(const std::string& name)
      : handle_(plugin_source(fixture("gpt2-tiny") / "model.safetensors")
                    .create(QKV_KIND_ATTENTION, {}, name)) {}
  void forward(const qkv_attention_args& a) const override { handle_.forward(a); }

 private:
  host::AttentionHandle handle_;
};

const PluginAttention& attention(const std::string& name) {
  static std::map<std::string, std::unique_ptr<PluginAttention>> all;
  auto& a = all[name];
  if (!a) a = std::make_unique<PluginAttention>(name);
  return *a;
}

nlohmann::json greedy_fixture(const std::string& model) {
  std::ifstream in(fixture("generate") / "greedy.json");
  const auto all = nlohmann::json::parse(in);
  for (const auto& m : all["models"])
    if (m["model"] == model) return m;
  throw std::runtime_error("no greedy fixture for " + model);
}

pipeline::GenerateSetup greedy_setup(uint32_t new_tokens) {
  pipeline::GenerateSetup s;
  s.options.max_new_tokens = new_tokens;
  s.options.logprobs = true;
  return s;
}

uint32_t table(const PluggedModel& m) {
  const auto* p = m.positions.decoder();
  return p ? static_cast<uint32_t>(p->max_positions()) : 0;
}

// Runs `prompts` to `steps` tokens each; `join_at[i]` is the step at which prompt i is added
// (continuous batching). Returns every document's tokens.
std::vector<std::vector<pipeline::GeneratedToken>> run(
    const PluggedModel& m, const Attention& att, const std::vector<std::vector<int32_t>>& prompts,
    uint32_t steps, std::vector<size_t> join_at = {},
    const pipeline::GenerateSetup* setup = nullptr, CacheFaults faults = {}) {
  const auto s = setup ? *setup : greedy_setup(steps);
  GenerationIds ids;
  if (m.transformer->config().arch == Arch::EncoderDecoder) ids.decoder_start = 101;  // [CLS]
  auto g = make_generator(*m.transformer, m.components(att), table(m), s, ids, faults);
  join_at.resize(prompts.size(), 0);
  std::vector<std::vector<pipeline::GeneratedToken>> out(prompts.size());
  size_t done = 0;
  for (size_t step = 0; done < prompts.size(); ++step) {
    for (size_t i = 0; i < prompts.size(); ++i)
      if (join_at[i] == step) g->add(i, prompts[i]);
    for (const auto& t : g->step()) {
      out[t.doc].push_back(t);
      if (out[t.doc].size() == steps) {
        g->release(t.doc);
        ++done;
      }
    }
  }
  return out;
}

// Every case of a greedy fixture token for token: all prompts prefilled together, and again
// joining one step after another (continuous batching). A case the reference cut at a top-2
// margin < 1e-3 is compared up to the cut.
void expect_greedy_matches(const nlohmann::json& fx, const PluggedModel& m, const Attention& att,
                           const std::string& what) {
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& c : fx["cases"]) prompts.push_back(c["prompt"].get<std::vector<int32_t>>());
  std::vector<size_t> staggered;
  for (size_t i = 0; i < prompts.size(); ++i) staggered.push_back(i);
  for (const auto& join : {std::vector<size_t>{}, staggered}) {
    const auto got = run(m, att, prompts, fx["max_new_tokens"], join);
    for (size_t i = 0; i < prompts.size(); ++i) {
      const auto want = fx["cases"][i]["ids"].get<std::vector<int32_t>>();
      ASSERT_GE(got[i].size(), want.size());
      for (size_t t = 0; t < want.size(); ++t)
        EXPECT_EQ(got[i][t].id, want[t]) << what << " prompt " << i << " token " << t;
    }
  }
}

class Greedy : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(Greedy, MatchesTheTorchReferenceTokenForToken) {
  const auto& [model, att] = GetParam();
  expect_greedy_matches(greedy_fixture(model), load_plugged(fixture(model)), attention(att), model);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, Greedy,
    ::testing::Combine(::testing::Values("gpt2-tiny", "qkv-decoder", "seq2seq-tiny"),
                       ::testing::Values("attention-flash", "attention-reference")));

// A copy of fixture `model` with every tensor widened to F32 (exact from F16), in a directory
// of its own under the test's temporary directory: the F32 load path on the same values, so
// the same references hold.
std::filesystem::path f32_copy(const std::string& model) {
  const auto dir = std::filesystem::path(::testing::TempDir()) /
                   ("qkv-generation-f32-" + model + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(fixture(model) / "config.json", dir / "config.json",
                             std::filesystem::copy_options::overwrite_existing);
  const auto in = SafetensorsFile::open(fixture(model) / "model.safetensors");
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& t : in.header().tensors) {
    const auto f = in.to_f32(t);
    header[t.name] = {{"dtype", "F32"},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + f.size() * 4}}};
    data.append(reinterpret_cast<const char*>(f.data()), f.size() * 4);
  }
  const std::string h = header.dump();
  const uint64_t n = h.size();
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  out.write(reinterpret_cast<const char*>(&n), 8);  // little-endian hosts only, like the loader
  out << h << data;
  return dir;
}

nlohmann::json corpus_fixture(const std::string& model) {
  std::ifstream in(fixture("generate") / "corpus.json");
  const auto all = nlohmann::json::parse(in);
  for (const auto& m : all["models"])
    if (m["model"] == model) return m;
  throw std::runtime_error("no corpus fixture for " + model);
}

class CorpusGreedy
    : public ::testing::TestWithParam<std::tuple<std::string, std::string, std::string>> {};

// Greedy over every document of the committed corpus slice (make_generation_fixtures.py: the
// first ids of tests/data/corpus en.jsonl 0-15 and code.jsonl 0-7 as the token-id goldens hold
// them), decoder and encoder-decoder, the F16 weights as committed and widened to F32.
TEST_P(CorpusGreedy, MatchesTheTorchReferenceOnEveryDocument) {
  const auto& [model, dtype, att] = GetParam();
  const auto fx = corpus_fixture(model);
  ASSERT_EQ(fx["cases"].size(), 24u);
  EXPECT_LE(fx["ambiguous"].get<int>(), 6);  // the margin rule leaves most prompts whole
  const auto dir = dtype == "f32" ? f32_copy(model) : fixture(model);
  const auto m = load_plugged(dir);
  expect_greedy_matches(fx, m, attention(att), model + " " + dtype);
  if (dtype == "f32") std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusGreedy,
                         ::testing::Combine(::testing::Values("gpt2-tiny", "seq2seq-tiny"),
                                            ::testing::Values("f16", "f32"),
                                            ::testing::Values("attention-flash",
                                                              "attention-reference")));

nlohmann::json beam_fixture(const std::string& model) {
  std::ifstream in(fixture("generate") / "beam.json");
  const auto all = nlohmann::json::parse(in);
  for (const auto& m : all["models"])
    if (m["model"] == model) return m;
  throw std::runtime_error("no beam fixture for " + model);
}

class Beam : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

// Beam search (model/generator_beam.cpp) against the fixture script's implementation of HF's
// BeamSearchScorer: the best hypothesis token for token, and whether it ended with the eos id;
// all prompts decoded together (forking caches of several documents in one step), and joining
// one step after another; the third run adds repetition_penalty 1.5 (HF applies it to the
// beams' log-softmax scores).
TEST_P(Beam, MatchesTheReferenceBeamSearchTokenForToken) {
  const auto& [model, att] = GetParam();
  const auto fx = beam_fixture(model);
  const auto m = load_plugged(fixture(model));
  GenerationIds ids;
  if (!fx["eos"].is_null()) ids.eos = {fx["eos"].get<int32_t>()};
  if (!fx["decoder_start"].is_null()) ids.decoder_start = fx["decoder_start"];
  size_t compared = 0;
  for (const auto& r : fx["runs"]) {
    pipeline::GenerateSetup s;
    s.options.strategy = config::GenerateOptions::Strategy::beam;
    s.options.max_new_tokens = fx["max_new_tokens"];
    s.options.num_beams = r["num_beams"];
    s.options.length_penalty = r["length_penalty"];
    s.options.early_stopping = r["early_stopping"];
    s.options.repetition_penalty = r.value("repetition_penalty", 1.0);
    const auto& cases = r["cases"];
    for (size_t stagger : {0, 1}) {
      auto g = make_generator(*m.transformer, m.components(attention(att)), table(m), s, ids);
      std::vector<std::vector<int32_t>> got(cases.size());
      std::vector<bool> done(cases.size());
      size_t finished = 0, added = 0;
      for (size_t step = 0; finished < cases.size(); ++step) {
        ASSERT_LT(step, 100u) << "beam search does not finish";
        for (; added < cases.size() && added * stagger <= step; ++added)
          g->add(added, cases[added]["prompt"].get<std::vector<int32_t>>());
        for (const auto& t : g->step()) {
          ASSERT_FALSE(done[t.doc]) << "tokens after the document was handed over";
          got[t.doc].push_back(t.id);
          if (t.cache_full || (!ids.eos.empty() && t.id == ids.eos[0])) {
            done[t.doc] = true;
            ++finished;
          }
        }
      }
      for (size_t i = 0; i < cases.size(); ++i) {
        if (cases[i]["ambiguous"]) continue;
        auto want = cases[i]["ids"].get<std::vector<int32_t>>();
        if (cases[i]["eos"]) want.push_back(ids.eos[0]);
        EXPECT_EQ(got[i], want) << model << " num_beams " << r["num_beams"] << " prompt " << i;
        ++compared;
      }
    }
  }
  EXPECT_GE(compared, 12u);  // the ambiguous prompts leave enough to compare
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, Beam,
    ::testing::Combine(::testing::Values("gpt2-tiny", "qkv-decoder", "seq2seq-tiny"),
                       ::testing::Values("attention-flash", "attention-reference")));

TEST(Beam, CountsEveryBeamAgainstTheCacheBudget) {
  const auto m = load_plugged(fixture("seq2seq-tiny"));
  pipeline::GenerateSetup s;
  s.options.strategy = config::GenerateOptions::Strategy::beam;
  s.options.max_new_tokens = 10;
  s.options.num_beams = 3;
  GenerationIds ids;
  ids.decoder_start = 101;
  auto g =
      make_generator(*m.transformer, m.components(attention("attention-flash")), table(m), s, ids);
  EXPECT_EQ(g->cache_tokens(7), 3u * (1 + 10) + 7);  // 3 self caches, one shared source
}

// Largest difference between the cached decode's last hidden row and Transformer::decode over
// the whole sequence so far, over a prefill and `steps` decode steps of three sequences.
double cache_deviation(const std::string& model, CacheFaults faults) {
  const auto m = load_plugged(fixture(model));
  const auto& t = *m.transformer;
  const auto b = m.components(attention("attention-flash"));
  const uint32_t d = t.config().d_model, V = t.config().vocab_size;
  std::vector<std::vector<int32_t>> seqs = {{3, 9, 1, 4}, {7}, {2, 2, 8, 5, 6, 1, 0}};
  std::vector<SequenceCache> caches;
  for (auto& s : seqs)
    caches.emplace_back(t.config().decoder_layers, t.config().kv_width(), uint32_t(s.size() + 8),
                        d);
  std::vector<SequenceCache*> ptr;
  for (auto& c : caches) ptr.push_back(&c);
  double worst = 0;
  for (int step = 0; step <= 6; ++step) {
    std::vector<int32_t> ids, cu{0};
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (step == 0)
        ids.insert(ids.end(), seqs[i].begin(), seqs[i].end());
      else
        ids.push_back(seqs[i].back());
      cu.push_back(int32_t(ids.size()));
    }
    const auto cached = decode_with_cache(t, b, ptr, {ids, cu}, faults);
    for (size_t i = 0; i < seqs.size(); ++i) {
      const std::vector<int32_t> full_cu{0, int32_t(seqs[i].size())};
      const auto full = t.decode({seqs[i], full_cu}, b);
      for (uint32_t k = 0; k < d; ++k)
        worst = std::max(worst,
                         std::abs(double(cached[i * d + k]) - full[(seqs[i].size() - 1) * d + k]));
      seqs[i].push_back(int32_t((seqs[i].back() * 7 + step + i) % V));  // any next token
    }
  }
  return worst;
}

TEST(KvCache, CachedDecodeEqualsFullRecomputation) {
  // The HF Llama-layout fixtures (tests/model/make_hf_fixtures.py) add grouped-query attention
  // (1 and 2 key/value heads), head_dim != d / heads, SwiGLU, llama3 RoPE scaling and Mistral's
  // sliding window (5 keys, shorter than these sequences).
  for (const char* model :
       {"gpt2-tiny", "qkv-decoder", "../hf_fixtures/llama-gqa1", "../hf_fixtures/qwen2-gqa2-bf16",
        "../hf_fixtures/mistral-mha-f16", "../hf_fixtures/llama3-scaled"}) {
    EXPECT_LT(cache_deviation(model, {}), 1e-4) << model;
    // The same comparison catches a cache that loses what decode steps store.
    EXPECT_GT(cache_deviation(model, {.drop_step_keys = true}), 1e-2) << model;
  }
}

TEST(KvCache, GreedyTokensAndLogprobsDoNotDependOnTheBatch) {
  const auto m = load_plugged(fixture("qkv-decoder"));
  const std::vector<std::vector<int32_t>> prompts = {{1, 2, 3}, {40, 41}, {5}, {9, 8, 7, 6, 5, 4}};
  const auto together = run(m, attention("attention-flash"), prompts, 10, {0, 2, 2, 5});
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto alone = run(m, attention("attention-flash"), {prompts[i]}, 10);
    ASSERT_EQ(alone[0].size(), together[i].size());
    for (size_t t = 0; t < alone[0].size(); ++t) {
      EXPECT_EQ(alone[0][t].id, together[i][t].id);
      EXPECT_EQ(alone[0][t].logprob, together[i][t].logprob);
    }
  }
}

// Encoder-decoder sampling: a source's draws are keyed by (seed, document, step) only, so the
// tokens do not depend on the thread count or on which sources share the batch; another seed
// gives other tokens.
TEST(Sampling, EncoderDecoderDrawsAreReproducibleAcrossThreadsAndBatches) {
  const auto m = load_plugged(fixture("seq2seq-tiny"));
  const std::vector<std::vector<int32_t>> sources = {
      {2023, 2003, 1037}, {7592, 2088}, {1996, 4248, 2829, 4419, 14523}, {102}, {3899, 3899}};
  auto setup = [](uint64_t seed) {
    pipeline::GenerateSetup s = greedy_setup(12);
    s.options.strategy = config::GenerateOptions::Strategy::sample;
    s.options.temperature = 1.5;  // flatter than the raw logits: draws differ between seeds
    s.options.top_k = 50;
    s.options.seed = seed;
    return s;
  };
  const auto s7 = setup(7), s8 = setup(8);
  auto ids = [](const std::vector<std::vector<pipeline::GeneratedToken>>& out) {
    std::vector<std::vector<int32_t>> r;
    for (const auto& doc : out) {
      r.emplace_back();
      for (const auto& t : doc) r.back().push_back(t.id);
    }
    return r;
  };
  const auto& att = attention("attention-flash");
  std::vector<std::vector<int32_t>> one_thread, two_threads;
  tbb::task_arena(1).execute([&] { one_thread = ids(run(m, att, sources, 12, {}, &s7)); });
  tbb::task_arena(2).execute([&] { two_threads = ids(run(m, att, sources, 12, {}, &s7)); });
  EXPECT_EQ(one_thread, two_threads);
  // Sources joining at different steps, and each alone.
  EXPECT_EQ(ids(run(m, att, sources, 12, {3, 0, 1, 1, 5}, &s7)), one_thread);
  for (size_t i = 0; i < sources.size(); ++i) {
    // Alone, a source is document 0: it matches the batch run's document i only with i == 0,
    // so compare the batch run against one keyed the same way (document index i).
    std::vector<std::vector<int32_t>> padded(i + 1, std::vector<int32_t>{102});
    padded[i] = sources[i];
    EXPECT_EQ(ids(run(m, att, padded, 12, {}, &s7))[i], one_thread[i]) << "source " << i;
  }
  EXPECT_NE(ids(run(m, att, sources, 12, {}, &s8)), one_thread);
}

TEST(GenerationIds, QkvLayoutNamesItsEosAndDecoderStartIds) {
  const std::string base =
      R"({"model_type": "qkv", "architecture": "encoder-decoder", "vocab_size": 50, "d_model": 8,
          "num_heads": 2, "ffn_dim": 16, "encoder_layers": 1, "decoder_layers": 1)";
  const auto c = parse_config(base + R"(, "eos_token_id": [3, 7], "decoder_start_token_id": 5})",
                              "config.json");
  EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{3, 7}));
  pipeline::GenerateSetup s;
  s.fallback_eos_ids = {1};
  s.fallback_decoder_start = 2;
  const auto ids = generation_ids(c, "dir", s);
  EXPECT_EQ(ids.eos, (std::vector<int32_t>{3, 7}));
  EXPECT_EQ(ids.decoder_start, 5);
  // Absent: the tokenizer's fallbacks; a single id works too.
  const auto one = parse_config(base + R"(, "eos_token_id": 4})", "config.json");
  const auto fb = generation_ids(one, "dir", s);
  EXPECT_EQ(fb.eos, (std::vector<int32_t>{4}));
  EXPECT_EQ(fb.decoder_start, 2);
  // Ids outside the vocabulary are an error naming the file and the field.
  try {
    parse_config(base + R"(, "eos_token_id": [3, 50]})", "m/config.json");
    FAIL() << "accepted an eos id outside the vocabulary";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("m/config.json: field 'eos_token_id'"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(parse_config(base + R"(, "decoder_start_token_id": -1})", "config.json"),
               ModelError);
}

TEST(Generator, StopsAtThePositionTable) {
  const auto m = load_plugged(fixture("gpt2-tiny"));  // 64 positions
  auto g = make_generator(*m.transformer, m.components(attention("attention-flash")), table(m),
                          greedy_setup(100), {});
  g->add(0, std::vector<int32_t>(60, 5));
  size_t n = 0;
  bool full = false;
  while (!full) {
    auto t = g->step();
    ASSERT_EQ(t.size(), 1u);
    ++n;
    full = t[0].cache_full;
  }
  EXPECT_EQ(n, 4u);  // prompt (60) + generated (4) fill the 64 positions
  EXPECT_THROW(g->add(1, std::vector<int32_t>{}), std::exception);
  EXPECT_THROW(g->add(1, std::vector<int32_t>{50257}), std::exception);
}

}  // namespace
}  // namespace qkv::model::testing
