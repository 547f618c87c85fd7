// Elements on the wire: a vector of elements is sent as its bytes (little-endian, kBytes each).
// from_bytes() validates what a peer sent: the length must be exactly `count` elements and, for
// the fields, every value must be a canonical representative below p; otherwise it throws
// ProtocolError naming the sender and the step.
#pragma once

#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "mpc/mersenne.hpp"
#include "mpc/ring64.hpp"
#include "net/errors.hpp"
#include "net/mesh.hpp"

namespace sm::mpc {

template <class E>
net::ByteView as_bytes(std::span<const E> values) {
  return {reinterpret_cast<const std::uint8_t*>(values.data()), values.size() * E::kBytes};
}

template <class E>
bool is_canonical(const E& value) {
  if constexpr (std::is_same_v<E, Ring64>) {
    return true;
  } else {
    return value.value() < E::kModulus;
  }
}

template <class E>
std::vector<E> from_bytes(net::ByteView bytes, std::size_t count, const std::string& sender,
                          std::string_view step) {
  if (bytes.size() != count * E::kBytes) {
    throw ProtocolError("malformed message from " + sender + " in step '" + std::string(step) +
                        "': expected " + std::to_string(count) + " elements of " + E::kName +
                        " (" + std::to_string(count * E::kBytes) + " bytes), got " +
                        std::to_string(bytes.size()) + " bytes");
  }
  std::vector<E> values(count);
  if (count > 0) std::memcpy(values.data(), bytes.data(), bytes.size());
  for (std::size_t i = 0; i < count; ++i) {
    if (!is_canonical(values[i])) {
      throw ProtocolError("malformed message from " + sender + " in step '" + std::string(step) +
                          "': element " + std::to_string(i) + " is not in " + E::kName);
    }
  }
  return values;
}

}  // namespace sm::mpc
