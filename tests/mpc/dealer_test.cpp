// The seed-compressed dealer: N computing parties and one dealer (the last party) as threads over
// the in-memory mesh. Every correlation is reconstructed and checked against plaintext
// arithmetic; the additive engine runs over a SubMesh with the DealerClient; the mesh counters
// show that after the seeds only party 0 hears from the dealer; faults give clear errors.
// Parties record what they saw; the assertions run on the test's thread.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "mpc/additive_engine.hpp"
#include "mpc/dealer.hpp"
#include "mpc/ops.hpp"
#include "mpc/serialize.hpp"
#include "mpc/session.hpp"
#include "net/errors.hpp"
#include "net/local_mesh.hpp"
#include "net/log.hpp"
#include "net/sub_mesh.hpp"
#include "net/tls_mesh.hpp"
#include "tests/support/loopback.hpp"

using namespace sm;
using namespace sm::mpc;
using net::Mesh;
using net::PartyId;

namespace {

std::vector<PartyId> first_parties(std::size_t n) {
  std::vector<PartyId> ids(n);
  std::iota(ids.begin(), ids.end(), PartyId{0});
  return ids;
}

// Runs compute parties 0..n-1, each calling fn(client, full_mesh), and serve_dealer() as party n.
// Returns the compute parties' results and the dealer's statistics.
template <class Fn>
auto run_with_dealer(std::size_t n, Fn fn) {
  using Result = std::invoke_result_t<Fn&, DealerClient&, Mesh&>;
  const auto compute = first_parties(n);
  DealerStats dealer_stats;
  auto outcome = net::run_parties(n + 1, [&](Mesh& mesh) -> std::optional<Result> {
    if (mesh.self() == n) {
      dealer_stats = serve_dealer(mesh, compute);
      return std::nullopt;
    }
    DealerClient client(mesh, n, compute);
    Result result = fn(client, mesh);
    client.finish();
    return result;
  });
  std::vector<Result> results;
  for (std::size_t i = 0; i < n; ++i) results.push_back(std::move(*outcome[i]));
  return std::make_pair(std::move(results), dealer_stats);
}

// The sum of the parties' shares of component `part`.
template <class Shares, class Part>
std::vector<Ring64> reconstruct(const std::vector<Shares>& shares, Part part) {
  std::vector<Ring64> sum = part(shares[0]);
  for (std::size_t i = 1; i < shares.size(); ++i) {
    const std::vector<Ring64> mine = part(shares[i]);
    REQUIRE(mine.size() == sum.size());
    for (std::size_t k = 0; k < sum.size(); ++k) sum[k] += mine[k];
  }
  return sum;
}

struct AllKinds {
  Triples<Ring64> triples, more_triples, no_triples;
  MatrixTriple<Ring64> matrix;
  TruncMasks<Ring64> trunc;
  BitMasks<Ring64> bit_masks;
  WindowMasks<Ring64> window;
  std::vector<Ring64> bits;
  net::MeshStats mesh;
  std::size_t bad_arguments_refused = 0;
};

constexpr std::size_t kTriples = 1000, kRows = 7, kInner = 5, kCols = 3, kTrunc = 500, kMasks = 40,
                      kBits = 2000;
constexpr int kFracBits = 13;
constexpr std::size_t kWindows = 30, kWindowWidth = 26;
constexpr int kWindowLow = 22;

}  // namespace

