// Private set intersection against the plaintext intersection: random sets with controlled
// overlaps (items common to all, and items shared by only some parties, which must not count),
// every mode, several party counts, edge sets, odd ids, restricted outputs, rounds and bytes
// against the header's costs, the sum mode on both engines against the plaintext sum over the
// intersection, and the OKVS on its own.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "net/errors.hpp"
#include "net/local_mesh.hpp"
#include "protocols/psi.hpp"
#include "protocols/psi_okvs.hpp"
#include "tests/support/engines.hpp"

using namespace sm;
using namespace sm::proto;

namespace {

using Sets = std::vector<std::vector<std::string>>;

// N sets: `common` items in every set, plus for every pair of parties `pairwise` items held by
// that pair only (and, for N >= 3, by no third party), plus `own` items private to each party;
// shuffled.
Sets overlapping_sets(std::size_t parties, std::size_t common, std::size_t pairwise,
                      std::size_t own, std::uint64_t seed) {
  Sets sets(parties);
  for (std::size_t i = 0; i < common; ++i) {
    for (auto& set : sets) set.push_back("common-" + std::to_string(i));
  }
  for (std::size_t a = 0; a < parties; ++a) {
    for (std::size_t b = a + 1; b < parties && parties > 2; ++b) {
      for (std::size_t i = 0; i < pairwise; ++i) {
        const std::string item =
            "pair-" + std::to_string(a) + "-" + std::to_string(b) + "-" + std::to_string(i);
        sets[a].push_back(item);
        sets[b].push_back(item);
      }
    }
    for (std::size_t i = 0; i < own; ++i) {
      sets[a].push_back("own-" + std::to_string(a) + "-" + std::to_string(i));
    }
  }
  std::mt19937_64 rng(seed);
  for (auto& set : sets) std::shuffle(set.begin(), set.end(), rng);
  return sets;
}

// The oracle: the plaintext intersection, sorted bytewise.
std::vector<std::string> plain_intersection(const Sets& sets) {
  std::set<std::string> common(sets[0].begin(), sets[0].end());
  for (std::size_t p = 1; p < sets.size(); ++p) {
    const std::set<std::string> other(sets[p].begin(), sets[p].end());
    std::set<std::string> kept;
    std::set_intersection(common.begin(), common.end(), other.begin(), other.end(),
                          std::inserter(kept, kept.end()));
    common = std::move(kept);
  }
  return {common.begin(), common.end()};
}

struct Run {
  PsiResult result;
  net::MeshStats stats;
};

std::vector<Run> run_psi(const Sets& sets, PsiOptions options) {
  options.threads = 2;
  return net::run_parties(sets.size(), [&](net::Mesh& mesh) {
    mpc::Session session(mesh, mpc::PrgState::establish(mesh));
    const auto before = mesh.stats();
    PsiResult result = psi(session, sets[mesh.self()], options);
    return Run{std::move(result), mesh.stats().since(before)};
  });
}

// Whether party p learns the result (an empty list: every party does).
bool is_output(const std::vector<net::PartyId>& outputs, net::PartyId p) {
  return outputs.empty() || std::find(outputs.begin(), outputs.end(), p) != outputs.end();
}

void check_intersection(const Sets& sets, const std::vector<net::PartyId>& outputs = {}) {
  PsiOptions options;
  options.output_parties = outputs;
  const auto expected = plain_intersection(sets);
  const auto runs = run_psi(sets, options);
  for (net::PartyId p = 0; p < sets.size(); ++p) {
    INFO("party " << p);
    const PsiResult& result = runs[p].result;
    if (is_output(outputs, p)) {
      REQUIRE(result.intersection);
      CHECK(*result.intersection == expected);
      CHECK(result.cardinality == expected.size());
    } else {
      CHECK_FALSE(result.intersection);
      CHECK_FALSE(result.cardinality);
    }
    CHECK_FALSE(result.aligned);
    for (net::PartyId q = 0; q < sets.size(); ++q) CHECK(result.set_sizes[q] == sets[q].size());
  }
}

// Sum mode: payload[p][i] is party p's payload for sets[p][i] (read at the holder only).
using Payloads = std::vector<std::vector<std::int64_t>>;

template <class En>
std::vector<Run> run_sum(const Sets& sets, const Payloads& payloads, net::PartyId holder,
                         const std::vector<net::PartyId>& outputs = {}) {
  PsiOptions options;
  options.mode = PsiMode::kSum;
  options.output_parties = outputs;
  options.threads = 2;
  return test::run_engine<En>(sets.size(), [&](En& engine) {
    net::Mesh& mesh = engine.session().mesh();
    const auto before = mesh.stats();
    PsiResult result = psi_sum(engine, sets[mesh.self()], payloads[mesh.self()], holder, options);
    return Run{std::move(result), mesh.stats().since(before)};
  });
}

// Payloads in [-limit, limit] for every party's items (each party's differ).
Payloads random_payloads(const Sets& sets, std::int64_t limit, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> value(-limit, limit);
  Payloads payloads(sets.size());
  for (std::size_t p = 0; p < sets.size(); ++p) {
    for (std::size_t i = 0; i < sets[p].size(); ++i) payloads[p].push_back(value(rng));
  }
  return payloads;
}

// The oracle: the holder's payloads summed over the plaintext intersection.
std::int64_t plain_sum(const Sets& sets, const Payloads& payloads, net::PartyId holder) {
  const auto common = plain_intersection(sets);
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < sets[holder].size(); ++i) {
    if (std::binary_search(common.begin(), common.end(), sets[holder][i])) {
      sum += payloads[holder][i];
    }
  }
  return sum;
}

