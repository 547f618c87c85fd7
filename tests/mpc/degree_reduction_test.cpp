// DegreeReduction: degree-2t sharings of known secrets in, degree-t sharings of the same secrets
// out. Every threshold 1 <= t < N/2 for N = 3..7 (so also N > 2t + 1, where the parties above 2t
// reshare nothing), checked by reconstructing every party's output with ShamirCodec's consistency
// check at degree t (so the degree is checked too) against the plaintext secrets; then the rounds
// and bytes stated in mpc/degree_reduction.hpp; then that two reductions of one session (as the
// engine's and the correlation source's) keep their own streams, and that one instance's calls
// of changing lengths (its kept buffers) stay right; then malformed messages.
#include "mpc/degree_reduction.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "mpc/elements.hpp"
#include "mpc/shamir.hpp"
#include "net/errors.hpp"
#include "net/local_mesh.hpp"

using namespace sm;
using namespace sm::mpc;

namespace {

constexpr Seed kSecretsSeed{1, 2, 3};

// The same n pseudo-random secrets and their degree-2t shares, at every party.
template <class F>
struct Dealt {
  std::vector<F> secrets;
  std::vector<std::vector<F>> shares;  // [party][k]
};

template <class F>
Dealt<F> deal_degree_2t(std::size_t parties, std::size_t threshold, std::size_t n) {
  Prg prg(kSecretsSeed, n);
  Dealt<F> out;
  out.secrets = prg.sample<F>(n);
  out.shares = ShamirCodec<F>(parties, 2 * threshold).share(out.secrets, prg);
  return out;
}

template <class F>
std::vector<F> reconstruct_degree_t(const std::vector<std::vector<F>>& shares,
                                    std::size_t threshold) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < shares.size(); ++i) names.push_back("party " + std::to_string(i));
  return ShamirCodec<F>(shares.size(), threshold).reconstruct_checked(shares, names);
}

