// SubMesh: a view of a parent mesh restricted to some members, renumbered in list order.
// Every party records what it saw; the assertions run on the test's thread.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>

#include "net/errors.hpp"
#include "net/local_mesh.hpp"
#include "net/sub_mesh.hpp"

using namespace sm;
using namespace sm::net;

namespace {

Bytes id_message(PartyId parent_id, PartyId to) {
  return Bytes{static_cast<std::uint8_t>(parent_id), static_cast<std::uint8_t>(to), 0xab};
}

}  // namespace

TEST_CASE("a sub-mesh renumbers its members, keeps their names and counts in both meshes",
          "[sub_mesh]") {
  const std::vector<PartyId> members{4, 1, 3};
  struct Seen {
    std::size_t size = 0;
    PartyId self = 0;
    std::vector<std::string> names;
    std::vector<Bytes> received;  // by sub-mesh id
    std::uint64_t sub_rounds = 0, parent_rounds = 0;
    std::vector<PeerStats> sub_peers, parent_peers;
    Bytes outsider_message;
  };
  auto seen = run_parties(5, [&](Mesh& mesh) {
    Seen s;
    const auto position = std::find(members.begin(), members.end(), mesh.self());
    if (position == members.end()) {
      // Parties 0 and 2 keep talking over the parent while the members use the sub-mesh.
      const PartyId other = mesh.self() == 0 ? 2 : 0;
      mesh.send(other, Bytes{static_cast<std::uint8_t>(mesh.self())}, "outsiders");
      s.outsider_message = mesh.recv(other, "outsiders");
      return s;
    }
    SubMesh sub(mesh, members);
    s.size = sub.size();
    s.self = sub.self();
    for (PartyId k = 0; k < sub.size(); ++k) s.names.push_back(sub.name(k));
    std::vector<Bytes> out(sub.size());
    for (PartyId k = 0; k < sub.size(); ++k) {
      if (k != sub.self()) out[k] = id_message(mesh.self(), k);
    }
    s.received = sub.exchange_all(out, "sub exchange");
    s.sub_rounds = sub.stats().rounds;
    s.parent_rounds = mesh.stats().rounds;
    s.sub_peers = sub.stats().peers;
    s.parent_peers = mesh.stats().peers;
    return s;
  });

  for (PartyId k = 0; k < members.size(); ++k) {
    const Seen& s = seen[members[k]];
    CHECK(s.size == members.size());
    CHECK(s.self == k);
    CHECK(s.names == std::vector<std::string>{"party4", "party1", "party3"});
    for (PartyId from = 0; from < members.size(); ++from) {
      if (from == k) {
        CHECK(s.received[from].empty());
        CHECK(s.sub_peers[from].bytes_received == 0);
        continue;
      }
      CHECK(s.received[from] == id_message(members[from], k));
      CHECK(s.sub_peers[from].bytes_received == 3);
      CHECK(s.sub_peers[from].bytes_sent == 3);
      CHECK(s.parent_peers[members[from]].bytes_received == 3);
      CHECK(s.parent_peers[members[from]].bytes_sent == 3);
    }
    CHECK(s.sub_rounds == 1);
    CHECK(s.parent_rounds == 1);
    for (PartyId outsider : {PartyId{0}, PartyId{2}}) {
      CHECK(s.parent_peers[outsider].bytes_sent == 0);
      CHECK(s.parent_peers[outsider].bytes_received == 0);
    }
  }
  CHECK(seen[0].outsider_message == Bytes{2});
  CHECK(seen[2].outsider_message == Bytes{0});
}

TEST_CASE("a sub-mesh refuses member lists it cannot serve", "[sub_mesh]") {
  auto outcome = run_parties(3, [](Mesh& mesh) {
    std::vector<std::string> errors;
    auto attempt = [&](std::vector<PartyId> members) {
      try {
        SubMesh sub(mesh, members);
        errors.emplace_back();
      } catch (const ConfigError& e) {
        errors.emplace_back(e.what());
      }
    };
    const PartyId self = mesh.self();
    attempt({(self + 1) % 3, (self + 2) % 3});  // without this party
    attempt({self, (self + 1) % 3, self});      // a duplicate
    attempt({self, 7});                         // outside the table
    return errors;
  });
  for (const auto& errors : outcome) {
    CHECK_THAT(errors[0], Catch::Contains("is not among the members"));
    CHECK_THAT(errors[1], Catch::Contains("is listed twice"));
    CHECK_THAT(errors[2], Catch::Contains("outside the party table"));
  }
}

