// The in-memory mesh: delivery, exact byte and round accounting, failure propagation, and
// session agreement (which is transport-independent, so it is tested here once).
#include <catch2/catch.hpp>

#include <numeric>

#include "net/errors.hpp"
#include "net/local_mesh.hpp"
#include "net/session.hpp"
#include "net/sub_mesh.hpp"

using namespace sm;
using namespace sm::net;

namespace {

// A deterministic message from `from` to `to` of `size` bytes.
Bytes pattern(PartyId from, PartyId to, std::size_t size) {
  Bytes message(size);
  for (std::size_t i = 0; i < size; ++i) message[i] = static_cast<std::uint8_t>(i * 31 + from * 7 + to);
  return message;
}

}  // namespace

TEST_CASE("exchange_all delivers every message in one round", "[local_mesh]") {
  for (std::size_t n : {2u, 3u, 5u}) {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1} << 20}) {
      run_parties(n, [&](Mesh& mesh) {
        std::vector<Bytes> out(n);
        for (PartyId to = 0; to < n; ++to) {
          if (to != mesh.self()) out[to] = pattern(mesh.self(), to, size);
        }
        const auto in = mesh.exchange_all(out, "test exchange");
        for (PartyId from = 0; from < n; ++from) {
          if (from == mesh.self()) continue;
          REQUIRE(in[from] == pattern(from, mesh.self(), size));
        }
        const auto& stats = mesh.stats();
        CHECK(stats.rounds == 1);
        CHECK(stats.bytes_sent() == (n - 1) * size);
        CHECK(stats.bytes_received() == (n - 1) * size);
        for (PartyId peer = 0; peer < n; ++peer) {
          CHECK(stats.peers[peer].messages_sent == (peer == mesh.self() ? 0u : 1u));
        }
      });
    }
  }
}

TEST_CASE("a message in two places arrives as one, directly and through a sub-mesh",
          "[local_mesh]") {
  const std::size_t n = 3, head = 1000, size = 2500;
  run_parties(n, [&](Mesh& mesh) {
    const Bytes out = pattern(mesh.self(), mesh.self(), size);
    const ByteView whole(out);
    const std::vector<PartyId> members{0, 1, 2};
    SubMesh all(mesh, members);
    for (Mesh* via : {&mesh, static_cast<Mesh*>(&all)}) {
      std::vector<Bytes> in(n);
      const auto lengths =
          via->all_to_all_streamed(whole.first(head), whole.subspan(head), size, "two parts",
                                   [&](std::size_t from, std::size_t offset, ByteView piece) {
                                     REQUIRE(offset == in[from].size());
                                     in[from].insert(in[from].end(), piece.begin(), piece.end());
                                   });
      for (PartyId from = 0; from < n; ++from) {
        if (from == mesh.self()) continue;
        CHECK(lengths[from] == size);
        CHECK(in[from] == pattern(from, from, size));
      }
      CHECK(via->stats().bytes_sent() == (n - 1) * size);
    }
  });
}

TEST_CASE("send and recv pair up in order", "[local_mesh]") {
  run_parties(2, [](Mesh& mesh) {
    if (mesh.self() == 0) {
      for (std::uint8_t i = 0; i < 10; ++i) mesh.send(1, Bytes{i}, "ordered");
    } else {
      for (std::uint8_t i = 0; i < 10; ++i) REQUIRE(mesh.recv(0, "ordered") == Bytes{i});
      CHECK(mesh.stats().rounds == 10);
    }
  });
}

TEST_CASE("broadcast returns every party's message, own included", "[local_mesh]") {
  const auto results = run_parties(3, [](Mesh& mesh) {
    return mesh.broadcast(Bytes{static_cast<std::uint8_t>(mesh.self() + 40)}, "broadcast");
  });
  for (const auto& all : results) {
    REQUIRE(all == std::vector<Bytes>{{40}, {41}, {42}});
  }
}

