// The tokenizer-bpe plugin: configuration keys -> qkv::bpe::Bpe, encode/decode over the ABI.
#include <qkv/plugin.hpp>

#include <memory>
#include <string>
#include <vector>

#include "factory.hpp"
#include "loaders.hpp"

namespace {

using qkv::sdk::Error;

constexpr const char* kVersion = "1.0.0";

class BpeTokenizer final : public qkv::sdk::Tokenizer {
 public:
  static constexpr qkv_config_key config_keys[] = {
      {"encoding", QKV_KEY_STRING, 0},
      {"ranks", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH},
      {"encoder_json", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH},
      {"vocab_bpe", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH},
      {"tokenizer_json", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH}};

  BpeTokenizer(qkv::sdk::Host& host, qkv::sdk::Config cfg) {
    qkv::bpe::BpeConfig c;
    c.encoding = cfg.string_or("encoding", "");
    auto path = [&](const char* key) { return cfg.has(key) ? cfg.path(key) : std::string(); };
    c.ranks = path("ranks");
    c.encoder_json = path("encoder_json");
    c.vocab_bpe = path("vocab_bpe");
    c.tokenizer_json = path("tokenizer_json");
    try {
      auto made = qkv::bpe::make_bpe(c, qkv::image::cache_folder("tokenizer-bpe"), kVersion);
      if (!made.note.empty()) host.log(QKV_LOG_DEBUG, "tokenizer-bpe: " + made.note);
      bpe_ = std::move(made.bpe);
    } catch (const qkv::bpe::LoadError& e) {
      throw Error(e.io() ? QKV_ERR_IO : QKV_ERR_CONFIG, e.what());
    } catch (const std::invalid_argument& e) {
      throw Error(QKV_ERR_CONFIG, cfg.where("") + ": tokenizer-bpe: " + e.what());
    }
  }

  void encode(std::string_view text, const qkv::sdk::EncodeOptions& o,
              qkv::sdk::TokenSink& sink) override {
    thread_local std::vector<int32_t> ids;
    thread_local std::vector<uint32_t> offsets;
    ids.clear();
    offsets.clear();
    qkv::bpe::SpecialSelection sel;
    switch (o.special_policy) {
      case QKV_SPECIAL_DEFAULT:
        sel.kind = sel.kDefault;
        break;
      case QKV_SPECIAL_NONE:
        sel.kind = sel.kNone;
        break;
      case QKV_SPECIAL_ALL:
        sel.kind = sel.kAll;
        break;
      case QKV_SPECIAL_LIST:
        sel.kind = sel.kList;
        break;
      default:
        throw Error(QKV_ERR_INVALID_ARGUMENT, "unknown special_policy");
    }
    sel.names = o.special_names;
    // std::invalid_argument (e.g. an unknown special name): guarded reports INVALID_ARGUMENT.
    // add_special: the file's post-processor (<s> ... </s>), counted against max_length.
    const auto& wrap = bpe_->special_wrap();
    const bool wrapped = o.add_special && !wrap.empty();
    const uint32_t budget = wrapped ? qkv::bpe::text_budget(wrap, o.max_length) : o.max_length;
    bpe_->encode(text, sel, budget, ids, o.offsets ? &offsets : nullptr);
    if (wrapped || wrap.trim_offsets)
      qkv::bpe::wrap_with_specials(wrapped ? wrap : qkv::bpe::SpecialWrap{{}, {}, true}, text,
                                   o.max_length, ids, o.offsets ? &offsets : nullptr);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (o.offsets)
        sink.push(ids[i], offsets[2 * i], offsets[2 * i + 1]);
      else
        sink.push(ids[i]);
    }
  }

  void decode(std::span<const int32_t> ids, qkv::sdk::ByteSink& sink) override {
    std::string_view bytes;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!bpe_->token_bytes(ids[i], &bytes))
        throw Error(QKV_ERR_INVALID_INPUT, "id " + std::to_string(ids[i]) + " at position " +
                                               std::to_string(i) + " is not in the vocabulary");
      sink.append(bytes);
    }
  }

  qkv_tokenizer_info info() override {
    qkv_tokenizer_info i{};
    i.vocab_size = bpe_->vocab_size();
    const int32_t eot = bpe_->special_id("<|endoftext|>");
    i.bos_id = i.eos_id = eot;  // GPT-style vocabularies use it for both
    i.pad_id = i.unk_id = i.cls_id = i.sep_id = i.mask_id = -1;
    if (bpe_->special_id("<s>") >= 0) {  // RoBERTa / BART vocabularies
      i.bos_id = i.cls_id = bpe_->special_id("<s>");
      i.eos_id = i.sep_id = bpe_->special_id("</s>");
      i.pad_id = bpe_->special_id("<pad>");
      i.unk_id = bpe_->special_id("<unk>");
      i.mask_id = bpe_->special_id("<mask>");
    }
    return i;
  }

  int32_t token_to_id(std::string_view token) override {
    if (int32_t id = bpe_->token_to_id(token); id >= 0) return id;
    // Also accept the GPT-2 byte-alphabet spelling of vocab files ("Ġthe").
    if (auto bytes = qkv::bpe::byte_level_to_bytes(token)) return bpe_->token_to_id(*bytes);
    return -1;
  }

 private:
  std::unique_ptr<qkv::bpe::Bpe> bpe_;
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Tokenizer, BpeTokenizer, "tokenizer-bpe", kVersion,
           "byte-level BPE: tiktoken ranks, GPT-2 encoder.json + vocab.bpe, HF tokenizer.json")
