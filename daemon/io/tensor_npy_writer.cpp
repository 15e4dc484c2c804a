// Model outputs as .npy (docs/formats.md): X<suffix>.npy float32 [rows, width] (or [rows] for
// per-token scalars) per tensor, and X<suffix>.offsets.npy, the int64 first row of each document,
// for per-token tensors. The row count is known only at the end: the header is written first
// with the count so far and rewritten in place (its size does not depend on the count).
#include <algorithm>

#include "npy_header.hpp"
#include "output_set.hpp"
#include "output_writer.hpp"

namespace qkv::io {
namespace {

class TensorNpyWriter final : public OutputWriter {
 public:
  TensorNpyWriter(const OutputTarget& output, bool windows)
      : outputs_(output), with_windows_(windows) {}

  int64_t append_document(std::string&, const DocumentIds&) const override { return 0; }
  void write_chunk(const ChunkOutput& chunk) override {
    if (tensors_.empty()) {
      for (const auto& t : chunk.tensors) {
        Tensor d;
        d.width = t.width;
        d.file = &outputs_.add(outputs_.companion(std::string(t.suffix) + ".npy"));
        d.file->write(npy_header("<f4", d.shape()));
        if (!t.per_document)
          d.offsets_file =
              &outputs_.add(outputs_.companion(std::string(t.suffix) + ".offsets.npy"));
        tensors_.push_back(d);
      }
    }
    windows_.insert(windows_.end(), chunk.windows.begin(), chunk.windows.end());
    for (size_t i = 0; i < tensors_.size() && i < chunk.tensors.size(); ++i) {
      const TensorRows& t = chunk.tensors[i];
      Tensor& d = tensors_[i];
      d.file->write(std::string_view(reinterpret_cast<const char*>(t.values.data()),
                                     t.values.size() * sizeof(float)));
      d.rows += static_cast<int64_t>(t.values.size() / std::max<uint32_t>(1, t.width));
      for (int64_t n : t.row_counts) d.offsets.push_back(d.offsets.back() + n);
    }
  }
  AtomicFile& add_companion(std::string_view suffix) override {
    return outputs_.add(outputs_.companion(suffix));
  }
  void retire_companion(std::string_view suffix) override {
    outputs_.retire(outputs_.companion(suffix));
  }
  std::string dtype() const override { return "float32"; }
  std::vector<std::filesystem::path> commit(nlohmann::json manifest) override {
    if (tensors_.empty()) {  // no documents: an empty main array
      auto& f = outputs_.add(outputs_.companion(".npy"));
      const int64_t shape[1] = {0};
      f.write(npy_header("<f4", shape));
    }
    if (with_windows_) {  // after the tensors: the main output stays the first file
      auto& f = outputs_.add(outputs_.companion(".windows.npy"));
      const int64_t shape[2] = {static_cast<int64_t>(windows_.size() / 3), 3};
      f.write(npy_header("<i8", shape));
      f.write(std::string_view(reinterpret_cast<const char*>(windows_.data()),
                               windows_.size() * sizeof(int64_t)));
    }
    for (auto& d : tensors_) {
      d.file->write_at(0, npy_header("<f4", d.shape()));
      if (d.offsets_file) {
        const int64_t shape[1] = {static_cast<int64_t>(d.offsets.size())};
        d.offsets_file->write(npy_header("<i8", shape));
        d.offsets_file->write(std::string_view(reinterpret_cast<const char*>(d.offsets.data()),
                                               d.offsets.size() * sizeof(int64_t)));
      }
    }
    return outputs_.commit(std::move(manifest));
  }

 private:
  struct Tensor {
    AtomicFile* file = nullptr;
    AtomicFile* offsets_file = nullptr;
    uint32_t width = 0;
    int64_t rows = 0;
    std::vector<int64_t> offsets{0};
    // [rows, width], or [rows] for per-token scalars.
    std::vector<int64_t> shape() const {
      std::vector<int64_t> s{rows};
      if (width != 1) s.push_back(width);
      return s;
    }
  };
  OutputSet outputs_;
  std::vector<Tensor> tensors_;
  bool with_windows_;
  std::vector<int64_t> windows_;  // 3 per row, kept to the end (a few bytes per window)
};

}  // namespace

std::unique_ptr<OutputWriter> make_tensor_npy_writer(const OutputTarget& output, bool windows) {
  return std::make_unique<TensorNpyWriter>(output, windows);
}

}  // namespace qkv::io
