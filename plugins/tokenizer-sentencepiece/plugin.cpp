// The tokenizer-sentencepiece plugin: the C ABI face of SentencePieceTokenizer, written against
// the public SDK only.
//
// Config keys: exactly one of `model` (a SentencePiece tokenizer.model) or `tokenizer_json`
// (a HF tokenizer.json converted from one). Unigram or BPE is read from the file.
#include <qkv/plugin.hpp>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "sentencepiece_tokenizer.hpp"

namespace qkv::sentencepiece {
namespace {

using sdk::Error;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read '" + path + "'");
  return ss.str();
}

std::unique_ptr<SentencePieceTokenizer> build(const sdk::Config& cfg) {
  // A null value counts as absent, so `--set tokenizer.config.model=null` can switch a
  // pipeline to tokenizer_json.
  const bool has_model = cfg.string("model").has_value();
  const bool has_json = cfg.string("tokenizer_json").has_value();
  if (has_model == has_json)
    throw Error(QKV_ERR_CONFIG, cfg.where("") +
                                    ": tokenizer-sentencepiece needs exactly one of 'model' "
                                    "(tokenizer.model) or 'tokenizer_json'");
  const char* key = has_model ? "model" : "tokenizer_json";
  const std::string path = cfg.path(key);
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const std::exception& e) {
    throw Error(QKV_ERR_IO, cfg.where(key) + ": " + e.what());
  }
  try {
    ModelSpec spec = has_model ? load_model_proto(bytes) : load_tokenizer_json(bytes);
    return std::make_unique<SentencePieceTokenizer>(std::move(spec));
  } catch (const std::exception& e) {
    throw Error(QKV_ERR_CONFIG, cfg.where(key) + ": '" + path + "': " + e.what());
  }
}

class SentencePiecePlugin final : public sdk::Tokenizer {
 public:
  // Declared so that the host refuses a misspelled key and applies the path policy to both
  // model files (SDK ABI 1.1).
  static constexpr qkv_config_key config_keys[] = {
      {"model", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH},
      {"tokenizer_json", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH}};

  SentencePiecePlugin(sdk::Host& /*host*/, sdk::Config cfg) : tok_(build(cfg)) {}

  void encode(std::string_view text, const sdk::EncodeOptions& o, sdk::TokenSink& sink) override {
    if (text.size() > 0xFFFFFFFFu)
      throw Error(QKV_ERR_INVALID_ARGUMENT, "text over 4 GiB: offsets would not fit");
    switch (o.special_policy) {
      case QKV_SPECIAL_DEFAULT:  // user-defined symbols are matched, control symbols never
      case QKV_SPECIAL_NONE:     // user-defined symbols are vocabulary pieces, not specials
        break;
      case QKV_SPECIAL_ALL:
      case QKV_SPECIAL_LIST:
        throw Error(QKV_ERR_UNSUPPORTED,
                    "tokenizer-sentencepiece: special_tokens all/list are not supported "
                    "(SentencePiece never matches control symbols such as <s> in text)");
      default:
        throw Error(QKV_ERR_INVALID_ARGUMENT,
                    "unknown special_policy " + std::to_string(o.special_policy));
    }
    thread_local std::vector<int32_t> ids;
    thread_local std::vector<uint32_t> offsets;
    tok_->encode(text, EncodeParams{o.add_special, o.max_length}, ids,
                 o.offsets ? &offsets : nullptr);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (o.offsets)
        sink.push(ids[i], offsets[2 * i], offsets[2 * i + 1]);
      else
        sink.push(ids[i]);
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
    i.bos_id = tok_->control_id("<s>");
    i.eos_id = tok_->control_id("</s>");
    i.pad_id = tok_->control_id("<pad>");
    i.unk_id = tok_->unk_id();
    i.cls_id = i.sep_id = i.mask_id = -1;
    return i;
  }

  int32_t token_to_id(std::string_view token) override { return tok_->token_to_id(token); }

 private:
  std::unique_ptr<SentencePieceTokenizer> tok_;
};

}  // namespace
}  // namespace qkv::sentencepiece

QKV_PLUGIN(qkv::sdk::Tokenizer, qkv::sentencepiece::SentencePiecePlugin, "tokenizer-sentencepiece",
           "1.0.0",
           "SentencePiece Unigram and BPE (tokenizer.model or tokenizer.json), ids as the library")