template <class En>
void check_sum(const Sets& sets, const Payloads& payloads, net::PartyId holder,
               const std::vector<net::PartyId>& outputs = {}) {
  const std::int64_t expected = plain_sum(sets, payloads, holder);
  const auto runs = run_sum<En>(sets, payloads, holder, outputs);
  for (net::PartyId p = 0; p < sets.size(); ++p) {
    INFO("party " << p << " of " << sets.size() << ", holder " << holder);
    const PsiResult& result = runs[p].result;
    if (is_output(outputs, p)) {
      REQUIRE(result.sum);
      CHECK(*result.sum == expected);
    } else {
      CHECK_FALSE(result.sum);
    }
    CHECK_FALSE(result.intersection);
    CHECK_FALSE(result.cardinality);
    CHECK_FALSE(result.aligned);
    for (net::PartyId q = 0; q < sets.size(); ++q) CHECK(result.set_sizes[q] == sets[q].size());
  }
}

// check_sum on the additive engine for every N, and on Shamir from N = 3.
void check_sum_both(const Sets& sets, const Payloads& payloads, net::PartyId holder,
                    const std::vector<net::PartyId>& outputs = {}) {
  check_sum<mpc::AdditiveEngine>(sets, payloads, holder, outputs);
  if (sets.size() >= 3) check_sum<mpc::ShamirEngine<mpc::Fp127>>(sets, payloads, holder, outputs);
}

}  // namespace

TEST_CASE("the intersection equals the plaintext intersection", "[psi]") {
  for (std::size_t n : {2u, 3u, 4u}) {
    INFO(n << " parties");
    check_intersection(overlapping_sets(n, 37, 11, 60, n));
  }
}

TEST_CASE("edge sets: empty, single, identical, disjoint", "[psi]") {
  for (std::size_t n : {2u, 3u}) {
    INFO(n << " parties");
    SECTION("all empty") { check_intersection(Sets(n)); }
    SECTION("one party empty") {
      Sets sets = overlapping_sets(n, 5, 2, 3, 1);
      sets[n - 1].clear();
      check_intersection(sets);
    }
    SECTION("the leader empty") {
      Sets sets = overlapping_sets(n, 5, 2, 3, 2);
      sets[0].clear();
      check_intersection(sets);
    }
    SECTION("a single common item") { check_intersection(Sets(n, {"only"})); }
    SECTION("single items that differ") {
      Sets sets(n);
      for (std::size_t p = 0; p < n; ++p) sets[p] = {"item" + std::to_string(p)};
      check_intersection(sets);
    }
    SECTION("identical sets") { check_intersection(Sets(n, overlapping_sets(1, 0, 0, 50, 3)[0])); }
    SECTION("disjoint sets") { check_intersection(overlapping_sets(n, 0, 0, 40, 4)); }
  }
}

TEST_CASE("ids are exact byte strings: unicode, long, look-alikes", "[psi]") {
  const std::string long_id(10000, 'x');
  Sets sets = {{"Zürich", "東京", "naïve", long_id, "a,b", "quote\"d", std::string("nul\0byte", 8),
                "A", "e\xcc\x81"},
               {"Zurich", "東京", "naïve", long_id, "a,b", "quote\"d", std::string("nul\0byte", 8),
                "a", "\xc3\xa9", long_id + "y"},
               {"Zürich", "東京", "naïve", long_id, "a,b", "quote\"d", std::string("nul\0byte", 8),
                "A", "e\xcc\x81", "Zurich"}};
  check_intersection(sets);
  CHECK(plain_intersection(sets).size() == 6);
}