TEMPLATE_TEST_CASE("degree reduction: every threshold, degree-t shares of the same secrets",
                   "[degree_reduction]", Fp61, Fp127) {
  using F = TestType;
  for (std::size_t parties = 3; parties <= 7; ++parties) {
    for (std::size_t threshold = 1; 2 * threshold < parties; ++threshold) {
      for (const std::size_t n : {std::size_t{1}, std::size_t{5000}}) {
        CAPTURE(parties, threshold, n);
        const Dealt<F> dealt = deal_degree_2t<F>(parties, threshold, n);
        struct Outcome {
          std::vector<F> shares;
          net::MeshStats cost;
        };
        const auto outcomes = net::run_parties(parties, [&](net::Mesh& mesh) {
          Session session = Session::establish(mesh);
          DegreeReduction<F> reduction(session, threshold);
          const net::MeshStats before = mesh.stats();
          Outcome outcome;
          outcome.shares = reduction.reduce(dealt.shares[mesh.self()], "reduce");
          outcome.cost = mesh.stats().since(before);
          return outcome;
        });
        std::vector<std::vector<F>> shares;
        for (const auto& outcome : outcomes) shares.push_back(outcome.shares);
        CHECK(reconstruct_degree_t<F>(shares, threshold) == dealt.secrets);
        // The stated cost: 1 round; n (N - 1 - t) elements from parties 0..2t, none from the
        // others.
        for (net::PartyId self = 0; self < parties; ++self) {
          CAPTURE(self);
          const std::uint64_t sent =
              self <= 2 * threshold ? n * (parties - 1 - threshold) * F::kBytes : 0;
          CHECK(outcomes[self].cost.rounds == 1);
          CHECK(outcomes[self].cost.bytes_sent() == sent);
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("degree reduction: two instances of one session, interleaved, stay apart",
                   "[degree_reduction]", Fp61, Fp127) {
  using F = TestType;
  constexpr std::size_t kParties = 5, kThreshold = 2, kN = 300;
  const Dealt<F> first = deal_degree_2t<F>(kParties, kThreshold, kN);
  const Dealt<F> second = deal_degree_2t<F>(kParties, kThreshold, kN + 1);
  const auto outcomes = net::run_parties(kParties, [&](net::Mesh& mesh) {
    Session session = Session::establish(mesh);
    DegreeReduction<F> engine_side(session, kThreshold), source_side(session, kThreshold);
    std::vector<std::vector<F>> out;
    out.push_back(engine_side.reduce(first.shares[mesh.self()], "engine 1"));
    out.push_back(source_side.reduce(second.shares[mesh.self()], "source 1"));
    out.push_back(source_side.reduce(first.shares[mesh.self()], "source 2"));
    out.push_back(engine_side.reduce(second.shares[mesh.self()], "engine 2"));
    return out;
  });
  for (std::size_t call = 0; call < 4; ++call) {
    CAPTURE(call);
    std::vector<std::vector<F>> shares;
    for (const auto& outcome : outcomes) shares.push_back(outcome[call]);
    const auto& expected = call == 0 || call == 2 ? first.secrets : second.secrets;
    CHECK(reconstruct_degree_t<F>(shares, kThreshold) == expected);
  }
}

TEMPLATE_TEST_CASE("degree reduction: one instance, calls of growing and shrinking lengths",
                   "[degree_reduction]", Fp61, Fp127) {
  using F = TestType;
  // Past the kept buffers' size (2^16 elements) and back, and across the chunks of 2048.
  const std::vector<std::size_t> lengths{5000, 3, 70000, 1, 2049, 5000};
  for (const std::size_t parties : {3, 5}) {
    CAPTURE(parties);
    std::vector<Dealt<F>> dealt;
    for (const std::size_t n : lengths) dealt.push_back(deal_degree_2t<F>(parties, 1, n));
    const auto outcomes = net::run_parties(parties, [&](net::Mesh& mesh) {
      Session session = Session::establish(mesh);
      DegreeReduction<F> reduction(session, 1);
      std::vector<std::vector<F>> out;
      for (const auto& call : dealt) out.push_back(reduction.reduce(call.shares[mesh.self()], "r"));
      return out;
    });
    for (std::size_t call = 0; call < lengths.size(); ++call) {
      CAPTURE(call);
      std::vector<std::vector<F>> shares;
      for (const auto& outcome : outcomes) shares.push_back(outcome[call]);
      CHECK(reconstruct_degree_t<F>(shares, 1) == dealt[call].secrets);
    }
  }
}

// N = 3, t = 1: party 0 reshares to party 2 by message (party 1 draws its share from their
// seed). Party 0 sends `message` instead; parties 1 and 2 reduce. Returns party 2's error.
std::string error_from_bad_resharer(const net::Bytes& message, std::size_t n) {
  const auto errors = net::run_parties(3, [&](net::Mesh& mesh) -> std::string {
    Session session = Session::establish(mesh);
    DegreeReduction<Fp127> reduction(session, 1);
    if (mesh.self() == 0) {
      mesh.send(2, message, "reduce");
      return "";
    }
    try {
      reduction.reduce(std::vector<Fp127>(n, Fp127(5)), "reduce");
    } catch (const ProtocolError& e) {
      return e.what();
    }
    return "";
  });
  CHECK(errors[1].empty());  // party 1's message came from party 2, well-formed
  return errors[2];
}

TEST_CASE("degree reduction: a malformed message names the sender and the step",
          "[degree_reduction]") {
  constexpr std::size_t kN = 1000;
  // Right length, but element 0 is p itself (not canonical).
  net::Bytes not_canonical(kN * Fp127::kBytes, 0);
  const u128 p = Fp127::kModulus;
  std::memcpy(not_canonical.data(), &p, sizeof p);
  const std::string bad_element = error_from_bad_resharer(not_canonical, kN);
  CHECK_THAT(bad_element, Catch::Contains("malformed message from party 0"));
  CHECK_THAT(bad_element, Catch::Contains("'reduce'"));
  CHECK_THAT(bad_element, Catch::Contains("element 0 is not in"));
  // One element short.
  const std::string short_message =
      error_from_bad_resharer(net::Bytes((kN - 1) * Fp127::kBytes, 0), kN);
  CHECK_THAT(short_message, Catch::Contains("malformed message from party 0"));
  CHECK_THAT(short_message, Catch::Contains("expected 1000 elements"));
}

TEST_CASE("degree reduction: empty input communicates nothing, bad thresholds are refused",
          "[degree_reduction]") {
  const auto costs = net::run_parties(3, [](net::Mesh& mesh) {
    Session session = Session::establish(mesh);
    DegreeReduction<Fp61> reduction(session, 1);
    const net::MeshStats before = mesh.stats();
    const auto out = reduction.reduce({}, "empty");
    if (!out.empty()) throw std::logic_error("output from nothing");
    return mesh.stats().since(before).rounds + mesh.stats().since(before).bytes_sent();
  });
  for (const auto cost : costs) CHECK(cost == 0);
  // t = 0 and 2t = N are refused at every party (the checks run outside the parties' threads).
  const auto refused = net::run_parties(4, [](net::Mesh& mesh) {
    Session session = Session::establish(mesh);
    int count = 0;
    for (const std::size_t threshold : {0, 2}) {
      try {
        DegreeReduction<Fp127> reduction(session, threshold);
      } catch (const std::invalid_argument&) {
        ++count;
      }
    }
    return count;
  });
  for (const int count : refused) CHECK(count == 2);
}

}  // namespace