TEST_CASE("every dealer correlation reconstructs correctly", "[dealer]") {
  for (std::size_t n : {2u, 3u, 5u}) {
    CAPTURE(n);
    auto [shares, dealer] = run_with_dealer(n, [](DealerClient& client, Mesh& mesh) {
      AllKinds k;
      k.triples = client.triples(kTriples);
      k.matrix = client.matrix_triple(kRows, kInner, kCols);
      k.no_triples = client.triples(0);
      k.trunc = client.trunc_masks(kTrunc, kFracBits);
      k.bit_masks = client.bit_masks(kMasks, 64);
      k.bits = client.random_bits(kBits);
      k.window = client.window_masks(kWindows, kWindowLow, kWindowWidth);
      k.more_triples = client.triples(kTriples);
      // Refused locally, at every party alike, before anything is sent.
      auto refused = [&](auto call) {
        try {
          call();
        } catch (const std::invalid_argument&) {
          ++k.bad_arguments_refused;
        }
      };
      refused([&] { client.trunc_masks(1, 64); });
      refused([&] { client.trunc_masks(1, -1); });
      refused([&] { client.bit_masks(1, 0); });
      refused([&] { client.bit_masks(1, 65); });
      refused([&] { client.window_masks(1, 0, 3); });
      refused([&] { client.window_masks(1, 40, 26); });
      refused([&] { client.window_masks(1, -1, 2); });
      refused([&] { client.triples(std::size_t{1} << 40); });
      refused([&] { client.matrix_triple(std::size_t{1} << 33, std::size_t{1} << 33, 1); });
      k.mesh = mesh.stats();
      return k;
    });

    // Beaver triples: c = ab, and two batches are independent.
    const auto a = reconstruct(shares, [](const AllKinds& k) { return k.triples.a; });
    const auto b = reconstruct(shares, [](const AllKinds& k) { return k.triples.b; });
    const auto c = reconstruct(shares, [](const AllKinds& k) { return k.triples.c; });
    REQUIRE(a.size() == kTriples);
    for (std::size_t i = 0; i < kTriples; ++i) REQUIRE(c[i] == a[i] * b[i]);
    const auto a2 = reconstruct(shares, [](const AllKinds& k) { return k.more_triples.a; });
    const auto c2 = reconstruct(shares, [](const AllKinds& k) { return k.more_triples.c; });
    const auto b2 = reconstruct(shares, [](const AllKinds& k) { return k.more_triples.b; });
    for (std::size_t i = 0; i < kTriples; ++i) REQUIRE(c2[i] == a2[i] * b2[i]);
    CHECK(a != a2);
    CHECK(std::count(a.begin(), a.end(), Ring64()) < 2);
    for (const auto& k : shares) CHECK(k.no_triples.c.empty());

    // Matrix triple: C = AB, by the schoolbook product.
    const auto ma = reconstruct(shares, [](const AllKinds& k) { return k.matrix.a; });
    const auto mb = reconstruct(shares, [](const AllKinds& k) { return k.matrix.b; });
    const auto mc = reconstruct(shares, [](const AllKinds& k) { return k.matrix.c; });
    REQUIRE(ma.size() == kRows * kInner);
    REQUIRE(mb.size() == kInner * kCols);
    REQUIRE(mc.size() == kRows * kCols);
    for (std::size_t i = 0; i < kRows; ++i) {
      for (std::size_t j = 0; j < kCols; ++j) {
        std::uint64_t sum = 0;
        for (std::size_t t = 0; t < kInner; ++t) {
          sum += ma[i * kInner + t].value() * mb[t * kCols + j].value();
        }
        REQUIRE(mc[i * kCols + j].value() == sum);
      }
    }
    for (const auto& k : shares) {
      CHECK(k.matrix.rows == kRows);
      CHECK(k.matrix.inner == kInner);
      CHECK(k.matrix.cols == kCols);
    }

    // Truncation masks: high = (r mod 2^63) >> f, msb = r >> 63.
    const auto r = reconstruct(shares, [](const AllKinds& k) { return k.trunc.r; });
    const auto high = reconstruct(shares, [](const AllKinds& k) { return k.trunc.high; });
    const auto msb = reconstruct(shares, [](const AllKinds& k) { return k.trunc.msb; });
    REQUIRE(r.size() == kTrunc);
    std::size_t msb_ones = 0;
    for (std::size_t i = 0; i < kTrunc; ++i) {
      const std::uint64_t v = r[i].value();
      REQUIRE(high[i].value() == (v % (std::uint64_t{1} << 63)) >> kFracBits);
      REQUIRE(msb[i].value() == v / (std::uint64_t{1} << 63));
      msb_ones += msb[i].value();
    }
    CHECK(msb_ones > kTrunc / 4);
    CHECK(msb_ones < 3 * kTrunc / 4);

    // Bit masks: 64 bits per mask, each in {0, 1}; high is zero at every party.
    const auto mask_bits = reconstruct(shares, [](const AllKinds& k) { return k.bit_masks.bits; });
    REQUIRE(mask_bits.size() == kMasks * 64);
    for (const auto& k : shares) {
      CHECK(k.bit_masks.width == 64);
      CHECK(k.bit_masks.high == std::vector<Ring64>(kMasks));
    }
    // Random bits.
    const auto bits = reconstruct(shares, [](const AllKinds& k) { return k.bits; });
    REQUIRE(bits.size() == kBits);
    for (const auto* values : {&mask_bits, &bits}) {
      std::size_t ones = 0;
      for (Ring64 bit : *values) {
        REQUIRE(bit.value() <= 1);
        ones += bit.value();
      }
      CHECK(ones > values->size() / 3);
      CHECK(ones < 2 * values->size() / 3);
    }

    // Window masks: the window's bits of r and, for each group of 4 of them (6 groups and a last
    // pair for 26 bits), the products of every subset of two or more, by increasing subset.
    const auto window_r = reconstruct(shares, [](const AllKinds& k) { return k.window.r; });
    const auto window_bits = reconstruct(shares, [](const AllKinds& k) { return k.window.bits; });
    const auto products = reconstruct(shares, [](const AllKinds& k) { return k.window.products; });
    constexpr std::size_t kProducts = 6 * 11 + 1;
    REQUIRE(window_products<Ring64>(kWindowWidth) == kProducts);
    REQUIRE(window_r.size() == kWindows);
    REQUIRE(window_bits.size() == kWindows * kWindowWidth);
    REQUIRE(products.size() == kWindows * kProducts);
    std::size_t product_ones = 0;
    for (std::size_t i = 0; i < kWindows; ++i) {
      const Ring64* bits_i = window_bits.data() + i * kWindowWidth;
      for (std::size_t b = 0; b < kWindowWidth; ++b) {
        REQUIRE(bits_i[b].value() == ((window_r[i].value() >> (kWindowLow + b)) & 1));
      }
      std::size_t next = i * kProducts;
      for (std::size_t group = 0; group < kWindowWidth; group += 4) {
        const std::size_t size = std::min<std::size_t>(4, kWindowWidth - group);
        for (unsigned m = 3; m < (1u << size); ++m) {
          if (std::popcount(m) < 2) continue;
          Ring64 expected(1);
          for (std::size_t l = 0; l < size; ++l) {
            if ((m >> l) & 1) expected *= bits_i[group + l];
          }
          REQUIRE(products[next] == expected);
          product_ones += products[next++].value();
        }
      }
    }
    // About a quarter of the pairs' products and fewer of the larger ones are 1.
    CHECK(product_ones > kWindows * kProducts / 16);
    CHECK(product_ones < kWindows * kProducts / 4);
    CHECK(std::count(window_r.begin(), window_r.end(), Ring64()) < 2);
    for (const auto& k : shares) {
      CHECK(k.window.low == kWindowLow);
      CHECK(k.window.width == kWindowWidth);
    }

    for (const auto& k : shares) CHECK(k.bad_arguments_refused == 9);

    // Communication: parties >= 1 heard 16 bytes from the dealer and said nothing; party 0 got
    // its seed and one correction per derived element, and sent the hello and one 32-byte
    // request per non-empty batch.
    const PartyId dealer_id = n;
    const std::uint64_t derived_elements =
        2 * kTriples + kRows * kCols + 2 * kTrunc + kMasks * 64 + kBits +
        kWindows * (kWindowWidth + window_products<Ring64>(kWindowWidth));
    const std::uint64_t batches = 7;
    for (std::size_t i = 1; i < n; ++i) {
      CHECK(shares[i].mesh.peers[dealer_id].bytes_received == 16);
      CHECK(shares[i].mesh.peers[dealer_id].bytes_sent == 0);
    }
    CHECK(shares[0].mesh.peers[dealer_id].bytes_received == 16 + 8 * derived_elements);
    CHECK(shares[0].mesh.peers[dealer_id].bytes_sent == 8 * (n + 3) + 32 * batches);
    CHECK(shares[0].mesh.rounds == 1 + batches);
    for (const auto& k : shares) {
      for (PartyId peer = 0; peer < n; ++peer) CHECK(k.mesh.peers[peer].bytes_sent == 0);
    }

    CHECK(dealer.batches == batches);
    CHECK(dealer.triples == 2 * kTriples);
    CHECK(dealer.matrix_triples == 1);
    CHECK(dealer.matrix_elements == kRows * kCols);
    CHECK(dealer.trunc_masks == kTrunc);
    CHECK(dealer.bit_masks == kMasks);
    CHECK(dealer.random_bits == kBits);
    CHECK(dealer.window_masks == kWindows);
    CHECK(dealer.bytes_sent == 16 * n + 8 * derived_elements);
    CHECK(dealer.bytes_received == 8 * (n + 3) + 32 * (batches + 1));
  }
}