TEST_CASE("only the output parties learn the result, and any party may lead", "[psi]") {
  const Sets sets = overlapping_sets(4, 20, 5, 30, 7);
  check_intersection(sets, {2});
  check_intersection(sets, {3, 1});
  check_intersection(sets, {1, 0, 2, 3});
}

TEST_CASE("cardinality mode reveals only the count", "[psi]") {
  for (std::size_t n : {2u, 3u, 4u}) {
    INFO(n << " parties");
    const Sets sets = overlapping_sets(n, 29, 9, 41, 10 + n);
    PsiOptions options;
    options.mode = PsiMode::kCardinality;
    options.output_parties = {n - 1, 0};
    const auto runs = run_psi(sets, options);
    for (net::PartyId p = 0; p < n; ++p) {
      const PsiResult& result = runs[p].result;
      CHECK_FALSE(result.intersection);
      CHECK_FALSE(result.aligned);
      if (p == 0 || p == n - 1) {
        CHECK(result.cardinality == plain_intersection(sets).size());
      } else {
        CHECK_FALSE(result.cardinality);
      }
    }
  }
}

TEST_CASE("align mode: every party's common rows in one order", "[psi]") {
  for (std::size_t n : {2u, 3u, 4u}) {
    INFO(n << " parties");
    const Sets sets = overlapping_sets(n, 31, 7, 23, 20 + n);
    PsiOptions options;
    options.mode = PsiMode::kAlign;
    const auto runs = run_psi(sets, options);
    const auto expected = plain_intersection(sets);
    std::vector<std::string> first;
    for (net::PartyId p = 0; p < n; ++p) {
      const PsiResult& result = runs[p].result;
      REQUIRE(result.aligned);
      CHECK(result.cardinality == expected.size());
      std::vector<std::string> rows;
      for (std::size_t index : *result.aligned) rows.push_back(sets[p].at(index));
      if (p == 0) first = rows;
      CHECK(rows == first);
      std::sort(rows.begin(), rows.end());
      CHECK(rows == expected);
    }
  }
  PsiOptions with_outputs;
  with_outputs.mode = PsiMode::kAlign;
  with_outputs.output_parties = {0};
  CHECK_THROWS_AS(run_psi(Sets(2), with_outputs), ConfigError);
}

TEST_CASE("rounds and bytes match the header's costs", "[psi]") {
  for (std::size_t n : {2u, 3u, 4u}) {
    INFO(n << " parties");
    const Sets sets = overlapping_sets(n, 13, 3, 17 + n, 30 + n);
    std::size_t total = 0;
    for (const auto& set : sets) total += set.size();
    const auto common = plain_intersection(sets);
    std::size_t result_bytes = 8;
    for (const auto& item : common) result_bytes += 4 + item.size();
    const auto runs = run_psi(sets, {});
    for (net::PartyId p = 0; p < n; ++p) {
      INFO("party " << p);
      CHECK(runs[p].stats.rounds == n + 2);
      std::uint64_t expected = 32 * total;
      if (p != 0) expected += 16 + 16 * okvs_cells(sets[p].size());
      if (p == 0) expected += (n - 1) * result_bytes;
      CHECK(runs[p].stats.bytes_sent() == expected);
    }
  }
}

TEST_CASE("duplicate items are refused", "[psi]") {
  CHECK_THROWS_AS(run_psi(Sets{{"a", "b", "a"}, {"a"}}, {}), InputError);
}

TEST_CASE("a small-order or non-canonical element from a peer names that peer", "[psi]") {
  // Party 1 deviates: its first ring message holds an all-zero element (u = 0, of order 2, on
  // which X25519 gives all zeros), or bytes that are no canonical u-coordinate.
  for (const std::uint8_t fill : {std::uint8_t{0x00}, std::uint8_t{0xff}}) {
    INFO("element bytes " << int{fill});
    const auto errors = net::run_parties(2, [&](net::Mesh& mesh) -> std::string {
      mpc::Session session(mesh, mpc::PrgState::establish(mesh));
      if (mesh.self() == 1) {
        const net::Bytes bad_set(2 * 32, fill);
        const net::Outgoing send{0, bad_set};
        const net::PartyId from = 0;
        mesh.round(std::span(&send, 1), std::span(&from, 1), "psi ring hop 1");
        return "";
      }
      PsiOptions options;
      options.threads = 2;
      try {
        psi(session, std::vector<std::string>{"a", "b", "c"}, options);
      } catch (const ProtocolError& e) {
        return e.what();
      }
      return "no error";
    });
    CHECK_THAT(errors[0], Catch::Contains("from party 1 (") &&
                              Catch::Contains("not a canonical Curve25519 u-coordinate"));
  }
}

