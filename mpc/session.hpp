// Session: everything one party's computation needs, passed explicitly (no globals).
//
// It bundles the mesh (who we are, who the others are, byte and round counters), the party's
// PRG seeds, and the fixed-point settings. The session does not own the mesh; the mesh must
// outlive it. Not thread-safe, like the mesh.
#pragma once

#include "mpc/fixed_point.hpp"
#include "mpc/prg.hpp"
#include "net/mesh.hpp"

namespace sm::mpc {

// Statistical security parameter: masked openings reveal at most 2^-40 about a value.
inline constexpr int kStatisticalSecurity = 40;

class Session {
 public:
  Session(net::Mesh& mesh, PrgState prg, FixedPoint fixed = {})
      : mesh_(mesh), prg_(std::move(prg)), fixed_(fixed) {}

  // A session with freshly established seeds (1 round over the mesh).
  static Session establish(net::Mesh& mesh, FixedPoint fixed = {}) {
    return Session(mesh, PrgState::establish(mesh), fixed);
  }

  net::Mesh& mesh() { return mesh_; }
  net::PartyId self() const { return mesh_.self(); }
  std::size_t parties() const { return mesh_.size(); }
  PrgState& prg() { return prg_; }
  const FixedPoint& fixed() const { return fixed_; }

 private:
  net::Mesh& mesh_;
  PrgState prg_;
  FixedPoint fixed_;
};

}  // namespace sm::mpc
