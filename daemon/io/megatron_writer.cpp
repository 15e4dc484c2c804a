// Token ids as Megatron-LM's indexed dataset (docs/formats.md "Megatron .bin + .idx"): X.bin
// holds the ids of every document back to back; X.idx is the MMIDIDX index: the 9-byte magic,
// version 1 (u64), the dtype code (u8: 8 = uint16, 4 = int32), the sequence count (u64), the
// document count + 1 (u64), then int32 sizes, int64 byte pointers per sequence and the int64
// document boundaries (one sequence per document, as preprocess_data.py writes without
// sentence splitting). All little-endian.
#include <cstring>

#include "formats.hpp"
#include "output_set.hpp"
#include "output_writer.hpp"

namespace qkv::io {
namespace {

constexpr char kMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};

template <class T>
void append_le(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // x86-64 and arm64 Linux are little-endian
  out.append(b, sizeof(T));
}

class MegatronWriter final : public OutputWriter {
 public:
  MegatronWriter(const OutputTarget& output, uint32_t vocab_size, std::optional<int32_t> separator)
      : outputs_(output),
        main_(outputs_.add(output.main)),
        wide_(vocab_size >= 65500),  // Megatron's best_fitting_dtype
        separator_(separator) {}

  int64_t append_document(std::string& chunk, const DocumentIds& doc) const override {
    return append_training_ids(chunk, doc.ids[0], wide_, separator_);
  }
  void write_chunk(const ChunkOutput& chunk) override {
    main_.write(chunk.bytes);
    for (int64_t n : chunk.doc_tokens) sizes_.push_back(static_cast<int32_t>(n));
  }
  AtomicFile& add_companion(std::string_view suffix) override {
    return outputs_.add(outputs_.companion(suffix));
  }
  void retire_companion(std::string_view suffix) override {
    outputs_.retire(outputs_.companion(suffix));
  }
  std::string dtype() const override { return wide_ ? "int32" : "uint16"; }
  std::vector<std::filesystem::path> commit(nlohmann::json manifest) override {
    auto& idx = outputs_.add(outputs_.companion(".idx"));
    const uint64_t n = sizes_.size();
    std::string head(kMagic, sizeof kMagic);
    append_le<uint64_t>(head, 1);
    head += static_cast<char>(wide_ ? 4 : 8);
    append_le<uint64_t>(head, n);
    append_le<uint64_t>(head, n + 1);
    idx.write(head);
    idx.write(std::string_view(reinterpret_cast<const char*>(sizes_.data()), n * sizeof(int32_t)));
    std::string tail;
    tail.reserve(n * 8 * 2 + 8);
    const int64_t item = wide_ ? 4 : 2;
    int64_t pointer = 0;
    for (int32_t s : sizes_) {
      append_le<int64_t>(tail, pointer);
      pointer += s * item;
    }
    for (uint64_t d = 0; d <= n; ++d) append_le<int64_t>(tail, static_cast<int64_t>(d));
    idx.write(tail);
    return outputs_.commit(std::move(manifest));
  }

 private:
  OutputSet outputs_;
  AtomicFile& main_;
  bool wide_;
  std::optional<int32_t> separator_;
  std::vector<int32_t> sizes_;
};

}  // namespace

std::unique_ptr<OutputWriter> make_megatron_writer(const OutputTarget& output, uint32_t vocab_size,
                                                   std::optional<int32_t> separator) {
  return std::make_unique<MegatronWriter>(output, vocab_size, separator);
}

}  // namespace qkv::io
