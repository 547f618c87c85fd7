// Elements on the wire: a vector of elements is sent as its bytes (little-endian, kBytes each).
//
// A peer's message is validated where it is read: its length must be exactly `count` elements
// and, for the fields, every value must be a canonical representative below p; otherwise the
// reader throws ProtocolError naming the sender and the step. from_bytes() copies a message into
// a new vector; add_from_bytes() and load_from_bytes() read it where it lies (no intermediate
// vector: the large openings of Beaver multiplication allocate nothing per peer this way).
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

// Throws ProtocolError unless a message of `length` bytes holds exactly `count` elements of E.
template <class E>
void check_message_length(std::size_t length, std::size_t count, const std::string& sender,
                          std::string_view step) {
  if (length != count * E::kBytes) {
    throw ProtocolError("malformed message from " + sender + " in step '" + std::string(step) +
                        "': expected " + std::to_string(count) + " elements of " + E::kName + " (" +
                        std::to_string(count * E::kBytes) + " bytes), got " +
                        std::to_string(length) + " bytes");
  }
}

// Throws ProtocolError unless `bytes` holds exactly `count` elements of E.
template <class E>
void check_length(net::ByteView bytes, std::size_t count, const std::string& sender,
                  std::string_view step) {
  check_message_length<E>(bytes.size(), count, sender, step);
}

template <class E>
[[noreturn]] void throw_not_canonical(std::size_t index, const std::string& sender,
                                      std::string_view step) {
  throw ProtocolError("malformed message from " + sender + " in step '" + std::string(step) +
                      "': element " + std::to_string(index) + " is not in " + E::kName);
}

// Elements [first, first + out.size()) of a message whose length check_length() accepted, into
// `out`, checking that each is canonical (`first` also numbers the elements in the error).
template <class E>
void load_from_bytes(net::ByteView bytes, std::size_t first, std::span<E> out,
                     const std::string& sender, std::string_view step) {
  if (out.empty()) return;
  std::memcpy(static_cast<void*>(out.data()), bytes.data() + first * E::kBytes,
              out.size() * E::kBytes);
  if constexpr (!std::is_same_v<E, Ring64>) {
    bool all_canonical = true;
    for (const E& value : out) all_canonical &= is_canonical(value);
    if (!all_canonical) {
      for (std::size_t i = 0; i < out.size(); ++i) {
        if (!is_canonical(out[i])) throw_not_canonical<E>(first + i, sender, step);
      }
    }
  }
}

// sum[i] += element i of the message `bytes` from `sender`, after checking its length and
// that every element is canonical; reads the message in place.
template <class E>
void add_from_bytes(std::span<E> sum, net::ByteView bytes, const std::string& sender,
                    std::string_view step) {
  check_length<E>(bytes, sum.size(), sender, step);
  constexpr std::size_t kBlock = 512;  // elements loaded at a time (L1-resident)
  E block[kBlock];
  for (std::size_t done = 0; done < sum.size(); done += kBlock) {
    const std::size_t count = std::min(kBlock, sum.size() - done);
    load_from_bytes<E>(bytes, done, std::span<E>(block, count), sender, step);
    for (std::size_t i = 0; i < count; ++i) sum[done + i] += block[i];
  }
}

// The message as a new vector of `count` elements, checked as above.
template <class E>
std::vector<E> from_bytes(net::ByteView bytes, std::size_t count, const std::string& sender,
                          std::string_view step) {
  check_length<E>(bytes, count, sender, step);
  std::vector<E> values(count);
  load_from_bytes<E>(bytes, 0, std::span<E>(values), sender, step);
  return values;
}

}  // namespace sm::mpc