TEST_CASE("the additive engine over a sub-mesh with the dealer agrees with plaintext", "[dealer]") {
  constexpr std::size_t kLen = 64, kRowsA = 4, kInnerA = 6, kColsB = 5;
  constexpr int kShift = 12;
  for (std::size_t n : {2u, 3u, 5u}) {
    CAPTURE(n);
    std::mt19937_64 gen(1234 + n);
    std::uniform_int_distribution<std::int64_t> small(-(std::int64_t{1} << 30),
                                                      std::int64_t{1} << 30);
    std::vector<std::int64_t> xs(kLen), ys(kLen), ma(kRowsA * kInnerA), mb(kInnerA * kColsB);
    for (auto* v : {&xs, &ys, &ma, &mb}) {
      for (auto& value : *v) value = small(gen);
    }
    xs[0] = 0;
    xs[1] = -1;
    xs[2] = 1;
    ys[3] = -(std::int64_t{1} << 30);
    auto to_ring = [](const std::vector<std::int64_t>& v) {
      std::vector<Ring64> out;
      for (auto value : v) out.push_back(Ring64::from_int(value));
      return out;
    };
    struct Opened {
      std::vector<Ring64> product, matrix, truncated, negative;
      std::uint64_t dealer_bytes_received = 0;
      std::uint64_t dealer_bytes_sent = 0;
    };
    auto [opened, dealer] = run_with_dealer(n, [&](DealerClient& client, Mesh& full) {
      net::SubMesh sub(full, first_parties(n));
      Session session = Session::establish(sub);
      AdditiveEngine engine(session, client);
      const PartyId last = n - 1;
      const auto x = engine.input(0, to_ring(xs), kLen, "input x");
      const auto y = engine.input(last, to_ring(ys), kLen, "input y");
      const auto a = engine.input(last, to_ring(ma), ma.size(), "input A");
      const auto b = engine.input(0, to_ring(mb), mb.size(), "input B");
      Opened o;
      o.product = engine.open(mul(engine, x, y), "open xy");
      o.matrix = engine.open(matmul(engine, a, b, kRowsA, kInnerA, kColsB), "open AB");
      o.truncated = engine.open(engine.trunc(x, kShift, "trunc x"), "open trunc");
      o.negative = engine.open(engine.less_than_zero(y, "y < 0"), "open y < 0");
      o.dealer_bytes_received = full.stats().peers[n].bytes_received;
      o.dealer_bytes_sent = full.stats().peers[n].bytes_sent;
      return o;
    });

    for (std::size_t p = 0; p < n; ++p) {
      const Opened& o = opened[p];
      for (std::size_t i = 0; i < kLen; ++i) {
        REQUIRE(o.product[i].to_int() == xs[i] * ys[i]);
        // The engine's contract: floor(x / 2^f) or one more.
        const std::int64_t floor_div = xs[i] >> kShift;  // arithmetic shift: floor
        REQUIRE(o.truncated[i].to_int() >= floor_div);
        REQUIRE(o.truncated[i].to_int() <= floor_div + 1);
        REQUIRE(o.negative[i].value() == (ys[i] < 0 ? 1u : 0u));
      }
      for (std::size_t i = 0; i < kRowsA; ++i) {
        for (std::size_t j = 0; j < kColsB; ++j) {
          std::int64_t sum = 0;
          for (std::size_t t = 0; t < kInnerA; ++t) sum += ma[i * kInnerA + t] * mb[t * kColsB + j];
          REQUIRE(o.matrix[i * kColsB + j].to_int() == sum);
        }
      }
      if (p > 0) {
        CHECK(o.dealer_bytes_received == 16);
        CHECK(o.dealer_bytes_sent == 0);
      }
    }
    CHECK(dealer.triples > 0);
    CHECK(dealer.matrix_triples == 1);
    CHECK(dealer.trunc_masks == kLen);
    CHECK(dealer.window_masks == kLen);
  }
}

