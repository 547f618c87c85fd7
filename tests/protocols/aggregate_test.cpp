// Secure aggregation against the plaintext sum: both protocols, several party counts, edge
// values, dropouts at each step, output restricted to some parties, and differential privacy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "mpc/mersenne.hpp"
#include "net/errors.hpp"
#include "net/local_mesh.hpp"
#include "net/round_budget_mesh.hpp"
#include "protocols/aggregate.hpp"
#include "protocols/discrete_gaussian.hpp"
#include "tests/support/engines.hpp"

using namespace sm;
using namespace sm::proto;

namespace {

struct PartyCrashed : std::runtime_error {
  PartyCrashed() : std::runtime_error("simulated crash") {}
};

// A party that crashes after `rounds` rounds: it closes its mesh and throws PartyCrashed.
net::RoundBudgetMesh crashing_mesh(net::Mesh& mesh, std::size_t rounds) {
  return net::RoundBudgetMesh(mesh, rounds, [](net::Mesh& inner) {
    inner.close();
    throw PartyCrashed();
  });
}

// A party whose messages in one step carry `word` in place of their element `element` (a
// faulty party, to show that the checks name it); shorter messages go out unchanged.
class TamperingMesh final : public net::Mesh {
 public:
  TamperingMesh(net::Mesh& inner, std::string step, std::size_t element, std::uint64_t word)
      : Mesh(inner.self(), test::names_of(inner)),
        inner_(inner),
        step_(std::move(step)),
        element_(element),
        word_(word) {}
  void close() override { inner_.close(); }

 protected:
  std::vector<net::Bytes> transfer(std::span<const net::Outgoing> sends,
                                   std::span<const net::PartyId> receive_from,
                                   std::string_view step) override {
    return inner_.round(sends, receive_from, step);
  }
  std::vector<std::optional<net::Bytes>> transfer_tolerant(
      std::span<const net::Outgoing> sends, std::span<const net::PartyId> receive_from,
      std::string_view step) override {
    if (step != step_) return inner_.round_tolerant(sends, receive_from, step);
    std::vector<net::Bytes> copies;
    for (const auto& message : sends) {
      copies.emplace_back(message.data.begin(), message.data.end());
      copies.back().insert(copies.back().end(), message.tail.begin(), message.tail.end());
      if (copies.back().size() < 8 * (element_ + 1)) continue;  // e.g. the empty messages
      std::memcpy(copies.back().data() + 8 * element_, &word_, sizeof word_);
    }
    std::vector<net::Outgoing> tampered;
    for (std::size_t k = 0; k < sends.size(); ++k) tampered.push_back({sends[k].to, copies[k]});
    return inner_.round_tolerant(tampered, receive_from, step);
  }

