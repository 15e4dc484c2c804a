#include "wordpiece_model.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace qkv::wordpiece {

namespace {

// One read of the whole file into a string of its size (no stream buffer copies).
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  const std::streamoff size = in.tellg();
  std::string bytes;
  if (size > 0) {
    bytes.resize(static_cast<size_t>(size));
    in.seekg(0);
    if (!in.read(bytes.data(), size)) throw std::runtime_error("cannot read '" + path + "'");
  }
  return bytes;
}

void set_token(std::vector<std::string>& vocab, int64_t id, std::string token,
               const std::string& where) {
  if (id < 0 || id > (1 << 28)) throw std::runtime_error(where + ": token id out of range");
  if (static_cast<size_t>(id) >= vocab.size()) vocab.resize(static_cast<size_t>(id) + 1);
  vocab[static_cast<size_t>(id)] = std::move(token);
}

int32_t find(const std::vector<std::string>& vocab, const std::string& token) {
  for (size_t i = 0; i < vocab.size(); ++i)
    if (vocab[i] == token) return static_cast<int32_t>(i);
  return -1;
}

}  // namespace

ModelSpec load_vocab_txt(const std::string& path) {
  std::string text = read_file(path);
  ModelSpec spec;
  spec.vocab.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    size_t end = nl;
    while (end > pos && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r' ||
                         text[end - 1] == '\v' || text[end - 1] == '\f'))
      --end;
    spec.vocab.emplace_back(text, pos, end - pos);
    pos = nl + 1;
  }
  if (spec.vocab.empty()) throw std::runtime_error("'" + path + "': empty vocabulary");
  for (const char* name : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    int32_t id = find(spec.vocab, name);
    if (id >= 0) spec.added.push_back({name, id, true});
  }
  spec.cls_id = find(spec.vocab, "[CLS]");
  spec.sep_id = find(spec.vocab, "[SEP]");
  return spec;
}

ModelSpec load_tokenizer_json(const std::string& path) {
  using nlohmann::json;
  json doc;
  try {
    doc = json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw std::runtime_error("'" + path + "': invalid JSON: " + e.what());
  }
  auto fail = [&](const std::string& what) { throw std::runtime_error("'" + path + "': " + what); };
  ModelSpec spec;
  spec.from_tokenizer_json = true;
  try {
    const json& model = doc.at("model");
    if (model.value("type", std::string("WordPiece")) != "WordPiece")
      fail("model.type is '" + model.value("type", std::string()) + "', expected WordPiece");
    for (const auto& [token, id] : model.at("vocab").items())
      set_token(spec.vocab, id.get<int64_t>(), token, "'" + path + "' model.vocab");
    spec.unk_token = model.value("unk_token", spec.unk_token);
    spec.prefix = model.value("continuing_subword_prefix", spec.prefix);
    spec.max_input_chars_per_word =
        model.value("max_input_chars_per_word", spec.max_input_chars_per_word);

    if (doc.contains("added_tokens"))
      for (const json& t : doc.at("added_tokens")) {
        AddedToken a{t.at("content").get<std::string>(), t.at("id").get<int32_t>(),
                     t.value("special", true)};
        if (a.id >= static_cast<int32_t>(spec.vocab.size()) || spec.vocab[a.id].empty())
          set_token(spec.vocab, a.id, a.content, "'" + path + "' added_tokens");
        spec.added.push_back(std::move(a));
      }

    const json& norm = doc.value("normalizer", json());
    if (norm.is_null()) {
      spec.normalizer = {false, false, false, false};
    } else if (norm.value("type", std::string()) == "BertNormalizer") {
      spec.normalizer.clean_text = norm.value("clean_text", true);
      spec.normalizer.handle_chinese_chars = norm.value("handle_chinese_chars", true);
      spec.normalizer.lowercase = norm.value("lowercase", true);
      if (norm.contains("strip_accents") && !norm.at("strip_accents").is_null())
        spec.normalizer.strip_accents = norm.at("strip_accents").get<bool>();
    } else {
      fail("normalizer type '" + norm.value("type", std::string()) +
           "' is not supported (BertNormalizer or null)");
    }

    const json& pre = doc.value("pre_tokenizer", json());
    if (!pre.is_null() && pre.value("type", std::string()) != "BertPreTokenizer")
      fail("pre_tokenizer type '" + pre.value("type", std::string()) +
           "' is not supported (BertPreTokenizer)");

    const json& dec = doc.value("decoder", json());
    if (dec.is_object()) spec.decode_cleanup = dec.value("cleanup", true);

    const json& post = doc.value("post_processor", json());
    if (post.is_null()) {
    } else if (post.value("type", std::string()) == "BertProcessing") {
      spec.cls_id = post.at("cls").at(1).get<int32_t>();
      spec.sep_id = post.at("sep").at(1).get<int32_t>();
    } else if (post.value("type", std::string()) == "TemplateProcessing") {
      // Only the "single" template [CLS-like] $A [SEP-like] is used by encode.
      const json& single = post.at("single");
      const json& specials = post.at("special_tokens");
      auto special_id = [&](const json& piece) -> int32_t {
        const std::string name = piece.at("SpecialToken").at("id").get<std::string>();
        const json& ids = specials.at(name).at("ids");
        if (ids.size() != 1) fail("post_processor special token '" + name + "' must have one id");
        return ids.at(0).get<int32_t>();
      };
      if (single.size() != 3 || !single.at(0).contains("SpecialToken") ||
          !single.at(1).contains("Sequence") || !single.at(2).contains("SpecialToken"))
        fail(
            "post_processor TemplateProcessing: only 'single' = [special, $A, special] is "
            "supported");
      spec.cls_id = special_id(single.at(0));
      spec.sep_id = special_id(single.at(2));
    } else {
      fail("post_processor type '" + post.value("type", std::string()) + "' is not supported");
    }
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("unexpected structure: ") + e.what());
  }
  if (spec.vocab.empty()) fail("empty model.vocab");
  return spec;
}

void apply_overrides(ModelSpec& spec, const SpecOverrides& o) {
  if (o.clean_text) spec.normalizer.clean_text = *o.clean_text;
  if (o.handle_chinese_chars) spec.normalizer.handle_chinese_chars = *o.handle_chinese_chars;
  if (o.lowercase) spec.normalizer.lowercase = *o.lowercase;
  if (o.strip_accents) spec.normalizer.strip_accents = *o.strip_accents;
  if (o.unk_token) spec.unk_token = *o.unk_token;
  if (o.prefix) spec.prefix = *o.prefix;
  if (o.max_input_chars_per_word) spec.max_input_chars_per_word = *o.max_input_chars_per_word;
}

}  // namespace qkv::wordpiece
