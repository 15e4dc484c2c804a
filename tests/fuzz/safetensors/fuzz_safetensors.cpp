// libFuzzer target: any byte string given to the safetensors parser must either parse or
// raise ModelError; and every tensor a successful parse returns must convert within bounds.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "model/error.hpp"
#include "model/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto h = qkv::model::parse_safetensors(file, "fuzz");
    for (const auto& t : h.tensors) {
      if (t.elements() > (1u << 16)) continue;
      std::vector<float> out(t.elements());
      const auto bytes = file.subspan(h.data_start + t.begin, t.end - t.begin);
      try {
        qkv::model::convert_to_f32(t.dtype, bytes, out);
      } catch (const qkv::model::ModelError&) {
      }
    }
  } catch (const qkv::model::ModelError&) {
  }
  return 0;
}