TEST_CASE("sum mode equals the plaintext sum over the intersection", "[psi][psi_sum]") {
  for (std::size_t n : {2u, 3u, 4u}) {
    INFO(n << " parties");
    const Sets sets = overlapping_sets(n, 41, 9, 37, 40 + n);
    REQUIRE(plain_intersection(sets).size() == 41);
    SECTION("negative and positive payloads at the first party") {
      check_sum_both(sets, random_payloads(sets, 1'000'000'000, n), 0);
    }
    SECTION("payloads at the last party") {
      check_sum_both(sets, random_payloads(sets, 1000, 2 * n), n - 1);
    }
    SECTION("payloads near the limit") {
      // |payload| < 2^63 / 2^7 and fewer than 2^7 items: the sum of magnitudes stays below 2^63.
      check_sum_both(sets, random_payloads(sets, std::int64_t{1} << 56, 3 * n), 1);
    }
  }
}

TEST_CASE("sum mode edge sets: empty, disjoint, identical, single", "[psi][psi_sum]") {
  for (std::size_t n : {2u, 3u, 4u}) {
    INFO(n << " parties");
    SECTION("all empty") { check_sum_both(Sets(n), Payloads(n), 0); }
    SECTION("the holder empty") {
      Sets sets = overlapping_sets(n, 5, 2, 3, 50 + n);
      sets[1].clear();
      check_sum_both(sets, random_payloads(sets, 100, n), 1);
    }
    SECTION("disjoint sets") {
      const Sets sets = overlapping_sets(n, 0, 0, 40, 60 + n);
      const Payloads payloads = random_payloads(sets, 100, n);
      REQUIRE(plain_sum(sets, payloads, 0) == 0);
      check_sum_both(sets, payloads, 0);
    }
    SECTION("identical sets") {
      const Sets sets(n, overlapping_sets(1, 0, 0, 50, 70 + n)[0]);
      check_sum_both(sets, random_payloads(sets, 100, n), n - 1);
    }
    SECTION("a single common item with a negative payload") {
      const Sets sets(n, {"only"});
      Payloads payloads(n, {-17});
      check_sum_both(sets, payloads, 0);
    }
  }
}

TEST_CASE("sum mode reveals the sum to the output parties only", "[psi][psi_sum]") {
  const Sets sets = overlapping_sets(4, 23, 5, 19, 80);
  const Payloads payloads = random_payloads(sets, 500, 81);
  check_sum_both(sets, payloads, 2, {2});     // the holder alone: party 0 decodes
  check_sum_both(sets, payloads, 0, {0, 3});  // party 3 decodes
  check_sum_both(sets, payloads, 1, {2, 1});
}

TEST_CASE("sum mode costs N + 4 rounds on the additive engine", "[psi][psi_sum]") {
  for (std::size_t n : {2u, 3u, 4u}) {
    INFO(n << " parties");
    const Sets sets = overlapping_sets(n, 13, 3, 17, 90 + n);
    // Ring hops, the key-value stores, the layout, the dot product (inputs are free), the opening.
    for (const Run& run : run_sum<mpc::AdditiveEngine>(sets, random_payloads(sets, 9, n), 0)) {
      CHECK(run.stats.rounds == n + 4);
    }
  }
}

TEST_CASE("sum mode refuses payloads that could overflow, and other modes' entry points",
          "[psi][psi_sum]") {
  const Sets sets(2, {"a", "b"});
  Payloads payloads(2);
  payloads[0] = {std::numeric_limits<std::int64_t>::max(), 1};
  CHECK_THROWS_AS(run_sum<mpc::AdditiveEngine>(sets, payloads, 0), InputError);
  payloads[0] = {std::numeric_limits<std::int64_t>::min() + 1, -1};
  CHECK_THROWS_AS(run_sum<mpc::AdditiveEngine>(sets, payloads, 0), InputError);
  payloads[0] = {1};
  CHECK_THROWS_AS(run_sum<mpc::AdditiveEngine>(sets, payloads, 0), InputError);
  PsiOptions sum;
  sum.mode = PsiMode::kSum;
  CHECK_THROWS_AS(run_psi(sets, sum), ConfigError);
}

TEST_CASE("the additive OKVS sums each key's cells to its value", "[psi][okvs]") {
  mpc::Prg randomness(mpc::random_seed());
  for (std::size_t n : {0u, 1u, 7u, 3000u}) {
    INFO(n << " keys");
    std::vector<Block> keys(n);
    randomness.fill(std::span(reinterpret_cast<std::uint8_t*>(keys.data()), n * 16));
    const OkvsLayout layout = okvs_layout(keys, randomness);
    REQUIRE(layout.cells >= okvs_cells(n));
    const auto ring_values = randomness.sample<mpc::Ring64>(n);
    const auto field_values = randomness.sample<mpc::Fp127>(n);
    const auto ring = okvs_encode_sum<mpc::Ring64>(layout, ring_values);
    const auto field = okvs_encode_sum<mpc::Fp127>(layout, field_values);
    for (std::size_t i = 0; i < n; ++i) {
      mpc::Ring64 ring_sum;
      mpc::Fp127 field_sum;
      for (std::size_t c : okvs_positions(keys[i], layout.seed, layout.cells)) {
        ring_sum += ring[c];
        field_sum += field[c];
      }
      REQUIRE(ring_sum == ring_values[i]);
      REQUIRE(field_sum == field_values[i]);
    }
  }
}

TEST_CASE("OKVS decodes every encoded key, and other keys to unrelated values", "[psi][okvs]") {
  mpc::Prg randomness(mpc::random_seed());
  for (std::size_t n : {0u, 1u, 2u, 5u, 100u, 5000u}) {
    INFO(n << " keys");
    std::vector<Block> keys(n), values(n);
    randomness.fill(std::span(reinterpret_cast<std::uint8_t*>(keys.data()), n * 16));
    randomness.fill(std::span(reinterpret_cast<std::uint8_t*>(values.data()), n * 16));
    const Okvs table = okvs_encode(keys, values, randomness);
    CHECK(table.cells.size() >= okvs_cells(n));
    const Okvs copy = Okvs::deserialize(table.serialize(), 4 * okvs_cells(n), "test");
    for (std::size_t i = 0; i < n; ++i) REQUIRE(copy.decode(keys[i]) == values[i]);
    if (n < 5000) continue;
    // 2000 keys that were not encoded decode to 2000 distinct values, none an encoded value,
    // with balanced bits (a fixed or structured value would fail these). Small tables have few
    // cell combinations, so this is checked on the large one.
    std::set<Block> seen(values.begin(), values.end());
    std::size_t ones = 0;
    for (std::size_t i = 0; i < 2000; ++i) {
      Block other;
      randomness.fill(other);
      const Block value = copy.decode(other);
      CHECK(seen.insert(value).second);
      for (std::uint8_t byte : value) ones += static_cast<std::size_t>(__builtin_popcount(byte));
    }
    const double fraction = static_cast<double>(ones) / (2000.0 * 128);
    CHECK(fraction > 0.49);
    CHECK(fraction < 0.51);
  }
}

TEST_CASE("an OKVS of the zero shares decodes at a non-member to fresh values each run",
          "[psi][okvs]") {
  // The same keys and values, encoded twice: the tables differ in every free cell, so what a
  // non-member key decodes to carries no fixed value across runs.
  mpc::Prg randomness(mpc::random_seed());
  std::vector<Block> keys(64), values(64);
  randomness.fill(std::span(reinterpret_cast<std::uint8_t*>(keys.data()), 64 * 16));
  randomness.fill(std::span(reinterpret_cast<std::uint8_t*>(values.data()), 64 * 16));
  const Okvs a = okvs_encode(keys, values, randomness);
  const Okvs b = okvs_encode(keys, values, randomness);
  Block outsider;
  randomness.fill(outsider);
  CHECK(a.decode(outsider) != b.decode(outsider));
  for (std::size_t i = 0; i < keys.size(); ++i) CHECK(a.decode(keys[i]) == b.decode(keys[i]));
}

TEST_CASE("malformed OKVS messages are refused", "[psi][okvs]") {
  Okvs table;
  table.cells.resize(6);
  const auto bytes = table.serialize();
  CHECK_THROWS_AS(Okvs::deserialize(bytes, 3, "peer"), ProtocolError);
  CHECK_THROWS_AS(Okvs::deserialize(net::ByteView(bytes).first(bytes.size() - 1), 9, "peer"),
                  ProtocolError);
  Okvs odd;
  odd.cells.resize(4);
  CHECK_THROWS_AS(Okvs::deserialize(odd.serialize(), 9, "peer"), ProtocolError);
}