TEST_CASE("the destructor ends the dealer's service, and finish() is final", "[dealer]") {
  std::optional<std::string> after_finish;
  auto [results, dealer] = run_with_dealer(3, [&](DealerClient& client, Mesh& mesh) {
    client.triples(10);
    client.finish();
    client.finish();
    try {
      client.triples(10);
    } catch (const std::logic_error& e) {
      if (mesh.self() == 0) after_finish = e.what();
    }
    return 0;
  });
  CHECK(dealer.batches == 1);
  REQUIRE(after_finish.has_value());
  CHECK_THAT(*after_finish, Catch::Contains("after finish()"));

  // Without finish(): the destructor says "done", so serve_dealer() returns.
  const auto compute = first_parties(2);
  DealerStats stats;
  net::run_parties(3, [&](Mesh& mesh) {
    if (mesh.self() == 2) {
      stats = serve_dealer(mesh, compute);
      return;
    }
    DealerClient client(mesh, 2, compute);
    client.random_bits(5);
  });
  CHECK(stats.batches == 1);
  CHECK(stats.random_bits == 5);
}

TEST_CASE("a dealer that dies makes party 0 fail with an error naming it", "[dealer]") {
  const auto compute = first_parties(3);
  std::optional<std::string> party0_error;
  std::vector<std::uint64_t> others_ok(3, 0);
  CHECK_THROWS_WITH(net::run_parties(4,
                                     [&](Mesh& mesh) {
                                       if (mesh.self() == 3) {
                                         // The seeds and the hello as a real dealer, then a crash.
                                         std::vector<Seed> seeds(3, random_seed());
                                         std::vector<net::Outgoing> out;
                                         for (PartyId i = 0; i < 3; ++i)
                                           out.push_back({i, seeds[i]});
                                         const PartyId party0 = 0;
                                         mesh.round(out, {&party0, 1}, "dealer: seeds");
                                         throw std::runtime_error("dealer crashed");
                                       }
                                       DealerClient client(mesh, 3, compute);
                                       if (mesh.self() == 0) {
                                         try {
                                           client.triples(10);
                                         } catch (const NetError& e) {
                                           party0_error = e.what();
                                         }
                                       } else {
                                         // Parties >= 1 never wait on the dealer after the seeds.
                                         others_ok[mesh.self()] = client.triples(10).a.size();
                                       }
                                     }),
                    "dealer crashed");
  REQUIRE(party0_error.has_value());
  CHECK_THAT(*party0_error, Catch::Contains("party 3 (party3)"));
  CHECK_THAT(*party0_error, Catch::Contains("dealer: triples"));
  CHECK(others_ok[1] == 10);
  CHECK(others_ok[2] == 10);
}

