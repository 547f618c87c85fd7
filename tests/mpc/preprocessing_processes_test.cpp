// Dealer and dealer-free preprocessing as separate processes over TLS on loopback: every party
// is a forked process with its own TlsMesh; the parties open the correlations they produced and
// check them algebraically (c = ab for triples and matrix triples, bits in {0, 1}, truncation
// masks consistent, window masks' bits, group products and r). Opening correlations is only for
// this test: it reveals them. The Shamir engine's trunc_sum_of_products (its own round and
// zero sharing among the processes) is checked against plaintext with the dealer-free masks.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>

#include "mpc/additive_engine.hpp"
#include "mpc/dealer.hpp"
#include "mpc/dealer_free.hpp"
#include "mpc/ops.hpp"
#include "mpc/shamir_engine.hpp"
#include "net/log.hpp"
#include "net/sub_mesh.hpp"
#include "net/tls_mesh.hpp"
#include "tests/support/loopback.hpp"

using namespace sm;
using namespace sm::mpc;

namespace {

// Runs body(party) in `n` forked processes; returns their exit codes (0: every check held).
std::vector<int> run_processes(std::size_t n, const std::function<void(net::PartyId)>& body) {
  std::vector<pid_t> children;
  for (net::PartyId party = 0; party < n; ++party) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      int code = 0;
      try {
        body(party);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "party %zu: %s\n", party, e.what());
        code = 1;
      }
      std::fflush(stderr);
      ::_exit(code);
    }
    children.push_back(pid);
  }
  std::vector<int> codes;
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

void check(bool condition, const std::string& what) {
  if (!condition) throw std::runtime_error("check failed: " + what);
}

// Opens shares over ComparisonBit<E> (the bit engine's where the engine has one).
template <class En>
auto open_bits(En& engine, std::vector<ComparisonBit<typename En::Element>> shares,
               std::string_view step) {
  if constexpr (requires { engine.bit_engine(); }) {
    return engine.bit_engine().open(typename En::BitEngine::Shares{std::move(shares)}, step);
  } else {
    return engine.open(typename En::Shares{std::move(shares)}, step);
  }
}

