// What a job's output file is: its format (output.format, else the output's extension) and,
// for training outputs, the id written after each document. Decided here once per job; the
// writers (io/output_writer.hpp) only carry the decision out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "config/pipeline_config.hpp"
#include "pipeline/tokenizer.hpp"

namespace qkv::pipeline::detail {

// `.jsonl` ids, `.bin` nanoGPT training data, `.npy` dense vectors; `output.format` overrides
// and must not contradict a known extension; megatron data is named `*.bin` (its `.idx` goes
// beside). Throws JobFailed naming the output when the format cannot be told or does not fit
// the pipeline (npy without a model, ids with one, offsets outside jsonl, several fields in a
// .bin). `-` (`qkvd run -o -`, stdout) is jsonl only.
config::OutputFormat output_format_for(const config::PipelineConfig& pipeline,
                                       const std::filesystem::path& output);

// The id after each document of a bin / megatron output, or nullopt (output.separator: none).
// Default: the vocabulary's end-of-text id (GPT-2, cl100k, o200k: <|endoftext|>; SentencePiece:
// </s>), else [SEP] (BERT), else none. Throws JobFailed for a token or id the vocabulary lacks.
std::optional<int32_t> document_separator(const config::PipelineConfig& pipeline,
                                          const Tokenizer& tokenizer);

}  // namespace qkv::pipeline::detail
