// Token ids for training (docs/formats.md ".bin + .idx.npy"): the ids of every document back to
// back, and the int64 offsets where each document starts.
#include "formats.hpp"
#include "npy_header.hpp"
#include "output_set.hpp"
#include "output_writer.hpp"

namespace qkv::io {
namespace {

class IdsBinWriter final : public OutputWriter {
 public:
  IdsBinWriter(const OutputTarget& output, bool wide)
      : outputs_(output), main_(outputs_.add(output.main)), wide_(wide) {}

  void append_document(std::string& chunk, const DocumentIds& doc) const override {
    append_bin_ids(chunk, doc.ids[0], wide_);
  }
  void write_chunk(const ChunkOutput& chunk) override {
    main_.write(chunk.bytes);
    for (int64_t n : chunk.doc_tokens) starts_.push_back(starts_.back() + n);
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
  std::vector<int64_t> starts_{0};
};

}  // namespace

std::unique_ptr<OutputWriter> make_ids_bin_writer(const OutputTarget& output, bool wide) {
  return std::make_unique<IdsBinWriter>(output, wide);
}

}  // namespace qkv::io
