#include "model/generator.hpp"

#include <algorithm>
#include <string>

#include "model/error.hpp"
#include "model/generator_beam.hpp"
#include "model/sampling.hpp"

namespace qkv::model {

namespace {

using Strategy = config::GenerateOptions::Strategy;

SamplingParams sampling_params(const config::GenerateOptions& o) {
  SamplingParams p;
  p.sample = o.strategy == Strategy::sample;
  p.temperature = o.temperature;
  p.top_k = o.top_k;
  p.top_p = o.top_p;
  p.repetition_penalty = o.repetition_penalty;
  p.seed = o.seed;
  return p;
}

class TransformerGenerator final : public pipeline::Generator {
 public:
  TransformerGenerator(const Transformer& t, Components b, uint32_t max_positions,
                       const pipeline::GenerateSetup& setup, GenerationIds ids, CacheFaults f)
      : t_(t),
        b_(b),
        max_positions_(max_positions),
        options_(setup.options),
        sampling_(sampling_params(setup.options)),
        ids_(std::move(ids)),
        faults_(f) {
    if (!t_.config().has_decoder()) throw ModelError("an encoder cannot generate");
  }

  uint64_t cache_tokens(size_t prompt_tokens) const override {
    return self_capacity(prompt_tokens) + (encoder_decoder() ? prompt_tokens : 0);
  }

  void add(uint64_t doc, std::span<const int32_t> prompt) override {
    const auto& c = t_.config();
    if (prompt.empty() && !encoder_decoder())
      throw ModelError("an empty prompt: a decoder needs at least one token to continue");
    for (int32_t id : prompt)
      if (id < 0 || uint32_t(id) >= c.vocab_size)
        throw ModelError("token id " + std::to_string(id) +
                         " is outside the model's vocabulary of " + std::to_string(c.vocab_size));
    Seq s;
    s.doc = doc;
    s.prompt.assign(prompt.begin(), prompt.end());
    s.cache = std::make_unique<SequenceCache>(c.decoder_layers, c.kv_width(),
                                              self_capacity(prompt.size()), c.d_model);
    if (encoder_decoder())
      s.context.push_back(ids_.decoder_start);
    else
      s.context = s.prompt;
    live_.push_back(std::move(s));
  }

  std::vector<pipeline::GeneratedToken> step() override {
    std::vector<pipeline::GeneratedToken> out;
    if (live_.empty()) return out;
    const auto& c = t_.config();
    if (encoder_decoder()) fill_sources();
    std::vector<SequenceCache*> caches;
    std::vector<int32_t> ids, cu{0};
    for (auto& s : live_) {
      caches.push_back(s.cache.get());
      if (s.cache->length() == 0)
        ids.insert(ids.end(), s.context.begin(), s.context.end());  // prefill
      else
        ids.push_back(s.context.back());
      cu.push_back(static_cast<int32_t>(ids.size()));
    }
    const auto hidden = decode_with_cache(t_, b_, caches, {ids, cu}, faults_);
    const auto& head = t_.weights().lm_head;
    std::vector<float> logits(live_.size() * size_t(c.vocab_size));
    apply_linear(t_.gemm_kernel(), head, hidden.data(), live_.size(), c.d_model, logits.data(),
                 c.vocab_size);
    for (size_t i = 0; i < live_.size(); ++i) {
      Seq& s = live_[i];
      std::span<float> row(logits.data() + i * c.vocab_size, c.vocab_size);
      pipeline::GeneratedToken g;
      g.doc = s.doc;
      const std::span<const int32_t> penalized =
          encoder_decoder() ? std::span<const int32_t>(s.context).subspan(1)
                            : std::span<const int32_t>(s.context);
      std::vector<float> raw;
      if (options_.logprobs) raw.assign(row.begin(), row.end());
      g.id = choose_token(row, penalized, sampling_, s.doc, s.steps);
      if (options_.logprobs) g.logprob = token_logprob(raw, g.id);
      s.context.push_back(g.id);
      ++s.steps;
      g.cache_full = s.cache->length() + 1 >= s.cache->capacity();
      out.push_back(g);
    }
    return out;
  }

  void release(uint64_t doc) override {
    std::erase_if(live_, [&](const Seq& s) { return s.doc == doc; });
  }

  std::span<const int32_t> eos_ids() const override { return ids_.eos; }
  bool encoder_decoder() const override { return t_.config().arch == Arch::EncoderDecoder; }

 private:
  struct Seq {
    uint64_t doc = 0;
    std::vector<int32_t> prompt;   // encoder-decoder: the source
    std::vector<int32_t> context;  // decoder inputs so far: prompt (or start id) + generated
    std::unique_ptr<SequenceCache> cache;
    uint64_t steps = 0;
    bool source_done = false;
  };

  // Decoder positions a sequence can use: its inputs plus max_new_tokens, within the table.
  uint32_t self_capacity(size_t prompt_tokens) const {
    uint64_t n = (encoder_decoder() ? 1 : prompt_tokens) + options_.max_new_tokens;
    if (max_positions_) n = std::min<uint64_t>(n, max_positions_);
    return static_cast<uint32_t>(n);
  }

  // Cross-attention keys/values of the sources added since the last step, in one encoder pass.
  void fill_sources() {
    std::vector<SequenceCache*> caches;
    std::vector<int32_t> ids, cu{0};
    for (auto& s : live_) {
      if (s.source_done) continue;
      caches.push_back(s.cache.get());
      ids.insert(ids.end(), s.prompt.begin(), s.prompt.end());
      cu.push_back(static_cast<int32_t>(ids.size()));
      s.source_done = true;
    }
    if (!caches.empty()) fill_cross_cache(t_, b_, caches, {ids, cu});
  }

  const Transformer& t_;
  Components b_;
  uint32_t max_positions_;
  config::GenerateOptions options_;
  SamplingParams sampling_;
  GenerationIds ids_;
  CacheFaults faults_;
  std::vector<Seq> live_;
};

}  // namespace

GenerationIds generation_ids(const ModelConfig& config, const std::filesystem::path& dir,
                             const pipeline::GenerateSetup& setup) {
  GenerationIds ids;
  ids.eos = config.eos_token_ids;
  if (config.has_decoder_start) ids.decoder_start = int32_t(config.decoder_start_token_id);
  if (ids.eos.empty()) ids.eos = setup.fallback_eos_ids;
  if (ids.decoder_start < 0) ids.decoder_start = setup.fallback_decoder_start;
  std::erase_if(ids.eos, [&](int32_t id) { return id < 0 || uint32_t(id) >= config.vocab_size; });
  if (config.arch == Arch::EncoderDecoder &&
      (ids.decoder_start < 0 || uint32_t(ids.decoder_start) >= config.vocab_size))
    throw ModelError((dir / "config.json").string() +
                     ": decoder_start_token_id: an encoder-decoder model needs the id its "
                     "decoder starts from (and the tokenizer has none to fall back on)");
  return ids;
}

std::unique_ptr<pipeline::Generator> make_generator(const Transformer& model, Components b,
                                                    uint32_t max_positions,
                                                    const pipeline::GenerateSetup& setup,
                                                    GenerationIds ids, CacheFaults faults) {
  if (setup.options.strategy == Strategy::beam)
    return make_beam_generator(model, b, max_positions, setup, std::move(ids));
  return std::make_unique<TransformerGenerator>(model, b, max_positions, setup, std::move(ids),
                                                faults);
}

}  // namespace qkv::model
