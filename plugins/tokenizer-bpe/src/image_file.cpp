#include "image_file.hpp"

namespace qkv::bpe {
namespace {

// Version bumped whenever Bpe::image's layout or a table's meaning changes: old images then
// fail the header check and are rebuilt. 2: specials carry the lstrip flag.
constexpr image::Format kFormat{"bpe", {'q', 'k', 'v', 'b', 'p', 'e', 'i', 'm'}, 2};

}  // namespace

image::Key image_key_start(std::string_view plugin_version, std::string_view encoding) {
  image::Key key("qkv tokenizer-bpe image\n");
  key.add(std::string(plugin_version) + "\n" + std::string(encoding) + "\n");
  static constexpr unsigned char kProbe[] = "qkv vocabulary image probe";
  key.add(std::to_string(hash_bytes(kProbe, sizeof kProbe - 1)) + " " +
          std::to_string(mix(0x123456789abcdefull)) + "\n");
  return key;
}

std::string image_path(const std::string& folder, const std::string& key_hex) {
  return image::image_path(folder, kFormat, key_hex);
}

ImageResult load_or_build(const std::string& folder, const std::string& key_hex,
                          const std::function<std::unique_ptr<Bpe>()>& build) {
  std::unique_ptr<Bpe> bpe;
  auto outcome = image::load_or_build(
      folder, kFormat, key_hex, [&](std::string_view payload) { bpe = Bpe::from_image(payload); },
      [&] { bpe = build(); }, [&] { return bpe->image(); });
  return {std::move(bpe), ImageResult::Source(outcome.source), std::move(outcome.note)};
}

}  // namespace qkv::bpe
