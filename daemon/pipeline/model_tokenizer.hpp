// `tokenizer: {from_model: true}`: the tokenizer plugin and its files chosen from what the
// model folder holds, as HF's AutoTokenizer picks a tokenizer from a checkpoint directory.
#pragma once

#include "config/pipeline_config.hpp"

namespace qkv::pipeline {

// The pipeline's tokenizer section with `plugin` and `config` filled from the model folder
// (read through its pinned fd when a client named it), in this order:
//   sentencepiece.bpe.model      tokenizer-sentencepiece, id_map: fairseq (XLMRobertaTokenizer)
//   source.spm + vocab.json      tokenizer-sentencepiece, vocab_json (MarianTokenizer)
//   tokenizer.json               its model.type: WordPiece -> tokenizer-wordpiece,
//                                BPE -> tokenizer-bpe, Unigram -> tokenizer-sentencepiece
//   vocab.txt                    tokenizer-wordpiece; lowercase from tokenizer_config.json's
//                                do_lower_case (default true, as BertTokenizer)
//   vocab.json + merges.txt      tokenizer-bpe
//   tokenizer.model              tokenizer-sentencepiece
// from_model stays true (StageCache::tokenizer_key adds the folder's path).
// Throws std::runtime_error naming the folder and what it lacks or holds that qkv cannot use.
config::PipelineConfig::Tokenizer tokenizer_from_model(const config::PipelineConfig& pipeline);

// The target side (PipelineConfig::target_tokenizer) from the folder: a Marian folder's
// target.spm with the same vocab.json (MarianTokenizer's spm_target); nullopt when the folder's
// tokenizer has no separate target model.
std::optional<config::PipelineConfig::Tokenizer> target_tokenizer_from_model(
    const config::PipelineConfig& pipeline);

}  // namespace qkv::pipeline
