#include "apps/bench_mpc.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

#include "apps/bench_support.hpp"
#include "mpc/additive_engine.hpp"
#include "mpc/dealer.hpp"
#include "mpc/dealer_free.hpp"
#include "mpc/elements.hpp"
#include "mpc/ops.hpp"
#include "mpc/shamir_engine.hpp"
#include "net/errors.hpp"
#include "net/log.hpp"
#include "net/sub_mesh.hpp"
#include "net/tls_mesh.hpp"
#include "protocols/aggregate.hpp"

namespace sm::app {

namespace {

// How many result elements (mul) or result rows (matmul) every party checks after the run.
constexpr std::size_t kCheckedElements = 1000;
constexpr std::size_t kCheckedRows = 8;
// Plaintext baselines take the median of this many runs.
constexpr std::size_t kPlainRepeats = 5;
// Aggregate inputs are uniform in [-kAggregateRange, kAggregateRange).
constexpr std::int64_t kAggregateRange = std::int64_t{1} << 20;

constexpr mpc::Seed kInputSeed = {0x53, 0x4d, 0x62, 0x65, 0x6e, 0x63, 0x68, 0x00,
                                  0x69, 0x6e, 0x70, 0x75, 0x74, 0x73, 0x00, 0x01};

// The benchmark's public pseudo-random input number `stream`: n elements.
template <class E>
std::vector<E> input_values(std::uint64_t stream, std::size_t n) {
  mpc::Prg prg(kInputSeed, stream);
  return prg.sample<E>(n);
}

std::vector<std::int64_t> aggregate_input(net::PartyId party, std::size_t d) {
  mpc::Prg prg(kInputSeed, 100 + party);
  const auto words = prg.sample<mpc::Ring64>(d);
  std::vector<std::int64_t> out(d);
  for (std::size_t i = 0; i < d; ++i) {
    out[i] = static_cast<std::int64_t>(words[i].value() % (2 * kAggregateRange)) - kAggregateRange;
  }
  return out;
}

nlohmann::json phases_json(std::initializer_list<std::pair<const char*, PhaseMeasure>> phases) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, measure] : phases) out[name] = to_json(measure);
  return out;
}

template <class En>
nlohmann::json mul_phases(En& engine, net::Mesh& barrier, const net::Mesh& counted, std::size_t n) {
  using E = typename En::Element;
  const net::PartyId self = engine.session().self();
  const auto x_values = self == 0 ? input_values<E>(0, n) : std::vector<E>{};
  const auto y_values = self == 1 ? input_values<E>(1, n) : std::vector<E>{};
  const auto x = engine.input(0, x_values, n, "bench input x");
  const auto y = engine.input(1, y_values, n, "bench input y");

  mpc::Triples<E> triples;
  const PhaseMeasure triple_phase =
      measure_phase(barrier, counted, [&] { triples = engine.correlations().triples(n); });
  typename En::Shares z;
  PhaseMeasure pre, online;
  if constexpr (mpc::MultipliesWithoutTriples<En>) {
    // The engine's own multiplication needs nothing prepared; the triples were measured for
    // their rate only.
    triples = {};
    online = measure_phase(barrier, counted, [&] { z = mpc::mul(engine, x, y, "bench mul"); });
  } else {
    pre = triple_phase;
    online = measure_phase(barrier, counted, [&] {
      z = mpc::mul_with(engine, x, y, std::move(triples), "bench mul");
    });
  }

  const std::size_t k = std::min(n, kCheckedElements);
  const auto opened = engine.open(
      mpc::concat(mpc::concat(mpc::slice(x, 0, k), mpc::slice(y, 0, k)), mpc::slice(z, 0, k)),
      "bench check");
  for (std::size_t i = 0; i < k; ++i) {
    if (!(opened[2 * k + i] == opened[i] * opened[k + i])) {
      throw ProtocolError("mul benchmark: product " + std::to_string(i) + " is wrong");
    }
  }
  nlohmann::json phases = phases_json({{"preprocessing", pre}, {"online", online}});
  if constexpr (mpc::MultipliesWithoutTriples<En>) phases["triples"] = to_json(triple_phase);
  return {{"phases", std::move(phases)}, {"checked", k}};
}

