// CorrelationPool: what it serves is what the wrapped source made (valid triples, masks and
// bits, none served twice), it asks the source once for many requests, and it never fetches
// more than the remaining repetitions request.
#include <catch2/catch.hpp>

#include "mpc/correlation_pool.hpp"
#include "mpc/ops.hpp"
#include "tests/support/counting_source.hpp"
#include "tests/support/engines.hpp"

using namespace sm;
using namespace sm::mpc;
using test::CountingSource;
using test::SourceCounts;

TEMPLATE_TEST_CASE("CorrelationPool serves valid, distinct correlations from few batches", "[pool]",
                   AdditiveEngine, ShamirEngine<Fp127>) {
  // At most 60 elements per fetch: 20 triples (4 requests of 5), 6 bit masks of width 7 (8
  // elements each; 3 requests of 2).
  constexpr std::size_t kMaxElements = 60;
  using En = TestType;
  using E = typename En::Element;
  using Shares = typename En::Shares;
  const auto results = test::run_engine<En>(3, [](En& engine) {
    CountingSource<E> counting(engine.correlations());
    CorrelationPool<E> pool(counting, 10, kMaxElements);
    std::vector<E> a, b, c, bits;
    // Ten "iterations" of the same requests: 5 and 3 triples, 2 x 7 bits, 1 random bit.
    for (int it = 0; it < 10; ++it) {
      for (std::size_t n : {std::size_t{5}, std::size_t{3}}) {
        auto t = pool.triples(n);
        REQUIRE(t.a.size() == n);
        a.insert(a.end(), t.a.begin(), t.a.end());
        b.insert(b.end(), t.b.begin(), t.b.end());
        c.insert(c.end(), t.c.begin(), t.c.end());
      }
      const auto masks = pool.bit_masks(2, 7);
      REQUIRE(masks.width == 7);
      REQUIRE(masks.bits.size() == 14);
      bits.insert(bits.end(), masks.bits.begin(), masks.bits.end());
      const auto random = pool.random_bits(1);
      bits.insert(bits.end(), random.begin(), random.end());
      pool.end_repetition();
    }
    CHECK(pool.triples(0).a.empty());
    const SourceCounts counts = counting.counts;
    const auto opened = engine.open(Shares{a}, "a");
    const auto opened_b = engine.open(Shares{b}, "b");
    const auto opened_c = engine.open(Shares{c}, "c");
    const auto opened_bits = engine.open(Shares{bits}, "bits");
    for (std::size_t i = 0; i < opened.size(); ++i) CHECK(opened_c[i] == opened[i] * opened_b[i]);
    for (const auto& bit : opened_bits) CHECK((bit == E(0) || bit == E(1)));
    // Each triple drawn once: a run of 8 per iteration, no two equal (2^-60 chance).
    std::vector<E> sorted = opened;
    std::sort(sorted.begin(), sorted.end(),
              [](E x, E y) { return to_unsigned(x) < to_unsigned(y); });
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    return counts;
  });
  for (const auto& counts : results) {
    // Exactly what the ten iterations use: 80 triples in fetches of 20; bit masks 6, 6, 6 and
    // the last 2 of 20; all 10 random bits at once.
    CHECK(counts.triples == 80);
    CHECK(counts.bit_masks == 20);
    CHECK(counts.random_bits == 10);
    CHECK(counts.calls == 4 + 4 + 1);
  }
}

TEST_CASE("CorrelationPool serves window masks per window, each once", "[pool]") {
  using E = Ring64;
  using Shares = AdditiveEngine::Shares;
  constexpr int kLow = 5;
  constexpr std::size_t kWidth = 6, kPerRequest = 3;
  // 2 + 6 + 12 elements per mask: at most 12 masks per fetch.
  constexpr std::size_t kMaxElements = 12 * 20;
  const auto results = test::run_engine<AdditiveEngine>(3, [&](AdditiveEngine& engine) {
    CountingSource<E> counting(engine.correlations());
    CorrelationPool<E> pool(counting, 10, kMaxElements);
    std::vector<E> r, bits, products;
    for (int it = 0; it < 10; ++it) {
      auto masks = pool.window_masks(kPerRequest, kLow, kWidth);
      REQUIRE(masks.low == kLow);
      REQUIRE(masks.width == kWidth);
      r.insert(r.end(), masks.r.begin(), masks.r.end());
      bits.insert(bits.end(), masks.bits.begin(), masks.bits.end());
      products.insert(products.end(), masks.products.begin(), masks.products.end());
      CHECK(pool.window_masks(1, kLow + 1, kWidth).r.size() == 1);  // another window: its own stock
      pool.end_repetition();
    }
    const SourceCounts counts = counting.counts;
    const auto opened_r = engine.open(Shares{r}, "r");
    const auto opened_bits = engine.open(Shares{bits}, "bits");
    const auto opened_products = engine.open(Shares{products}, "products");
    REQUIRE(opened_r.size() == 10 * kPerRequest);
    for (std::size_t k = 0; k < opened_r.size(); ++k) {
      for (std::size_t i = 0; i < kWidth; ++i) {
        CHECK(opened_bits[k * kWidth + i].value() == ((opened_r[k].value() >> (kLow + i)) & 1));
      }
      // A group of 4 bits (11 products), then one of 2: the last product is bits 5 and 4's.
      REQUIRE(opened_products.size() == 10 * kPerRequest * 12);
      CHECK(opened_products[k * 12 + 11] ==
            opened_bits[k * kWidth + 5] * opened_bits[k * kWidth + 4]);
      CHECK(opened_products[k * 12] == opened_bits[k * kWidth + 1] * opened_bits[k * kWidth]);
    }
    std::vector<E> sorted = opened_r;
    std::sort(sorted.begin(), sorted.end(), [](E x, E y) { return x.value() < y.value(); });
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    return counts;
  });
  for (const auto& counts : results) {
    // The first window: 12, 12 and the last 6 of 30; the second: all 10 at once.
    CHECK(counts.window_masks == 30 + 10);
    CHECK(counts.calls == 3 + 1);
  }
}

TEST_CASE("CorrelationPool fetches for the largest repetition when the sizes vary", "[pool]") {
  // Repetitions that request 4, 6, 5 and 6 random bits (comparison trees whose shared nodes
  // depend on public values do so): the first fetch plans 4 x 4, the last repetition lacks 5
  // and fetches 5 (what a repetition of 6 can still request). A repeat more than planned still
  // gets its bits.
  const auto results = test::run_engine<AdditiveEngine>(3, [](AdditiveEngine& engine) {
    CountingSource<Ring64> counting(engine.correlations());
    CorrelationPool<Ring64> pool(counting, 4);
    std::vector<Ring64> bits;
    for (std::size_t n : {4, 6, 5, 6}) {
      const auto drawn = pool.random_bits(n);
      REQUIRE(drawn.size() == n);
      bits.insert(bits.end(), drawn.begin(), drawn.end());
      pool.end_repetition();
    }
    const SourceCounts planned = counting.counts;
    const auto drawn = pool.random_bits(3);
    bits.insert(bits.end(), drawn.begin(), drawn.end());
    for (const auto& bit : engine.open(AdditiveEngine::Shares{bits}, "bits")) {
      CHECK((bit == Ring64(0) || bit == Ring64(1)));
    }
    return std::pair{planned, counting.counts};
  });
  for (const auto& [planned, after] : results) {
    CHECK(planned.random_bits == 4 + 6 + 5 + 6);
    CHECK(planned.calls == 2);
    CHECK(after.random_bits == 4 + 6 + 5 + 6 + 3);
  }
}
