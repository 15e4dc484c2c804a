#include "model/generator_beam.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "model/error.hpp"
#include "model/sampling.hpp"

namespace qkv::model {

namespace {

// A finished hypothesis (BeamHypotheses.beams): the generated ids without the eos id.
struct Hypothesis {
  double score = 0;
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
  int32_t eos = -1;  // the eos id it ended with; -1: it reached max_new_tokens
};

struct Beam {
  std::unique_ptr<SequenceCache> cache;
  std::vector<int32_t> ids;  // generated so far
  std::vector<float> logprobs;
  double sum = 0;  // sum of the (processed) log-probabilities of `ids` (HF's beam score)
};

// One (beam, token) continuation of a step.
struct Candidate {
  double score;
  uint32_t beam;
  int32_t token;
  float logprob;
};

class BeamGenerator final : public pipeline::Generator {
 public:
  BeamGenerator(const Transformer& t, Components b, uint32_t max_positions,
                const pipeline::GenerateSetup& setup, GenerationIds ids)
      : t_(t),
        b_(b),
        max_positions_(max_positions),
        o_(setup.options),
        beams_(std::max<uint32_t>(1, setup.options.num_beams)),
        ids_(std::move(ids)) {
    if (!t_.config().has_decoder()) throw ModelError("an encoder cannot generate");
  }

  uint64_t cache_tokens(size_t prompt_tokens) const override {
    // Every beam holds a self-attention cache; they share the source's cross block.
    return uint64_t(beams_) * capacity(prompt_tokens) + (encoder_decoder() ? prompt_tokens : 0);
  }

  void add(uint64_t doc, std::span<const int32_t> prompt) override {
    const auto& c = t_.config();
    if (prompt.empty() && !encoder_decoder())
      throw ModelError("an empty prompt: a decoder needs at least one token to continue");
    for (int32_t id : prompt)
      if (id < 0 || uint32_t(id) >= c.vocab_size)
        throw ModelError("token id " + std::to_string(id) +
                         " is outside the model's vocabulary of " + std::to_string(c.vocab_size));
    Doc d;
    d.doc = doc;
    d.source.assign(prompt.begin(), prompt.end());
    if (encoder_decoder())
      d.inputs = {ids_.decoder_start};
    else
      d.inputs = d.source;
    d.capacity = capacity(prompt.size());
    d.max_new = std::max<uint32_t>(1, d.capacity - std::min<uint32_t>(d.capacity, d.inputs.size()));
    d.max_new = std::min(d.max_new, o_.max_new_tokens);
    // Only the first beam exists before the first step: the others fork from it.
    d.beams.resize(1);
    d.beams[0].cache = new_cache(d.capacity);
    live_.push_back(std::move(d));
  }

