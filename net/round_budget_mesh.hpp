// RoundBudgetMesh: a Mesh decorator that forwards a fixed number of rounds to another mesh and
// calls `on_exhausted` at the next one (which must not return: it throws or ends the process).
// It simulates a party failing at a chosen step: the in-memory dropout tests throw, mpc-party's
// hidden --exit-after-rounds option ends the process as if killed. Counts like any Mesh.
#pragma once

#include <functional>

#include "net/mesh.hpp"

namespace sm::net {

class RoundBudgetMesh final : public Mesh {
 public:
  RoundBudgetMesh(Mesh& inner, std::size_t rounds, std::function<void(Mesh& inner)> on_exhausted)
      : Mesh(inner.self(), names_of(inner)),
        inner_(inner),
        remaining_(rounds),
        on_exhausted_(std::move(on_exhausted)) {}

  void close() override { inner_.close(); }

 protected:
  std::vector<Bytes> transfer(std::span<const Outgoing> sends,
                              std::span<const PartyId> receive_from,
                              std::string_view step) override {
    spend();
    return inner_.round(sends, receive_from, step);
  }
  std::vector<std::size_t> transfer_streamed(std::span<const Outgoing> sends,
                                             std::span<const PartyId> receive_from,
                                             std::span<const std::size_t> expected_bytes,
                                             std::string_view step,
                                             const PieceSink& sink) override {
    spend();
    return inner_.round_streamed(sends, receive_from, expected_bytes, step, sink);
  }
  std::vector<std::optional<Bytes>> transfer_tolerant(std::span<const Outgoing> sends,
                                                      std::span<const PartyId> receive_from,
                                                      std::string_view step) override {
    spend();
    return inner_.round_tolerant(sends, receive_from, step);
  }

 private:
  static std::vector<std::string> names_of(const Mesh& mesh) {
    std::vector<std::string> names;
    for (PartyId p = 0; p < mesh.size(); ++p) names.push_back(mesh.name(p));
    return names;
  }
  void spend() {
    if (remaining_ == 0) on_exhausted_(inner_);
    --remaining_;
  }

  Mesh& inner_;
  std::size_t remaining_;
  std::function<void(Mesh&)> on_exhausted_;
};

}  // namespace sm::net
