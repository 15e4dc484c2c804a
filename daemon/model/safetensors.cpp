#include "model/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "model/error.hpp"

namespace qkv::model {

namespace {

struct DTypeName {
  std::string_view name;
  DType type;
  size_t size;
};
constexpr DTypeName kDTypes[] = {{"F64", DType::F64, 8}, {"F32", DType::F32, 4},
                                 {"F16", DType::F16, 2}, {"BF16", DType::BF16, 2},
                                 {"I64", DType::I64, 8}, {"I32", DType::I32, 4},
                                 {"I16", DType::I16, 2}, {"I8", DType::I8, 1},
                                 {"U8", DType::U8, 1},   {"BOOL", DType::BOOL, 1}};

[[noreturn]] void fail(std::string_view where, const std::string& what) {
  throw ModelError(std::string(where) + ": " + what);
}

uint64_t read_u64_le(std::span<const std::byte> b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i]);
  return v;
}

// IEEE half -> float, exact for every input (subnormals, inf, nan included).
float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalize
    exp = 113;
    while (!(mant & 0x400u)) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

size_t dtype_size(DType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d.size;
  return 0;
}

std::string_view dtype_name(DType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d.name;
  return "?";
}

uint64_t TensorEntry::elements() const {
  uint64_t n = 1;
  for (int64_t s : shape) n *= static_cast<uint64_t>(s);
  return n;
}

SafetensorsHeader parse_safetensors(std::span<const std::byte> file, std::string_view where) {
  if (file.size() < 8)
    fail(where, "truncated safetensors file: " + std::to_string(file.size()) +
                    " bytes, the 8-byte header length is missing");
  const uint64_t n = read_u64_le(file.first(8));
  if (n > kMaxSafetensorsHeader)
    fail(where, "safetensors header length " + std::to_string(n) + " exceeds the limit of " +
                    std::to_string(kMaxSafetensorsHeader) + " bytes");
  if (n > file.size() - 8)
    fail(where, "truncated safetensors file: header says " + std::to_string(n) +
                    " bytes of JSON, only " + std::to_string(file.size() - 8) + " follow");
  const auto* text = reinterpret_cast<const char*>(file.data() + 8);

  // Duplicate top-level names would silently shadow each other: refuse them.
  std::set<std::string> seen;
  std::string duplicate;
  auto cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& v) {
    if (ev == nlohmann::json::parse_event_t::key && depth == 1 && v.is_string()) {
      if (!seen.insert(v.get<std::string>()).second && duplicate.empty())
        duplicate = v.get<std::string>();
    }
    return true;
  };
  nlohmann::json j = nlohmann::json::parse(text, text + n, cb, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail(where, "safetensors header is not well-formed JSON");
  if (!j.is_object()) fail(where, "safetensors header is not a JSON object");
  if (!duplicate.empty()) fail(where, "safetensors header names tensor '" + duplicate + "' twice");

  SafetensorsHeader h;
  h.data_start = 8 + n;
  const uint64_t data_size = file.size() - h.data_start;
  for (auto& [name, val] : j.items()) {
    if (name == "__metadata__") {
      if (!val.is_object()) fail(where, "__metadata__ is not an object");
      for (auto& [k, v] : val.items()) {
        if (!v.is_string()) fail(where, "__metadata__." + k + " is not a string");
        h.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string at = "tensor '" + name + "': ";
    if (!val.is_object()) fail(where, at + "entry is not an object");
    TensorEntry t;
    t.name = name;
    auto dt = val.find("dtype");
    if (dt == val.end() || !dt->is_string()) fail(where, at + "missing string 'dtype'");
    const auto& dname = dt->get_ref<const std::string&>();
    auto it = std::find_if(std::begin(kDTypes), std::end(kDTypes),
                           [&](const DTypeName& d) { return d.name == dname; });
    if (it == std::end(kDTypes)) fail(where, at + "unknown dtype '" + dname + "'");
    t.dtype = it->type;
    auto sh = val.find("shape");
    if (sh == val.end() || !sh->is_array()) fail(where, at + "missing array 'shape'");
    uint64_t bytes = it->size;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 62))
        fail(where, at + "shape entries must be non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      if (__builtin_mul_overflow(bytes, dim, &bytes)) fail(where, at + "shape overflows 64 bits");
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    auto off = val.find("data_offsets");
    if (off == val.end() || !off->is_array() || off->size() != 2 ||
        !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
      fail(where, at + "'data_offsets' must be two non-negative integers");
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.begin > t.end) fail(where, at + "data_offsets begin > end");
    if (t.end > data_size)
      fail(where, at + "data_offsets end " + std::to_string(t.end) + " is past the " +
                      std::to_string(data_size) + " data bytes (file truncated?)");
    if (t.end - t.begin != bytes)
      fail(where, at + "dtype " + dname + " x shape needs " + std::to_string(bytes) +
                      " bytes, data_offsets span " + std::to_string(t.end - t.begin));
    h.tensors.push_back(std::move(t));
  }
  // No two tensors may share bytes.
  std::vector<const TensorEntry*> by_offset;
  for (const auto& t : h.tensors)
    if (t.end > t.begin) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      fail(where,
           "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
  std::sort(h.tensors.begin(), h.tensors.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.name < b.name; });
  return h;
}

void convert_to_f32(DType dtype, std::span<const std::byte> bytes, std::span<float> out) {
  const size_t n = out.size();
  if (bytes.size() != n * dtype_size(dtype))
    throw ModelError("convert_to_f32: byte count does not match element count");
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  switch (dtype) {
    case DType::F32:
      std::memcpy(out.data(), p, n * 4);  // little-endian host
      return;
    case DType::F16:
      for (size_t i = 0; i < n; ++i)
        out[i] = half_to_float(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
      return;
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        const uint32_t bits = static_cast<uint32_t>(p[2 * i] | (p[2 * i + 1] << 8)) << 16;
        std::memcpy(&out[i], &bits, 4);
      }
      return;
    default:
      throw ModelError("dtype " + std::string(dtype_name(dtype)) +
                       " cannot be read as float (supported: F32, F16, BF16)");
  }
}

// ---------------------------------------------------------------- mapped file

struct SafetensorsFile::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr) ::munmap(addr, size);
  }
};