template <class En>
nlohmann::json matmul_phases(En& engine, net::Mesh& barrier, const net::Mesh& counted,
                             std::size_t rows, std::size_t inner, std::size_t cols) {
  using E = typename En::Element;
  const net::PartyId self = engine.session().self();
  const auto a_values = self == 0 ? input_values<E>(2, rows * inner) : std::vector<E>{};
  const auto b_values = self == 1 ? input_values<E>(3, inner * cols) : std::vector<E>{};
  const auto a = engine.input(0, a_values, rows * inner, "bench input A");
  const auto b = engine.input(1, b_values, inner * cols, "bench input B");

  typename En::Shares c;
  PhaseMeasure pre, online;
  if constexpr (mpc::MultipliesWithoutTriples<En>) {
    online = measure_phase(barrier, counted, [&] {
      c = mpc::matmul(engine, a, b, rows, inner, cols, "bench matmul");
    });
  } else {
    mpc::MatrixTriple<E> triple;
    pre = measure_phase(barrier, counted,
                        [&] { triple = engine.correlations().matrix_triple(rows, inner, cols); });
    online = measure_phase(barrier, counted,
                           [&] { c = mpc::matmul_with(engine, a, b, triple, "bench matmul"); });
  }

  const std::size_t k = std::min(rows, kCheckedRows);
  const auto opened = engine.open(
      mpc::concat(mpc::concat(mpc::slice(a, 0, k * inner), b), mpc::slice(c, 0, k * cols)),
      "bench check");
  const std::span<const E> all(opened);
  const auto expected = mpc::matmul_plain<E>(all.subspan(0, k * inner),
                                             all.subspan(k * inner, inner * cols), k, inner, cols);
  const auto got = all.subspan(k * inner + inner * cols);
  if (!std::equal(expected.begin(), expected.end(), got.begin())) {
    throw ProtocolError("matmul benchmark: the product is wrong");
  }
  return {{"phases", phases_json({{"preprocessing", pre}, {"online", online}})},
          {"checked", k * cols}};
}

template <class F, class Phases>
nlohmann::json run_shamir(net::Mesh& mesh, Phases& phases) {
  mpc::Session session = mpc::Session::establish(mesh);
  const std::size_t threshold = (mesh.size() - 1) / 2;
  mpc::DealerFreeShamir<F> source(session, threshold, mpc::ShamirEngine<F>::kDefaultValueBits);
  mpc::ShamirEngine<F> engine(session, source, threshold);
  nlohmann::json report = phases(engine, mesh, mesh);
  mesh.broadcast(net::Bytes(1), "bench done");  // nobody closes while another still works
  return report;
}

// Connects party config.self, sets up `scheme` (see the header) and returns
// phases(engine, barrier mesh, counted mesh) with the party's id and role added.
template <class Phases>
nlohmann::json run_engine_party(BenchScheme scheme, const net::TlsConfig& config, Phases phases) {
  Logger log(config.parties.at(config.self).name, Logger::Level::kWarn);
  auto mesh = net::TlsMesh::connect(config, log);
  nlohmann::json report;
  if (scheme == BenchScheme::kAdditive) {
    const std::size_t computing = mesh->size() - 1;
    std::vector<net::PartyId> compute(computing);
    std::iota(compute.begin(), compute.end(), net::PartyId{0});
    if (mesh->self() == computing) {
      const mpc::DealerStats stats = mpc::serve_dealer(*mesh, compute);
      report = {{"role", "dealer"},
                {"dealer",
                 {{"batches", stats.batches},
                  {"bytes_sent", stats.bytes_sent},
                  {"bytes_received", stats.bytes_received},
                  {"seconds", stats.seconds},
                  {"compute_seconds", stats.compute_seconds}}}};
    } else {
      net::SubMesh sub(*mesh, compute);
      mpc::Session session = mpc::Session::establish(sub);
      mpc::DealerClient client(*mesh, computing, compute);
      mpc::AdditiveEngine engine(session, client);
      report = phases(engine, sub, *mesh);
      report["role"] = "compute";
      sub.broadcast(net::Bytes(1), "bench done");
      client.finish();
    }
  } else {
    report = scheme == BenchScheme::kShamir61 ? run_shamir<mpc::Fp61>(*mesh, phases)
                                              : run_shamir<mpc::Fp127>(*mesh, phases);
    report["role"] = "compute";
  }
  report["party"] = config.self;
  mesh->close();
  report["peak_rss_bytes"] = peak_rss_bytes();
  return report;
}

