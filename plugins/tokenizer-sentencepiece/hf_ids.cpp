// HfIds, written from transformers' tokenization_xlm_roberta.py (fairseq_tokens_to_ids,
// fairseq_offset, _convert_token_to_id, build_inputs_with_special_tokens) and
// tokenization_marian.py (_convert_token_to_id: encoder.get(token, encoder[unk_token]);
// build_inputs_with_special_tokens: ids + [eos_token_id]).
#include "hf_ids.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace qkv::sentencepiece {

int32_t HfIds::of_unknown(std::string_view surface) const {
  if (!by_text_) return unk;
  const int32_t id = find(surface);
  return id >= 0 ? id : unk;
}

int32_t HfIds::find(std::string_view text) const {
  const auto it = ids_.find(std::string(text));
  return it == ids_.end() ? -1 : it->second;
}

HfIds HfIds::fairseq(const Vocabulary& vocab) {
  // XLM-R's .model numbers <unk>=0 <s>=1 </s>=2; fairseq's dictionary puts <pad> at 1.
  const auto n = static_cast<int32_t>(vocab.size());
  auto require = [&](std::string_view piece, int32_t id) {
    if (vocab.find(piece) != id)
      throw std::runtime_error("id_map fairseq needs the .model's " + std::string(piece) +
                               " at id " + std::to_string(id) + " (XLM-R's numbering), found " +
                               std::to_string(vocab.find(piece)));
  };
  require("<unk>", 0);
  require("<s>", 1);
  require("</s>", 2);
  HfIds m;
  m.bos = 0, m.pad = 1, m.eos = 2, m.unk = 3, m.mask = n + 1;
  m.texts_.resize(static_cast<size_t>(n) + 2);
  m.piece_of_.assign(m.texts_.size(), -1);
  m.of_piece_.resize(static_cast<size_t>(n));
  for (int32_t p = 0; p < n; ++p)
    m.of_piece_[static_cast<size_t>(p)] = p == 0 ? m.unk : p == 1 ? m.bos : p == 2 ? m.eos : p + 1;
  for (int32_t p = 0; p < n; ++p) {
    const int32_t id = m.of_piece_[static_cast<size_t>(p)];
    m.texts_[static_cast<size_t>(id)] = vocab.piece(p).text;
    m.piece_of_[static_cast<size_t>(id)] = p;
  }
  m.texts_[1] = "<pad>";
  m.texts_[static_cast<size_t>(m.mask)] = "<mask>";
  for (size_t id = 0; id < m.texts_.size(); ++id)
    m.ids_.emplace(m.texts_[id], static_cast<int32_t>(id));
  m.prefix_ = {m.bos};
  m.suffix_ = {m.eos};
  return m;
}

HfIds HfIds::vocab_json(const Vocabulary& vocab, const std::string& json_text) {
  const nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw std::runtime_error("not a JSON object of piece -> id");
  HfIds m;
  m.by_text_ = true;
  m.texts_.resize(j.size());
  std::vector<bool> seen(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_number_integer())
      throw std::runtime_error("key '" + it.key() + "': expected an integer id, got " +
                               it.value().dump());
    const auto id = it.value().get<int64_t>();
    if (id < 0 || static_cast<size_t>(id) >= j.size() || seen[static_cast<size_t>(id)])
      throw std::runtime_error("key '" + it.key() + "': id " + std::to_string(id) +
                               " is a duplicate or outside 0.." + std::to_string(j.size() - 1) +
                               " (ids must number the pieces densely)");
    seen[static_cast<size_t>(id)] = true;
    m.texts_[static_cast<size_t>(id)] = it.key();
    m.ids_.emplace(it.key(), static_cast<int32_t>(id));
  }
  m.unk = m.find("<unk>");
  m.eos = m.find("</s>");
  m.pad = m.find("<pad>");
  if (m.unk < 0) throw std::runtime_error("no '<unk>' entry (MarianTokenizer's unk_token)");
  if (m.eos < 0) throw std::runtime_error("no '</s>' entry (MarianTokenizer's eos_token)");
  m.of_piece_.resize(vocab.size());
  for (size_t p = 0; p < vocab.size(); ++p)
    m.of_piece_[p] = m.of_unknown(vocab.piece(static_cast<int32_t>(p)).text);
  m.piece_of_.resize(m.texts_.size());
  for (size_t id = 0; id < m.texts_.size(); ++id) m.piece_of_[id] = vocab.find(m.texts_[id]);
  m.suffix_ = {m.eos};
  return m;
}

}  // namespace qkv::sentencepiece