 private:
  net::Mesh& inner_;
  std::string step_;
  std::size_t element_;
  std::uint64_t word_;
};

std::vector<std::vector<std::int64_t>> random_inputs(std::size_t parties, std::size_t d,
                                                     std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::int64_t limit = max_abs_input(parties);
  std::uniform_int_distribution<std::int64_t> value(-limit, limit);
  std::vector<std::vector<std::int64_t>> inputs(parties, std::vector<std::int64_t>(d));
  for (auto& row : inputs) {
    for (auto& v : row) v = value(rng);
  }
  // Edge values in the first columns: the limits, zero, +-1.
  const std::int64_t edges[] = {limit, -limit, 0, 1, -1};
  for (std::size_t p = 0; p < parties; ++p) {
    for (std::size_t i = 0; i < std::min<std::size_t>(d, 5); ++i) inputs[p][i] = edges[i];
  }
  return inputs;
}

std::vector<std::int64_t> plain_sum(const std::vector<std::vector<std::int64_t>>& inputs,
                                    const std::vector<net::PartyId>& who) {
  std::vector<std::int64_t> sum(inputs[0].size(), 0);
  for (net::PartyId p : who) {
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += inputs[p][i];
  }
  return sum;
}

std::vector<net::PartyId> everyone(std::size_t n) {
  std::vector<net::PartyId> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = i;
  return all;
}

// Runs secure_sum at every party; parties listed in `crash_after` crash after that many rounds
// of the protocol (counted from the first round of secure_sum).
std::vector<std::optional<AggregationResult>> run_sum(
    const std::vector<std::vector<std::int64_t>>& inputs, AggregationOptions options,
    std::map<net::PartyId, std::size_t> crash_after = {}) {
  const std::size_t n = inputs.size();
  return net::run_parties(n, [&](net::Mesh& mesh) -> std::optional<AggregationResult> {
    mpc::PrgState seeds = mpc::PrgState::establish(mesh);
    auto crash = crash_after.find(mesh.self());
    if (crash == crash_after.end()) {
      mpc::Session session(mesh, std::move(seeds));
      return secure_sum(session, inputs[mesh.self()], options);
    }
    net::RoundBudgetMesh crashing = crashing_mesh(mesh, crash->second);
    mpc::Session session(crashing, std::move(seeds));
    try {
      secure_sum(session, inputs[mesh.self()], options);
    } catch (const PartyCrashed&) {
    }
    return std::nullopt;
  });
}

// Runs secure_sum at every party, checks every result against the plaintext sum, and returns
// each party's mesh counters of the protocol alone.
std::vector<net::MeshStats> checked_sum_costs(const std::vector<std::vector<std::int64_t>>& inputs,
                                              const AggregationOptions& options) {
  const std::size_t n = inputs.size();
  return net::run_parties(n, [&](net::Mesh& mesh) {
    mpc::Session session(mesh, mpc::PrgState::establish(mesh));
    const net::MeshStats before = mesh.stats();
    const auto result = secure_sum(session, inputs[mesh.self()], options);
    if (result.sum) CHECK(*result.sum == plain_sum(inputs, everyone(n)));
    return mesh.stats().since(before);
  });
}

// Runs secure_sum among the parties of `inputs`; every party from 2 up crashes after `rounds`
// rounds of the protocol. Returns the ProtocolError message of parties 0 and 1 (empty if none).
std::vector<std::string> errors_when_all_but_two_crash(
    const std::vector<std::vector<std::int64_t>>& inputs, const AggregationOptions& options,
    std::size_t rounds) {
  std::vector<std::string> errors(inputs.size());
  net::run_parties(inputs.size(), [&](net::Mesh& mesh) {
    mpc::PrgState seeds = mpc::PrgState::establish(mesh);
    if (mesh.self() >= 2) {
      net::RoundBudgetMesh crashing = crashing_mesh(mesh, rounds);
      mpc::Session doomed(crashing, std::move(seeds));
      try {
        secure_sum(doomed, inputs[mesh.self()], options);
      } catch (const PartyCrashed&) {
      }
      return;
    }
    mpc::Session session(mesh, std::move(seeds));
    try {
      secure_sum(session, inputs[mesh.self()], options);
    } catch (const ProtocolError& e) {
      errors[mesh.self()] = e.what();
    }
  });
  return errors;
}

}  // namespace

TEST_CASE("the sum equals the plaintext sum exactly", "[aggregate]") {
  for (auto protocol : {AggregationProtocol::kThreshold, AggregationProtocol::kMasked}) {
    for (std::size_t n : {2u, 3u, 5u, 10u}) {
      const auto inputs = random_inputs(n, 257, n * 31 + static_cast<int>(protocol));
      AggregationOptions options;
      options.protocol = protocol;
      options.threshold = (n - 1) / 2 > 0 ? (n - 1) / 2 : 1;
      const auto results = run_sum(inputs, options);
      const auto expected = plain_sum(inputs, everyone(n));
      for (const auto& result : results) {
        REQUIRE(result->sum.has_value());
        CHECK(*result->sum == expected);
        CHECK(result->included == everyone(n));
        CHECK(result->dropped.empty());
      }
    }
  }
}