TEST_CASE("closing a sub-mesh ends the view, not the parent", "[sub_mesh]") {
  auto outcome = run_parties(3, [](Mesh& mesh) {
    const std::vector<PartyId> members{0, 1};
    std::optional<std::string> error;
    Bytes after_close;
    if (mesh.self() < 2) {
      SubMesh sub(mesh, members);
      sub.close();
      sub.close();
      try {
        sub.broadcast(Bytes{1}, "after close");
      } catch (const NetError& e) {
        error = e.what();
      }
    }
    // The parent still works for everybody.
    const auto all = mesh.broadcast(Bytes{static_cast<std::uint8_t>(mesh.self() + 10)}, "parent");
    for (const auto& message : all)
      after_close.insert(after_close.end(), message.begin(), message.end());
    return std::make_pair(error, after_close);
  });
  for (PartyId p = 0; p < 3; ++p) {
    if (p < 2) {
      REQUIRE(outcome[p].first.has_value());
      CHECK_THAT(*outcome[p].first, Catch::Contains("used after close()"));
    } else {
      CHECK_FALSE(outcome[p].first.has_value());
    }
    CHECK(outcome[p].second == Bytes{10, 11, 12});
  }
}

TEST_CASE("a member that fails is named by the sub-mesh's error", "[sub_mesh]") {
  std::optional<std::string> error_at_member0;
  CHECK_THROWS_WITH(run_parties(3,
                                [&](Mesh& mesh) {
                                  const std::vector<PartyId> members{2, 0};
                                  if (mesh.self() == 1) return;
                                  SubMesh sub(mesh, members);
                                  if (sub.self() == 0) throw std::runtime_error("member crashed");
                                  try {
                                    sub.recv(0, "wait for member");
                                  } catch (const NetError& e) {
                                    error_at_member0 = e.what();
                                  }
                                }),
                    "member crashed");
  REQUIRE(error_at_member0.has_value());
  CHECK_THAT(*error_at_member0, Catch::Contains("party 2 (party2)"));
  CHECK_THAT(*error_at_member0, Catch::Contains("wait for member"));
}

TEST_CASE("a tolerant round over a sub-mesh skips a member that dropped out", "[sub_mesh]") {
  // Members are parent parties {3, 1, 2} (sub ids 0, 1, 2); parent party 2 (sub id 2) leaves
  // after the first round, and parent party 0, not a member, only watches.
  const std::vector<PartyId> members{3, 1, 2};
  struct Seen {
    std::optional<Bytes> from_other, from_leaver;
    bool sub_dropped = false, parent_dropped = false;
  };
  auto seen = run_parties(4, [&](Mesh& mesh) {
    Seen s;
    if (mesh.self() == 0) return s;
    SubMesh sub(mesh, members);
    sub.broadcast(Bytes{1}, "first");
    if (sub.self() == 2) return s;
    const PartyId other = 1 - sub.self();
    const Bytes payload{static_cast<std::uint8_t>(20 + sub.self())};
    const std::vector<Outgoing> sends{{other, payload}, {2, payload}};
    const std::vector<PartyId> from{other, 2};
    auto received = sub.round_tolerant(sends, from, "tolerant");
    s.from_other = std::move(received[0]);
    s.from_leaver = std::move(received[1]);
    s.sub_dropped = sub.dropped(2);
    s.parent_dropped = mesh.dropped(2);
    return s;
  });
  for (PartyId parent : {PartyId{3}, PartyId{1}}) {
    const PartyId sub_self = parent == 3 ? 0 : 1;
    REQUIRE(seen[parent].from_other.has_value());
    CHECK(*seen[parent].from_other == Bytes{static_cast<std::uint8_t>(20 + (1 - sub_self))});
    CHECK_FALSE(seen[parent].from_leaver.has_value());
    CHECK(seen[parent].sub_dropped);
    CHECK(seen[parent].parent_dropped);
  }
}
