#include "pipeline/plugin_tokenizer.hpp"

#include <stdexcept>

#include "host/plugin_error.hpp"
#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "host/tokenizer_handle.hpp"
#include "io/sha256.hpp"
#include "pipeline/model_tokenizer.hpp"
#include "pipeline/token_window.hpp"

namespace qkv::pipeline {
namespace {

class PluginTokenizer final : public Tokenizer {
 public:
  PluginTokenizer(host::TokenizerHandle handle, const config::PipelineConfig::Tokenizer& t)
      : handle_(std::move(handle)), names_(t.special_names) {
    qkv_special_policy policy = QKV_SPECIAL_DEFAULT;
    switch (t.special) {
      case config::SpecialTokens::default_:
        policy = QKV_SPECIAL_DEFAULT;
        break;
      case config::SpecialTokens::none:
        policy = QKV_SPECIAL_NONE;
        break;
      case config::SpecialTokens::all:
        policy = QKV_SPECIAL_ALL;
        break;
      case config::SpecialTokens::list:
        policy = QKV_SPECIAL_LIST;
        break;
    }
    // truncation_side left: the plugins cut the right end, so max_length is applied here, after
    // the whole document is encoded (keeping the specials at the ends, pipeline/token_window).
    if (t.truncate_left) left_max_length_ = t.max_length;
    options_ = host::encode_options(t.add_special ? QKV_ENCODE_ADD_SPECIAL : 0u, policy,
                                    t.truncate_left ? 0 : t.max_length);
    for (const auto& n : names_) name_ptrs_.push_back(n.c_str());
    options_.special_names = name_ptrs_.empty() ? nullptr : name_ptrs_.data();
    options_.special_count = name_ptrs_.size();
    if (left_max_length_) handle_.encode("", options_, empty_ids_, nullptr);
  }
  void encode(std::string_view text, std::vector<int32_t>& ids,
              std::vector<uint32_t>* offsets) const override {
    if (!left_max_length_) {
      handle_.encode(text, options_, ids, offsets);
      return;
    }
    std::vector<int32_t> doc;
    std::vector<uint32_t> doc_offsets;
    handle_.encode(text, options_, doc, offsets ? &doc_offsets : nullptr);
    if (doc.size() > left_max_length_)
      truncate_tokens(doc, offsets ? &doc_offsets : nullptr, left_max_length_,
                      special_frame(doc, empty_ids_), true);
    ids.insert(ids.end(), doc.begin(), doc.end());
    if (offsets) offsets->insert(offsets->end(), doc_offsets.begin(), doc_offsets.end());
  }
  void decode(std::span<const int32_t> ids, std::string& out) const override {
    handle_.decode(ids, out);
  }
  uint32_t vocab_size() const override { return handle_.info().vocab_size; }
  int32_t eos_id() const override { return handle_.info().eos_id; }
  int32_t sep_id() const override { return handle_.info().sep_id; }
  int32_t token_id(std::string_view token) const override { return handle_.token_to_id(token); }
  TokenizerIdentity identity() const override {
    TokenizerIdentity id{handle_.plugin().name, handle_.plugin().version, {}};
    for (const auto& f : handle_.loaded_files())
      id.files.push_back({f.key, f.shown_as, io::sha256_file(f.path)});
    return id;
  }

 private:
  host::TokenizerHandle handle_;
  std::vector<std::string> names_;
  std::vector<const char*> name_ptrs_;
  qkv_encode_options options_{};
  uint32_t left_max_length_ = 0;    // tokenizer.max_length with truncation_side left
  std::vector<int32_t> empty_ids_;  // then: the ids of "" (the specials)
};

}  // namespace

std::shared_ptr<const Tokenizer> make_plugin_tokenizer(const config::PipelineConfig& pipeline,
                                                       const host::PluginRegistry& plugins,
                                                       StageCache* cache,
                                                       uint64_t max_vocab_bytes) {
  if (pipeline.tokenizer.from_model && pipeline.tokenizer.plugin.empty()) {
    config::PipelineConfig resolved = pipeline;
    resolved.tokenizer = tokenizer_from_model(pipeline);
    return make_plugin_tokenizer(resolved, plugins, cache, max_vocab_bytes);
  }
  const auto* plugin = plugins.find(QKV_KIND_TOKENIZER, pipeline.tokenizer.plugin);
  if (!plugin) {
    std::string names;
    for (const auto* p : plugins.list(QKV_KIND_TOKENIZER))
      names += (names.empty() ? "" : ", ") + p->name;
    const std::string& where = pipeline.tokenizer.plugin_where.empty()
                                   ? pipeline.file.string()
                                   : pipeline.tokenizer.plugin_where;
    throw std::runtime_error(where + ": tokenizer.plugin: no tokenizer plugin named '" +
                             pipeline.tokenizer.plugin + "' is loaded (loaded: " +
                             (names.empty() ? std::string("none; see `qkvd plugins`") : names) +
                             ")");
  }
  auto make = [&] {
    host::InstanceConfig settings{
        pipeline.tokenizer.config, pipeline.dir, pipeline.file.string(), {}};
    settings.max_file_bytes = max_vocab_bytes;
    return std::make_shared<host::PluginInstance>(*plugin, std::move(settings));
  };
  auto instance = cache ? cache->tokenizer(StageCache::tokenizer_key(pipeline), make) : make();
  return std::make_shared<PluginTokenizer>(host::TokenizerHandle(std::move(instance)),
                                           pipeline.tokenizer);
}

std::shared_ptr<const Tokenizer> make_plugin_target_tokenizer(
    const config::PipelineConfig& pipeline, const host::PluginRegistry& plugins, StageCache* cache,
    uint64_t max_vocab_bytes) {
  std::optional<config::PipelineConfig::Tokenizer> target = pipeline.target_tokenizer;
  const bool encoder_decoder = pipeline.input.fields.size() >= 2 || pipeline.generate;
  if (!target && pipeline.tokenizer.from_model && pipeline.model && encoder_decoder)
    target = target_tokenizer_from_model(pipeline);
  if (!target) return nullptr;
  config::PipelineConfig side = pipeline;
  side.tokenizer = std::move(*target);
  side.target_tokenizer.reset();
  return make_plugin_tokenizer(side, plugins, cache, max_vocab_bytes);
}

}  // namespace qkv::pipeline