template <class E>
double plain_mul_seconds_for(std::size_t n) {
  const auto a = input_values<E>(0, n);
  const auto b = input_values<E>(1, n);
  volatile std::uint64_t sink = 0;
  return median_seconds(kPlainRepeats, [&] {
    const auto c = mpc::mul_vec<E>(a, b);
    sink = sink + static_cast<std::uint64_t>(mpc::to_unsigned(c.back()));
  });
}

template <class E>
double plain_matmul_seconds_for(std::size_t rows, std::size_t inner, std::size_t cols) {
  const auto a = input_values<E>(2, rows * inner);
  const auto b = input_values<E>(3, inner * cols);
  volatile std::uint64_t sink = 0;
  return median_seconds(kPlainRepeats, [&] {
    const auto c = mpc::matmul_plain<E>(a, b, rows, inner, cols);
    sink = sink + static_cast<std::uint64_t>(mpc::to_unsigned(c.back()));
  });
}

// The insecure baseline: raw vectors to party 0, the sum back.
std::vector<std::int64_t> plain_sum_via_leader(net::Mesh& mesh,
                                               std::span<const std::int64_t> values) {
  const std::size_t bytes = values.size() * sizeof(std::int64_t);
  std::vector<std::int64_t> sum(values.begin(), values.end());
  if (mesh.self() != 0) {
    mesh.send(0, {reinterpret_cast<const std::uint8_t*>(values.data()), bytes}, "plain vector");
    const net::Bytes reply = mesh.recv(0, "plain sum");
    if (reply.size() != bytes) throw ProtocolError("plain sum: the reply has the wrong length");
    std::memcpy(sum.data(), reply.data(), bytes);
    return sum;
  }
  std::vector<net::PartyId> others;
  for (net::PartyId p = 1; p < mesh.size(); ++p) others.push_back(p);
  const auto vectors = mesh.round({}, others, "plain vector");
  for (const auto& vector : vectors) {
    if (vector.size() != bytes) throw ProtocolError("plain sum: a vector has the wrong length");
    for (std::size_t i = 0; i < sum.size(); ++i) {
      std::int64_t v;
      std::memcpy(&v, vector.data() + i * sizeof v, sizeof v);
      sum[i] += v;
    }
  }
  const net::ByteView reply(reinterpret_cast<const std::uint8_t*>(sum.data()), bytes);
  std::vector<net::Outgoing> sends;
  for (net::PartyId p : others) sends.push_back({p, reply});
  mesh.round(sends, {}, "plain sum");
  return sum;
}

}  // namespace

std::string scheme_label(BenchScheme scheme) {
  switch (scheme) {
    case BenchScheme::kAdditive:
      return "additive Z_2^64";
    case BenchScheme::kShamir61:
      return "shamir Fp61";
    case BenchScheme::kShamir127:
      return "shamir Fp127";
  }
  return "?";
}

std::size_t element_bytes(BenchScheme scheme) { return scheme == BenchScheme::kShamir127 ? 16 : 8; }

std::size_t process_count(BenchScheme scheme, std::size_t computing) {
  return scheme == BenchScheme::kAdditive ? computing + 1 : computing;
}

nlohmann::json engine_party(BenchScheme scheme, const net::TlsConfig& config,
                            const EnginePhases& phases) {
  return run_engine_party(
      scheme, config, [&](auto& engine, net::Mesh& barrier, const net::Mesh& counted) {
        using En = std::remove_reference_t<decltype(engine)>;
        const auto& fn = [&]() -> const EnginePhases::Fn<En>& {
          if constexpr (std::is_same_v<En, mpc::AdditiveEngine>)
            return phases.additive;
          else if constexpr (std::is_same_v<En, mpc::ShamirEngine<mpc::Fp61>>)
            return phases.shamir61;
          else
            return phases.shamir127;
        }();
        if (!fn) throw ConfigError("this benchmark does not run on " + scheme_label(scheme));
        return fn(engine, barrier, counted);
      });
}

nlohmann::json mul_party(BenchScheme scheme, const net::TlsConfig& config, std::size_t n) {
  return run_engine_party(scheme, config,
                          [n](auto& engine, net::Mesh& barrier, const net::Mesh& counted) {
                            return mul_phases(engine, barrier, counted, n);
                          });
}

