#include "post_processor.hpp"

#include <nlohmann/json.hpp>

#include "loaders.hpp"

namespace qkv::bpe {

namespace {

using Json = nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw LoadError(false, path + ": post_processor: " + what);
}

// RobertaProcessing {"cls": ["<s>", 0], "sep": ["</s>", 2], ...} (tokenizers
// processors/roberta.rs): single sequence = cls $A sep.
int32_t roberta_id(const Json& p, const char* key, const std::string& path) {
  const Json* v = p.contains(key) ? &p[key] : nullptr;
  if (!v || !v->is_array() || v->size() != 2 || !(*v)[1].is_number_integer())
    fail(path, std::string("RobertaProcessing.") + key + ": expected [token, id]");
  return (*v)[1].get<int32_t>();
}

// TemplateProcessing (processors/template.rs): `single` is a list of {"SpecialToken": {"id"}}
// and one {"Sequence": {"id": "A"}}; each special's ids come from `special_tokens`.
void template_ids(const Json& p, const std::string& path, SpecialWrap& w) {
  if (!p.contains("single") || !p["single"].is_array())
    fail(path, "TemplateProcessing.single: expected a list");
  int sequences = 0;
  for (const Json& item : p["single"]) {
    if (item.contains("Sequence")) {
      if (item["Sequence"].value("id", "A") != "A")
        fail(path, "TemplateProcessing.single: only sequence A is supported");
      ++sequences;
      continue;
    }
    if (!item.contains("SpecialToken") || !item["SpecialToken"].contains("id"))
      fail(path, "TemplateProcessing.single: an item is neither SpecialToken nor Sequence");
    const std::string name = item["SpecialToken"]["id"].get<std::string>();
    const Json& specials = p.value("special_tokens", Json::object());
    if (!specials.contains(name) || !specials[name].contains("ids"))
      fail(path, "TemplateProcessing.special_tokens has no ids for '" + name + "'");
    for (const Json& id : specials[name]["ids"])
      (sequences ? w.suffix : w.prefix).push_back(id.get<int32_t>());
  }
  if (sequences != 1) fail(path, "TemplateProcessing.single: expected exactly one $A");
}

}  // namespace

SpecialWrap read_post_processor(const Json& p, const std::string& path) {
  SpecialWrap w;
  if (p.is_null()) return w;
  const std::string type = p.value("type", "");
  try {
    if (type == "RobertaProcessing") {
      w.prefix = {roberta_id(p, "cls", path)};
      w.suffix = {roberta_id(p, "sep", path)};
      w.trim_offsets = p.value("trim_offsets", true);
    } else if (type == "TemplateProcessing") {
      template_ids(p, path, w);
    } else if (type == "ByteLevel") {
      // GPT-2's: offsets only, nothing added (trim_offsets is off in GPT-2's file).
      w.trim_offsets = p.value("trim_offsets", false);
    } else {
      fail(path, "type '" + type +
                     "' is not supported (RobertaProcessing, TemplateProcessing, ByteLevel)");
    }
  } catch (const Json::exception& e) {
    fail(path, std::string("unexpected structure: ") + e.what());
  }
  return w;
}

uint32_t text_budget(const SpecialWrap& w, uint32_t max_length) {
  if (max_length == 0) return 0;
  const size_t added = w.prefix.size() + w.suffix.size();
  // 0 would mean "no limit": with no room for the text, encode one id (dropped when wrapping).
  return max_length > added ? uint32_t(max_length - added) : 1;
}

void wrap_with_specials(const SpecialWrap& w, std::string_view text, uint32_t max_length,
                        std::vector<int32_t>& ids, std::vector<uint32_t>* offsets) {
  const size_t added = w.prefix.size() + w.suffix.size();
  if (max_length > 0 && max_length <= added) {  // no room for the text
    ids.clear();
    if (offsets) offsets->clear();
  }
  if (offsets && w.trim_offsets)  // processors/byte_level.rs process_offsets
    for (size_t i = 0; i < ids.size(); ++i) {
      uint32_t& b = (*offsets)[2 * i];
      uint32_t& e = (*offsets)[2 * i + 1];
      while (b < e && text[b] == ' ') ++b;
      while (e > b && text[e - 1] == ' ') --e;
    }
  ids.insert(ids.begin(), w.prefix.begin(), w.prefix.end());
  ids.insert(ids.end(), w.suffix.begin(), w.suffix.end());
  if (offsets) {
    offsets->insert(offsets->begin(), 2 * w.prefix.size(), 0u);
    offsets->insert(offsets->end(), 2 * w.suffix.size(), uint32_t(text.size()));
  }
  if (max_length > 0 && ids.size() > max_length) {  // specials alone longer than max_length
    ids.resize(max_length);
    if (offsets) offsets->resize(2 * ids.size());
  }
}

}  // namespace qkv::bpe
