// The tokenizer-wordpiece plugin: the C ABI face of WordPieceTokenizer.
//
// Config keys (SCHEMA.md): exactly one of `vocab` (BERT vocab.txt) or `tokenizer_json`;
// optional `lowercase`, `strip_accents`, `clean_text`, `handle_chinese_chars`, `unk_token`,
// `max_input_chars_per_word`, `continuing_subword_prefix` override the file's values.
#include <qkv/plugin.hpp>

#include <memory>
#include <stdexcept>

#include "wordpiece_image_file.hpp"

namespace qkv::wordpiece {
namespace {

using sdk::Error;

std::optional<bool> opt_bool(const sdk::Config& cfg, const char* key) {
  if (!cfg.string(key)) return std::nullopt;
  return cfg.boolean_or(key, false);
}

ModelSpec load(const sdk::Config& cfg) {
  const bool has_vocab = cfg.has("vocab"), has_json = cfg.has("tokenizer_json");
  if (has_vocab == has_json)
    throw Error(QKV_ERR_CONFIG, cfg.where("") +
                                    ": tokenizer-wordpiece needs exactly one of 'vocab' "
                                    "(vocab.txt) or 'tokenizer_json'");
  const char* key = has_vocab ? "vocab" : "tokenizer_json";
  const std::string path = cfg.path(key);
  ModelSpec spec;
  try {
    spec = has_vocab ? load_vocab_txt(path) : load_tokenizer_json(path);
  } catch (const std::exception& e) {
    throw Error(QKV_ERR_IO, cfg.where(key) + ": " + e.what());
  }
  SpecOverrides o;
  o.lowercase = opt_bool(cfg, "lowercase");
  o.strip_accents = opt_bool(cfg, "strip_accents");
  o.clean_text = opt_bool(cfg, "clean_text");
  o.handle_chinese_chars = opt_bool(cfg, "handle_chinese_chars");
  o.unk_token = cfg.string("unk_token");
  o.prefix = cfg.string("continuing_subword_prefix");
  if (cfg.string("max_input_chars_per_word"))
    o.max_input_chars_per_word = cfg.integer_or<size_t>("max_input_chars_per_word", 100);
  apply_overrides(spec, o);
  return spec;
}

constexpr const char* kVersion = "1.0.0";

// The tokenizer, through its vocabulary image in $QKV_CACHE_DIR/tokenizer-wordpiece when qkvd
// set one (image::cache_folder); why an image was not used is logged at debug level.
std::unique_ptr<WordPieceTokenizer> build(sdk::Host& host, const sdk::Config& cfg) {
  ModelSpec spec = load(cfg);
  try {
    auto made =
        make_tokenizer(std::move(spec), image::cache_folder("tokenizer-wordpiece"), kVersion);
    if (!made.note.empty()) host.log(QKV_LOG_DEBUG, "tokenizer-wordpiece: " + made.note);
    return std::move(made.tokenizer);
  } catch (const std::exception& e) {
    throw Error(QKV_ERR_CONFIG, cfg.where("") + ": " + e.what());
  }
}

class WordPiecePlugin final : public sdk::Tokenizer {
 public:
  static constexpr qkv_config_key config_keys[] = {
      {"vocab", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH},
      {"tokenizer_json", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH},
      {"lowercase", QKV_KEY_BOOL, 0},
      {"strip_accents", QKV_KEY_BOOL, 0},
      {"clean_text", QKV_KEY_BOOL, 0},
      {"handle_chinese_chars", QKV_KEY_BOOL, 0},
      {"unk_token", QKV_KEY_STRING, 0},
      {"continuing_subword_prefix", QKV_KEY_STRING, 0},
      {"max_input_chars_per_word", QKV_KEY_INTEGER, 0}};

  WordPiecePlugin(sdk::Host& host, sdk::Config cfg) : tok_(build(host, cfg)) {}

  void encode(std::string_view text, const sdk::EncodeOptions& o, sdk::TokenSink& sink) override {
    if (text.size() > 0xFFFFFFFFu)
      throw Error(QKV_ERR_INVALID_ARGUMENT, "text over 4 GiB: offsets would not fit");
    EncodeParams p;
    p.add_special = o.add_special;
    p.offsets = o.offsets;
    p.max_length = o.max_length;
    switch (o.special_policy) {
      case QKV_SPECIAL_DEFAULT:
        p.specials = SpecialPolicy::kDefault;
        break;
      case QKV_SPECIAL_NONE:
        p.specials = SpecialPolicy::kNone;
        break;
      case QKV_SPECIAL_ALL:
        p.specials = SpecialPolicy::kAll;
        break;
      case QKV_SPECIAL_LIST:
        p.specials = SpecialPolicy::kList;
        break;
      default:
        throw Error(QKV_ERR_INVALID_ARGUMENT,
                    "unknown special_policy " + std::to_string(o.special_policy));
    }
    p.special_names = o.special_names;
    thread_local Encoding enc;
    tok_->encode(text, p, enc);  // std::invalid_argument: guarded reports INVALID_ARGUMENT
    for (size_t i = 0; i < enc.ids.size(); ++i) {
      if (o.offsets)
        sink.push(enc.ids[i], enc.offsets[2 * i], enc.offsets[2 * i + 1]);
      else
        sink.push(enc.ids[i]);
    }
  }

  void decode(std::span<const int32_t> ids, sdk::ByteSink& sink) override {
    std::string text;
    try {
      tok_->decode(ids, text);
    } catch (const std::out_of_range& e) {
      throw Error(QKV_ERR_INVALID_INPUT, e.what());
    }
    sink.append(text);
  }

  qkv_tokenizer_info info() override {
    qkv_tokenizer_info i{};
    i.struct_size = sizeof i;
    i.vocab_size = static_cast<uint32_t>(tok_->vocab_size());
    i.bos_id = i.eos_id = -1;
    i.unk_id = tok_->unk_id();
    i.cls_id = tok_->spec().cls_id;
    i.sep_id = tok_->spec().sep_id;
    i.pad_id = tok_->token_to_id("[PAD]");
    i.mask_id = tok_->token_to_id("[MASK]");
    return i;
  }

  int32_t token_to_id(std::string_view token) override { return tok_->token_to_id(token); }

 private:
  std::unique_ptr<WordPieceTokenizer> tok_;
};

}  // namespace
}  // namespace qkv::wordpiece

QKV_PLUGIN(qkv::sdk::Tokenizer, qkv::wordpiece::WordPiecePlugin, "tokenizer-wordpiece",
           qkv::wordpiece::kVersion,
           "BERT WordPiece (vocab.txt or tokenizer.json) with HF BertNormalizer parity")
