// Shared by the model tests: an independent double-precision attention, fixture access and
// the parity tolerance |a - b| <= 1e-5 + 1e-4 * max|ref|.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "model/components.hpp"
#include "model/safetensors.hpp"

namespace qkv::model::testing {

inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(QKV_SOURCE_DIR) / "tests/model/fixtures" / name;
}

// softmax(q k^T * scale + mask) v straight from the definition, in double.
class NaiveAttention final : public Attention {
 public:
  void forward(const qkv_attention_args& a) const override {
    const size_t hd = a.head_dim, group = a.heads_q / a.heads_kv;
    const size_t qs = a.q_stride ? a.q_stride : a.heads_q * hd;
    const size_t ks = a.k_stride ? a.k_stride : a.heads_kv * hd;
    const size_t vs = a.v_stride ? a.v_stride : a.heads_kv * hd;
    const size_t os = a.out_stride ? a.out_stride : a.heads_q * hd;
    const double scale = a.scale != 0 ? a.scale : 1.0 / std::sqrt(double(hd));
    for (uint32_t b = 0; b < a.batch; ++b) {
      const int32_t q0 = a.cu_seqlens_q[b], lq = a.cu_seqlens_q[b + 1] - q0;
      const int32_t k0 = a.cu_seqlens_k[b], lk = a.cu_seqlens_k[b + 1] - k0;
      for (uint32_t h = 0; h < a.heads_q; ++h)
        for (int32_t i = 0; i < lq; ++i) {
          // Keys [first, visible): causal and sliding-window masks are bottom-right aligned.
          const bool causal = a.mask == QKV_MASK_CAUSAL || a.mask == QKV_MASK_SLIDING_WINDOW;
          const int32_t visible = causal ? std::min(lk, i + lk - lq + 1) : lk;
          const int32_t first = a.mask == QKV_MASK_SLIDING_WINDOW
                                    ? std::max(0, visible - static_cast<int32_t>(a.window))
                                    : 0;
          std::vector<double> s(std::max(visible, 0));
          double mx = -1e300, sum = 0;
          for (int32_t j = first; j < visible; ++j) {
            double dot = 0;
            for (size_t c = 0; c < hd; ++c)
              dot += double(a.q[(q0 + i) * qs + h * hd + c]) *
                     a.k[(k0 + j) * ks + (h / group) * hd + c];
            s[j] = dot * scale;
            mx = std::max(mx, s[j]);
          }
          for (int32_t j = first; j < visible; ++j) sum += (s[j] = std::exp(s[j] - mx));
          for (size_t c = 0; c < hd; ++c) {
            double acc = 0;
            for (int32_t j = first; j < visible; ++j)
              acc += s[j] * a.v[(k0 + j) * vs + (h / group) * hd + c];
            a.out[(q0 + i) * os + h * hd + c] = visible > 0 ? float(acc / sum) : 0.0f;
          }
        }
    }
  }
};

// A fixture's expected.safetensors.
class Expected {
 public:
  explicit Expected(const std::string& model)
      : f_(SafetensorsFile::open(fixture(model) / "expected.safetensors")) {}
  std::vector<float> floats(const std::string& name) const { return f_.to_f32(entry(name)); }
  std::vector<int32_t> ints(const std::string& name) const {
    const auto& e = entry(name);
    EXPECT_EQ(e.dtype, DType::I32);
    std::vector<int32_t> v(e.elements());
    std::memcpy(v.data(), f_.bytes(e).data(), v.size() * 4);
    return v;
  }
  std::vector<int64_t> shape(const std::string& name) const { return entry(name).shape; }

 private:
  const TensorEntry& entry(const std::string& name) const {
    const auto* e = f_.find(name);
    if (!e) throw std::runtime_error("fixture has no tensor " + name);
    return *e;
  }
  SafetensorsFile f_;
};

// The fp32 parity bound.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& ref,
                         const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  float mx = 0;
  for (float r : ref)
    if (!std::isnan(r)) mx = std::max(mx, std::abs(r));
  const float tol = 1e-5f + 1e-4f * mx;
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(ref[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " row " << i;
      continue;
    }
    if (!(std::abs(got[i] - ref[i]) <= tol) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", torch " << ref[i] << " (tol "
                    << tol << ")";
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " values outside the bound";
}

}  // namespace qkv::model::testing
