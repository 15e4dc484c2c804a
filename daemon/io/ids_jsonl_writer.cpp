// Token ids as JSON lines (docs/formats.md "ids jsonl"): one record per document.
#include "formats.hpp"
#include "output_set.hpp"
#include "output_writer.hpp"

namespace qkv::io {
namespace {

class IdsJsonlWriter final : public OutputWriter {
 public:
  IdsJsonlWriter(const OutputTarget& output, std::vector<std::string> fields, bool offsets)
      : outputs_(output),
        main_(outputs_.add(output.main)),
        fields_(std::move(fields)),
        offsets_(offsets) {}

  bool wants_offsets() const override { return offsets_; }
  int64_t append_document(std::string& chunk, const DocumentIds& doc) const override {
    append_ids_record(chunk, doc, fields_, offsets_);
    chunk += '\n';
    int64_t n = 0;
    for (const auto& f : doc.ids) n += static_cast<int64_t>(f.size());
    return n;
  }
  void write_chunk(const ChunkOutput& chunk) override { main_.write(chunk.bytes); }
  AtomicFile& add_companion(std::string_view suffix) override {
    return outputs_.add(outputs_.companion(suffix));
  }
  std::string dtype() const override { return "int32"; }
  std::vector<std::filesystem::path> commit(nlohmann::json manifest) override {
    return outputs_.commit(std::move(manifest));
  }

 private:
  OutputSet outputs_;
  AtomicFile& main_;
  std::vector<std::string> fields_;
  bool offsets_;
};

}  // namespace

void append_ids_record(std::string& out, const DocumentIds& doc,
                       std::span<const std::string> fields, bool offsets) {
  const bool keyed = !fields.empty();
  if (keyed) out += '{';
  for (size_t f = 0; f < doc.ids.size(); ++f) {
    if (keyed) {
      if (f) out += ',';
      append_json_string(out, fields[f]);
      out += ':';
    }
    if (offsets)
      append_ids_offsets(out, doc.ids[f], doc.offsets[f]);
    else
      append_ids(out, doc.ids[f]);
  }
  if (keyed) out += '}';
}

std::unique_ptr<OutputWriter> make_ids_jsonl_writer(const OutputTarget& output,
                                                    std::vector<std::string> fields, bool offsets) {
  return std::make_unique<IdsJsonlWriter>(output, std::move(fields), offsets);
}

}  // namespace qkv::io
