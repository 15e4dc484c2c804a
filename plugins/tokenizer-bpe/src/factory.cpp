#include "factory.hpp"

#include <stdexcept>

#include "loaders.hpp"

namespace qkv::bpe {

namespace {

void check_sources(const BpeConfig& c) {
  const int sources = !c.ranks.empty() + (!c.encoder_json.empty() || !c.vocab_bpe.empty()) +
                      !c.tokenizer_json.empty();
  if (sources != 1)
    throw std::invalid_argument(
        "give exactly one source of merges: 'ranks', 'encoder_json' + 'vocab_bpe', or "
        "'tokenizer_json'");
  if ((!c.encoder_json.empty()) != (!c.vocab_bpe.empty()))
    throw std::invalid_argument("'encoder_json' and 'vocab_bpe' go together");
}

}  // namespace

std::unique_ptr<Bpe> make_bpe(const BpeConfig& c) {
  check_sources(c);

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

std::string image_key(const BpeConfig& c, std::string_view plugin_version) {
  check_sources(c);
  image::Key key = image_key_start(plugin_version, c.encoding);
  for (const auto& [name, path] : {std::pair<const char*, const std::string&>{"ranks", c.ranks},
                                   {"encoder_json", c.encoder_json},
                                   {"vocab_bpe", c.vocab_bpe},
                                   {"tokenizer_json", c.tokenizer_json}})
    if (path.empty()) {
      continue;
    } else if (image::MappedFile mapped(path); mapped.ok()) {
      key.add_file(name, mapped.bytes());  // hashed in place: no buffer, no copy
    } else {
      key.add_file(name, read_vocab_file(path));  // a pipe, or an error naming the file
    }
  return key.hex();
}

ImageResult make_bpe(const BpeConfig& c, const std::string& image_folder,
                     std::string_view plugin_version) {
  if (image_folder.empty()) return {make_bpe(c), ImageResult::kBuilt, "images disabled"};
  return load_or_build(image_folder, image_key(c, plugin_version), [&] { return make_bpe(c); });
}

}  // namespace qkv::bpe
