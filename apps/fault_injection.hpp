// Fault injection for the process-level tests: a Mesh decorator that ends the process abruptly
// (std::_Exit, no goodbye to the peers, as if killed) when the protocol starts its K+1-th round,
// i.e. right after its first K rounds completed. Jobs expose it as a hidden option
// (--exit-after-rounds), absent from --help; it changes nothing when not given.
#pragma once

#include <cstdlib>

#include "net/mesh.hpp"

namespace sm::app {

class ExitAfterRounds final : public net::Mesh {
 public:
  ExitAfterRounds(net::Mesh& inner, std::size_t rounds)
      : Mesh(inner.self(), names_of(inner)), inner_(inner), remaining_(rounds) {}

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
    if (remaining_ == 0) std::_Exit(137);
    --remaining_;
  }
  net::Mesh& inner_;
  std::size_t remaining_;
};

}  // namespace sm::app