TEST_CASE("only the output parties learn the sum", "[aggregate]") {
  for (auto protocol : {AggregationProtocol::kThreshold, AggregationProtocol::kMasked}) {
    const auto inputs = random_inputs(4, 16, 99);
    AggregationOptions options;
    options.protocol = protocol;
    options.output_parties = {2, 0};
    const auto results = run_sum(inputs, options);
    CHECK(*results[0]->sum == plain_sum(inputs, everyone(4)));
    CHECK(*results[2]->sum == plain_sum(inputs, everyone(4)));
    CHECK_FALSE(results[1]->sum.has_value());
    CHECK_FALSE(results[3]->sum.has_value());
  }
}

TEST_CASE("threshold: rounds and bytes match the header's cost statement", "[aggregate][cost]") {
  // Per party: d (N - 1 - t) share elements; d per output party it provides for (an output o's
  // providers are o + 1 .. o + t mod N); N report bytes to the leader (others) or 8 + 2 N
  // decision bytes to each other party (the leader); at an output, 1 request byte to each of
  // its N - 1 - t reserves. Rounds: share, report, announce, then the sum shares where the party
  // sends or receives some, then the requests where it sends or receives one.
  struct Case {
    std::size_t n, t;
    std::vector<net::PartyId> outputs;
  };
  const std::size_t d = 100;
  for (const auto& c :
       std::vector<Case>{{3, 1, {}}, {3, 2, {}}, {5, 2, {}}, {5, 1, {1, 3}}, {10, 4, {}}}) {
    const auto inputs = random_inputs(c.n, d, c.n + c.t);
    AggregationOptions options;
    options.threshold = c.t;
    options.output_parties = c.outputs;
    const auto outputs = c.outputs.empty() ? everyone(c.n) : c.outputs;
    const auto stats = checked_sum_costs(inputs, options);
    for (net::PartyId p = 0; p < c.n; ++p) {
      const bool is_output = std::find(outputs.begin(), outputs.end(), p) != outputs.end();
      std::size_t provides_for = 0, asked_by = 0;
      for (net::PartyId o : outputs) {
        if (o == p) continue;
        const std::size_t distance = (p + c.n - o) % c.n;
        (distance <= c.t ? provides_for : asked_by) += 1;
      }
      const std::size_t reserves = is_output ? c.n - 1 - c.t : 0;
      const std::size_t control =
          (p == outputs.front() ? (c.n - 1) * (8 + 2 * c.n) : c.n) + reserves;
      CHECK(stats[p].bytes_sent() == 8 * d * (c.n - 1 - c.t) + 8 * d * provides_for + control);
      const std::size_t sum_share_round = is_output || provides_for > 0 ? 1 : 0;
      const std::size_t request_round = reserves > 0 || asked_by > 0 ? 1 : 0;
      CHECK(stats[p].rounds == 3 + sum_share_round + request_round);
    }
  }
}

