// Little-endian encoding of small structured messages (session hellos, headers).
//
// ByteWriter appends; ByteReader consumes and throws ProtocolError naming `what` (the message
// being decoded) when the bytes end early or a length is implausible, so a malformed message
// never reads out of bounds or allocates without limit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "net/errors.hpp"
#include "net/mesh.hpp"

namespace sm::net {

class ByteWriter {
 public:
  void u32(std::uint32_t value) { put(value, 4); }
  void u64(std::uint64_t value) { put(value, 8); }
  void bytes(ByteView data) { out_.insert(out_.end(), data.begin(), data.end()); }
  void string(std::string_view text) {
    u32(static_cast<std::uint32_t>(text.size()));
    out_.insert(out_.end(), text.begin(), text.end());
  }
  Bytes take() { return std::move(out_); }

 private:
  void put(std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) out_.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
  Bytes out_;
};

class ByteReader {
 public:
  ByteReader(ByteView data, std::string what) : data_(data), what_(std::move(what)) {}

  std::uint32_t u32() { return static_cast<std::uint32_t>(get(4)); }
  std::uint64_t u64() { return get(8); }
  ByteView bytes(std::size_t count) {
    need(count);
    ByteView view = data_.subspan(offset_, count);
    offset_ += count;
    return view;
  }
  std::string string() {
    const std::uint32_t length = u32();
    ByteView view = bytes(length);
    return std::string(view.begin(), view.end());
  }
  bool done() const { return offset_ == data_.size(); }
  // Throws unless every byte was consumed.
  void expect_end() const {
    if (!done()) throw ProtocolError("malformed " + what_ + ": trailing bytes");
  }

 private:
  void need(std::size_t count) const {
    if (count > data_.size() - offset_) throw ProtocolError("malformed " + what_ + ": truncated");
  }
  std::uint64_t get(int width) {
    need(static_cast<std::size_t>(width));
    std::uint64_t value = 0;
    for (int i = 0; i < width; ++i) value |= std::uint64_t{data_[offset_ + i]} << (8 * i);
    offset_ += static_cast<std::size_t>(width);
    return value;
  }
  ByteView data_;
  std::size_t offset_ = 0;
  std::string what_;
};

}  // namespace sm::net