SafetensorsFile::~SafetensorsFile() = default;
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string where = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(where, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(where, "not a regular file");
  }
  SafetensorsFile f;
  f.path_ = path;
  f.map_ = std::make_unique<Mapping>();
  if (st.st_size > 0) {
    void* a = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (a == MAP_FAILED) {
      ::close(fd);
      fail(where, std::string("mmap failed: ") + std::strerror(errno));
    }
    f.map_->addr = a;
    f.map_->size = static_cast<size_t>(st.st_size);
  }
  ::close(fd);
  f.header_ = parse_safetensors({static_cast<const std::byte*>(f.map_->addr), f.map_->size}, where);
  return f;
}

const TensorEntry* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(header_.tensors.begin(), header_.tensors.end(), name,
                             [](const TensorEntry& t, std::string_view n) { return t.name < n; });
  return it != header_.tensors.end() && it->name == name ? &*it : nullptr;
}

std::span<const std::byte> SafetensorsFile::bytes(const TensorEntry& t) const {
  const auto* base = static_cast<const std::byte*>(map_->addr) + header_.data_start;
  return {base + t.begin, static_cast<size_t>(t.end - t.begin)};
}

std::vector<float> SafetensorsFile::to_f32(const TensorEntry& t) const {
  std::vector<float> out(t.elements());
  try {
    convert_to_f32(t.dtype, bytes(t), out);
  } catch (const ModelError& e) {
    fail(path_.string(), "tensor '" + t.name + "': " + e.what());
  }
  return out;
}

}  // namespace qkv::model
