// Deliberately wrong tokenizer plugins for the conformance tests (ids are the text's bytes;
// 256 and 257 are [CLS] and [SEP]).
//   WRONG_NO_MAX_LENGTH:   returns every id whatever max_length says.
//   WRONG_NO_ADD_SPECIAL:  has cls and sep ids but never adds them.
//   WRONG_OFFSETS:         each token's range also covers the next byte (overlapping tokens).
#include <qkv/plugin.hpp>

#include <string>

namespace {

class WrongTokenizer final : public qkv::sdk::Tokenizer {
 public:
  WrongTokenizer(qkv::sdk::Host&, qkv::sdk::Config) {}
  void encode(std::string_view text, const qkv::sdk::EncodeOptions& options,
              qkv::sdk::TokenSink& sink) override {
    [[maybe_unused]] const bool specials = options.add_special;
    std::size_t limit = options.max_length ? options.max_length : std::size_t(-1);
#ifdef WRONG_NO_MAX_LENGTH
    limit = std::size_t(-1);
#endif
#ifndef WRONG_NO_ADD_SPECIAL
    if (specials && limit >= 2) {
      sink.push(256);
      limit -= 2;
    }
#endif
    uint32_t at = 0;
    for (unsigned char ch : text) {
      if (limit-- == 0) break;
#ifdef WRONG_OFFSETS
      uint32_t end = std::min<uint32_t>(at + 2, uint32_t(text.size()));
#else
      uint32_t end = at + 1;
#endif
      sink.push(ch, at, end);
      ++at;
    }
#ifndef WRONG_NO_ADD_SPECIAL
    if (specials && options.max_length != 1)
      sink.push(257, uint32_t(text.size()), uint32_t(text.size()));
#endif
  }
  void decode(std::span<const int32_t> ids, qkv::sdk::ByteSink& sink) override {
    std::string out;
    for (int32_t id : ids)
      if (id < 256) out.push_back(char(id));
    sink.append(out);
  }
  qkv_tokenizer_info info() override {
    qkv_tokenizer_info i{};
    i.vocab_size = 258;
    i.bos_id = i.eos_id = i.pad_id = i.unk_id = i.mask_id = -1;
    i.cls_id = 256;
    i.sep_id = 257;
    return i;
  }
  int32_t token_to_id(std::string_view token) override {
    if (token == "[CLS]") return 256;
    if (token == "[SEP]") return 257;
    return token.size() == 1 ? static_cast<unsigned char>(token[0]) : -1;
  }
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Tokenizer, WrongTokenizer, WRONG_NAME, "0.0.1",
           "deliberately wrong tokenizer (conformance tests)")
