// Loads the out-of-tree example plugin (built against the installed SDK) with the host's
// registry and checks what it encodes. Usage: check_example PLUGIN.so EXAMPLE_SOURCE_DIR
#include <yaml-cpp/yaml.h>

#include "host/plugin_error.hpp"
#include "host/plugin_registry.hpp"
#include "host/plugin_reports.hpp"
#include "host/tokenizer_handle.hpp"

#include <iostream>
#include <vector>

namespace {

int fail(const std::string& what) {
  std::cerr << "check_example: FAILED: " << what << '\n';
  return 1;
}

std::string str(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  s += ']';
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return fail("usage: check_example PLUGIN.so EXAMPLE_SOURCE_DIR");
  const std::filesystem::path example_dir = argv[2];
  qkv::host::PluginRegistry registry;
  registry.load_file(argv[1]);
  qkv::host::print_plugin_reports(std::cout, registry);
  const auto* plugin = registry.find(QKV_KIND_TOKENIZER, "example-words");
  if (!plugin) return fail("example-words did not load");
  try {
    // The pipeline file shipped with the example gives the plugin's config.
    const auto pipeline_file = example_dir / "pipeline.yaml";
    YAML::Node pipeline = YAML::LoadFile(pipeline_file.string());
    qkv::host::TokenizerHandle tok(qkv::host::create_instance(
        *plugin, pipeline["tokenizer"]["config"], example_dir, pipeline_file.string()));
    // words.txt: <unk>=0 <s>=1 </s>=2 hello=3 world=4 qkv=5 plugins=6; lowercase: true.
    std::vector<int32_t> ids;
    std::vector<uint32_t> offsets;
    const std::string text = "Hello  QKV\tworld of plugins";
    tok.encode(text, qkv::host::encode_options(), ids, &offsets);
    const std::vector<int32_t> want{3, 5, 4, 0, 6};
    const std::vector<uint32_t> want_offsets{0, 5, 7, 10, 11, 16, 17, 19, 20, 27};
    if (ids != want) return fail("ids " + str(ids) + ", want " + str(want));
    if (offsets != want_offsets) return fail("offsets differ");
    ids = tok.encode(text, qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL));
    if (ids != std::vector<int32_t>{1, 3, 5, 4, 0, 6, 2}) return fail("specials: " + str(ids));
    if (tok.decode(std::vector<int32_t>{3, 4}) != "hello world") return fail("decode");
    if (tok.info().vocab_size != 7 || tok.info().unk_id != 0) return fail("info");
    std::cout << "example-words encodes \"" << text << "\" as " << str(want) << '\n';
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