TEST_CASE("masked: rounds and bytes match the header's cost statement", "[aggregate][cost]") {
  // Per party other than the aggregator: 96 key bytes to every other party; 8 d + N masked
  // vector bytes and 16 + 4 N + 24 (N - 2) unmasking bytes to the aggregator. The aggregator:
  // 8 + 2 N decision bytes to every other party, 8 d to every other output party. Rounds: keys,
  // masked vectors, included set, unmasking shares, then the result where the party is an output.
  struct Case {
    std::size_t n;
    std::vector<net::PartyId> outputs;
  };
  const std::size_t d = 100;
  for (const auto& c : std::vector<Case>{{2, {}}, {3, {}}, {5, {}}, {5, {3, 1}}, {10, {}}}) {
    const auto inputs = random_inputs(c.n, d, c.n + 40);
    AggregationOptions options;
    options.protocol = AggregationProtocol::kMasked;
    options.threshold = std::max<std::size_t>(1, (c.n - 1) / 2);
    options.output_parties = c.outputs;
    const auto outputs = c.outputs.empty() ? everyone(c.n) : c.outputs;
    const auto stats = checked_sum_costs(inputs, options);
    for (net::PartyId p = 0; p < c.n; ++p) {
      const bool is_output = std::find(outputs.begin(), outputs.end(), p) != outputs.end();
      if (p == outputs.front()) {
        CHECK(stats[p].bytes_sent() == (c.n - 1) * (8 + 2 * c.n) + (outputs.size() - 1) * 8 * d);
      } else {
        CHECK(stats[p].bytes_sent() ==
              96 * (c.n - 1) + 8 * d + c.n + 16 + 4 * c.n + 24 * (c.n - 2));
      }
      CHECK(stats[p].rounds == (is_output ? 5u : 4u));
    }
  }
}

TEST_CASE("threshold: a wrong or malformed share is refused naming its sender",
          "[aggregate][faults]") {
  // Four parties, t = 1; one party corrupts element 5 of what it sends at one step: a share of
  // its input (non-canonical only: a wrong value there just changes its input), or its share of
  // the sum (non-canonical; or off the polynomial, which an output party can see only when it
  // holds more than t + 1 sum shares: here party 1, party 0's provider, crashes before sending
  // its share, so party 0 asks parties 2 and 3 for theirs). Every party that receives the
  // corrupted message must fail naming the sender.
  struct Case {
    net::PartyId faulty;
    std::string step;
    std::uint64_t word;
    std::map<net::PartyId, std::size_t> crash_after;
    std::string message;
  };
  const auto inputs = random_inputs(4, 40, 11);
  for (const auto& c : std::vector<Case>{
           {2, "aggregate: shares", mpc::Fp61::kModulus, {}, "malformed shares from party 2 (party2)"},
           {2, "aggregate: sum shares", ~std::uint64_t{0}, {},
            "malformed shares from party 2 (party2)"},
           {3, "aggregate: sum shares (fallback)", 12345, {{1, 3}},
            "the share of party 3 (party3) does not lie on"}}) {
    std::vector<std::string> errors(4);
    net::run_parties(4, [&](net::Mesh& mesh) {
      mpc::PrgState seeds = mpc::PrgState::establish(mesh);
      if (auto crash = c.crash_after.find(mesh.self()); crash != c.crash_after.end()) {
        net::RoundBudgetMesh crashing = crashing_mesh(mesh, crash->second);
        mpc::Session doomed(crashing, std::move(seeds));
        try {
          secure_sum(doomed, inputs[mesh.self()], {});
        } catch (const PartyCrashed&) {
        }
        return;
      }
      TamperingMesh tampering(mesh, mesh.self() == c.faulty ? c.step : "", 5, c.word);
      mpc::Session session(tampering, std::move(seeds));
      try {
        secure_sum(session, inputs[mesh.self()], {});
      } catch (const ProtocolError& e) {
        errors[mesh.self()] = e.what();
      } catch (const NetError&) {  // a peer that failed first
      }
    });
    std::size_t named = 0;
    for (const auto& error : errors) named += error.find(c.message) != std::string::npos;
    CHECK(named >= 1);
    CHECK(errors[c.faulty].find("party " + std::to_string(c.faulty)) == std::string::npos);
  }
}

TEST_CASE("threshold: parties that drop out after sending their shares are still counted",
          "[aggregate][dropout]") {
  const auto inputs = random_inputs(5, 64, 5);
  AggregationOptions options;
  options.threshold = 2;
  for (const auto& crashing :
       std::vector<std::map<net::PartyId, std::size_t>>{{{3, 1}}, {{3, 1}, {4, 1}}}) {
    const auto results = run_sum(inputs, options, crashing);
    for (net::PartyId p = 0; p < 5; ++p) {
      if (crashing.contains(p)) continue;
      REQUIRE(results[p]->sum.has_value());
      CHECK(*results[p]->sum == plain_sum(inputs, everyone(5)));
      CHECK(results[p]->dropped.size() == crashing.size());
    }
  }
}