// Opens every correlation kind produced by `engine`'s source and checks it.
template <class En>
void open_and_check(En& engine) {
  using E = typename En::Element;
  using Bit = ComparisonBit<E>;
  using S = typename En::Shares;
  auto& source = engine.correlations();
  const auto triples = source.triples(2000);
  const auto a = engine.open(S{triples.a}, "open a");
  const auto b = engine.open(S{triples.b}, "open b");
  const auto c = engine.open(S{triples.c}, "open c");
  for (std::size_t i = 0; i < a.size(); ++i) check(c[i] == a[i] * b[i], "triple c = ab");

  const auto matrix = source.matrix_triple(7, 5, 3);
  const auto ma = engine.open(S{matrix.a}, "open A");
  const auto mb = engine.open(S{matrix.b}, "open B");
  const auto mc = engine.open(S{matrix.c}, "open C");
  check(mc == matmul_plain<E>(ma, mb, 7, 5, 3), "matrix triple C = AB");

  const auto bits = engine.open(S{source.random_bits(1000)}, "open bits");
  std::size_t ones = 0;
  for (const auto& bit : bits) {
    check(bit == E(0) || bit == E(1), "bit in {0, 1}");
    ones += bit == E(1);
  }
  check(ones > 400 && ones < 600, "bits roughly balanced");

  constexpr int kFrac = 12;
  const auto masks = source.trunc_masks(500, kFrac);
  const auto r = engine.open(S{masks.r}, "open r");
  const auto high = engine.open(S{masks.high}, "open high");
  for (std::size_t i = 0; i < r.size(); ++i) {
    const u128 value = to_unsigned(r[i]);
    if constexpr (std::is_same_v<E, Ring64>) {
      check(to_unsigned(high[i]) == (value & ((u128{1} << 63) - 1)) >> kFrac,
            "truncation mask high = (r mod 2^63) >> f");
    } else {
      // r = 2^f high + l with |l| < N 2^f (mpc/correlations.hpp).
      const i128 low = static_cast<i128>(value) - (static_cast<i128>(to_unsigned(high[i])) << kFrac);
      check(low > -(i128{3} << kFrac) && low < (i128{3} << kFrac),
            "truncation mask r = 2^f high + l, |l| < N 2^f");
    }
  }

  // Window masks (the sigmoid's window): the bits, their group products, and r in the form of
  // the element type (mpc/correlations.hpp).
  constexpr int kLow = 22;
  constexpr std::size_t kWidth = 26, kPerMask = 6 * 11 + 1;
  const auto window = source.window_masks(200, kLow, kWidth);
  const auto wr = engine.open(S{window.r}, "open window r");
  const auto wbits = open_bits(engine, window.bits, "open window bits");
  const auto wproducts = open_bits(engine, window.products, "open window products");
  const auto whigh = engine.open(S{window.high}, "open window high");
  check(wbits.size() == 200 * kWidth && wproducts.size() == 200 * kPerMask, "window mask sizes");
  for (std::size_t k = 0; k < wr.size(); ++k) {
    u128 value = 0;
    for (std::size_t i = 0; i < kWidth; ++i) {
      const Bit bit = wbits[k * kWidth + i];
      check(bit == Bit(0) || bit == Bit(1), "window bit in {0, 1}");
      value |= static_cast<u128>(to_unsigned(bit)) << i;
    }
    if constexpr (kUniformMasks<E>) {
      check(whigh.empty(), "no high part for Z_2^64");
      check(((to_unsigned(wr[k]) >> kLow) & ((u128{1} << kWidth) - 1)) == value,
            "window bits = bits low.. of r");
    } else {
      check(to_unsigned(whigh[k]) < (u128{3} << kStatisticalSecurity), "window high < N 2^40");
      check(to_unsigned(wr[k]) == (value + (to_unsigned(whigh[k]) << kWidth)) << kLow,
            "window r = 2^low (bits + 2^width high)");
    }
    std::size_t next = k * kPerMask;
    for (std::size_t group = 0; group < kWidth; group += 4) {
      const std::size_t size = std::min<std::size_t>(4, kWidth - group);
      for (unsigned m = 3; m < (1u << size); ++m) {
        if (std::popcount(m) < 2) continue;
        const bool all_set = ((value >> group) & m) == m;
        check(wproducts[next++] == Bit(all_set ? 1 : 0), "window group product");
      }
    }
  }
}

// Runs body(engine, source, mesh) in each of three party processes over TLS on loopback, with
// the dealer-free Shamir engine (Fp127, t = 1); the processes' exit codes.
template <class Body>
std::vector<int> run_dealer_free_processes(Body&& body) {
  const test::DemoCerts certs(3);
  const auto ports = test::free_ports(3);
  return run_processes(3, [&](net::PartyId self) {
    Logger log("party" + std::to_string(self), Logger::Level::kWarn);
    auto mesh = net::TlsMesh::connect(test::loopback_config(certs, self, ports), log);
    Session session = Session::establish(*mesh);
    DealerFreeShamir<Fp127> source(session, 1, ShamirEngine<Fp127>::kDefaultValueBits);
    ShamirEngine<Fp127> engine(session, source, 1);
    body(engine, source, *mesh);
    mesh->close();
  });
}

}  // namespace

TEST_CASE("dealer-free Shamir preprocessing across three processes over TLS",
          "[preprocessing][tls][processes]") {
  const auto codes = run_dealer_free_processes(
      [](ShamirEngine<Fp127>& engine, DealerFreeShamir<Fp127>&, net::Mesh&) {
        open_and_check(engine);
      });
  CHECK(codes == std::vector<int>{0, 0, 0});
}