  std::vector<pipeline::GeneratedToken> step() override {
    std::vector<pipeline::GeneratedToken> out;
    if (live_.empty()) return out;
    const auto& c = t_.config();
    if (encoder_decoder()) fill_sources();
    std::vector<SequenceCache*> caches;
    std::vector<int32_t> ids, cu{0};
    for (auto& d : live_)
      for (auto& beam : d.beams) {
        caches.push_back(beam.cache.get());
        if (beam.cache->length() == 0)
          ids.insert(ids.end(), d.inputs.begin(), d.inputs.end());  // prefill
        else
          ids.push_back(beam.ids.back());
        cu.push_back(static_cast<int32_t>(ids.size()));
      }
    const auto hidden = decode_with_cache(t_, b_, caches, {ids, cu});
    std::vector<float> logits(caches.size() * size_t(c.vocab_size));
    apply_linear(t_.gemm_kernel(), t_.weights().lm_head, hidden.data(), caches.size(), c.d_model,
                 logits.data(), c.vocab_size);
    size_t row = 0;
    for (auto it = live_.begin(); it != live_.end();) {
      const float* first = logits.data() + row * c.vocab_size;
      row += it->beams.size();
      if (advance(*it, first)) {
        emit(*it, out);
        it = live_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  void release(uint64_t doc) override {
    std::erase_if(live_, [&](const Doc& d) { return d.doc == doc; });
  }

  std::span<const int32_t> eos_ids() const override { return ids_.eos; }
  bool encoder_decoder() const override { return t_.config().arch == Arch::EncoderDecoder; }

 private:
  struct Doc {
    uint64_t doc = 0;
    std::vector<int32_t> source;  // the prompt (decoder) or the source (encoder-decoder)
    std::vector<int32_t> inputs;  // decoder inputs before the generated ids
    uint32_t capacity = 0, max_new = 0;
    std::vector<Beam> beams;
    std::vector<Hypothesis> hyps;
    double worst = 1e9;  // BeamHypotheses.worst_score
    bool source_done = false;
  };

  uint32_t capacity(size_t prompt_tokens) const {
    uint64_t n = (encoder_decoder() ? 1 : prompt_tokens) + o_.max_new_tokens;
    if (max_positions_) n = std::min<uint64_t>(n, max_positions_);
    return static_cast<uint32_t>(n);
  }

  std::unique_ptr<SequenceCache> new_cache(uint32_t cap) const {
    const auto& c = t_.config();
    return std::make_unique<SequenceCache>(c.decoder_layers, c.kv_width(), cap, c.d_model);
  }

  void fill_sources() {
    std::vector<SequenceCache*> caches;
    std::vector<int32_t> ids, cu{0};
    for (auto& d : live_) {
      if (d.source_done) continue;
      caches.push_back(d.beams[0].cache.get());
      ids.insert(ids.end(), d.source.begin(), d.source.end());
      cu.push_back(static_cast<int32_t>(ids.size()));
      d.source_done = true;
    }
    if (!caches.empty()) fill_cross_cache(t_, b_, caches, {ids, cu});
  }

  bool is_eos(int32_t id) const {
    return std::find(ids_.eos.begin(), ids_.eos.end(), id) != ids_.eos.end();
  }

  // BeamHypotheses.add: keeps the num_beams best, `generated` counting the eos id.
  void add_hypothesis(Doc& d, const Beam& beam, double sum, size_t generated, int32_t eos) const {
    const double score = sum / std::pow(double(generated), o_.length_penalty);
    if (d.hyps.size() >= beams_ && score <= d.worst) return;
    d.hyps.push_back({score, beam.ids, beam.logprobs, eos});
    if (d.hyps.size() > beams_) {
      // The lowest score goes (the earliest of equal ones, as HF's sort of (score, index)).
      size_t low = 0;
      for (size_t i = 1; i < d.hyps.size(); ++i)
        if (d.hyps[i].score < d.hyps[low].score) low = i;
      d.hyps.erase(d.hyps.begin() + low);
      d.worst = d.hyps[0].score;
      for (const auto& h : d.hyps) d.worst = std::min(d.worst, h.score);
    } else {
      d.worst = std::min(d.worst, score);
    }
  }

  // The best continuations over every beam of `d` (logits: one row per beam), best first.
  // With repetition_penalty, HF's _beam_search applies its processors to the log-softmax
  // scores (over the decoder inputs and the beam's ids): ranks and sums use the penalized
  // scores, the reported logprob stays the raw one.
  std::vector<Candidate> candidates(const Doc& d, const float* logits) const {
    const uint32_t V = t_.config().vocab_size;
    const size_t want = std::min<size_t>(size_t(std::max<size_t>(2, 1 + ids_.eos.size())) * beams_,
                                         size_t(V) * d.beams.size());
    const bool penalized = o_.repetition_penalty != 1.0;
    std::vector<Candidate> all;
    std::vector<int32_t> order(V), context;
    std::vector<float> scores(penalized ? V : 0);
    for (uint32_t b = 0; b < d.beams.size(); ++b) {
      const float* row = logits + size_t(b) * V;
      double mx = -INFINITY;
      for (uint32_t i = 0; i < V; ++i) mx = std::max(mx, double(row[i]));
      double sum = 0;
      for (uint32_t i = 0; i < V; ++i) sum += std::exp(double(row[i]) - mx);
      const double lse = mx + std::log(sum);
      const float* key = row;  // without a penalty: logits rank as their log-softmax does
      if (penalized) {
        for (uint32_t i = 0; i < V; ++i) scores[i] = float(double(row[i]) - lse);
        context = d.inputs;
        context.insert(context.end(), d.beams[b].ids.begin(), d.beams[b].ids.end());
        apply_repetition_penalty(scores, context, o_.repetition_penalty);
        key = scores.data();
      }
      std::iota(order.begin(), order.end(), 0);
      const size_t k = std::min<size_t>(want, V);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t c) {
        return key[a] > key[c] || (key[a] == key[c] && a < c);
      });
      for (size_t i = 0; i < k; ++i) {
        const double lp = double(row[order[i]]) - lse;
        const double score = penalized ? double(scores[order[i]]) : lp;
        all.push_back({d.beams[b].sum + score, b, order[i], float(lp)});
      }
    }
    std::sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& c) {
      if (a.score != c.score) return a.score > c.score;
      return a.beam != c.beam ? a.beam < c.beam : a.token < c.token;
    });
    all.resize(std::min(all.size(), want));
    return all;
  }