TEST_CASE("threshold: providers that drop out during reconstruction are replaced",
          "[aggregate][dropout]") {
  // N = 5, t = 2: output o's providers are o + 1 and o + 2. A party crashing after 3 rounds
  // never sends its sum share; one crashing after 4 sent it but answers no request. Every
  // survivor must still get the sum of all five inputs, and name who it saw drop out.
  const auto inputs = random_inputs(5, 64, 12);
  AggregationOptions options;
  options.threshold = 2;
  for (const auto& crashing : std::vector<std::map<net::PartyId, std::size_t>>{
           {{1, 3}}, {{1, 3}, {2, 3}}, {{1, 3}, {3, 4}}, {{4, 1}, {1, 3}}}) {
    const auto results = run_sum(inputs, options, crashing);
    for (net::PartyId p = 0; p < 5; ++p) {
      if (crashing.contains(p)) continue;
      REQUIRE(results[p]->sum.has_value());
      CHECK(*results[p]->sum == plain_sum(inputs, everyone(5)));
      CHECK(results[p]->included == everyone(5));
      for (net::PartyId q : results[p]->dropped) CHECK(crashing.contains(q));
    }
    // Party 0's providers are 1 and 2: it sees 1 drop out.
    if (!crashing.contains(0)) CHECK(results[0]->dropped.front() == 1);
  }
}

TEST_CASE("threshold: too many dropouts during reconstruction end the run at the outputs",
          "[aggregate][dropout]") {
  const auto inputs = random_inputs(5, 8, 13);
  AggregationOptions options;
  options.threshold = 2;
  const auto errors = errors_when_all_but_two_crash(inputs, options, 3);
  for (net::PartyId p : {0u, 1u}) {
    CHECK_THAT(errors[p], Catch::Contains("only 2 shares of the sum arrived but 3 are needed"));
  }
}

TEST_CASE("threshold: a party that drops out before sending is left out", "[aggregate][dropout]") {
  const auto inputs = random_inputs(5, 8, 6);
  AggregationOptions options;
  options.threshold = 2;
  const auto results = run_sum(inputs, options, {{4, 0}});
  for (net::PartyId p = 0; p < 4; ++p) {
    CHECK(*results[p]->sum == plain_sum(inputs, {0, 1, 2, 3}));
    CHECK(results[p]->included == std::vector<net::PartyId>{0, 1, 2, 3});
  }
}

TEST_CASE("masked: the sum covers exactly the parties whose masked vectors arrived",
          "[aggregate][dropout]") {
  const auto inputs = random_inputs(5, 64, 7);
  AggregationOptions options;
  options.protocol = AggregationProtocol::kMasked;
  options.threshold = 2;
  // Crash after the key round (before sending the masked vector): left out, masks removed.
  // Crash after sending the masked vector: included, self-mask rebuilt from shares.
  struct Case {
    std::map<net::PartyId, std::size_t> crashing;
    std::vector<net::PartyId> included;
  };
  for (const auto& c : std::vector<Case>{{{{3, 1}}, {0, 1, 2, 4}},
                                         {{{3, 1}, {4, 1}}, {0, 1, 2}},
                                         {{{4, 2}}, {0, 1, 2, 3, 4}},
                                         {{{3, 1}, {4, 2}}, {0, 1, 2, 4}}}) {
    const auto results = run_sum(inputs, options, c.crashing);
    for (net::PartyId p = 0; p < 5; ++p) {
      if (c.crashing.contains(p)) continue;
      REQUIRE(results[p]->sum.has_value());
      CHECK(*results[p]->sum == plain_sum(inputs, c.included));
      CHECK(results[p]->included == c.included);
    }
  }
}

