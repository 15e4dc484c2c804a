// What is read off the last hidden states: pooled vectors, next-token log-probabilities with
// per-document perplexity, and top-k logits through the LM head.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/gemm.hpp"
#include "model/weights.hpp"

namespace qkv::model {

// [documents, d]: the first row of each document (BERT's [CLS] position); an empty document
// gives zeros.
std::vector<float> pool_cls(std::span<const float> hidden, uint32_t d, std::span<const int32_t> cu);

// `unpooled` (empty, or one per document): how many of a document's first rows mean and max
// leave out, as sentence-transformers' Pooling does with include_prompt: false (it zeroes
// attention_mask[:, :prompt_length]). A document with no row left gives what that Pooling
// gives: mean zeros, max -1e9. Its CLS (row 0) and last token (the last row: the mask's last
// 1, or seq_len - 1 when there is none) do not depend on it.

// [documents, d]: mean over each document's rows (all real tokens: batches carry no padding).
std::vector<float> pool_mean(std::span<const float> hidden, uint32_t d, std::span<const int32_t> cu,
                             std::span<const uint32_t> unpooled = {});

// [documents, d]: the element-wise maximum over each document's rows (sentence-transformers
// pooling_mode_max_tokens); an empty document gives zeros.
std::vector<float> pool_max(std::span<const float> hidden, uint32_t d, std::span<const int32_t> cu,
                            std::span<const uint32_t> unpooled = {});
// [documents, d]: each document's last row (pooling_mode_lasttoken, decoder embedders).
std::vector<float> pool_last(std::span<const float> hidden, uint32_t d,
                             std::span<const int32_t> cu);

// Pooled vectors [rows, d] -> [rows, dims]: the first `dims` values of each (Matryoshka; 0 or
// >= d keeps all), then scaled to unit L2 norm when `normalize` (a zero vector stays zero).
std::vector<float> finish_embeddings(std::vector<float> pooled, uint32_t d, uint32_t dims,
                                     bool normalize);

struct NextTokenScores {
  std::vector<float>
      logprobs;  // [tokens]: row t = log p(ids[t] | ids[<t]); 0 at each document's first row
  std::vector<float>
      perplexity;  // [documents]: exp(-mean of the predicted rows); NaN with < 2 tokens
};
NextTokenScores next_token_scores(GemmKernel gemm, const Linear& lm_head,
                                  std::span<const float> hidden, std::span<const int32_t> ids,
                                  std::span<const int32_t> cu);

// Teacher forcing with the labels shifted right (BART): row t = log p(labels[t] | src,
// labels[<t]) from hidden row t; perplexity = exp(-mean over all of a document's rows).
NextTokenScores label_scores(GemmKernel gemm, const Linear& lm_head, std::span<const float> hidden,
                             std::span<const int32_t> labels, std::span<const int32_t> cu);

struct TopK {
  std::vector<float> logits;  // [tokens, k], descending
  std::vector<int32_t> ids;   // [tokens, k]; ties: smaller id first
};
TopK top_k_logits(GemmKernel gemm, const Linear& lm_head, std::span<const float> hidden,
                  uint32_t k);

}  // namespace qkv::model
