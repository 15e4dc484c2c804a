// load_tokenizer_json: a HF tokenizer.json converted from SentencePiece (transformers'
// SpmConverter / LlamaConverter layouts) into a ModelSpec. The HF components are mapped onto
// SentencePiece's switches; anything without a SentencePiece meaning is refused by name.
#include <cctype>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "model_spec.hpp"

namespace qkv::sentencepiece {
namespace {

using nlohmann::json;
using std::runtime_error;

const std::string kMeta = "\xE2\x96\x81";

std::string base64_decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = value(c);
    if (v < 0) throw runtime_error("precompiled_charsmap is not base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string type_of(const json& j) { return j.value("type", std::string("?")); }

void apply_normalizer(const json& n, ModelSpec& spec, bool& saw_strip) {
  if (n.is_null()) return;
  const std::string t = type_of(n);
  if (t == "Sequence") {
    for (const json& item : n.at("normalizers")) apply_normalizer(item, spec, saw_strip);
  } else if (t == "Precompiled") {
    spec.precompiled_charsmap = base64_decode(n.at("precompiled_charsmap").get<std::string>());
  } else if (t == "Strip") {
    saw_strip = true;  // with Replace(" {2,}") below: remove_extra_whitespaces
  } else if (t == "Replace") {
    const json& pat = n.at("pattern");
    const std::string content = n.at("content").get<std::string>();
    if (pat.contains("Regex") && pat["Regex"] == "\\A +| +\\z" && content.empty()) {
      saw_strip = true;
    } else if (pat.contains("Regex") && pat["Regex"] == " {2,}" &&
               (content == " " || content == kMeta)) {
      if (!saw_strip)
        throw runtime_error(
            "normalizer Replace(' {2,}') without a Strip or Replace('\\A +| +\\z') "
            "before it");
      spec.remove_extra_whitespaces = true;
    } else if (pat.contains("String") && pat["String"] == " " && content == kMeta) {
      spec.escape_whitespaces = true;
    } else {
      throw runtime_error("normalizer Replace " + pat.dump() + " -> '" + content +
                          "' has no SentencePiece equivalent");
    }
  } else if (t == "Prepend") {
    if (n.at("prepend").get<std::string>() != kMeta)
      throw runtime_error("normalizer Prepend of anything but U+2581 is not supported");
    spec.add_dummy_prefix = true;
  } else {
    throw runtime_error("normalizer '" + t +
                        "' is not supported (SentencePiece conversions use "
                        "Precompiled, Strip, Replace, Prepend)");
  }
}

void apply_pre_tokenizer(const json& p, ModelSpec& spec) {
  if (p.is_null()) return;
  const std::string t = type_of(p);
  if (t == "Sequence") {
    for (const json& item : p.at("pretokenizers")) apply_pre_tokenizer(item, spec);
  } else if (t == "Metaspace") {
    if (p.value("replacement", kMeta) != kMeta)
      throw runtime_error("Metaspace replacement other than U+2581 is not supported");
    spec.escape_whitespaces = true;
    std::string scheme = p.value("prepend_scheme", std::string());
    if (scheme.empty()) scheme = p.value("add_prefix_space", true) ? "always" : "never";
    if (scheme != "always" && scheme != "first" && scheme != "never")
      throw runtime_error("Metaspace prepend_scheme '" + scheme + "' is not supported");
    spec.add_dummy_prefix = scheme != "never";
  } else if (t == "Digits" && p.value("individual_digits", false)) {
    spec.split_digits = true;
  } else {
    throw runtime_error("pre_tokenizer '" + t + "' is not supported (only Metaspace)");
  }
}

// TemplateProcessing's single template: the specials before $A and after it.
void apply_post_processor(const json& p, ModelSpec& spec) {
  if (p.is_null()) return;
  if (type_of(p) != "TemplateProcessing")
    throw runtime_error("post_processor '" + type_of(p) +
                        "' is not supported (only TemplateProcessing)");
  bool after = false;
  for (const json& item : p.at("single")) {
    if (item.contains("Sequence")) {
      after = true;
      continue;
    }
    const std::string name = item.at("SpecialToken").at("id").get<std::string>();
    for (const json& id : p.at("special_tokens").at(name).at("ids"))
      (after ? spec.suffix_ids : spec.prefix_ids).push_back(id.get<int32_t>());
  }
}

bool is_byte_piece(const std::string& s) {
  return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>' && isxdigit(s[3]) &&
         isxdigit(s[4]);
}

}  // namespace

ModelSpec load_tokenizer_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw runtime_error(std::string("not JSON: ") + e.what());
  }
  try {
    ModelSpec spec;
    // HF has no whitespace switches: what is absent from the pipeline is off.
    spec.add_dummy_prefix = spec.remove_extra_whitespaces = spec.escape_whitespaces = false;
    spec.normalizer_name = "tokenizer.json";
    const json& model = j.at("model");
    const std::string type = type_of(model);
    std::string unk_token;
    int32_t unk_id = -1;
    if (type == "Unigram") {
      spec.algorithm = Algorithm::kUnigram;
      for (const json& entry : model.at("vocab"))
        spec.pieces.push_back(
            Piece{entry.at(0).get<std::string>(), entry.at(1).get<float>(), PieceType::kNormal});
      if (!model.at("unk_id").is_null()) unk_id = model.at("unk_id").get<int32_t>();
    } else if (type == "BPE") {
      spec.algorithm = Algorithm::kBpe;
      const json& vocab = model.at("vocab");
      spec.pieces.resize(vocab.size());
      for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        const auto id = it.value().get<int64_t>();
        if (id < 0 || static_cast<size_t>(id) >= spec.pieces.size() ||
            !spec.pieces[static_cast<size_t>(id)].text.empty())
          throw runtime_error("BPE vocab ids are not 0..n-1 (id " + std::to_string(id) + ")");
        spec.pieces[static_cast<size_t>(id)].text = it.key();
      }
      for (const json& m : model.at("merges")) {
        if (m.is_array()) {
          spec.merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
        } else {
          const std::string s = m.get<std::string>();
          const size_t space = s.find(' ');
          if (space == std::string::npos) throw runtime_error("merge '" + s + "' has no space");
          spec.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
        }
      }
      if (!model.value("dropout", json()).is_null())
        throw runtime_error("BPE dropout is not supported");
      if (model.value("continuing_subword_prefix", json()).is_string() ||
          model.value("end_of_word_suffix", json()).is_string())
        throw runtime_error("BPE with subword prefixes/suffixes is not a SentencePiece model");
      if (model.value("unk_token", json()).is_string())
        unk_token = model["unk_token"].get<std::string>();
    } else {
      throw runtime_error("model type '" + type + "' is not supported (only Unigram and BPE)");
    }
    spec.byte_fallback = model.value("byte_fallback", false);
    for (size_t i = 0; i < spec.pieces.size(); ++i) {
      Piece& p = spec.pieces[i];
      if (static_cast<int32_t>(i) == unk_id || (!unk_token.empty() && p.text == unk_token))
        p.type = PieceType::kUnknown;
      else if (spec.byte_fallback && is_byte_piece(p.text))
        p.type = PieceType::kByte;
    }
    for (const json& a : j.value("added_tokens", json::array())) {
      const auto id = a.at("id").get<int64_t>();
      if (id < 0 || static_cast<size_t>(id) >= spec.pieces.size())
        throw runtime_error("added token id " + std::to_string(id) + " is outside the vocab");
      Piece& p = spec.pieces[static_cast<size_t>(id)];
      if (p.text != a.at("content").get<std::string>())
        throw runtime_error("added token " + std::to_string(id) + " differs from the vocab");
      if (p.type == PieceType::kNormal)
        p.type = a.value("special", false) ? PieceType::kControl : PieceType::kUserDefined;
    }
    bool saw_strip = false;
    apply_normalizer(j.value("normalizer", json()), spec, saw_strip);
    apply_pre_tokenizer(j.value("pre_tokenizer", json()), spec);
    apply_post_processor(j.value("post_processor", json()), spec);
    return spec;
  } catch (const json::exception& e) {
    throw runtime_error(std::string("unexpected tokenizer.json layout: ") + e.what());
  }
}

}  // namespace qkv::sentencepiece