TEST_CASE("too many dropouts end the run at every survivor naming who dropped",
          "[aggregate][dropout]") {
  for (auto protocol : {AggregationProtocol::kThreshold, AggregationProtocol::kMasked}) {
    const auto inputs = random_inputs(5, 8, 8);
    AggregationOptions options;
    options.protocol = protocol;
    options.threshold = 2;
    const auto errors = errors_when_all_but_two_crash(inputs, options, 1);
    for (net::PartyId p : {0u, 1u}) {
      CHECK_THAT(errors[p], Catch::Contains("only 2 parties remain but the sum needs 3") &&
                                Catch::Contains("party 2 (party2)") &&
                                Catch::Contains("party 4 (party4)"));
    }
  }
}

TEST_CASE("values beyond the limit are refused", "[aggregate]") {
  std::vector<std::vector<std::int64_t>> inputs(3, std::vector<std::int64_t>{1, 2});
  inputs[1][1] = max_abs_input(3) + 1;
  REQUIRE_THROWS_AS(run_sum(inputs, {}), InputError);
}

TEST_CASE("discrete Gaussian noise has the configured variance", "[dp]") {
  // A fixed seed: 200,000 samples; the sample variance of N_Z(0, sigma^2) is within a few
  // standard errors (sd of the variance estimate ~ sigma^2 sqrt(2 / n)).
  for (double sigma : {0.8, 3.0, 250.0}) {
    mpc::Prg prg(mpc::Seed{9}, static_cast<std::uint64_t>(sigma * 10));
    const std::size_t n = 200000;
    const auto samples = sample_discrete_gaussian(prg, sigma, n);
    double mean = 0, variance = 0;
    for (auto s : samples) mean += static_cast<double>(s);
    mean /= n;
    for (auto s : samples) variance += (s - mean) * (s - mean);
    variance /= n - 1;
    const double expected = sigma * sigma;  // exact for the discrete Gaussian up to < 1e-6 here
    CHECK(std::fabs(mean) < 5 * sigma / std::sqrt(static_cast<double>(n)));
    CHECK(std::fabs(variance - expected) < 5 * expected * std::sqrt(2.0 / n) + 0.01);
  }
}

TEST_CASE("noise is calibrated from epsilon and delta", "[dp]") {
  // rho-zCDP with rho = Delta^2 / (2 sigma^2) must give back epsilon at the calibrated sigma.
  const DpParameters parameters{0.5, 1e-5, 1000.0};
  const double sigma = calibrated_sigma(parameters);
  const double rho = parameters.l2_sensitivity * parameters.l2_sensitivity / (2 * sigma * sigma);
  CHECK(rho + 2 * std::sqrt(rho * std::log(1 / parameters.delta)) ==
        Approx(parameters.epsilon).epsilon(1e-9));
  CHECK_THROWS(calibrated_sigma({0, 1e-5, 1}));
  CHECK_THROWS(calibrated_sigma({1, 1.5, 1}));
}

TEST_CASE("with noise the revealed sum differs from the exact sum by the configured scale",
          "[dp][aggregate]") {
  const std::size_t d = 4000;
  std::vector<std::vector<std::int64_t>> inputs(3, std::vector<std::int64_t>(d, 1000));
  AggregationOptions options;
  options.noise_sigma = 50;
  const auto results = run_sum(inputs, options);
  const auto& sum = *results[0]->sum;
  double variance = 0;
  std::size_t differing = 0;
  for (auto v : sum) {
    variance += (v - 3000.0) * (v - 3000.0);
    differing += v != 3000;
  }
  variance /= d;
  CHECK(differing > d * 9 / 10);
  CHECK(std::fabs(variance - 2500) < 5 * 2500 * std::sqrt(2.0 / d));
  CHECK(*results[1]->sum == sum);
}