TEST_CASE("the dealer serves three computing processes over TLS", "[preprocessing][tls][processes]") {
  const test::DemoCerts certs(4);  // parties 0..2 compute, party 3 deals
  const auto ports = test::free_ports(4);
  const std::vector<net::PartyId> computing{0, 1, 2};
  const auto codes = run_processes(4, [&](net::PartyId self) {
    Logger log("party" + std::to_string(self), Logger::Level::kWarn);
    auto mesh = net::TlsMesh::connect(test::loopback_config(certs, self, ports), log);
    if (self == 3) {
      const DealerStats stats = serve_dealer(*mesh, computing, &log);
      check(stats.batches == 5, "the dealer served the five batches");
    } else {
      DealerClient source(*mesh, 3, computing);
      net::SubMesh compute(*mesh, computing);
      Session session = Session::establish(compute);
      AdditiveEngine engine(session, source);
      open_and_check(engine);
      source.finish();
    }
    mesh->close();
  });
  CHECK(codes == std::vector<int>{0, 0, 0, 0});
}

TEST_CASE("trunc_sum_of_products with dealer-free masks across three processes over TLS",
          "[preprocessing][tls][processes]") {
  // The sigmoid's shape in logistic regression: K = 4 products per value, truncated by 2f = 32
  // bits. Every process draws the same plaintext inputs; party 0 inputs x, party 1 y, party 2 c.
  constexpr std::size_t kPieces = 4, kValues = 500;
  constexpr int kBits = 32;
  std::mt19937_64 rng(2007);
  std::uniform_int_distribution<std::int64_t> factor(-(std::int64_t{1} << 29),
                                                     std::int64_t{1} << 29);
  std::uniform_int_distribution<std::int64_t> addend(-(std::int64_t{1} << 60),
                                                     std::int64_t{1} << 60);
  std::vector<Fp127> x(kPieces * kValues), y(kPieces * kValues), c(kValues);
  std::vector<std::int64_t> expected(kValues);
  for (auto& v : c) v = Fp127::from_int(addend(rng));
  for (auto& v : x) v = Fp127::from_int(factor(rng));
  for (auto& v : y) v = Fp127::from_int(factor(rng));
  for (std::size_t i = 0; i < kValues; ++i) {
    std::int64_t sum = c[i].to_int();
    for (std::size_t k = 0; k < kPieces; ++k) {
      sum += x[k * kValues + i].to_int() * y[k * kValues + i].to_int();
    }
    expected[i] = sum >> kBits;  // floor
  }
  const auto codes = run_dealer_free_processes([&](ShamirEngine<Fp127>& engine,
                                                   DealerFreeShamir<Fp127>& source,
                                                   net::Mesh& mesh) {
    const net::PartyId self = engine.session().self();
    auto mine = [&](net::PartyId owner, const std::vector<Fp127>& values) {
      return self == owner ? std::span<const Fp127>(values) : std::span<const Fp127>();
    };
    const auto xs = engine.input(0, mine(0, x), x.size(), "x");
    const auto ys = engine.input(1, mine(1, y), y.size(), "y");
    const auto cs = engine.input(2, mine(2, c), c.size(), "c");
    // The operation costs its source's truncation masks (measured on a first request of the same
    // size) plus one round of n elements to each peer.
    const auto before_masks = mesh.stats();
    source.trunc_masks(kValues, kBits);
    const auto masks = mesh.stats().since(before_masks);
    const auto before = mesh.stats();
    const auto e = trunc_sum_of_products(engine, xs, ys, cs, kBits, "sums");
    const auto cost = mesh.stats().since(before);
    check(cost.rounds == masks.rounds + 1 &&
              cost.bytes_sent() == masks.bytes_sent() + 2 * kValues * Fp127::kBytes,
          "the masks' cost plus one round, n elements to each peer");
    const auto opened = engine.open(e, "open");
    for (std::size_t i = 0; i < kValues; ++i) {
      // DealerFreeShamir's truncation errs in {-1, 0, 1, 2} for N = 3 (mpc/shamir_engine.hpp).
      const std::int64_t error = opened[i].to_int() - expected[i];
      check(error >= -1 && error <= 2, "the truncated sum within the dealer-free error");
    }
  });
  CHECK(codes == std::vector<int>{0, 0, 0});
}