nlohmann::json matmul_party(BenchScheme scheme, const net::TlsConfig& config, std::size_t rows,
                            std::size_t inner, std::size_t cols) {
  return run_engine_party(scheme, config,
                          [=](auto& engine, net::Mesh& barrier, const net::Mesh& counted) {
                            return matmul_phases(engine, barrier, counted, rows, inner, cols);
                          });
}

std::string aggregate_label(AggregateMode mode) {
  switch (mode) {
    case AggregateMode::kPlainToLeader:
      return "plain to party 0";
    case AggregateMode::kThreshold:
      return "threshold";
    case AggregateMode::kMasked:
      return "masked";
  }
  return "?";
}

nlohmann::json aggregate_party(AggregateMode mode, const net::TlsConfig& config, std::size_t d) {
  Logger log(config.parties.at(config.self).name, Logger::Level::kWarn);
  auto mesh = net::TlsMesh::connect(config, log);
  const std::size_t n = mesh->size();
  const auto values = aggregate_input(config.self, d);
  std::vector<std::int64_t> sum;
  PhaseMeasure measure;
  if (mode == AggregateMode::kPlainToLeader) {
    measure = measure_phase(*mesh, *mesh, [&] { sum = plain_sum_via_leader(*mesh, values); });
  } else {
    mpc::Session session = mpc::Session::establish(*mesh);
    proto::AggregationOptions options;
    options.protocol = mode == AggregateMode::kThreshold ? proto::AggregationProtocol::kThreshold
                                                         : proto::AggregationProtocol::kMasked;
    options.threshold = std::max<std::size_t>(1, (n - 1) / 2);
    measure = measure_phase(*mesh, *mesh, [&] {
      auto result = proto::secure_sum(session, values, options);
      if (!result.sum) throw ProtocolError("aggregate benchmark: no sum at an output party");
      sum = std::move(*result.sum);
    });
  }
  std::size_t checked = 0;
  if (config.self == 0) {
    std::vector<std::int64_t> expected(d, 0);
    for (net::PartyId p = 0; p < n; ++p) {
      const auto input = aggregate_input(p, d);
      for (std::size_t i = 0; i < d; ++i) expected[i] += input[i];
    }
    if (expected != sum) throw ProtocolError("aggregate benchmark: the sum is wrong");
    checked = d;
  }
  mesh->broadcast(net::Bytes(1), "bench done");
  mesh->close();
  return {{"party", config.self},
          {"role", "compute"},
          {"phases", phases_json({{"sum", measure}})},
          {"checked", checked},
          {"peak_rss_bytes", peak_rss_bytes()}};
}

double plain_mul_seconds(BenchScheme scheme, std::size_t n) {
  switch (scheme) {
    case BenchScheme::kAdditive:
      return plain_mul_seconds_for<mpc::Ring64>(n);
    case BenchScheme::kShamir61:
      return plain_mul_seconds_for<mpc::Fp61>(n);
    case BenchScheme::kShamir127:
      return plain_mul_seconds_for<mpc::Fp127>(n);
  }
  return 0;
}

double plain_matmul_seconds(BenchScheme scheme, std::size_t rows, std::size_t inner,
                            std::size_t cols) {
  switch (scheme) {
    case BenchScheme::kAdditive:
      return plain_matmul_seconds_for<mpc::Ring64>(rows, inner, cols);
    case BenchScheme::kShamir61:
      return plain_matmul_seconds_for<mpc::Fp61>(rows, inner, cols);
    case BenchScheme::kShamir127:
      return plain_matmul_seconds_for<mpc::Fp127>(rows, inner, cols);
  }
  return 0;
}

double eigen_matmul_seconds(std::size_t rows, std::size_t inner, std::size_t cols) {
  const Eigen::MatrixXd a =
      Eigen::MatrixXd::Random(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(inner));
  const Eigen::MatrixXd b =
      Eigen::MatrixXd::Random(static_cast<Eigen::Index>(inner), static_cast<Eigen::Index>(cols));
  Eigen::MatrixXd c(a.rows(), b.cols());
  volatile double sink = 0;
  return median_seconds(kPlainRepeats, [&] {
    c.noalias() = a * b;
    sink = sink + c(0, 0);
  });
}

}  // namespace sm::app
