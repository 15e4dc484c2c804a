// The contract between a pipeline run (pipeline/run_job.hpp) and the model runtime
// (daemon/model). The run tokenizes and packs documents; a ModelStage turns a packed batch into
// float rows. The run owns ordering, chunking and writing; the stage owns the math.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "pipeline/generator.hpp"

namespace qkv::host {
class PluginRegistry;
}

namespace qkv::pipeline {

// Documents packed without padding (flat ids plus cu_seqlens prefix sums, docs/model.md). One entry
// per input field the pipeline tokenizes: field 0 is the only one for most pipelines; seq2seq has 0
// = src, 1 = tgt.
struct TokenBatch {
  std::vector<std::vector<int32_t>> ids;         // [field][flat tokens]
  std::vector<std::vector<int32_t>> cu_seqlens;  // [field][documents + 1]
  // Field 0's first tokens of each document that pooling leaves out (a sentence-transformers
  // Pooling module with include_prompt: false: its prompt_length); empty: none left out.
  std::vector<uint32_t> unpooled;  // [documents] or empty
  size_t documents() const { return cu_seqlens.empty() ? 0 : cu_seqlens[0].size() - 1; }
};

// One output tensor of a stage, for the documents of one batch, in document order.
// Written as OUT<suffix>.npy (+ OUT<suffix>.offsets.npy unless per_document).
struct StageTensor {
  std::string suffix;               // "" for the main output, e.g. ".perplexity"
  uint32_t width = 0;               // floats per row; 1 for per-token scalars
  bool per_document = false;        // one row per document (pooled), no offsets file
  std::vector<float> values;        // rows * width
  std::vector<int64_t> row_counts;  // rows of each document (per_document: all 1)
};

struct StageOutput {
  std::vector<StageTensor> tensors;
  uint64_t truncated_documents = 0;  // cut to the position table
};

// What a generation job tells the model besides its `generate:` options: ids from the tokenizer
// for what the model's config.json does not name (eos_token_id, decoder_start_token_id).
struct GenerateSetup {
  config::GenerateOptions options;
  std::vector<int32_t> fallback_eos_ids;  // e.g. GPT-2's <|endoftext|>
  int32_t fallback_decoder_start = -1;    // encoder-decoder models only
};

// What the model's folder says a document's text becomes before tokenizing
// (sentence-transformers: config_sentence_transformers.json, sentence_bert_config.json).
struct TextConventions {
  std::map<std::string, std::string> prompts;  // name -> text put before the document
  std::string default_prompt_name;             // "": none
  bool lower_case = false;                     // do_lower_case
  bool include_prompt = true;                  // Pooling include_prompt (false: the prompt's
                                               // tokens are left out of pooling)
};

class ModelStage {
 public:
  virtual ~ModelStage() = default;
  // Maximum tokens per document per field it accepts (0: unbounded); the pipeline run truncates
  // longer documents to it when the pipeline says so (and counts them).
  virtual size_t max_tokens(size_t field) const = 0;
  virtual TextConventions text_conventions() const { return {}; }
  // Thread-safe: a pipeline run calls it from several pipeline workers at once.
  virtual StageOutput run(const TokenBatch& batch) const = 0;
  // A generator for one job (thread-safe to call; the generator itself is single-threaded).
  // Throws std::exception when the model cannot generate (an encoder).
  virtual std::unique_ptr<Generator> generator(const GenerateSetup& /*setup*/) const {
    throw std::runtime_error("this model stage cannot generate");
  }
};

struct ModelStageContext {
  config::PipelineConfig::Model model;  // validated by config/ (model.path is absolute)
  std::filesystem::path config_dir;     // relative paths in plugin configs resolve here
  std::string source_file;              // the pipeline file, for file:line:column in messages
  const host::PluginRegistry* plugins;  // for attention / positional plugins
};

// Builds the stage of a pipeline (the model runtime's make_model_stage in qkvd). It comes in
// through RunEnvironment, so the pipeline library does not link the model library and either
// can be built and tested alone.
using ModelStageFactory = std::function<std::unique_ptr<ModelStage>(const ModelStageContext&)>;

}  // namespace qkv::pipeline
