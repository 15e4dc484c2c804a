#include "pipeline/generate_documents.hpp"

#include <algorithm>

#include "io/output_writer.hpp"
#include "io/utf8.hpp"
#include "pipeline/run_job.hpp"

namespace qkv::pipeline::detail {

GenerationRun::GenerationRun(const config::PipelineConfig& p, const Tokenizer& tokenizer,
                             std::unique_ptr<Generator> generator, JobProgress& progress,
                             const CancelFlag& cancel, std::string cancelled, Emit emit)
    : o_(*p.generate),
      prefill_tokens_(p.batch.max_tokens),
      max_pending_(o_.max_pending_documents ? o_.max_pending_documents
                                            : 4 * uint64_t(p.batch.documents)),
      tokenizer_(tokenizer),
      gen_(std::move(generator)),
      progress_(progress),
      cancel_(cancel),
      cancelled_(std::move(cancelled)),
      emit_(std::move(emit)) {}

void GenerationRun::add(uint64_t doc, std::vector<int32_t> prompt, std::string where) {
  const uint64_t need = gen_->cache_tokens(prompt.size());
  if (need > o_.max_cache_tokens)
    throw JobFailed(where + ": document " + std::to_string(doc) + " needs " + std::to_string(need) +
                    " KV-cache tokens (prompt and max_new_tokens), more " +
                    "than generate.max_cache_tokens (" + std::to_string(o_.max_cache_tokens) + ")");
  order_.push_back(doc);
  waiting_.push_back({doc, std::move(prompt), std::move(where)});
}

void GenerationRun::admit() {
  uint64_t prefill = 0;
  while (!waiting_.empty()) {
    Waiting& w = waiting_.front();
    const uint64_t need = gen_->cache_tokens(w.prompt.size());
    // The earliest unfinished document is always admitted when nothing is live, so the pending
    // bound cannot stall the run.
    const bool first = live_.empty() && prefill == 0;
    if (!first && (cache_used_ + need > o_.max_cache_tokens || done_.size() >= max_pending_ ||
                   prefill + w.prompt.size() > prefill_tokens_))
      break;
    try {
      gen_->add(w.doc, w.prompt);
    } catch (const std::exception& e) {
      throw JobFailed(w.where + ": document " + std::to_string(w.doc) + ": " + e.what());
    }
    prefill += w.prompt.size();
    cache_used_ += need;
    live_[w.doc] = Live{std::move(w.where), need, {}, {}, {}};
    waiting_.pop_front();
  }
}

void GenerationRun::run(size_t keep_waiting) {
  while (keep_waiting ? waiting_.size() > keep_waiting : !order_.empty()) {
    if (cancel_()) throw JobCancelled(cancelled_);
    admit();
    if (live_.empty()) break;  // nothing left to decode
    std::vector<GeneratedToken> tokens;
    try {
      tokens = gen_->step();
    } catch (const std::exception& e) {
      throw JobFailed(live_.begin()->second.where + "..: generation failed: " + e.what());
    }
    // Beam search hands over a document's whole continuation at once: the tokens after the one
    // that finished it (a stop string) are dropped.
    for (const auto& t : tokens)
      if (live_.contains(t.doc)) accept(t);
    flush();
  }
}

void GenerationRun::accept(const GeneratedToken& t) {
  Live& s = live_.at(t.doc);
  const auto eos = gen_->eos_ids();
  if (std::find(eos.begin(), eos.end(), t.id) != eos.end()) return finish(t.doc, s, "eos");
  s.ids.push_back(t.id);
  s.logprobs.push_back(t.logprob);
  ++generated_;
  progress_.generated_tokens.fetch_add(1, std::memory_order_relaxed);
  if (!o_.stop.empty()) {
    const size_t before = s.text.size();
    s.text.clear();
    tokenizer_.decode(s.ids, s.text);
    // A stop string completes in this token when it ends past the text decoded before it.
    size_t cut = std::string::npos;
    for (const auto& stop : o_.stop) {
      const size_t from = before >= stop.size() ? before - stop.size() + 1 : 0;
      const size_t at = s.text.find(stop, std::min(from, s.text.size()));
      if (at != std::string::npos) cut = std::min(cut, at);
    }
    if (cut != std::string::npos) {
      s.text.resize(cut);
      return finish(t.doc, s, "stop");
    }
  }
  if (s.ids.size() >= o_.max_new_tokens || t.cache_full) finish(t.doc, s, "length");
}

void GenerationRun::finish(uint64_t doc, Live& s, const char* reason) {
  if (std::string_view(reason) != "stop") {
    s.text.clear();
    tokenizer_.decode(s.ids, s.text);
  }
  // A continuation cut inside a multi-byte character still makes a valid JSON string.
  if (!io::utf8_valid(s.text)) s.text = io::utf8_repair(s.text);
  std::string record;
  io::append_generation_record(record,
                               {s.text, s.ids, reason, o_.logprobs ? &s.logprobs : nullptr});
  gen_->release(doc);
  cache_used_ -= s.cache_tokens;
  live_.erase(doc);
  done_.emplace(doc, std::move(record));
}

void GenerationRun::flush() {
  while (!order_.empty()) {
    auto it = done_.find(order_.front());
    if (it == done_.end()) return;
    emit_(it->first, std::move(it->second));
    done_.erase(it);
    order_.pop_front();
  }
}

}  // namespace qkv::pipeline::detail