TEST_CASE("a dealer that is gone before the seeds fails every party", "[dealer]") {
  const auto compute = first_parties(2);
  std::vector<std::optional<std::string>> errors(2);
  CHECK_THROWS_WITH(net::run_parties(3,
                                     [&](Mesh& mesh) {
                                       if (mesh.self() == 2) throw std::runtime_error("no dealer");
                                       try {
                                         DealerClient client(mesh, 2, compute);
                                       } catch (const NetError& e) {
                                         errors[mesh.self()] = e.what();
                                       }
                                     }),
                    "no dealer");
  for (const auto& error : errors) {
    REQUIRE(error.has_value());
    CHECK_THAT(*error, Catch::Contains("party 2 (party2)"));
    CHECK_THAT(*error, Catch::Contains("dealer: seeds"));
  }
}

namespace {

// Runs serve_dealer() for compute parties {0, 1} against a scripted party 0 (party 1 only takes
// its seed) and returns the dealer's error.
template <class Script>
std::string dealer_error(Script party0) {
  const auto compute = first_parties(2);
  std::string error;
  try {
    net::run_parties(3, [&](Mesh& mesh) {
      if (mesh.self() == 2) {
        serve_dealer(mesh, compute);
      } else if (mesh.self() == 1) {
        mesh.recv(2, "seed");
      } else {
        mesh.recv(2, "seed");
        party0(mesh);
        mesh.recv(2, "wait for the dealer to fail");
      }
    });
  } catch (const ProtocolError& e) {
    error = e.what();
  }
  return error;
}

net::Bytes words(const std::vector<std::uint64_t>& values) {
  net::Bytes bytes(values.size() * sizeof(std::uint64_t));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

const std::vector<std::uint64_t> kGoodHello{0x31524c4145444d53, 2, 0, 1, 2};

}  // namespace

TEST_CASE("the dealer refuses malformed or unexpected requests", "[dealer]") {
  auto after_hello = [](net::Bytes request) {
    return [request](Mesh& mesh) {
      mesh.send(2, words(kGoodHello), "hello");
      mesh.send(2, request, "request");
    };
  };
  CHECK_THAT(dealer_error(after_hello(words({99, 1, 0, 0}))),
             Catch::Contains("unknown request kind 99"));
  CHECK_THAT(dealer_error(after_hello(net::Bytes(31))), Catch::Contains("31 bytes, expected 32"));
  CHECK_THAT(dealer_error(after_hello(words({1, std::uint64_t{1} << 40, 0, 0}))),
             Catch::Contains("batch of more than"));
  CHECK_THAT(dealer_error(after_hello(words(
                 {2, std::uint64_t{1} << 40, std::uint64_t{1} << 40, std::uint64_t{1} << 40}))),
             Catch::Contains("batch of more than"));
  CHECK_THAT(dealer_error(after_hello(words({3, 10, 64, 0}))),
             Catch::Contains("frac_bits 64 not in 0..63"));
  CHECK_THAT(dealer_error(after_hello(words({4, 10, 65, 0}))),
             Catch::Contains("width 65 not in 1..64"));
  CHECK_THAT(dealer_error(after_hello(words({1, 0, 0, 0}))), Catch::Contains("empty batch"));
  CHECK_THAT(dealer_error(after_hello(words({1, 5, 7, 0}))), Catch::Contains("one parameter"));
  CHECK_THAT(dealer_error([](Mesh& mesh) {
               mesh.send(2, words({0x31524c4145444d53, 2, 1, 0, 2}), "hello");
             }),
             Catch::Contains("party 0 (party0) disagrees about the compute parties"));
}

TEST_CASE("party 0 refuses a malformed reply from the dealer", "[dealer]") {
  const auto compute = first_parties(2);
  std::string error;
  try {
    net::run_parties(3, [&](Mesh& mesh) {
      if (mesh.self() == 2) {
        const Seed seed = random_seed();
        const std::vector<net::Outgoing> out{{0, seed}, {1, seed}};
        const PartyId party0 = 0;
        mesh.round(out, {&party0, 1}, "dealer: seeds");
        mesh.recv(0, "request");
        mesh.send(0, net::Bytes(5), "short reply");
        mesh.recv(0, "wait for party 0 to fail");
        return;
      }
      DealerClient client(mesh, 2, compute);
      if (mesh.self() == 0) client.triples(3);
    });
  } catch (const ProtocolError& e) {
    error = e.what();
  }
  CHECK_THAT(error, Catch::Contains("malformed message from party 2 (party2)"));
  CHECK_THAT(error, Catch::Contains("dealer: triples"));
}

TEST_CASE("dealer arguments are checked before anything is sent", "[dealer]") {
  auto errors = net::run_parties(4, [](Mesh& mesh) {
    std::vector<std::string> messages;
    auto attempt = [&](auto call) {
      try {
        call();
        messages.emplace_back();
      } catch (const ConfigError& e) {
        messages.emplace_back(e.what());
      }
    };
    const std::vector<PartyId> with_dealer{0, 3}, duplicate{0, 1, 0}, single{0}, others{1, 2};
    attempt([&] { DealerClient client(mesh, 3, with_dealer); });
    attempt([&] { DealerClient client(mesh, 3, duplicate); });
    attempt([&] { DealerClient client(mesh, 3, single); });
    attempt([&] { DealerClient client(mesh, 9, others); });
    // Only where this party is listed as a compute party: elsewhere the list is valid.
    if (mesh.self() == 0 || mesh.self() == 3) attempt([&] { serve_dealer(mesh, with_dealer); });
    return messages;
  });
  for (PartyId p = 0; p < 4; ++p) {
    CAPTURE(p);
    CHECK_THAT(errors[p][0], Catch::Contains("both the dealer and a compute party"));
    CHECK_THAT(errors[p][1], Catch::Contains("listed twice"));
    CHECK_THAT(errors[p][2], Catch::Contains("at least 2 compute parties"));
    CHECK_THAT(errors[p][3], Catch::Contains("outside the party table"));
  }
  CHECK_THAT(errors[0][4], Catch::Contains("both the dealer and a compute party"));
  CHECK_THAT(errors[3][4], Catch::Contains("both the dealer and a compute party"));
}

// Throughput, printed, never asserted (hidden: run with `test_dealer "[.bench]"`). Three compute
// parties and the dealer in one process; party 0 requests batches of triples back to back. The
// dealer's CPU time (its thread's) is reported besides wall time, since the machine may be shared.
TEST_CASE("dealer throughput", "[.bench]") {
  constexpr std::size_t kBatch = std::size_t{1} << 20;
  constexpr int kRounds = 20;
  const auto compute = first_parties(3);
  DealerStats dealer;
  double dealer_cpu_seconds = 0;
  auto thread_cpu_seconds = [] {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
  };
  net::run_parties(4, [&](Mesh& mesh) {
    if (mesh.self() == 3) {
      pthread_setname_np(pthread_self(), "dealer");
      const double start = thread_cpu_seconds();
      dealer = serve_dealer(mesh, compute);
      dealer_cpu_seconds = thread_cpu_seconds() - start;
      return;
    }
    DealerClient client(mesh, 3, compute);
    for (int k = 0; k < kRounds; ++k) client.triples(kBatch);
  });
  const double triples = static_cast<double>(kBatch) * kRounds;
  WARN("dealer: " << dealer.triples << " triples in " << dealer.seconds << " s wall ("
                  << triples / dealer.seconds / 1e6 << " M/s), " << dealer.compute_seconds
                  << " s computing (" << triples / dealer.compute_seconds / 1e6 << " M/s), "
                  << dealer_cpu_seconds << " s of CPU (" << triples / dealer_cpu_seconds / 1e6
                  << " M/s per core); " << static_cast<double>(dealer.bytes_sent) / triples
                  << " bytes sent per triple");
  CHECK(dealer.triples == triples);
}

TEST_CASE("dealer and two computing parties over TLS on loopback", "[dealer][tls]") {
  constexpr std::size_t kParties = 3;  // compute parties 0 and 1, the dealer 2
  const sm::test::DemoCerts certs(kParties);
  const auto ports = sm::test::free_ports(kParties);
  const std::vector<PartyId> compute{0, 1};
  const std::vector<std::int64_t> xs{0, 1, -1, 123456, -98765, 1 << 20, -(1 << 25)};
  const std::vector<std::int64_t> ys{5, -3, 7, -2, 0, -1, 9};
  constexpr int kShift = 4;

  struct Outcome {
    std::string error;
    std::vector<Ring64> product, truncated, negative;
    net::PeerStats from_dealer;
    DealerStats dealer;
  };
  std::vector<Outcome> outcomes(kParties);
  std::vector<std::thread> threads;
  for (PartyId self = 0; self < kParties; ++self) {
    threads.emplace_back([&, self] {
      Outcome& out = outcomes[self];
      const net::TlsConfig config = sm::test::loopback_config(certs, self, ports);
      Logger log("party" + std::to_string(self), Logger::Level::kWarn);
      try {
        auto mesh = net::TlsMesh::connect(config, log);
        if (self == 2) {
          out.dealer = serve_dealer(*mesh, compute, &log);
        } else {
          DealerClient client(*mesh, 2, compute);
          net::SubMesh sub(*mesh, compute);
          Session session = Session::establish(sub);
          AdditiveEngine engine(session, client);
          std::vector<Ring64> xv, yv;
          for (auto v : xs) xv.push_back(Ring64::from_int(v));
          for (auto v : ys) yv.push_back(Ring64::from_int(v));
          const auto x = engine.input(0, xv, xv.size(), "input x");
          const auto y = engine.input(1, yv, yv.size(), "input y");
          out.product = engine.open(mul(engine, x, y), "open xy");
          out.truncated = engine.open(engine.trunc(x, kShift, "trunc"), "open trunc");
          out.negative = engine.open(engine.less_than_zero(y, "y < 0"), "open y < 0");
          client.finish();
          out.from_dealer = mesh->stats().peers[2];
        }
        mesh->close();
      } catch (const std::exception& e) {
        out.error = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();

  for (PartyId p = 0; p < kParties; ++p) {
    CAPTURE(p);
    REQUIRE(outcomes[p].error.empty());
  }
  for (PartyId p = 0; p < 2; ++p) {
    const Outcome& o = outcomes[p];
    for (std::size_t i = 0; i < xs.size(); ++i) {
      CHECK(o.product[i].to_int() == xs[i] * ys[i]);
      CHECK(o.truncated[i].to_int() >= (xs[i] >> kShift));
      CHECK(o.truncated[i].to_int() <= (xs[i] >> kShift) + 1);
      CHECK(o.negative[i].value() == (ys[i] < 0 ? 1u : 0u));
    }
  }
  CHECK(outcomes[1].from_dealer.bytes_received == 16);
  CHECK(outcomes[1].from_dealer.bytes_sent == 0);
  CHECK(outcomes[0].from_dealer.bytes_received == outcomes[2].dealer.bytes_sent - 16);
  CHECK(outcomes[2].dealer.trunc_masks == xs.size());
  CHECK(outcomes[2].dealer.window_masks == ys.size());
}
