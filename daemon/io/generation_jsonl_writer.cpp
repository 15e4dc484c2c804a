// Generation outputs as JSON lines (docs/formats.md "generation jsonl"): one object per input
// document, in input order.
#include <charconv>

#include "formats.hpp"
#include "output_set.hpp"
#include "output_writer.hpp"

namespace qkv::io {
namespace {

class GenerationJsonlWriter final : public OutputWriter {
 public:
  explicit GenerationJsonlWriter(const OutputTarget& output)
      : outputs_(output), main_(outputs_.add(output.main)) {}

  // Generation records are formatted by append_generation_record, never from ids.
  int64_t append_document(std::string&, const DocumentIds&) const override {
    throw std::logic_error("a generation output takes generation records, not ids");
  }
  void write_chunk(const ChunkOutput& chunk) override { main_.write(chunk.bytes); }
  AtomicFile& add_companion(std::string_view suffix) override {
    return outputs_.add(outputs_.companion(suffix));
  }
  void retire_companion(std::string_view suffix) override {
    outputs_.retire(outputs_.companion(suffix));
  }
  std::string dtype() const override { return "int32"; }
  std::vector<std::filesystem::path> commit(nlohmann::json manifest) override {
    return outputs_.commit(std::move(manifest));
  }

 private:
  OutputSet outputs_;
  AtomicFile& main_;
};

}  // namespace

void append_generation_record(std::string& out, const GenerationRecord& r) {
  out += "{\"text\":";
  append_json_string(out, r.text);
  out += ",\"ids\":";
  append_ids(out, r.ids);
  out += ",\"finish_reason\":";
  append_json_string(out, r.finish_reason);
  if (r.logprobs) {
    out += ",\"logprobs\":[";
    char buf[32];
    for (size_t i = 0; i < r.logprobs->size(); ++i) {
      if (i) out += ',';
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, (*r.logprobs)[i]);
      out.append(buf, end);
    }
    out += ']';
  }
  out += '}';
}

std::unique_ptr<OutputWriter> make_generation_jsonl_writer(const OutputTarget& output) {
  return std::make_unique<GenerationJsonlWriter>(output);
}

}  // namespace qkv::io