  // One step of BeamSearchScorer.process (and finalize at the last step); true when done.
  bool advance(Doc& d, const float* logits) {
    const auto cands = candidates(d, logits);
    const size_t generated = d.beams[0].ids.size() + 1;  // per beam, after this step
    std::vector<Candidate> next;
    for (size_t rank = 0; rank < cands.size() && next.size() < beams_; ++rank) {
      const Candidate& k = cands[rank];
      if (is_eos(k.token)) {
        if (rank < beams_) add_hypothesis(d, d.beams[k.beam], k.score, generated, k.token);
      } else {
        next.push_back(k);
      }
    }
    // BeamHypotheses.is_done with the best score of this step's candidates.
    if (d.hyps.size() >= beams_ &&
        (o_.early_stopping ||
         d.worst >= cands.front().score / std::pow(double(generated), o_.length_penalty)))
      return true;
    if (next.empty()) return true;  // a vocabulary of eos ids only
    fork(d, next);
    if (generated < d.max_new) return false;
    for (const auto& beam : d.beams) add_hypothesis(d, beam, beam.sum, generated, -1);
    return true;
  }

  // The beams of the next step: a parent's cache moves to its first child; further children
  // get copies of its stored rows (into the caches of parents no beam continues, or new ones).
  void fork(Doc& d, const std::vector<Candidate>& next) {
    std::vector<Beam> old = std::move(d.beams);
    std::vector<Beam> now(next.size());
    std::vector<int> owner(old.size(), -1);
    for (size_t j = 0; j < next.size(); ++j) {
      const uint32_t p = next[j].beam;
      if (owner[p] >= 0) continue;
      owner[p] = int(j);
      now[j].cache = std::move(old[p].cache);
    }
    std::vector<std::unique_ptr<SequenceCache>> spare;
    for (auto& b : old)
      if (b.cache) spare.push_back(std::move(b.cache));
    for (size_t j = 0; j < next.size(); ++j) {
      const Candidate& k = next[j];
      if (!now[j].cache) {
        const SequenceCache& parent = *now[owner[k.beam]].cache;
        if (spare.empty()) {
          now[j].cache = new_cache(d.capacity);
          now[j].cache->share_cross(parent);
        } else {
          now[j].cache = std::move(spare.back());
          spare.pop_back();
        }
        now[j].cache->copy_from(parent);
      }
      now[j].ids = old[k.beam].ids;
      now[j].ids.push_back(k.token);
      now[j].logprobs = old[k.beam].logprobs;
      now[j].logprobs.push_back(k.logprob);
      now[j].sum = k.score;
    }
    d.beams = std::move(now);
  }

  // The best hypothesis as the document's tokens: its ids, then its eos id, or the last id
  // marked as the end of the cache (finish_reason length).
  void emit(const Doc& d, std::vector<pipeline::GeneratedToken>& out) const {
    const Hypothesis* best = nullptr;
    for (const auto& h : d.hyps)  // the last of equal scores, as HF's sorted(...).pop()
      if (!best || h.score >= best->score) best = &h;
    if (!best) throw ModelError("beam search ended without a hypothesis");
    for (size_t i = 0; i < best->ids.size(); ++i)
      out.push_back({d.doc, best->ids[i], best->logprobs[i], false});
    if (best->eos >= 0)
      out.push_back({d.doc, best->eos, 0.0f, false});
    else
      out.back().cache_full = true;  // a length hypothesis has max_new >= 1 ids
  }

  const Transformer& t_;
  Components b_;
  uint32_t max_positions_;
  config::GenerateOptions o_;
  uint32_t beams_;
  GenerationIds ids_;
  std::vector<Doc> live_;
};

}  // namespace

std::unique_ptr<pipeline::Generator> make_beam_generator(const Transformer& model, Components b,
                                                         uint32_t max_positions,
                                                         const pipeline::GenerateSetup& setup,
                                                         GenerationIds ids) {
  return std::make_unique<BeamGenerator>(model, b, max_positions, setup, std::move(ids));
}

}  // namespace qkv::model
