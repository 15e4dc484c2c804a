#include "factory.hpp"

#include <stdexcept>

#include "loaders.hpp"

namespace qkv::bpe {

std::unique_ptr<Bpe> make_bpe(const BpeConfig& c) {
  const int sources = !c.ranks.empty() + (!c.encoder_json.empty() || !c.vocab_bpe.empty()) +
                      !c.tokenizer_json.empty();
  if (sources != 1)
    throw std::invalid_argument(
        "give exactly one source of merges: 'ranks', 'encoder_json' + 'vocab_bpe', or "
        "'tokenizer_json'");
  if ((!c.encoder_json.empty()) != (!c.vocab_bpe.empty()))
    throw std::invalid_argument("'encoder_json' and 'vocab_bpe' go together");

  std::optional<Encoding> enc;
  if (!c.encoding.empty() && c.encoding != "custom") {
    enc = builtin_encoding(c.encoding);
    if (!enc)
      throw std::invalid_argument("unknown encoding '" + c.encoding +
                                  "' (r50k_base, gpt2, cl100k_base, o200k_base or custom)");
  }

  BpeSpec spec;
  if (!c.tokenizer_json.empty()) {
    // The file carries its own pre-tokenizer and added tokens.
    spec = load_tokenizer_json(c.tokenizer_json);
  } else {
    spec = !c.ranks.empty() ? load_tiktoken(c.ranks) : load_gpt2(c.encoder_json, c.vocab_bpe);
    // The named encoding's pattern and specials; custom files split like GPT-2, no specials.
    spec.pattern = enc ? enc->pattern : Pattern::kR50k;
    if (enc) spec.specials = enc->specials;
  }
  return std::make_unique<Bpe>(std::move(spec));
}

}  // namespace qkv::bpe
