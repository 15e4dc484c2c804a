// Example plugin: a whitespace word tokenizer with a vocabulary file.
//
// Config (the `tokenizer.config` subtree of a pipeline):
//   vocab: words.txt     one token per line, id = line number (relative to the pipeline file)
//   lowercase: false     lowercase ASCII letters before lookup
//   unk_token: "<unk>"   must be in the vocabulary; unknown words map to it
// With QKV_ENCODE_ADD_SPECIAL, "<s>" and "</s>" (when in the vocabulary) wrap the ids.
#include <qkv/plugin.hpp>

#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Words : public qkv::sdk::Tokenizer {
 public:
  // Everything is read here; after construction the object is immutable, so encode/decode are
  // safe to call from many threads at once (no QKV_PLUGIN_FLAG_NOT_THREAD_SAFE needed).
  Words(qkv::sdk::Host& host, qkv::sdk::Config config)
      : lowercase_(config.boolean_or("lowercase", false)) {
    const std::string vocab = config.path("vocab");  // throws with file:line:column if missing
    std::ifstream in(vocab);
    if (!in)
      throw qkv::sdk::Error(QKV_ERR_IO, config.where("vocab") + ": cannot read vocab " + vocab);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      ids_.emplace(line, static_cast<int32_t>(tokens_.size()));
      tokens_.push_back(line);
    }
    const std::string unk = config.string_or("unk_token", "<unk>");
    unk_ = lookup(unk);
    if (unk_ < 0)
      throw qkv::sdk::Error(QKV_ERR_CONFIG, config.where("unk_token") + ": unk_token '" + unk +
                                                "' is not in " + vocab);
    bos_ = lookup("<s>");
    eos_ = lookup("</s>");
    host.log(QKV_LOG_DEBUG, "example-words: " + std::to_string(tokens_.size()) + " tokens");
  }

  void encode(std::string_view text, const qkv::sdk::EncodeOptions& options,
              qkv::sdk::TokenSink& sink) override {
    const bool specials = options.add_special && bos_ >= 0 && eos_ >= 0;
    size_t budget = options.max_length ? options.max_length : SIZE_MAX;
    if (specials) {
      if (budget < 2) return;
      budget -= 2;
      sink.push(bos_, 0, 0);
    }
    std::string word;
    for (size_t i = 0; i < text.size() && budget > 0;) {
      if (is_space(text[i])) {
        ++i;
        continue;
      }
      size_t end = i;
      while (end < text.size() && !is_space(text[end])) ++end;
      word.assign(text.substr(i, end - i));
      if (lowercase_)
        for (char& c : word)
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      const int32_t id = lookup(word);
      sink.push(id >= 0 ? id : unk_, static_cast<uint32_t>(i), static_cast<uint32_t>(end));
      --budget;
      i = end;
    }
    if (specials)
      sink.push(eos_, static_cast<uint32_t>(text.size()), static_cast<uint32_t>(text.size()));
  }

  void decode(std::span<const int32_t> ids, qkv::sdk::ByteSink& sink) override {
    bool first = true;
    for (int32_t id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= tokens_.size())
        throw qkv::sdk::Error(QKV_ERR_INVALID_INPUT, "unknown token id " + std::to_string(id));
      if (id == bos_ || id == eos_) continue;
      if (!first) sink.append(" ");
      sink.append(tokens_[id]);
      first = false;
    }
  }

  qkv_tokenizer_info info() override {
    qkv_tokenizer_info i{};
    i.vocab_size = static_cast<uint32_t>(tokens_.size());
    i.bos_id = bos_;
    i.eos_id = eos_;
    i.unk_id = unk_;
    i.pad_id = i.cls_id = i.sep_id = i.mask_id = -1;
    return i;
  }

  int32_t token_to_id(std::string_view token) override { return lookup(std::string(token)); }

 private:
  int32_t lookup(const std::string& token) const {
    auto it = ids_.find(token);
    return it == ids_.end() ? -1 : it->second;
  }

  bool lowercase_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t unk_ = -1, bos_ = -1, eos_ = -1;
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Tokenizer, Words, "example-words", "1.0.0",
           "whitespace word tokenizer over a vocabulary file (SDK example)")
