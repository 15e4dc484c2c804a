// Encode = SentencePieceProcessor::Encode (v0.1.97) without sampling: Normalize, the model's
// segmentation, then PopulateSentencePieceText's rules: an <unk> segment becomes its <0xNN>
// byte pieces under byte_fallback, otherwise adjacent <unk> segments are fused into one.
#include "sentencepiece_tokenizer.hpp"

#include <stdexcept>

#include "language_code.hpp"
#include "unigram.hpp"

namespace qkv::sentencepiece {

SentencePieceTokenizer::SentencePieceTokenizer(ModelSpec spec, const IdMapSpec& ids)
    : spec_(std::move(spec)), vocab_(spec_), normalizer_(spec_, vocab_.user_symbols()) {
  if (spec_.algorithm == Algorithm::kBpe) bpe_ = std::make_unique<BpeSegmenter>(vocab_);
  if (ids.kind == IdMapSpec::Kind::kFairseq) hf_ = HfIds::fairseq(vocab_);
  if (ids.kind == IdMapSpec::Kind::kVocabJson) hf_ = HfIds::vocab_json(vocab_, ids.vocab_json);
  if (hf_ && !(spec_.prefix_ids.empty() && spec_.suffix_ids.empty()))
    throw std::runtime_error("an HF id map goes with a tokenizer.model, not a post-processor");
  for (int32_t id : spec_.prefix_ids)
    if (id < 0 || static_cast<size_t>(id) >= vocab_.size())
      throw std::runtime_error("post-processor id " + std::to_string(id) + " is not in the vocab");
  for (int32_t id : spec_.suffix_ids)
    if (id < 0 || static_cast<size_t>(id) >= vocab_.size())
      throw std::runtime_error("post-processor id " + std::to_string(id) + " is not in the vocab");
}

int32_t SentencePieceTokenizer::control_id(std::string_view piece) const {
  if (hf_) {
    const int32_t id = hf_->find(piece);
    return hf_->is_special(id) ? id : -1;
  }
  const int32_t id = vocab_.find(piece);
  return id >= 0 && vocab_.type(id) == PieceType::kControl ? id : -1;
}

void SentencePieceTokenizer::encode(std::string_view text, const EncodeParams& params,
                                    std::vector<int32_t>& ids,
                                    std::vector<uint32_t>* offsets) const {
  thread_local std::string normalized;
  thread_local std::vector<uint32_t> norm_to_orig;
  thread_local std::vector<Token> segments;
  thread_local LanguageCodes codes;  // vocab.json: the text without its >>xx<< codes
  codes.any = false;
  codes.code_end = 0;
  if (hf_ && hf_->splits_language_codes()) split_language_codes(text, codes);
  const std::string_view body = codes.any ? std::string_view(codes.rest) : text;
  normalizer_.normalize(body, normalized, offsets ? &norm_to_orig : nullptr);
  segments.clear();
  if (bpe_)
    bpe_->segment(normalized, segments);
  else
    unigram_segment(vocab_, normalized, segments);

  ids.clear();
  if (offsets) offsets->clear();
  const bool with_special = params.add_special;
  const std::vector<int32_t>& prefix = hf_ ? hf_->prefix() : spec_.prefix_ids;
  const std::vector<int32_t>& suffix = hf_ ? hf_->suffix() : spec_.suffix_ids;
  if (with_special)
    for (int32_t id : prefix) {
      ids.push_back(id);
      if (offsets) offsets->insert(offsets->end(), {0, 0});
    }
  // A piece's begin is its first byte in text, its end one past its last (a removed code between
  // two kept bytes stays outside the pieces around it).
  auto orig = [&](uint32_t pos) {
    const uint32_t p = norm_to_orig[pos];
    return codes.any ? codes.rest_to_text[p] : p;
  };
  auto orig_end = [&](uint32_t pos) {
    const uint32_t p = norm_to_orig[pos];
    return !codes.any ? p : p == 0 ? 0 : codes.rest_to_text[p - 1] + 1;
  };
  if (codes.code_end > 0) {
    ids.push_back(hf_->of_code(text.substr(0, codes.code_end)));
    if (offsets) offsets->insert(offsets->end(), {0, static_cast<uint32_t>(codes.code_end)});
  }
  const int32_t unk = vocab_.unk_id();
  auto out_id = [&](int32_t piece) { return hf_ ? hf_->of_piece(piece) : piece; };
  // An <unk> run's id under vocab.json is that of its text (EncodeAsPieces' piece).
  auto unk_id = [&](uint32_t begin, uint32_t end) {
    return hf_ ? hf_->of_unknown(std::string_view(normalized).substr(begin, end - begin)) : unk;
  };
  bool prev_unk = false;
  uint32_t unk_begin = 0;
  for (const Token& t : segments) {
    const bool is_unk = t.id == unk;
    if (is_unk && vocab_.byte_fallback()) {
      for (uint32_t i = t.begin; i < t.end; ++i) {
        ids.push_back(out_id(vocab_.byte_id(static_cast<uint8_t>(normalized[i]))));
        if (offsets) offsets->insert(offsets->end(), {orig(t.begin), orig_end(t.end)});
      }
    } else if (is_unk && prev_unk) {  // one <unk> for the whole run
      ids.back() = unk_id(unk_begin, t.end);
      if (offsets) offsets->back() = orig_end(t.end);
    } else {
      if (is_unk) unk_begin = t.begin;
      ids.push_back(is_unk ? unk_id(t.begin, t.end) : out_id(t.id));
      if (offsets) offsets->insert(offsets->end(), {orig(t.begin), orig_end(t.end)});
    }
    prev_unk = is_unk;
  }
  const size_t n_prefix = with_special ? prefix.size() : 0;
  const size_t n_suffix = with_special ? suffix.size() : 0;
  if (params.max_length > 0) {  // the text is cut, the specials stay (as far as they fit)
    const size_t body =
        params.max_length > n_prefix + n_suffix ? params.max_length - n_prefix - n_suffix : 0;
    if (ids.size() > n_prefix + body) {
      ids.resize(n_prefix + body);
      if (offsets) offsets->resize(2 * ids.size());
    }
  }
  if (with_special) {
    const auto end = static_cast<uint32_t>(text.size());
    for (int32_t id : suffix) {
      ids.push_back(id);
      if (offsets) offsets->insert(offsets->end(), {end, end});
    }
  }
  if (params.max_length > 0 && ids.size() > params.max_length) ids.resize(params.max_length);
  if (offsets) offsets->resize(2 * ids.size());
}

void SentencePieceTokenizer::append_piece_text(const Piece& p, bool& at_start,
                                               std::string& out) const {
  const size_t before = out.size();
  switch (p.type) {
    case PieceType::kControl:
      break;
    case PieceType::kUnknown:
      out += spec_.unk_surface;
      break;
    case PieceType::kByte:
      out.push_back(static_cast<char>(std::stoi(p.text.substr(3, 2), nullptr, 16)));
      break;
    default: {
      std::string_view s = p.text;
      // SentencePiece drops the dummy-prefix '▁' of the first piece
      if (at_start && (spec_.add_dummy_prefix || spec_.remove_extra_whitespaces) &&
          s.substr(0, kSpaceSymbol.size()) == kSpaceSymbol)
        s.remove_prefix(kSpaceSymbol.size());
      for (size_t pos = 0; pos < s.size();) {
        if (s.substr(pos, kSpaceSymbol.size()) == kSpaceSymbol) {
          out.push_back(' ');
          pos += kSpaceSymbol.size();
        } else {
          out.push_back(s[pos++]);
        }
      }
    }
  }
  if (out.size() != before) at_start = false;
}

void SentencePieceTokenizer::decode(std::span<const int32_t> ids, std::string& out) const {
  bool at_start = true;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size())
      throw std::out_of_range("token id " + std::to_string(id) + " is not in the vocabulary (" +
                              std::to_string(vocab_size()) + " ids)");
    if (!hf_) {
      append_piece_text(vocab_.piece(id), at_start, out);
    } else if (const int32_t p = hf_->piece_of(id); p >= 0) {
      append_piece_text(vocab_.piece(p), at_start, out);
    } else if (!hf_->is_special(id) && !hf_->text(id).empty()) {
      // a vocab.json piece the .model lacks: its text verbatim, '▁' kept (SentencePiece's
      // DecodePieces: "return piece when piece is not <unk>")
      out += hf_->text(id);
      at_start = false;
    }
  }
}

}  // namespace qkv::sentencepiece