TEST_CASE("a failing party releases the others with an error naming it", "[local_mesh]") {
  // Party 1 throws before sending; party 0 waits on it and must not hang.
  std::atomic<bool> released{false};
  REQUIRE_THROWS_WITH(run_parties(3,
                                  [&](Mesh& mesh) {
                                    if (mesh.self() == 1) throw InputError("bad cell at line 3");
                                    try {
                                      mesh.recv(1, "waiting on party 1");
                                    } catch (const NetError& e) {
                                      CHECK_THAT(e.what(), Catch::Contains("party 1 (party1)"));
                                      released = true;
                                      throw;
                                    }
                                  }),
                      "bad cell at line 3");
  CHECK(released);
}

TEST_CASE("a silent party hits the receive deadline", "[local_mesh]") {
  using namespace std::chrono_literals;
  REQUIRE_THROWS_WITH(run_parties(
                          2,
                          [](Mesh& mesh) {
                            if (mesh.self() == 0) mesh.recv(1, "silent step");
                            else std::this_thread::sleep_for(300ms);
                          },
                          100ms),
                      Catch::Contains("party 1 (party1)") && Catch::Contains("silent step") &&
                          Catch::Contains("deadline"));
}

TEST_CASE("session agreement gives every party the same nonce", "[session]") {
  const auto infos = run_parties(3, [](Mesh& mesh) {
    return agree_session(mesh, {"aggregate", {{"protocol", "threshold"}, {"mean", "false"}}});
  });
  CHECK(infos[0].nonce == infos[1].nonce);
  CHECK(infos[1].nonce == infos[2].nonce);
  CHECK(infos[0].parameters_digest == infos[2].parameters_digest);
  // A second run draws a fresh nonce.
  const auto again = run_parties(2, [](Mesh& mesh) { return agree_session(mesh, {"ping", {}}); });
  CHECK(again[0].nonce != infos[0].nonce);
}

TEST_CASE("session agreement names the parameter that differs", "[session]") {
  std::vector<std::string> messages(3);
  run_parties(3, [&](Mesh& mesh) {
    const std::string epochs = mesh.self() == 2 ? "5" : "10";
    try {
      agree_session(mesh, {"train-lr", {{"epochs", epochs}}});
    } catch (const ProtocolError& e) {
      messages[mesh.self()] = e.what();
    }
  });
  CHECK_THAT(messages[0], Catch::Contains("parameter 'epochs' is '10' here but '5' at party 2"));
  CHECK_THAT(messages[2], Catch::Contains("parameter 'epochs' is '5' here but '10' at party 0"));
}

TEST_CASE("session agreement names a different job", "[session]") {
  std::vector<std::string> messages(2);
  run_parties(2, [&](Mesh& mesh) {
    try {
      agree_session(mesh, {mesh.self() == 0 ? "psi" : "aggregate", {}});
    } catch (const ProtocolError& e) {
      messages[mesh.self()] = e.what();
    }
  });
  CHECK_THAT(messages[0], Catch::Contains("job is 'psi' here but 'aggregate' at party 1"));
  CHECK_THAT(messages[1], Catch::Contains("job is 'aggregate' here but 'psi' at party 0"));
}

TEST_CASE("a tolerant round skips a party that dropped out", "[local_mesh]") {
  // Party 2 leaves after the first round; parties 0 and 1 go on without it.
  run_parties(3, [](Mesh& mesh) {
    mesh.broadcast(Bytes{1}, "first");
    if (mesh.self() == 2) return;
    const PartyId other = 1 - mesh.self();
    const Bytes payload{static_cast<std::uint8_t>(10 + mesh.self())};
    const std::vector<Outgoing> sends{{other, payload}, {2, payload}};
    const std::vector<PartyId> from{other, 2};
    const auto received = mesh.round_tolerant(sends, from, "tolerant");
    REQUIRE(received[0] == Bytes{static_cast<std::uint8_t>(10 + other)});
    CHECK_FALSE(received[1].has_value());
    CHECK(mesh.dropped(2));
    CHECK_FALSE(mesh.dropped(other));
    CHECK(mesh.stats().peers[2].messages_received == 1);  // only the first round's
    CHECK_THROWS_WITH(mesh.recv(2, "strict"), Catch::Contains("party 2 (party2) dropped out"));
  });
}
