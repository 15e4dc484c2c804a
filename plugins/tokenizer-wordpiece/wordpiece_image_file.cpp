#include "wordpiece_image_file.hpp"

#include <cstring>

namespace qkv::wordpiece {
namespace {

// Version bumped whenever WordPieceTokenizer::image's layout or a table's meaning changes:
// old images then fail the header check and are rebuilt.
constexpr image::Format kFormat{"wordpiece", {'q', 'k', 'v', 'w', 'p', 'i', 'm', 'g'}, 1};

void add_u64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), sizeof v); }

}  // namespace

std::string image_key(const ModelSpec& spec, std::string_view plugin_version) {
  image::Key key("qkv tokenizer-wordpiece image\n");
  const NormalizerFlags& f = spec.normalizer;
  key.add(std::string(plugin_version) + "\n" + unicode_identity() + "\n" +
          std::to_string(f.clean_text) + std::to_string(f.handle_chinese_chars) +
          std::to_string(f.lowercase) + std::to_string(f.strip()) + "\n");
  // Length-prefixed, so no two different lists give the same bytes; hashed in 64 KiB pieces.
  std::string buf;
  buf.reserve(1 << 16);
  auto put = [&](std::string_view bytes) {
    add_u64(buf, bytes.size());
    buf += bytes;
    if (buf.size() >= (1 << 16) - 512) {
      key.add(buf);
      buf.clear();
    }
  };
  put(spec.unk_token);
  add_u64(buf, spec.vocab.size());
  for (const auto& t : spec.vocab) put(t);
  key.add(buf);
  return key.hex();
}

std::string image_path(const std::string& folder, const std::string& key_hex) {
  return image::image_path(folder, kFormat, key_hex);
}

ImageResult make_tokenizer(ModelSpec spec, const std::string& folder,
                           std::string_view plugin_version) {
  if (folder.empty())
    return {std::make_unique<WordPieceTokenizer>(std::move(spec)), image::Source::kBuilt,
            "images disabled"};
  std::unique_ptr<WordPieceTokenizer> tok;
  auto outcome = image::load_or_build(
      folder, kFormat, image_key(spec, plugin_version),
      // adopt leaves spec untouched when it refuses the image; build runs at most once, last.
      [&](std::string_view payload) {
        tok = WordPieceTokenizer::from_image(std::move(spec), payload);
      },
      [&] { tok = std::make_unique<WordPieceTokenizer>(std::move(spec)); },
      [&] { return tok->image(); });
  return {std::move(tok), outcome.source, std::move(outcome.note)};
}

}  // namespace qkv::wordpiece
