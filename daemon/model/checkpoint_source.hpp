// Reading a checkpoint's tensors by name with shape checks, and the layout conversions every
// loader needs (daemon/model/weights.cpp, hf_llama.cpp): errors name the file, the tensor, the
// expected and the found shape.
#pragma once

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "model/error.hpp"
#include "model/safetensors.hpp"
#include "model/weights.hpp"

namespace qkv::model::checkpoint {

inline std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Tensor access with a name prefix and shape checks; each tensor read is noted in `read` when
// given (ModelWeights::tensors_read: what `qkvd models inspect` reports as ignored is the rest).
class Source {
 public:
  Source(const SafetensorsFile& f, std::string prefix, std::set<std::string>* read = nullptr)
      : f_(f), prefix_(std::move(prefix)), read_(read) {}

  bool has(const std::string& name) const { return f_.find(prefix_ + name) != nullptr; }

  std::vector<float> get(const std::string& name, const std::vector<int64_t>& shape) const {
    return f_.to_f32(entry(name, shape));
  }

  // The full name of a tensor that must exist with `shape`, for those read later by name.
  std::string checked_name(const std::string& name, const std::vector<int64_t>& shape) const {
    entry(name, shape);
    return prefix_ + name;
  }

 private:
  const TensorEntry& entry(const std::string& name, const std::vector<int64_t>& shape) const {
    const auto full = prefix_ + name;
    const TensorEntry* t = f_.find(full);
    if (!t)
      throw ModelError(f_.path().string() + ": missing tensor '" + full + "' " + shape_str(shape));
    if (t->shape != shape)
      throw ModelError(f_.path().string() + ": tensor '" + full + "' has shape " +
                       shape_str(t->shape) + ", expected " + shape_str(shape));
    if (read_) read_->insert(full);
    return *t;
  }

  const SafetensorsFile& f_;
  std::string prefix_;
  std::set<std::string>* read_;
};

// nn.Linear stores [out, in]; the runtime wants [in, out].
inline std::vector<float> transpose(const std::vector<float>& w, size_t rows, size_t cols) {
  std::vector<float> t(w.size());
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) t[c * rows + r] = w[r * cols + c];
  return t;
}

inline Linear linear_out_in(const Source& s, const std::string& name, uint32_t in, uint32_t out,
                            bool bias = true) {
  Linear l{in, out, transpose(s.get(name + ".weight", {out, in}), out, in), {}};
  if (bias) l.b = s.get(name + ".bias", {out});
  return l;
}

// Concatenates [d, a] and [d, b] column blocks into [d, a+b].
inline Linear concat_cols(const std::vector<const Linear*>& parts) {
  Linear l;
  l.in = parts[0]->in;
  for (auto* p : parts) l.out += p->out;
  l.w.resize(size_t(l.in) * l.out);
  uint32_t c0 = 0;
  for (auto* p : parts) {
    for (size_t r = 0; r < l.in; ++r)
      std::copy_n(p->w.begin() + r * p->out, p->out, l.w.begin() + r * l.out + c0);
    l.b.insert(l.b.end(), p->b.begin(), p->b.end());
    c0 += p->out;
  }
  return l;
}

inline Norm norm(const Source& s, const std::string& name, uint32_t d, bool bias,
                 const char* w = "weight", const char* b = "bias") {
  Norm n;
  n.gamma = s.get(name + "." + w, {d});
  if (bias) n.beta = s.get(name + "." + b, {d});
  return n;
}

}  // namespace qkv::model::checkpoint
