// Token ids as JSON lines (docs/formats.md "ids jsonl"): one record per document.
#include "formats.hpp"
#include "output_set.hpp"
#include "output_writer.hpp"

namespace qkv::io {
namespace {

class IdsJsonlWriter final : public OutputWriter {
 public:
  IdsJsonlWriter(const OutputTarget& output, std::vector<std::string> fields, bool offsets,
                 bool inline_id)
      : outputs_(output),
        main_(outputs_.add(output.main)),
        fields_(std::move(fields)),
        offsets_(offsets),
        inline_id_(inline_id) {}

  bool wants_offsets() const override { return offsets_; }
  int64_t append_document(std::string& chunk, const DocumentIds& doc) const override {
    return append_ids_line(chunk, doc, fields_, offsets_, inline_id_);
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
  std::vector<std::string> fields_;
  bool offsets_;
  bool inline_id_;
};

}  // namespace

void append_ids_record(std::string& out, const DocumentIds& doc,
                       std::span<const std::string> fields, bool offsets, bool inline_id) {
  const bool keyed = !fields.empty();
  if (inline_id) {
    out += "{\"id\":";
    out += doc.id.empty() ? std::string_view("null") : doc.id;
    out += ',';
    if (!keyed && !offsets) {
      out += "\"ids\":";
      append_ids(out, doc.ids[0]);
      out += '}';
      return;
    }
    // An object record anyway: its keys follow the id (erasing its '{' moves this record only).
    const size_t at = out.size();
    append_ids_record(out, doc, fields, offsets, false);
    out.erase(at, 1);
    return;
  }
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

int64_t append_ids_line(std::string& out, const DocumentIds& doc,
                        std::span<const std::string> fields, bool offsets, bool inline_id) {
  append_ids_record(out, doc, fields, offsets, inline_id);
  out += '\n';
  int64_t n = 0;
  for (const auto& f : doc.ids) n += static_cast<int64_t>(f.size());
  return n;
}

std::unique_ptr<OutputWriter> make_ids_jsonl_writer(const OutputTarget& output,
                                                    std::vector<std::string> fields, bool offsets,
                                                    bool inline_id) {
  return std::make_unique<IdsJsonlWriter>(output, std::move(fields), offsets, inline_id);
}

}  // namespace qkv::io
