// The decoder stack over a KV cache: the forward pass generation runs (prefill and decode steps
// alike). Each sequence brings its new rows (a whole prompt when it is prefilled, one token per
// decode step); their keys and values are appended to the sequence's cache and the queries
// attend over the cache with the causal mask aligned bottom-right, so the rows compute what
// Transformer::decode computes over the whole sequence (tests/model/generation_test.cpp checks
// that it does, and that a broken cache is caught).
#pragma once

#include <span>
#include <vector>

#include "model/kv_cache.hpp"
#include "model/transformer.hpp"

namespace qkv::model {

// Deliberately broken caches, for tests only.
struct CacheFaults {
  bool drop_step_keys = false;  // keys and values of decode steps (not prefill) are not stored
};

// Decoder hidden states of the last new row of every sequence, [seqs, d_model] (after the final
// norm). `fresh` packs the new ids of each sequence in `seqs` order (cu_seqlens: seqs + 1);
// each cache must have room for them. Encoder-decoder sequences need their cross cache filled
// (fill_cross_cache) first.
std::vector<float> decode_with_cache(const Transformer& t, const Components& b,
                                     std::span<SequenceCache* const> seqs, Packed fresh,
                                     const CacheFaults& faults = {});

// Encodes the sources (packed, one per sequence) and stores each decoder layer's cross-attention
// keys and values over them in the sequences' caches: once per source.
void fill_cross_cache(const Transformer& t, const Components& b,
                      std::span<SequenceCache* const> seqs, Packed sources);

}  // namespace qkv::model
