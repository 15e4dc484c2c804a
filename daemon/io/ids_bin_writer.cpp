// Token ids for training (docs/formats.md ".bin + .idx.npy"): the ids of every document back to
// back (each followed by the separator), and the int64 offsets where each document starts.
#include "formats.hpp"
#include "npy_header.hpp"
#include "output_set.hpp"
#include "output_writer.hpp"

namespace qkv::io {
namespace {

class IdsBinWriter final : public OutputWriter {
 public:
  IdsBinWriter(const OutputTarget& output, bool wide, std::optional<int32_t> separator)
      : outputs_(output), main_(outputs_.add(output.main)), wide_(wide), separator_(separator) {}

  int64_t append_document(std::string& chunk, const DocumentIds& doc) const override {
    return append_training_ids(chunk, doc.ids[0], wide_, separator_);
  }
  void write_chunk(const ChunkOutput& chunk) override {
    main_.write(chunk.bytes);
    for (int64_t n : chunk.doc_tokens) starts_.push_back(starts_.back() + n);
  }
  AtomicFile& add_companion(std::string_view suffix) override {
    return outputs_.add(outputs_.companion(suffix));
  }
  void retire_companion(std::string_view suffix) override {
    outputs_.retire(outputs_.companion(suffix));
  }
  std::string dtype() const override { return wide_ ? "uint32" : "uint16"; }
  std::vector<std::filesystem::path> commit(nlohmann::json manifest) override {
    auto& idx = outputs_.add(outputs_.companion(".idx.npy"));
    const int64_t shape[1] = {static_cast<int64_t>(starts_.size())};
    idx.write(npy_header("<i8", shape));
    idx.write(std::string_view(reinterpret_cast<const char*>(starts_.data()),
                               starts_.size() * sizeof(int64_t)));
    return outputs_.commit(std::move(manifest));
  }

 private:
  OutputSet outputs_;
  AtomicFile& main_;
  bool wide_;
  std::optional<int32_t> separator_;
  std::vector<int64_t> starts_{0};
};

}  // namespace

int64_t append_training_ids(std::string& out, std::span<const int32_t> ids, bool wide,
                            std::optional<int32_t> separator) {
  append_bin_ids(out, ids, wide);
  if (!separator || (!ids.empty() && ids.back() == *separator))
    return static_cast<int64_t>(ids.size());
  const int32_t sep[1] = {*separator};
  append_bin_ids(out, sep, wide);
  return static_cast<int64_t>(ids.size()) + 1;
}

std::unique_ptr<OutputWriter> make_ids_bin_writer(const OutputTarget& output, bool wide,
                                                  std::optional<int32_t> separator) {
  return std::make_unique<IdsBinWriter>(output, wide, separator);
}

}  // namespace qkv::io
