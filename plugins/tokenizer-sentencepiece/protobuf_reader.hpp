// A minimal protobuf wire-format reader: enough to walk a ModelProto without protoc.
#pragma once

#include <cstdint>
#include <string_view>

namespace qkv::sentencepiece {

// Reads the fields of one message in order. Throws std::runtime_error on truncated or
// malformed input (never reads past the buffer).
class ProtobufReader {
 public:
  explicit ProtobufReader(std::string_view bytes) : data_(bytes) {}

  // Advances to the next field; false at the end of the message.
  bool next();
  uint32_t field() const { return field_; }
  uint32_t wire_type() const { return wire_; }

  // The current field's value; each checks the wire type.
  uint64_t varint() const;
  bool boolean() const { return varint() != 0; }
  int32_t int32() const { return static_cast<int32_t>(varint()); }
  float fixed32_float() const;
  std::string_view bytes() const;  // length-delimited: strings, bytes, sub-messages

 private:
  uint64_t read_varint();
  std::string_view data_;
  size_t pos_ = 0;
  uint32_t field_ = 0, wire_ = 0;
  uint64_t value_ = 0;        // varint / fixed value
  std::string_view payload_;  // length-delimited value
};

}  // namespace qkv::sentencepiece
