// Beam search for generation (generate.strategy: beam), as Hugging Face's BeamSearchScorer and
// BeamHypotheses define it (transformers/generation/beam_search.py): every step the
// max(2, 1 + eos ids) x num_beams best (beam, token) pairs by summed log-probability continue
// or, ending in an eos id within the first num_beams ranks, become finished hypotheses scored
// sum / (generated length incl. eos)^length_penalty; a document is done when num_beams
// hypotheses are finished and early_stopping is set, or no running beam can beat the worst
// of them; at max_new_tokens the running beams join the hypotheses. One output per document:
// the best hypothesis.
//
// Caches: each beam owns a SequenceCache sized for the whole generation; after a step a beam
// whose parent continues only once takes over the parent's cache as is, and only a fork (a
// parent chosen twice or more) copies the parent's stored rows into a spare cache. Beams of one
// document share the cross-attention block of its source.
#pragma once

#include <memory>

#include "model/generator.hpp"

namespace qkv::model {

std::unique_ptr<pipeline::Generator> make_beam_generator(const Transformer& model, Components b,
                                                         uint32_t max_positions,
                                                         const pipeline::GenerateSetup& setup,
                                                         GenerationIds ids);

}  // namespace qkv::model
