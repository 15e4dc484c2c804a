// A pipeline YAML file (configs/pipelines/*.yaml), validated into typed values.
// The schema is fixed in docs/pipelines.md.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/generate_options.hpp"
#include "host/config_tree.hpp"
#include "overrides.hpp"

namespace qkv::config {

enum class InputFormat { automatic, jsonl, txt };
enum class OutputFormat { jsonl, bin, npy, megatron };
// How a .txt input is cut into documents: each line, blank-line separated paragraphs, or the
// whole file.
enum class DocumentMode { line, paragraph, file };
enum class SpecialTokens { default_, none, all, list };
// pooled: the model folder's sentence-transformers pooling (daemon/model/st_folder.hpp).
enum class ModelOutput {
  hidden,
  pooled,
  pooled_cls,
  pooled_mean,
  pooled_max,
  pooled_last,
  logprobs,
  topk
};

// A plugin a section names, with the plugin's own config subtree. Plugin subtrees are copied
// out of YAML here, once: everything downstream (caches, threads, plugins) reads the copy.
struct PluginRef {
  std::string plugin;        // empty: not given (the reader's default applies)
  std::string plugin_where;  // "file:line:column" of the plugin value, for messages
  host::ConfigValue config;  // the plugin's subtree (MISSING: none given)
};

struct PipelineConfig {
  std::string name;            // the file stem
  std::filesystem::path file;  // absolute
  std::filesystem::path dir;   // relative paths of the plugin configs resolve here
  std::string description;

  struct Input {
    InputFormat format = InputFormat::automatic;
    // role -> jsonl field, in the file's order; a single-field pipeline has one ("text", field)
    std::vector<std::pair<std::string, std::string>> fields{{"text", "text"}};
    bool multi_field = false;                    // `fields:` given (ids output per role)
    bool replace_invalid = false;                // invalid_utf8: replace (else error)
    DocumentMode document = DocumentMode::line;  // .txt inputs only
    bool skip_bad_records = false;               // on_error: skip (else fail)
    uint64_t max_errors = 1000;                  // skipped records before the job fails anyway
    // The jsonl field whose value (string or integer) goes to OUT.ids.jsonl or, with
    // output.inline_id, into each record; empty: none (input.id_field: "" or none).
    std::string id_field = "id";
    // Prepended to every document's text before tokenizing (e.g. E5's "query: "); offsets stay
    // relative to the document's own text.
    std::string prefix;
  } input;

  struct Tokenizer : PluginRef {  // config: an empty mapping when none is given
    SpecialTokens special = SpecialTokens::default_;
    std::vector<std::string> special_names;
    bool add_special = true;
    uint32_t max_length = 0;  // 0 = no truncation
    // Which end a model's truncation cuts: left keeps a document's last tokens. Either way the
    // tokenizer's specials ([CLS] ... [SEP]) stay at the ends, as HF tokenizers place them.
    bool truncate_left = false;
    // `from_model: true`: plugin and config come from the model folder's tokenizer files when
    // the job starts (pipeline/model_tokenizer.hpp); plugin is empty until then.
    bool from_model = false;
  } tokenizer;
  // `target_tokenizer:` (same keys as tokenizer:): the target side of an encoder-decoder, as
  // HF's MarianTokenizer segments text_target with target.spm: it tokenizes every input field
  // after the first (tgt) and decodes generated ids. Unset: `tokenizer` serves both sides (with
  // tokenizer.from_model, a Marian folder's target.spm is picked when the job starts).
  std::optional<Tokenizer> target_tokenizer;

  struct Model {
    std::filesystem::path path;     // absolute: a directory with config.json + model.safetensors
    bool path_from_client = false;  // see host::ConfigValue::from_client
    // A client's folder, opened beneath its root when checked (pipeline/client_paths.cpp): the
    // model is read through this fd (as /proc/self/fd/N), never through the path again.
    std::shared_ptr<const io::UniqueFd> pinned;
    ModelOutput output = ModelOutput::hidden;
    uint32_t topk = 5;
    bool truncate = true;  // cut documents longer than the positions (else the job fails)
    // Pooled outputs: L2-normalize (unset: as the folder's sentence-transformers Normalize
    // module says) after keeping the first `dimensions` values (0: all; Matryoshka).
    std::optional<bool> normalize;
    uint32_t dimensions = 0;
    // A sentence-transformers prompt by name (config_sentence_transformers.json `prompts`);
    // unset: the folder's default_prompt_name, if any.
    std::optional<std::string> prompt_name;
    // One vector per window of `tokens` tokens (specials included) overlapping by `overlap`;
    // tokens 0: whole documents.
    struct Chunk {
      uint32_t tokens = 0;
      uint32_t overlap = 0;
    } chunk;
    PluginRef attention;   // plugin empty: attention-flash
    PluginRef positional;  // plugin empty: the one the model's config.json implies
  };
  std::optional<Model> model;
  // `generate:` (needs `model:` with a decoder): the model continues each document and the
  // output is generation jsonl instead of model tensors.
  std::optional<GenerateOptions> generate;

  struct Output {
    // Given explicitly; else the output's extension decides (pipeline/output_format.hpp).
    std::optional<OutputFormat> format;
    bool offsets = false;
    bool overwrite = true;   // false: an existing output fails the job (output_exists)
    bool inline_id = false;  // jsonl ids records {"id": .., "ids": [..]} instead of OUT.ids.jsonl
    // The id after each document of a .bin / megatron output (output.separator).
    struct Separator {
      enum class Kind { default_, none, token, id } kind = Kind::default_;
      std::string token;  // Kind::token
      int32_t id = -1;    // Kind::id
    } separator;
  } output;

  struct Batch {
    uint32_t documents = 256;
    uint32_t max_tokens = 16384;
  } batch;
};

// Which values a daemon client gave, so the path policy checks them (pipeline/client_paths.hpp):
// none (qkvd run, whose --set is the user's own), the overrides (`set` on a pipeline of
// pipelines_dir), or all of them (a pipeline named by path).
enum class ClientValues { none, overrides, all };

// Loads and validates; throws ConfigError listing every problem. Client values are marked
// (host::ConfigValue::from_client, Model::path_from_client) and their files are not looked
// for here (that would tell a client which files exist outside the roots).
PipelineConfig load_pipeline_config(const std::filesystem::path& file,
                                    const Overrides& overrides = {},
                                    ClientValues client = ClientValues::none);

// Whether `file` reads as a pipeline rather than a daemon config (for --check-config FILE):
// a mapping with tokenizer, input or output. False when it does not parse.
bool looks_like_pipeline(const std::filesystem::path& file);

// Whether a pipeline is named by path (contains '/' or ends in .yaml/.yml), not by file stem.
bool names_pipeline_file(const std::string& name_or_path);

// A pipeline named by path, or by file stem in `dir`. With `found`, that file's stat(2) is
// written there (st_nlink 0 when there is none), so a caller that needs it stats once.
std::filesystem::path resolve_pipeline(const std::string& name_or_path,
                                       const std::filesystem::path& dir,
                                       struct stat* found = nullptr);

// Every *.yaml / *.yml in `dir`, sorted by name.
std::vector<std::filesystem::path> list_pipelines(const std::filesystem::path& dir);

// Where a model folder's files are read: the folder a client named, through the fd pinned when
// its path was checked (pipeline/client_paths.cpp), else model.path.
std::filesystem::path model_files(const PipelineConfig::Model& m);

const char* to_string(OutputFormat f);
const char* to_string(ModelOutput o);

}  // namespace qkv::config
