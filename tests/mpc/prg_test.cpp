// Prg (mpc/prg.hpp): its output is a pure function of (seed, stream, position), also when one
// Prg moves between streams with restart(), after partly used keystream blocks included; checked
// against fresh Prgs of the same seed and streams.
#include "mpc/prg.hpp"

#include <catch2/catch.hpp>
#include <vector>

using namespace sm;
using namespace sm::mpc;

namespace {

std::vector<std::uint8_t> keystream(Prg& prg, std::size_t bytes) {
  std::vector<std::uint8_t> out(bytes);
  prg.fill(out);
  return out;
}

}  // namespace

TEST_CASE("Prg::restart begins a stream as a fresh Prg of that stream does", "[prg]") {
  const Seed seed{9, 8, 7};
  Prg moving(seed, 3);
  keystream(moving, 5);  // part of a block
  for (const std::uint64_t stream : std::vector<std::uint64_t>{7, 3, 0, ~std::uint64_t{0}, 7}) {
    CAPTURE(stream);
    moving.restart(stream);
    Prg fresh(seed, stream);
    CHECK(keystream(moving, 37) == keystream(fresh, 37));
    CHECK(keystream(moving, 100) == keystream(fresh, 100));  // and on from a partial block
  }
  // Another seed gives another keystream.
  Prg other(Seed{9, 8, 6}, 7);
  moving.restart(7);
  CHECK(keystream(moving, 32) != keystream(other, 32));
}
