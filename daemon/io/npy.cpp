#include "npy.hpp"

#include <bit>
#include <cstring>
#include <fstream>
#include <sstream>
#include <type_traits>

namespace qkv::io {
namespace {

static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

template <class T>
constexpr const char* descr() {
  if constexpr (std::is_same_v<T, float>)
    return "<f4";
  else if constexpr (std::is_same_v<T, int32_t>)
    return "<i4";
  else if constexpr (std::is_same_v<T, int64_t>)
    return "<i8";
  else
    static_assert(sizeof(T) == 0, "unsupported npy element type");
}

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw NpyError(file.string() + ": " + what);
}

// The value text of 'key' in the header dict, e.g. "'<f4'" or "(3, 4)".
std::string field(const std::string& header, const std::string& key,
                  const std::filesystem::path& file) {
  auto at = header.find("'" + key + "'");
  if (at == std::string::npos) fail(file, "npy header has no '" + key + "'");
  auto colon = header.find(':', at);
  if (colon == std::string::npos) fail(file, "npy header is malformed near '" + key + "'");
  size_t begin = header.find_first_not_of(' ', colon + 1);
  if (begin == std::string::npos) fail(file, "npy header is malformed near '" + key + "'");
  size_t end;
  if (header[begin] == '(')
    end = header.find(')', begin) + 1;
  else if (header[begin] == '\'')
    end = header.find('\'', begin + 1) + 1;
  else
    end = header.find_first_of(",}", begin);
  if (end == std::string::npos || end == 0)
    fail(file, "npy header is malformed near '" + key + "'");
  return header.substr(begin, end - begin);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::filesystem::path& file) {
  std::vector<int64_t> shape;
  std::string inner = text.substr(1, text.size() - 2);
  std::stringstream in(inner);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto b = item.find_first_not_of(' ');
    if (b == std::string::npos) continue;
    try {
      size_t used = 0;
      long long v = std::stoll(item.substr(b), &used);
      if (v < 0) throw std::invalid_argument("negative");
      shape.push_back(v);
    } catch (const std::exception&) {
      fail(file, "npy shape " + text + " is not a tuple of sizes");
    }
  }
  return shape;
}

}  // namespace

int64_t NpyArray::elements() const noexcept {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

size_t NpyArray::item_size() const {
  if (dtype.size() < 3) throw NpyError("unsupported npy dtype '" + dtype + "'");
  return static_cast<size_t>(std::stoul(dtype.substr(2)));
}

template <class T>
std::vector<T> NpyArray::as() const {
  if (dtype != descr<T>())
    throw NpyError(std::string("npy array has dtype '") + dtype + "', expected '" + descr<T>() +
                   "'");
  std::vector<T> out(static_cast<size_t>(elements()));
  std::memcpy(out.data(), data.data(), out.size() * sizeof(T));
  return out;
}
template std::vector<float> NpyArray::as<float>() const;
template std::vector<int32_t> NpyArray::as<int32_t>() const;
template std::vector<int64_t> NpyArray::as<int64_t>() const;

NpyArray read_npy(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open for reading");
  return read_npy(in, file);
}

NpyArray read_npy(std::istream& in, const std::filesystem::path& file) {
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    fail(file, "not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) fail(file, "truncated npy header");
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) fail(file, "truncated npy header");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t{b[3]} << 24);
  } else {
    fail(file, "unsupported npy version " + std::to_string(major));
  }
  if (header_len > (1u << 20)) fail(file, "npy header too large");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) fail(file, "truncated npy header");

  NpyArray a;
  std::string d = field(header, "descr", file);
  a.dtype = d.size() >= 2 ? d.substr(1, d.size() - 2) : d;
  if (a.dtype != "<f4" && a.dtype != "<i4" && a.dtype != "<i8" && a.dtype != "<f8")
    fail(file, "unsupported dtype '" + a.dtype + "' (need little-endian f4, f8, i4 or i8)");
  if (field(header, "fortran_order", file) != "False")
    fail(file, "Fortran-ordered arrays are not supported");
  std::string shape = field(header, "shape", file);
  if (shape.empty() || shape.front() != '(') fail(file, "npy shape is not a tuple");
  a.shape = parse_shape(shape, file);

  const int64_t n = a.elements();
  const size_t item = a.item_size();
  if (n < 0 || static_cast<uint64_t>(n) > (uint64_t{1} << 40) / item)
    fail(file, "npy array too large");
  a.data.resize(static_cast<size_t>(n) * item);
  if (!in.read(reinterpret_cast<char*>(a.data.data()), static_cast<std::streamsize>(a.data.size())))
    fail(file, "truncated npy data: expected " + std::to_string(a.data.size()) + " bytes");
  return a;
}

void write_npy(const std::filesystem::path& file, const std::string& dtype,
               std::span<const int64_t> shape, std::span<const std::byte> data) {
  if (dtype != "<f4" && dtype != "<i4" && dtype != "<i8")
    throw NpyError(file.string() + ": cannot write dtype '" + dtype + "'");
  int64_t n = 1;
  std::string dims;  // numpy's spelling: "()", "(3,)", "(3, 4)"
  for (size_t i = 0; i < shape.size(); ++i) {
    n *= shape[i];
    dims += (i ? ", " : "") + std::to_string(shape[i]);
  }
  if (shape.size() == 1) dims += ",";
  const size_t item = static_cast<size_t>(std::stoul(dtype.substr(2)));
  if (static_cast<size_t>(n) * item != data.size())
    throw NpyError(file.string() + ": data size does not match the shape");
  std::string header =
      "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad with spaces so magic + length + header + '\n' is a multiple of 64 bytes.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw NpyError(file.string() + ": cannot open for writing");
  out.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {static_cast<char>(header.size() & 0xff),
                       static_cast<char>(header.size() >> 8)};
  out.write(len, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out.flush()) throw NpyError(file.string() + ": write failed");
}

template <class T>
void write_npy(const std::filesystem::path& file, std::span<const int64_t> shape,
               std::span<const T> values) {
  write_npy(file, descr<T>(), shape, std::as_bytes(values));
}
template void write_npy<float>(const std::filesystem::path&, std::span<const int64_t>,
                               std::span<const float>);
template void write_npy<int32_t>(const std::filesystem::path&, std::span<const int64_t>,
                                 std::span<const int32_t>);
template void write_npy<int64_t>(const std::filesystem::path&, std::span<const int64_t>,
                                 std::span<const int64_t>);

}  // namespace qkv::io
