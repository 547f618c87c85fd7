// Test support: a Mesh decorator that simulates a party crashing after a given number of rounds
// (it closes the underlying mesh and throws PartyCrashed), to test dropout handling in memory.
#pragma once

#include <stdexcept>

#include "net/mesh.hpp"

namespace sm::test {

struct PartyCrashed : std::runtime_error {
  PartyCrashed() : std::runtime_error("simulated crash") {}
};

class CrashingMesh final : public net::Mesh {
 public:
  // Forwards `rounds_before_crash` rounds to `inner`, then crashes on the next one.
  CrashingMesh(net::Mesh& inner, std::size_t rounds_before_crash)
      : Mesh(inner.self(), names_of(inner)), inner_(inner), budget_(rounds_before_crash) {}

  void close() override { inner_.close(); }

 protected:
  std::vector<net::Bytes> transfer(std::span<const net::Outgoing> sends,
                                   std::span<const net::PartyId> receive_from,
                                   std::string_view step) override {
    spend();
    return inner_.round(sends, receive_from, step);
  }
  std::vector<std::optional<net::Bytes>> transfer_tolerant(
      std::span<const net::Outgoing> sends, std::span<const net::PartyId> receive_from,
      std::string_view step) override {
    spend();
    return inner_.round_tolerant(sends, receive_from, step);
  }

 private:
  static std::vector<std::string> names_of(const net::Mesh& mesh) {
    std::vector<std::string> names;
    for (net::PartyId p = 0; p < mesh.size(); ++p) names.push_back(mesh.name(p));
    return names;
  }
  void spend() {
    if (budget_ == 0) {
      inner_.close();
      throw PartyCrashed();
    }
    --budget_;
  }
  net::Mesh& inner_;
  std::size_t budget_;
};

}  // namespace sm::test
