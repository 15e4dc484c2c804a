// Protobuf wire format: tag = (field << 3) | wire type; 0 varint, 1 fixed64, 2 length-delimited,
// 5 fixed32 (groups, 3 and 4, are not used by ModelProto and are refused).
#include "protobuf_reader.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

namespace qkv::sentencepiece {

uint64_t ProtobufReader::read_varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) throw std::runtime_error("protobuf: truncated varint");
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  throw std::runtime_error("protobuf: varint longer than 10 bytes");
}

bool ProtobufReader::next() {
  if (pos_ >= data_.size()) return false;
  const uint64_t tag = read_varint();
  field_ = static_cast<uint32_t>(tag >> 3);
  wire_ = static_cast<uint32_t>(tag & 7);
  if (field_ == 0) throw std::runtime_error("protobuf: field number 0");
  switch (wire_) {
    case 0:
      value_ = read_varint();
      break;
    case 1:
    case 5: {
      const size_t n = wire_ == 1 ? 8 : 4;
      if (data_.size() - pos_ < n) throw std::runtime_error("protobuf: truncated fixed field");
      value_ = 0;
      std::memcpy(&value_, data_.data() + pos_, n);  // little-endian host (x86-64, aarch64)
      pos_ += n;
      break;
    }
    case 2: {
      const uint64_t n = read_varint();
      if (n > data_.size() - pos_) throw std::runtime_error("protobuf: truncated bytes field");
      payload_ = data_.substr(pos_, n);
      pos_ += n;
      break;
    }
    default:
      throw std::runtime_error("protobuf: unsupported wire type " + std::to_string(wire_));
  }
  return true;
}

uint64_t ProtobufReader::varint() const {
  if (wire_ != 0)
    throw std::runtime_error("protobuf: field " + std::to_string(field_) + " is not a varint");
  return value_;
}

float ProtobufReader::fixed32_float() const {
  if (wire_ != 5)
    throw std::runtime_error("protobuf: field " + std::to_string(field_) + " is not a float");
  const auto bits = static_cast<uint32_t>(value_);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::string_view ProtobufReader::bytes() const {
  if (wire_ != 2)
    throw std::runtime_error("protobuf: field " + std::to_string(field_) +
                             " is not length-delimited");
  return payload_;
}

}  // namespace qkv::sentencepiece
