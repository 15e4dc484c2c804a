// The tokenizer-sentencepiece plugin: the C ABI face of SentencePieceTokenizer, written against
// the public SDK only.
//
// Config keys: exactly one of `model` (a SentencePiece tokenizer.model) or `tokenizer_json`
// (a HF tokenizer.json converted from one). Unigram or BPE is read from the file. With `model`,
// HF's numbering instead of the file's: `id_map: fairseq` (XLM-R) or `vocab_json: FILE` (Marian).
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
  IdMapSpec ids;
  const std::string id_map = cfg.string("id_map").value_or("sentencepiece");
  if (id_map == "fairseq")
    ids.kind = IdMapSpec::Kind::kFairseq;
  else if (id_map != "sentencepiece")
    throw Error(
        QKV_ERR_CONFIG,
        cfg.where("id_map") + ": id_map: expected sentencepiece or fairseq, got '" + id_map + "'");
  const bool has_vocab = cfg.string("vocab_json").has_value();
  if (has_vocab && ids.kind == IdMapSpec::Kind::kFairseq)
    throw Error(
        QKV_ERR_CONFIG,
        cfg.where("vocab_json") + ": vocab_json and id_map: fairseq are two numberings; give one");
  if ((has_vocab || ids.kind == IdMapSpec::Kind::kFairseq) && !has_model)
    throw Error(QKV_ERR_CONFIG, cfg.where(has_vocab ? "vocab_json" : "id_map") + ": " +
                                    (has_vocab ? "vocab_json" : "id_map") +
                                    " needs 'model' (a tokenizer.json already holds HF's ids)");
  auto read = [&](const char* k, const std::string& file) {
    try {
      return read_file(file);
    } catch (const std::exception& e) {
      throw Error(QKV_ERR_IO, cfg.where(k) + ": " + e.what());
    }
  };
  const std::string bytes = read(key, path);
  std::string vocab_path;
  if (has_vocab) {
    vocab_path = cfg.path("vocab_json");
    ids.kind = IdMapSpec::Kind::kVocabJson;
    ids.vocab_json = read("vocab_json", vocab_path);
  }
  ModelSpec spec;
  try {
    spec = has_model ? load_model_proto(bytes) : load_tokenizer_json(bytes);
  } catch (const std::exception& e) {
    throw Error(QKV_ERR_CONFIG, cfg.where(key) + ": '" + path + "': " + e.what());
  }
  try {
    return std::make_unique<SentencePieceTokenizer>(std::move(spec), ids);
  } catch (const std::exception& e) {
    if (has_vocab)
      throw Error(QKV_ERR_CONFIG,
                  cfg.where("vocab_json") + ": vocab_json '" + vocab_path + "': " + e.what());
    throw Error(QKV_ERR_CONFIG, cfg.where(key) + ": '" + path + "': " + e.what());
  }
}

class SentencePiecePlugin final : public sdk::Tokenizer {
 public:
  // Declared so that the host refuses a misspelled key and applies the path policy to both
  // model files (SDK ABI 1.1).
  static constexpr qkv_config_key config_keys[] = {
      {"model", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH},
      {"tokenizer_json", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH},
      {"id_map", QKV_KEY_STRING, 0},
      {"vocab_json", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH}};

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
    if (const HfIds* hf = tok_->hf_ids()) {
      i.bos_id = hf->bos, i.eos_id = hf->eos, i.pad_id = hf->pad, i.mask_id = hf->mask;
      if (hf->bos >= 0) i.cls_id = hf->bos, i.sep_id = hf->eos;  // XLM-R: <s> ... </s>
    }
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
